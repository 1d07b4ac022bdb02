"""keras_sportsnet.workflows.train_and_save: a preset only after a finished run; the summary names the metric."""

import os

import pytest

from keras_sportsnet import workflows
from keras_sportsnet.cli import main
from keras_sportsnet.training import TrainingResult


class FakeDataset:
    class_names = ["a", "b"]


def tiny_model():
    from keras_sportsnet.models import build_model

    return build_model("single_frame", spec="C(4,5,2)-N-P-FC(8)", classes=2, input_shape=(1, 32, 32, 3))


def fake_train(result):
    def train(model, train_data, validation_data=None, **kwargs):
        return TrainingResult(result, run_dir=kwargs["run_dir"])

    return train


def test_a_stopped_run_writes_no_preset(monkeypatch, tmp_path):
    import keras_sportsnet.training

    monkeypatch.setattr(keras_sportsnet.training, "train", fake_train(
        {"history": [{"loss": 23.0}, {"loss": 1282.0}], "best": 0.5, "best_epoch": 1, "best_weights": None,
         "monitor": "val_hit_at_1", "stopped": "diverged: the loss grew from 23 to 1282"}))
    outcome = workflows.train_and_save(tiny_model(), FakeDataset(), validation_data=FakeDataset(),
                                       run_dir=str(tmp_path / "run"), epochs=2)
    assert outcome.preset is None and outcome.diverged and outcome.stopped.startswith("diverged")
    assert not os.path.exists(tmp_path / "run" / "preset")
    assert outcome.summary() == ("Best val_hit_at_1 0.500 at epoch 1. Training stopped: diverged: the loss grew from "
                                 "23 to 1282; no preset written.")


def test_a_run_stopped_early_by_a_callback_still_writes_its_preset(monkeypatch, tmp_path):
    import keras_sportsnet.training

    monkeypatch.setattr(keras_sportsnet.training, "train", fake_train(
        {"history": [{"loss": 1.0}, {"loss": 0.9}], "best": 0.75, "best_epoch": 2, "best_weights": None,
         "monitor": "val_hit_at_1", "stopped": "stopped by a callback after epoch 2", "divergence": None}))
    outcome = workflows.train_and_save(tiny_model(), FakeDataset(), validation_data=FakeDataset(),
                                       run_dir=str(tmp_path / "run"), epochs=5)
    assert not outcome.diverged and outcome.preset == str(tmp_path / "run" / "preset")
    assert outcome.summary() == (f"Best val_hit_at_1 0.750 at epoch 2 (stopped by a callback after epoch 2); "
                                 f"preset written to {outcome.preset}")


def test_a_finished_run_writes_the_preset_and_names_its_metric(monkeypatch, tmp_path):
    import keras_sportsnet.training

    monkeypatch.setattr(keras_sportsnet.training, "train", fake_train(
        {"history": [{"loss": 1.0}], "best": 0.6000000238418579, "best_epoch": 3, "best_weights": None}))
    outcome = workflows.train_and_save(tiny_model(), FakeDataset(), validation_data=FakeDataset(),
                                       run_dir=str(tmp_path / "run"), epochs=3, resize_to=72)
    assert outcome.preset == str(tmp_path / "run" / "preset") and os.path.isdir(outcome.preset)
    assert outcome.summary() == f"Best val_hit_at_1 0.600 at epoch 3; preset written to {outcome.preset}"
    loaded = workflows.load_model(outcome.preset)
    assert loaded.class_names == ["a", "b"] and loaded.resize_to == 72


@pytest.mark.parametrize("epochs, steps", [(0, None), (-1, None), (1, 0)])
def test_epochs_and_steps_must_be_positive(epochs, steps, tmp_path):
    with pytest.raises(ValueError, match="epochs|steps_per_epoch"):
        workflows.train_and_save(tiny_model(), FakeDataset(), validation_data=FakeDataset(),
                                 run_dir=str(tmp_path), epochs=epochs, steps_per_epoch=steps)


def test_the_cli_exits_1_when_training_stopped(monkeypatch, tmp_path, capsys):
    import keras_sportsnet.training
    from conftest import write_class_videos
    from keras_sportsnet.testing.videos import index_frames

    videos = write_class_videos(str(tmp_path / "videos"), ["a", "b"], 2, lambda label, video: index_frames(4, 32, 32))
    monkeypatch.setattr(keras_sportsnet.training, "train", fake_train(
        {"history": [], "best": None, "best_epoch": None, "best_weights": None,
         "stopped": "diverged: the loss is NaN at epoch 1", "divergence": {"epoch": 1, "reason": "the loss is NaN"}}))
    assert main(["train", videos, "--fusion", "single_frame", "--spec", "C(4,5,2)-N-P-FC(8)", "--image-size", "32",
                 "--run-dir", str(tmp_path / "run"), "--epochs", "1", "--validation-split", "0",
                 "--learning-rate", "0.5"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines()[-1] == ("No preset written: training diverged at epoch 1 (see above). "
                                                     "Try a lower --learning-rate (now 0.5) in a new --run-dir.")
    assert not os.path.exists(tmp_path / "run" / "preset")


def test_transfer_keeps_the_sources_preprocessor_and_records_the_regime(monkeypatch, tmp_path):
    import json

    import keras_sportsnet.training

    monkeypatch.setattr(keras_sportsnet.training, "train", fake_train(
        {"history": [{"loss": 1.0}], "best": 0.5, "best_epoch": 1, "best_weights": None}))
    source = tiny_model()
    source.preprocessor = type(source.preprocessor).from_config({**source.preprocessor.get_config(), "resize_to": 48})
    outcome = workflows.transfer(source, FakeDataset(), validation_data=FakeDataset(), run_dir=str(tmp_path / "run"),
                                 epochs=1, regime="top", metadata={"name": "my transfer"})
    assert outcome.model.class_names == ["a", "b"] and outcome.model.preprocessor.resize_to == 48
    metadata = json.load(open(os.path.join(outcome.preset, "metadata.json")))
    assert metadata["name"] == "my transfer" and metadata["training"]["regime"] == "top"
    assert metadata["training"]["dropout"] == 0.5 and metadata["evaluation"]["protocol"]["resize_to"] == 48


def test_a_resize_to_smaller_than_the_crop_is_refused_before_anything_is_made(tmp_path):
    """Issue 17.11: train_and_save raises prepare's ValueError (not a TypeError from deserialization) at once."""
    from keras_sportsnet.data.encoding import write_video
    from keras_sportsnet.testing.videos import index_frames

    for name in ("a", "b"):
        os.makedirs(tmp_path / "videos" / name)
        write_video(str(tmp_path / "videos" / name / "v.mp4"), index_frames(8, 32, 32))
    model = tiny_model()
    with pytest.raises(ValueError, match=r"^`resize_to` must be at least the crop size `image_size`: the \(32, 32\) "
                                         r"crop is cut from 20 x 20 frames, so no clip could ever be read\."):
        workflows.train_and_save(model, str(tmp_path / "videos"), run_dir=str(tmp_path / "run"), epochs=1,
                                 resize_to=20)
    assert not (tmp_path / "run").exists()
    assert model.preprocessor.get_config()["resize_to"] != 20
