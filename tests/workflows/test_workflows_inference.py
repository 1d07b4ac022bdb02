"""keras_sportsnet.workflows: predict and evaluate resolve the preset once and report every video."""

import json

import pytest
from conftest import write_class_videos

from keras_sportsnet import workflows
from keras_sportsnet.testing.videos import index_frames


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("workflow_videos")
    write_class_videos(str(root / "videos"), ["a", "b"], 2, lambda label, video: index_frames(16, 48, 48, seed=video))
    (root / "videos" / "b" / "nested").mkdir()
    write_class_videos(str(root / "videos" / "b" / "nested"), ["deeper"], 1, lambda label, video: index_frames(16, 48, 48))
    (root / "videos" / "a" / "broken.mp4").write_text("not a video")
    (root / "empty").mkdir()
    return root


def test_expand_videos_searches_folders_and_refuses_missing_paths(folder):
    found = workflows.expand_videos([str(folder / "videos" / "a" / "v0.mp4"), str(folder / "videos")])
    assert found[0].endswith("a/v0.mp4") and len(found) == 6  # v0 listed once; broken.mp4 and the nested video kept
    assert any(path.endswith("nested/deeper/v0.mp4") for path in found)
    with pytest.raises(ValueError, match="holds no video file"):
        workflows.expand_videos(str(folder / "empty"))
    with pytest.raises(ValueError, match="nothing.mp4 does not exist"):
        workflows.expand_videos([str(folder / "nothing.mp4")])


def test_predict_resolves_the_preset_once_and_classifies_each_video_of_a_folder(folder, monkeypatch):
    import sys

    from keras_sportsnet.presets.resolve import resolve_preset

    calls = []

    def counting(weights, *args, **kwargs):
        calls.append(weights)
        return resolve_preset(weights, *args, **kwargs)

    workflows.load_model("slow_fusion_synthetic")  # every module on the loading path is imported
    for name, module in list(sys.modules.items()):  # wherever the resolver is used
        if name.startswith("keras_sportsnet") and getattr(module, "resolve_preset", None) is resolve_preset:
            monkeypatch.setattr(module, "resolve_preset", counting)
    outcome = workflows.predict(str(folder / "videos"), model="slow_fusion_synthetic", top_k=3, clips_per_video=1,
                                views=1, verbose=False)
    assert calls == ["slow_fusion_synthetic"]
    assert len(outcome.predictions) == 5 and list(outcome.failures) == [str(folder / "videos" / "a" / "broken.mp4")]
    assert "not a video" in outcome.failures[str(folder / "videos" / "a" / "broken.mp4")]
    for prediction in outcome.predictions:
        assert len(prediction.top) == 3 and prediction.top[0][1] >= prediction.top[1][1] >= prediction.top[2][1]
        assert all(name in outcome.class_names for name, _ in prediction.top)
    assert json.dumps([p.to_dict() for p in outcome.predictions])  # JSON-ready
    with pytest.raises(ValueError, match="top_k"):
        workflows.predict(str(folder / "videos"), model="slow_fusion_synthetic", top_k=0)


def test_load_model_reads_class_names_and_the_protocol_of_the_preset():
    loaded = workflows.load_model("slow_fusion_synthetic")
    assert len(loaded.class_names) == 11 and "gym_roll_fast" in loaded.class_names
    assert loaded.resize_to == 64  # what the shipped presets were trained on
    assert workflows.load_model(loaded.model).model is loaded.model  # a model is used as is
    with pytest.raises(ValueError):
        workflows.load_model("slow_fusion_synthetc")


def test_evaluate_reports_metrics_groups_and_skipped_videos(folder, tmp_path):
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps({"first": ["a"], "second": ["b"]}))
    from keras_sportsnet.models import build_model

    model = build_model("single_frame", spec="C(4,5,2)-N-P-FC(8)", classes=2, input_shape=(1, 32, 32, 3))
    outcome = workflows.evaluate(model, str(folder / "videos"), clips_per_video=2, views=1, groups=str(groups),
                                 verbose=False)
    assert set(outcome.group_map) == {"first", "second"} and "video_hit@1" in outcome.metrics
    assert list(outcome.skipped) == [str(folder / "videos" / "a" / "broken.mp4")]
    assert outcome.scores.num_videos == 5  # b/nested/deeper/v0.mp4 is of class b
    out = tmp_path / "metrics.json"
    workflows.write_metrics_json(str(out), outcome)
    assert json.load(open(out))["group_mAP"] == pytest.approx(outcome.group_map)
