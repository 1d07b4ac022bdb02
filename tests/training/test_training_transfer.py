"""Transfer learning: defaults, what the new model inherits, and the sweep's report of stopped runs."""

import dataclasses

import numpy as np
import pytest
from conftest import write_class_videos

import keras_sportsnet as ksn
from keras_sportsnet import training
from keras_sportsnet.testing.videos import index_frames

SPEC = "C(4,5,2)-N-P-FC(8)"


def test_transfer_model_defaults_to_dropout_0_5_and_keeps_the_source_preprocessor():
    source = ksn.from_preset("slow_fusion_synthetic")
    tuned = training.transfer_model(source, 3, class_names=["a", "b", "c"])
    assert training.DEFAULT_TRANSFER_DROPOUT == 0.5 and training.PAPER_DROPOUT == 0.9
    assert tuned.dropout == 0.5 and tuned.backbone.dropout == 0.5 and tuned.class_names == ["a", "b", "c"]
    assert tuned.preprocessor.get_config() == source.preprocessor.get_config()  # resize_to 64, as trained
    assert training.transfer_model(source, 3, regime="top").backbone.dropout == 0.0  # frozen: no dropout inside
    with pytest.raises(ValueError, match=r"`dropout` must be a finite number in \[0, 1\). Received: dropout=1.0"):
        training.transfer_model(source, 3, dropout=1.0)
    with pytest.raises(ValueError, match=r"`num_classes` must be an int >= 1. Received: num_classes=0"):
        training.transfer_model(source, 0)


@pytest.mark.parametrize("regime", ["top", "top3", "all"])
def test_a_new_classifier_starts_at_chance_and_a_same_shape_head_is_kept(regime):
    source = ksn.from_preset("slow_fusion_synthetic")
    clips = np.random.default_rng(0).integers(0, 256, (2, 10, 64, 64, 3), dtype=np.uint8)
    tuned = training.transfer_model(source, 6, regime=regime)
    probabilities = tuned.predict(clips, verbose=0)
    np.testing.assert_allclose(probabilities, np.full((2, 6), 1 / 6), rtol=1e-6)  # loss ln 6 at the start
    assert not np.allclose(source.predict(clips, verbose=0), 1 / source.num_classes)  # the source is untouched
    same = training.transfer_model(source, source.num_classes, regime=regime)
    np.testing.assert_array_equal(np.asarray(same.get_layer("predictions").kernel),
                                  np.asarray(source.get_layer("predictions").kernel))
    scratch = training.transfer_model(source, 6, regime="scratch")
    assert np.abs(np.asarray(scratch.get_layer("predictions").kernel)).max() > 0  # scratch: a random head


@pytest.mark.slow
def test_transfer_sweep_records_runs_the_guard_stopped(tmp_path):
    videos = write_class_videos(tmp_path / "videos", ["a", "b", "c"], 2,
                                lambda label, video: index_frames(12, 40, 40, seed=10 * label + video))
    source = ksn.SingleFrame(spec=SPEC, input_shape=(1, 32, 32, 3), classes=4)
    train = ksn.data.video_dataset_from_directory(str(videos), model=source, batch_size=2, resize_to=40, seed=0,
                                                  verbose=False)
    exploding = dataclasses.replace(training.PAPER_RECIPE, learning_rate=50.0, clip_norm=None)
    result = training.transfer_sweep(source, [(train, str(videos))], run_root=str(tmp_path / "runs"), epochs=2,
                                     regimes=("top", "scratch"), recipe=exploding, clips_per_video=1, views=1,
                                     resize_to=40, verbose=0)
    assert [row["regime"] for row in result["rows"]] == ["top", "scratch"]
    stopped = [reason for row in result["rows"] for reason in row["stopped"]]
    assert any(reason and reason.startswith("diverged") for reason in stopped), stopped
    assert "| Fine-tune top layer |" in result["table3"]
