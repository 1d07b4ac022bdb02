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


def test_predict_refuses_missing_paths_and_empty_folders(folder):
    with pytest.raises(ValueError, match="nothing.mp4 does not exist"):
        workflows.predict([str(folder / "nothing.mp4")], model="slow_fusion_synthetic")
    with pytest.raises(ValueError, match="empty"):
        workflows.predict(str(folder / "empty"), model="slow_fusion_synthetic")


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
    broken = str(folder / "videos" / "a" / "broken.mp4")
    assert len(outcome.predictions) == 6 and len(outcome.classified) == 5 and list(outcome.failures) == [broken]
    assert outcome.predictions[0].path == broken  # in the order given: the folder's videos sorted
    assert "not a video" in outcome.failures[broken] or "damaged" in outcome.failures[broken]
    for prediction in outcome.classified:
        top = prediction.top_k
        assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]
        assert all(name in outcome.class_names for name, _ in top)
    assert json.dumps([p.to_dict() for p in outcome.predictions])  # JSON-ready
    # With the scores kept (for the figures) the same protocol gives the same numbers.
    kept = workflows.predict(str(folder / "videos"), model="slow_fusion_synthetic", top_k=3, clips_per_video=1,
                             views=1, keep_scores=True, verbose=False)
    assert kept.scores.num_videos == 5 and list(kept.failures) == [broken]
    for fast, slow in zip(outcome.predictions, kept.predictions):
        assert fast.path == slow.path and [n for n, _ in fast.top_k] == [n for n, _ in slow.top_k]
        assert [p for _, p in fast.top_k] == pytest.approx([p for _, p in slow.top_k], abs=1e-6)
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


def test_kept_scores_give_the_predictions_of_predict_video_missing_files_included(folder, tmp_path):
    """Issue 15: one implementation of the predictions (`keras_sportsnet.evaluation.predictions_from_scores`).

    `predict(keep_scores=True)` once rebuilt them by hand from the scores and dropped the missing files of a
    list (which `predict_video` reports): the two paths gave different videos.
    """
    import keras

    from keras_sportsnet import evaluation
    from keras_sportsnet.data import VideoList
    from keras_sportsnet.models import build_model

    keras.utils.set_random_seed(1)
    model = build_model("single_frame", spec="C(4,5,2)-N-P-FC(8)", classes=2, input_shape=(1, 32, 32, 3))
    paths = [str(folder / "videos" / "a" / "v0.mp4"), str(folder / "videos" / "b" / "v1.mp4")]
    missing = str(tmp_path / "gone.mp4")
    listing = VideoList(tuple(paths), ((), ()), ("0", "1"), missing=(missing,))
    options = dict(model=model, top_k=2, clips_per_video=2, views=2)
    direct = evaluation.predict_video(listing, **options)
    for keep_scores in (False, True):
        outcome = workflows.predict(listing, keep_scores=keep_scores, verbose=False, **options)
        assert [p.path for p in outcome.predictions] == paths + [missing] == [p.path for p in direct]
        assert "not found" in outcome.failures[missing]
        for ours, theirs in zip(outcome.predictions[:2], direct[:2]):
            assert [n for n, _ in ours.top_k] == [n for n, _ in theirs.top_k]
            assert [p for _, p in ours.top_k] == pytest.approx([p for _, p in theirs.top_k], abs=1e-6)
    with pytest.warns(UserWarning, match="Leaving 1 of 3 videos out"):
        scores = evaluation.evaluate_videos(model, listing, clips_per_video=2, views=2, verbose=False)
    assert evaluation.predictions_from_scores(scores, top_k=2) == direct
