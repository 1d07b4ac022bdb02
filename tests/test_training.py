"""Training: the recipe, Hit@k, checkpoints, and a real kill followed by an exact resume."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from conftest import write_class_videos

import keras_sportsnet as ksn
from keras_sportsnet import training
from keras_sportsnet.testing.videos import index_frames
from keras_sportsnet.training import checkpoints

SPEC = "C(4,5,2)-N-P-FC(8)"


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory):
    return write_class_videos(tmp_path_factory.mktemp("train_videos"), ["left", "right", "still"], 3,
                              lambda label, video: index_frames(24, 40, 40, seed=10 * label + video))


def test_paper_recipe_compiles_sgd_momentum_weight_decay_and_hit_metrics():
    model = ksn.SlowFusion(spec=SPEC, input_shape=(10, 32, 32, 3), classes=7)
    training.compile_model(model)
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert (optimizer.momentum, optimizer.weight_decay) == (0.9, 5e-4)
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(1e-3)
    assert training.PAPER_RECIPE.batch_size == 32
    with pytest.raises(ValueError, match="mixed_precision"):
        training.TrainingRecipe(mixed_precision="float8")
    with pytest.raises(ValueError, match="batch_size"):
        training.TrainingRecipe(batch_size=0)


def test_hit_at_k_counts_any_true_label_in_the_top_k():
    scores = np.array([[0.1, 0.5, 0.4], [0.6, 0.3, 0.1], [0.2, 0.3, 0.5]], "float32")
    assert float(training.HitAtK(1)(np.array([1, 1, 2]), scores)) == pytest.approx(2 / 3)
    assert float(training.HitAtK(2)(np.array([2, 1, 0]), scores)) == pytest.approx(2 / 3)
    multi_hot = np.array([[1, 0, 1], [0, 1, 1], [1, 0, 0]], "float32")  # any label counts
    assert float(training.HitAtK(1)(multi_hot, scores)) == pytest.approx(0.0)
    assert float(training.HitAtK(2)(multi_hot, scores)) == pytest.approx(2 / 3)


def test_mixed_precision_context_builds_bfloat16_models_and_restores_the_policy():
    with training.mixed_precision("bfloat16"):
        model = ksn.SingleFrame(spec=SPEC, input_shape=(1, 32, 32, 3), classes=3)
    assert model.backbone.get_layer("full_0_conv").compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"


def _dataset(video_folder, seed=3, **kwargs):
    return ksn.data.video_dataset_from_directory(
        str(video_folder), num_frames=10, image_size=32, resize_to=40, batch_size=4, seed=seed,
        verbose=False, **kwargs)


def test_train_writes_state_best_history_and_resumes_to_more_epochs(tmp_path, video_folder):
    keras.utils.set_random_seed(0)
    model = ksn.SlowFusion(spec=SPEC, input_shape=(10, 32, 32, 3), classes=3)
    run = str(tmp_path / "run")
    result = training.train(model, _dataset(video_folder), _dataset(video_folder, augmentation="centre", shuffle=False),
                            run_dir=run, epochs=2, steps_per_epoch=2, verbose=0, tensorboard=False)
    assert [row["epoch"] for row in result["history"]] == [1, 2]
    assert result["best_epoch"] in (1, 2) and os.path.exists(result["best_weights"])
    state = checkpoints.load_state(run)
    assert state.epoch == 2 and state["steps_per_epoch"] == 2 and state["monitor"] == "val_hit_at_1"
    assert os.listdir(os.path.join(run, "checkpoints")) == ["epoch-000002.npz"]
    assert open(os.path.join(run, "history.csv")).read().splitlines()[0].startswith("epoch,")
    assert not [n for n in os.listdir(run) if "incomplete" in n]
    again = ksn.SlowFusion(spec=SPEC, input_shape=(10, 32, 32, 3), classes=3)
    more = training.train(again, _dataset(video_folder), run_dir=run, epochs=3, steps_per_epoch=2, verbose=0,
                          tensorboard=False, monitor="val_hit_at_1")
    assert more["resumed_from"] == 2 and [row["epoch"] for row in more["history"]] == [1, 2, 3]
    with pytest.raises(ValueError, match="steps_per_epoch=2; resuming with steps_per_epoch=5"):
        training.train(again, _dataset(video_folder), run_dir=run, epochs=4, steps_per_epoch=5, verbose=0)


def test_checkpoint_of_another_model_is_refused(tmp_path):
    model = ksn.SlowFusion(spec=SPEC, input_shape=(10, 32, 32, 3), classes=3)
    training.compile_model(model)
    model.optimizer.build(model.trainable_variables)
    path = str(tmp_path / "c.npz")
    checkpoints.save_variables(model, path)
    other = ksn.SlowFusion(spec="C(4,5,2)-N-P-FC(9)", input_shape=(10, 32, 32, 3), classes=3)
    training.compile_model(other)
    other.optimizer.build(other.trainable_variables)
    with pytest.raises(ValueError, match="does not fit this model and optimizer"):
        checkpoints.restore_variables(other, path)
    with np.load(path, allow_pickle=False) as saved:  # plain arrays, no pickle
        assert json.loads(bytes(saved["index"]).decode())[0][0]


def test_failed_write_leaves_the_previous_file(tmp_path):
    target = tmp_path / "state.json"
    checkpoints.write_json(str(target), {"epoch": 1})

    def broken(temporary):
        with open(temporary, "w") as file:
            file.write("{half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        checkpoints.atomic_write(str(target), broken)
    assert json.load(open(target)) == {"epoch": 1} and os.listdir(tmp_path) == ["state.json"]


RUN_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras, numpy as np, tensorflow as tf
    import keras_sportsnet as ksn
    tf.config.experimental.enable_op_determinism()
    videos, run_dir, kill_after = sys.argv[1], sys.argv[2], int(sys.argv[3])

    def dataset(**kwargs):
        return ksn.data.video_dataset_from_directory(videos, num_frames=10, image_size=32, resize_to=40,
                                                     batch_size=4, seed=3, verbose=False, **kwargs)

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)   # no clean-up, no atexit: a real crash

    keras.utils.set_random_seed(0)
    model = ksn.SlowFusion(spec="C(4,5,2)-N-P-FC(8)", input_shape=(10, 32, 32, 3), classes=3, dropout=0.3)
    ksn.training.train(model, dataset(), dataset(augmentation="centre", shuffle=False), run_dir=run_dir,
                       epochs=4, steps_per_epoch=2, verbose=0, tensorboard=False, callbacks=[Kill()])
    np.savez(os.path.join(run_dir, "final.npz"), *[v.numpy() for v in model.weights])
""")


def _run(script, *args):
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True, timeout=600)


def test_a_killed_run_resumes_to_exactly_the_weights_of_an_uninterrupted_one(tmp_path, video_folder):
    script = tmp_path / "run.py"
    script.write_text(RUN_SCRIPT)
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = _run(script, video_folder, straight, 0)
    assert done.returncode == 0, done.stderr[-3000:]
    crash = _run(script, video_folder, killed, 2)
    assert crash.returncode == -signal.SIGKILL
    assert checkpoints.load_state(str(killed)).epoch == 2 and not os.path.exists(killed / "final.npz")
    resumed = _run(script, video_folder, killed, 0)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming" in resumed.stderr
    a, b = np.load(straight / "final.npz"), np.load(killed / "final.npz")
    assert len(a.files) == len(b.files) > 0
    for name in a.files:
        np.testing.assert_array_equal(a[name], b[name])
    history = [json.load(open(path / "state.json"))["history"] for path in (straight, killed)]
    assert [round(r["loss"], 6) for r in history[0]] == [round(r["loss"], 6) for r in history[1]]
