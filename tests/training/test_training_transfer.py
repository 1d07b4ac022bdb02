"""Transfer learning: defaults, what the new model inherits, and the sweep's report of stopped runs."""

import dataclasses

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
