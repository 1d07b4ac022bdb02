"""Decode failures while clips are read: skipped or stopping the run, never a tf.data traceback, never a hang."""

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from keras_sportsnet import data
from keras_sportsnet.data import sources
from keras_sportsnet.testing.videos import frame_code
from keras_sportsnet.testing.videos import index_frames
from conftest import write_class_videos

SIZE = 32
TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(TESTS)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two classes of four short videos each; video v of class c starts at frame code 100 * (4c + v)."""
    return write_class_videos(tmp_path_factory.mktemp("failing"), ["a", "b"], 4,
                              lambda label, video: index_frames(20, SIZE, SIZE, seed=label * 4 + video))


@pytest.fixture()
def damaged(folder, monkeypatch):
    """``a/v2.mp4`` probes fine but fails whenever its frames are decoded (as a file with a bad frame does)."""
    bad = os.path.join(str(folder), "a", "v2.mp4")
    real = sources.read_clip

    def read_clip(path, indices, **kwargs):
        if os.path.abspath(path) == os.path.abspath(bad):
            raise data.VideoError(path, "damaged stream: frame 3 cannot be decoded")
        return real(path, indices, **kwargs)

    monkeypatch.setattr(sources, "read_clip", read_clip)
    return bad


def _dataset(folder, **kwargs):
    options = dict(num_frames=2, image_size=SIZE, resize_to=SIZE, batch_size=3, seed=0, verbose=False,
                   augmentation="deferred", sampling_mode="uniform", shuffle=False)
    options.update(kwargs)
    return data.video_dataset_from_directory(str(folder), **options)


def test_skip_replaces_the_damaged_video_by_the_next_and_counts_it_once(folder, damaged):
    ds = _dataset(folder)
    with pytest.warns(UserWarning, match="Skipping a clip of .*v2.mp4: damaged stream"):
        batches = list(ds.one_pass(0))
    assert [len(b[1]) for b in batches] == [3, 3, 2]  # the pass keeps its length
    labels = np.concatenate([np.asarray(b[1]) for b in batches])
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    firsts = [frame_code(np.asarray(clip[0])) for b in batches for clip in b[0]]
    assert firsts[2] == firsts[3]  # v2's place taken by v3 (the next video), deterministically
    assert ds.failures == {damaged: "damaged stream: frame 3 cannot be decoded"}
    with pytest.warns(UserWarning, match=r"1 video\(s\) failed to decode and were skipped"):
        assert ds.check_failures() == ds.failures
    assert ds.check_failures() == ds.failures  # counted once: no second warning (an error if it warned)


def test_raise_ends_the_pass_cleanly_and_check_failures_raises_one_line(folder, damaged):
    ds = _dataset(folder, on_error="raise")
    batches = list(ds.one_pass(0))  # no tf.errors.InvalidArgumentError: the pass just ends
    assert sum(len(b[1]) for b in batches) < 8
    with pytest.raises(data.VideoError, match=r"v2.mp4: damaged stream: frame 3 cannot be decoded \(on_error='raise'"):
        ds.check_failures()
    assert len(list(ds.one_pass(0))) == len(batches)  # usable again after the error was raised


def test_fit_stops_with_the_video_error_under_raise(folder, damaged):
    import keras_sportsnet as ksn

    ds = _dataset(folder, on_error="raise", augmentation="paper", batch_size=2)
    model = ksn.EarlyFusion(spec="C(4,5,2)-N-P-FC(8)", input_shape=(2, SIZE, SIZE, 3), classes=2)
    model.compile("sgd", "sparse_categorical_crossentropy")
    history = model.fit(ds.as_tf_dataset(), steps_per_epoch=len(ds), epochs=3, verbose=0,
                        callbacks=[ds.callback()])
    assert len(history.history["loss"]) == 1 and ds.stopped  # stopped in the first epoch, at the damaged video
    with pytest.raises(data.VideoError, match="v2.mp4"):
        ds.check_failures()


SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, {tests!r})
    import keras
    import keras_sportsnet as ksn
    from keras_sportsnet import data
    from keras_sportsnet.data import sources

    policy, ending = sys.argv[1], sys.argv[2]
    bad = os.path.join({folder!r}, "a", "v2.mp4")
    real = sources.read_clip

    def read_clip(path, indices, **kwargs):  # slow decoding: calls are in flight when fit ends
        time.sleep(0.4)
        if os.path.abspath(path) == os.path.abspath(bad):
            raise data.VideoError(path, "damaged stream: frame 3 cannot be decoded")
        return real(path, indices, **kwargs)

    sources.read_clip = read_clip
    ds = data.video_dataset_from_directory({folder!r}, num_frames=2, image_size=24, resize_to=32, batch_size=2,
                                           seed=0, on_error=policy, verbose=False, num_parallel_calls=4)
    model = ksn.EarlyFusion(spec="C(4,5,2)-N-P-FC(8)", input_shape=(2, 24, 24, 3), classes=2)
    model.compile("sgd", "sparse_categorical_crossentropy")

    class Boom(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                raise RuntimeError("a failure inside fit")

    callbacks = [Boom()] if ending == "boom" else []
    try:
        model.fit(ds.as_tf_dataset(), steps_per_epoch=len(ds), epochs=2, verbose=0,
                  callbacks=callbacks + [ds.callback()])
        ds.check_failures()
        print("finished", len(ds.failures), "failed", flush=True)
    except Exception as error:
        print("caught", type(error).__name__, str(error).splitlines()[0], flush=True)
    print("end of script", flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "policy, ending, expected",
    [
        ("skip", "normal", "finished 1 failed"),
        ("raise", "normal", "caught VideoError"),
        ("skip", "boom", "caught RuntimeError a failure inside fit"),
    ],
)
def test_a_damaged_video_in_fit_ends_the_process_in_bounded_time(folder, tmp_path, policy, ending, expected):
    script = tmp_path / "fit_damaged.py"
    script.write_text(SCRIPT.format(tests=TESTS, folder=str(folder)))
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.monotonic()
    try:
        done = subprocess.run([sys.executable, str(script), policy, ending], capture_output=True, text=True,
                              timeout=240, env=env)
    except subprocess.TimeoutExpired as timeout:
        pytest.fail(f"the process did not exit within 240 s; output: {timeout.stdout}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert expected in done.stdout and "end of script" in done.stdout
    assert "InvalidArgumentError" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    print(f"{policy}/{ending}: exited in {time.monotonic() - start:.1f} s")
