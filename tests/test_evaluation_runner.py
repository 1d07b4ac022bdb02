"""evaluate_videos: the paper's 20 clips x 4 views protocol, streamed, checked against a direct computation."""

import os

import keras
import numpy as np
import pytest

import keras_sportsnet as ksn
from keras_sportsnet.data import sampling
from keras_sportsnet.data.decoding import read_clips
from keras_sportsnet.testing.videos import index_frames
from keras_sportsnet.data.encoding import write_video
from keras_sportsnet.transforms import EvaluationViews
from keras_sportsnet.evaluation import VideoScores
from keras_sportsnet.evaluation.runner import evaluate_videos
from keras_sportsnet.training import transfer
from conftest import write_class_videos

SPEC = "C(4,5,2)-N-P-FC(8)"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_class_videos(tmp_path_factory.mktemp("eval_videos"), ["jump", "run", "swim"], 2,
                              lambda label, video: index_frames(30 + 5 * video, 48, 64, seed=label * 7 + video))


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    return ksn.SlowFusion(spec=SPEC, input_shape=(10, 32, 32, 3), classes=3)


def test_scores_equal_a_direct_computation_of_the_protocol(folder, model):
    scores = evaluate_videos(model, str(folder), clips_per_video=3, views=4, seed=5, batch_size=5, verbose=False)
    assert isinstance(scores, VideoScores) and scores.logits.shape == (6, 3, 4, 3)
    videos = ksn.data.read_video_folder(str(folder))
    assert list(scores.video_ids) == list(videos.paths) and list(scores.class_names) == ["jump", "run", "swim"]
    np.testing.assert_array_equal(scores.labels.argmax(axis=1), [l[0] for l in videos.labels])
    views = EvaluationViews((32, 32), resize_to=200)
    for index in (0, 4):
        info = ksn.data.probe_video(videos.paths[index])
        clips = sampling.random_clips(info.num_frames, model, 3, [5, index])
        frames = np.stack(read_clips(videos.paths[index], [list(c.indices) for c in clips]))
        cut = np.round(keras.ops.convert_to_numpy(views(frames))).astype("uint8")
        probabilities = keras.ops.convert_to_numpy(model.predict_on_batch(cut))
        expected = np.log(np.maximum(probabilities, np.finfo(np.float32).tiny)).reshape(3, 4, 3)
        np.testing.assert_allclose(scores.logits[index], expected, rtol=1e-4, atol=1e-5)
    metrics = scores.metrics()
    assert set(metrics) >= {"clip_hit@1", "video_hit@1", "video_hit@5", "mAP"}
    assert scores.metadata["protocol"]["clips_per_video"] == 3 and scores.metadata["videos_per_second"] > 0


def test_fewer_views_are_the_first_views_and_the_seed_fixes_the_clips(folder, model):
    four = evaluate_videos(model, str(folder), clips_per_video=2, views=4, seed=1, verbose=False)
    two = evaluate_videos(model, str(folder), clips_per_video=2, views=2, seed=1, verbose=False)
    np.testing.assert_allclose(two.logits, four.logits[:, :, :2], rtol=1e-5, atol=1e-6)
    other = evaluate_videos(model, str(folder), clips_per_video=2, views=1, seed=2, verbose=False)
    assert not np.allclose(other.logits[:, :, 0], four.logits[:, :, 0])


def test_scores_stream_to_disk_and_load_back(folder, model, tmp_path):
    path = str(tmp_path / "scores" / "slow.npz")
    scores = evaluate_videos(model, str(folder), clips_per_video=2, views=1, seed=0, scores_path=path, verbose=False)
    assert os.path.exists(path) and os.path.exists(path[:-4] + ".npy")
    loaded = VideoScores.load(path)
    np.testing.assert_array_equal(loaded.logits, np.asarray(scores.logits))
    assert loaded.metrics() == scores.metrics()


def test_bad_and_short_videos_are_reported_and_left_out_or_raised(folder, model, tmp_path):
    import shutil

    root = tmp_path / "mixed"
    shutil.copytree(folder, root)
    (root / "run" / "broken.mp4").write_bytes(b"\x00" * 100)
    write_video(str(root / "swim" / "short.mp4"), index_frames(4, 48, 64))
    with pytest.warns(UserWarning, match=r"Leaving 2 of 8 videos out") as caught:
        scores = evaluate_videos(model, str(root), clips_per_video=2, views=1, short_video_policy="skip", verbose=False)
    assert "broken.mp4" in str(caught[0].message) and "short.mp4: too short" in str(caught[0].message)
    assert len(scores.video_ids) == 6 and set(scores.metadata["skipped"]) == {
        str(root / "run" / "broken.mp4"), str(root / "swim" / "short.mp4")}
    with pytest.raises(ksn.data.VideoError, match="cannot be evaluated"):
        evaluate_videos(model, str(root), clips_per_video=1, views=1, on_error="raise", verbose=False)
    with pytest.raises(ValueError, match=r"`views` must be an int in 1..4"):
        evaluate_videos(model, str(root), views=5)


def test_transfer_regimes_freeze_the_right_layers_and_copy_the_weights(model):
    expected_trainable = {
        "top": {"predictions"},
        "top3": {"fc_0", "predictions"},
        "all": {"full_0_conv", "fc_0", "predictions"},
        "scratch": {"full_0_conv", "fc_0", "predictions"},
    }
    for regime, trainable in expected_trainable.items():
        tuned = transfer.transfer_model(model, 5, regime=regime)
        names = {v.path.split("/")[-2] for v in tuned.trainable_variables}
        assert names == trainable, regime
        copied = np.array_equal(tuned.backbone.get_layer("full_0_conv").get_weights()[0],
                                model.backbone.get_layer("full_0_conv").get_weights()[0])
        assert copied == (regime != "scratch"), regime
        assert tuned.num_classes == 5 and tuned.dropout == pytest.approx(transfer.DEFAULT_TRANSFER_DROPOUT)
        has_fc_dropout = any(layer.name == "fc_0_dropout" for layer in tuned.backbone.layers)
        assert has_fc_dropout == (regime != "top"), regime
    with pytest.raises(ValueError, match=r"`regime` must be one of \['top', 'top3', 'all', 'scratch'\]"):
        transfer.transfer_model(model, 5, regime="half")
