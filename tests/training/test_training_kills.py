"""Adversarial: SIGKILL at random instants of a training run, then the same command again (issue 17, items 6-8).

Every kill must leave a run folder that a reader finds consistent (``state.json`` readable, the files it names
present) and that resumes to exactly the weights, history and best-model record of an uninterrupted run, with no
temporary file left behind. The kill instants are drawn from a seeded generator over the whole training phase
(batches, validation, and the checkpoint writes and commits in between). ``KSN_KILLS`` sets how many (default 4; `KSN_KILLS=29 pytest -s -k random_kills` is the adversarial pass).
Validation must match too once the datasets are `keras_sportsnet.data.VideoDataset`s (see ``EXACT_VALIDATION``).
"""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import write_class_videos

import keras_sportsnet as ksn
from keras_sportsnet.testing.videos import index_frames
from keras_sportsnet.training import checkpoints
from keras_sportsnet.utils.files import sha256_of

SCRIPT = textwrap.dedent("""
    import os, signal, sys, threading, time
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras, numpy as np, tensorflow as tf
    import keras_sportsnet as ksn
    tf.config.experimental.enable_op_determinism()
    videos, run_dir, kill_after = sys.argv[1], sys.argv[2], float(sys.argv[3])

    def dataset(**kwargs):
        return ksn.data.video_dataset_from_directory(videos, num_frames=10, image_size=32, resize_to=40,
                                                     batch_size=4, seed=3, verbose=False, **kwargs)

    class KillLater(keras.callbacks.Callback):
        '''SIGKILL (no clean-up) `kill_after` seconds after training starts, wherever the process is then.'''
        def on_train_begin(self, logs=None):
            if kill_after > 0:
                timer = threading.Timer(kill_after, lambda: os.kill(os.getpid(), signal.SIGKILL))
                timer.daemon = True
                timer.start()

    keras.utils.set_random_seed(0)
    model = ksn.SlowFusion(spec="C(4,5,2)-N-P-FC(8)", input_shape=(10, 32, 32, 3), classes=3, dropout=0.3)
    start = time.perf_counter()
    ksn.training.train(model, dataset(), dataset(augmentation="centre", shuffle=False), run_dir=run_dir,
                       epochs=6, steps_per_epoch=2, verbose=0, tensorboard=False, callbacks=[KillLater()])
    np.savez(os.path.join(run_dir, "final.npz"), *[v.numpy() for v in model.weights])
    print(f"TRAINING_SECONDS {time.perf_counter() - start:.3f}")
""")


# Validation is exact across a resume when the datasets are `VideoDataset`s (validation at epoch e is `one_pass(e)`).
# The tf.data datasets made before them key each validation pass by a per-process counter, which a resume restarts.
EXACT_VALIDATION = hasattr(ksn.data, "VideoDataset")


def _run(script, *args):
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True, timeout=600)


def _consistent(run):
    """Problems a reader of the run folder would meet right after a kill (empty list: none)."""
    state = checkpoints.load_state(str(run))  # raises if state.json is not a whole JSON file
    if state is None:
        return []
    problems = []
    if not os.path.exists(checkpoints.checkpoint_path(str(run), state.epoch)):
        problems.append(f"state.json names epoch {state.epoch}, whose checkpoint is missing")
    if state.get("best_weights") and not os.path.exists(run / state["best_weights"]["file"]):
        problems.append("state.json names best weights that are missing")
    if len(state["history"]) != state.epoch:
        problems.append("the history does not match the epoch")
    return problems


def _final(run):
    with np.load(run / "final.npz") as saved:
        return [saved[name] for name in saved.files]


@pytest.mark.slow
def test_random_kills_leave_consistent_folders_that_resume_exactly(tmp_path):
    videos = write_class_videos(tmp_path / "videos", ["left", "right", "still"], 3,
                                lambda label, video: index_frames(24, 40, 40, seed=10 * label + video))
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    straight = tmp_path / "straight"
    done = _run(script, videos, straight, 0)
    assert done.returncode == 0, done.stderr[-3000:]
    seconds = float(done.stdout.split("TRAINING_SECONDS")[1])
    reference, reference_state = _final(straight), checkpoints.load_state(str(straight))
    kills = int(os.environ.get("KSN_KILLS", "4"))
    generator = random.Random(17)
    figures = {"killed": 0, "finished_before_the_kill": 0, "consistent_after_kill": 0, "repairs_on_resume": 0,
               "resumed_bit_identical": 0}
    for index in range(kills):
        run = tmp_path / f"killed{index}"
        delay = generator.uniform(0.05, seconds)
        start = time.monotonic()
        killed = _run(script, videos, run, delay)
        if killed.returncode == 0:
            figures["finished_before_the_kill"] += 1
        else:
            assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
            figures["killed"] += 1
        problems = _consistent(run)
        assert problems == [], (delay, problems)
        figures["consistent_after_kill"] += 1
        resumed = _run(script, videos, run, 0)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        figures["repairs_on_resume"] += resumed.stderr.count(f"{run}: ")
        state = checkpoints.load_state(str(run))
        for a, b in zip(reference, _final(run), strict=True):
            np.testing.assert_array_equal(a, b)
        assert [r["loss"] for r in state["history"]] == [r["loss"] for r in reference_state["history"]]
        best = json.load(open(run / "best.json"))
        assert best["epoch"] == state["best_epoch"] and best["sha256"] == state["best_weights"]["sha256"]
        assert sha256_of(run / "best.weights.h5") == state["best_weights"]["sha256"]
        same_validation = ([r["val_loss"] for r in state["history"]] == [r["val_loss"] for r in reference_state["history"]]
                           and best == json.load(open(straight / "best.json")))
        if EXACT_VALIDATION:
            assert same_validation, "validation of a resumed run differs from the uninterrupted one (issue 17.6)"
        figures["same_validation"] = figures.get("same_validation", 0) + same_validation
        assert not [n for _, _, names in os.walk(run) for n in names if "incomplete" in n]
        figures["resumed_bit_identical"] += 1
        print(f"kill {index}: after {delay:.2f} s of {seconds:.2f} s (rc {killed.returncode}, "
              f"{time.monotonic() - start:.0f} s with start-up)")
    print("figures:", figures)
    assert figures["resumed_bit_identical"] == kills
