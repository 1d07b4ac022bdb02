"""Exact resume with random validation sampling (issue 17, item 6): every random choice is a function of
(seed, epoch, step), so a killed and resumed run ends with the weights, history and best.json of an
uninterrupted one."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_sportsnet.testing.videos import index_frames
from conftest import assert_same_final_weights
from conftest import write_class_videos

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

RUN = textwrap.dedent("""
    import os, signal, sys
    import keras, numpy as np, tensorflow as tf
    import keras_sportsnet as ksn
    tf.config.experimental.enable_op_determinism()
    videos, run_dir, kill_after = sys.argv[1], sys.argv[2], int(sys.argv[3])

    def dataset(seed, **kwargs):  # random clip positions, crops and flips: in training AND validation data
        return ksn.data.video_dataset_from_directory(videos, num_frames=4, image_size=24, resize_to=32, batch_size=3,
                                                     seed=seed, verbose=False, **kwargs)

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)   # a real crash: no clean-up

    keras.utils.set_random_seed(0)
    model = ksn.EarlyFusion(spec="C(4,5,2)-N-P-FC(8)", input_shape=(4, 24, 24, 3), classes=2, dropout=0.3)
    validation = dataset(9, shuffle=False)
    assert (validation.config.sampling_mode, validation.config.augmentation) == ("random", "paper")
    recipe = ksn.training.TrainingRecipe(batch_size=3, learning_rate=0.001)
    result = ksn.training.train(model, dataset(3), validation, run_dir=run_dir, epochs=4, steps_per_epoch=2,
                                recipe=recipe, verbose=0, tensorboard=False, callbacks=[Kill()],
                                on_divergence="continue")  # a tiny net's early loss spikes are not the point here
    assert result["stopped"] is None, result["stopped"]
    np.savez(os.path.join(run_dir, "final.npz"), *[v.numpy() for v in model.weights])
""")


def _run(script, *args):
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=env)


@pytest.mark.slow
def test_kill_and_resume_with_random_validation_sampling_is_bit_identical(tmp_path):
    videos = write_class_videos(str(tmp_path / "videos"), ["a", "b"], 3,
                                lambda label, video: index_frames(30 + 5 * video, 40, 40, seed=label * 3 + video))
    script = tmp_path / "run.py"
    script.write_text(RUN)
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = _run(script, videos, straight, 0)
    assert done.returncode == 0, done.stderr[-3000:]
    crash = _run(script, videos, killed, 2)
    assert crash.returncode == -signal.SIGKILL, crash.stderr[-3000:]
    resumed = _run(script, videos, killed, 0)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming" in resumed.stderr
    assert_same_final_weights(straight, killed)

    def history(run):
        rows = json.load(open(run / "state.json"))["history"]
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]

    assert history(straight) == history(killed)
    assert {"val_loss", "val_hit_at_1"} <= set(history(straight)[0])
    assert len({row["val_loss"] for row in history(straight)}) > 1  # each epoch scored its own random clips
    assert json.load(open(straight / "best.json")) == json.load(open(killed / "best.json"))


def test_validation_callback_scores_pass_e_after_epoch_e(tmp_path):
    import keras

    import keras_sportsnet as ksn

    videos = write_class_videos(str(tmp_path / "videos"), ["a", "b"], 2,
                                lambda label, video: index_frames(30, 32, 32, seed=label * 2 + video))
    kwargs = dict(num_frames=2, image_size=24, resize_to=32, batch_size=2, verbose=False)
    train = ksn.data.video_dataset_from_directory(videos, seed=1, **kwargs)
    val = ksn.data.video_dataset_from_directory(videos, seed=2, shuffle=False, **kwargs)  # random clips and crops
    model = ksn.EarlyFusion(spec="C(4,5,2)-N-P-FC(8)", input_shape=(2, 24, 24, 3), classes=2)
    model.compile(keras.optimizers.SGD(learning_rate=0.0), "sparse_categorical_crossentropy")  # weights stay
    history = model.fit(train.as_tf_dataset(), steps_per_epoch=len(train), epochs=3, verbose=0,
                        callbacks=[val.validation_callback()]).history
    expected = [model.evaluate(val.one_pass(e), verbose=0) for e in range(3)]
    np.testing.assert_allclose(history["val_loss"], expected, rtol=1e-6)
    assert len(set(np.round(expected, 6))) == 3  # three passes, three different sets of clips
    resumed = model.fit(train.as_tf_dataset(start_step=2 * len(train)), steps_per_epoch=len(train), epochs=3,
                        initial_epoch=2, verbose=0, callbacks=[val.validation_callback()]).history
    np.testing.assert_allclose(resumed["val_loss"], expected[2:], rtol=1e-6)
    # keras_sportsnet models take the VideoDatasets directly and score the same passes.
    direct = model.fit(train, validation_data=val, epochs=3, verbose=0).history
    np.testing.assert_allclose(direct["val_loss"], expected, rtol=1e-6)
    direct = model.fit(train, validation_data=val, epochs=3, initial_epoch=1, verbose=0).history
    np.testing.assert_allclose(direct["val_loss"], expected[1:], rtol=1e-6)
