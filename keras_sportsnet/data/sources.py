"""Sources: where the clips of a `VideoDataset` come from.

A source knows one thing: given a pass key, which elements a pass has and how
to load one. The `VideoDataset` does the rest once for every source (the
random draws, the augmentation, batching, passes and resume):

- ``num_elements``: elements (clips) in one pass.
- ``elements(key, skip)``: a ``tf.data.Dataset`` of ``(element, key,
  *payload)`` for one pass keyed ``key``, without its first ``skip``
  elements. ``element`` is an int64 the random draws are keyed by.
- ``load(element, draws, *payload)``: ``(clip, label_index_or_row, ok)``:
  a uint8 clip ``(frames, resize_to, resize_to, 3)``, its label (None when
  unlabelled) and False when the pass must end here.
- ``can_fail``: whether ``ok`` can be False (then the pass may end early and
  its length is not asserted).

`VideoSource` decodes videos (a folder, a list file, a `VideoList`) on the
fly; the shard source of `keras_sportsnet.data.shards` reads prepared
TFRecord shards.

Decoding runs Python (PyAV) inside ``tf.numpy_function``. Two rules keep
failures inside the package, with no framework traceback and no hang:

1. Nothing raises inside the ``tf.data`` graph. A video that fails to decode
   is recorded in ``failures`` and replaced by the next video in the list
   (``on_error="skip"``: the pass keeps its length), or ends the pass
   (``on_error="raise"``: the stream stops cleanly, Keras ends ``fit``);
   `VideoDataset.check_failures` then raises the `VideoError` in the caller's
   thread.
2. At interpreter exit, decoding stops before Python finalizes. A
   ``tf.data`` iterator still alive at exit (kept by a caught exception's
   traceback or by Keras) would otherwise keep calling ``numpy_function``
   while Python shuts down; a call that starts then never returns (Python
   ends threads that ask for the GIL during finalization) and TensorFlow's
   iterator destructor (``MapAndBatchDatasetOp::Dataset::Iterator``) waits
   for it forever. An ``atexit`` hook makes new calls return at once and
   waits for the running ones (`DecodeCalls`).

Example:
```python
source = VideoSource(videos, frame_counts, config)   # what the front doors build
```
"""

import atexit
import threading
import time
import warnings

import numpy as np

from keras_sportsnet.data import sampling
from keras_sportsnet.data.decoding import read_clip
from keras_sportsnet.data.errors import VideoError
from keras_sportsnet.data.lists import multi_hot

__all__ = ["DecodeCalls", "VideoSource", "RETRIES", "DECODE_CALLS"]

RETRIES = 3
"""On ``on_error="skip"``, how many following videos are tried in place of one that fails to decode."""


class DecodeCalls:
    """Counts the decoding calls in flight; at interpreter exit stops new ones and waits for the running ones.

    Args:
        timeout: float. Longest wait at exit, in seconds.
        quiet: float. Seconds without any call that count as drained.

    Example:
    ```python
    with DECODE_CALLS.call() as allowed:
        if allowed:
            ...  # decode
    ```
    """

    def __init__(self, timeout=60.0, quiet=0.25):
        self.timeout, self.quiet = timeout, quiet
        self._lock = threading.Lock()
        self._running = 0
        self._last = time.monotonic()
        self.closing = False
        self._registered = False

    def register(self):
        """Installs the exit hook (once per process)."""
        with self._lock:
            if not self._registered:
                atexit.register(self.drain)
                self._registered = True

    def enter(self):
        """Marks a call as started; False when the process is exiting (then return at once)."""
        with self._lock:
            self._running += 1
            self._last = time.monotonic()
            return not self.closing

    def leave(self):
        """Marks a call as finished."""
        with self._lock:
            self._running -= 1
            self._last = time.monotonic()

    def drain(self):
        """Stops new calls and waits (at most ``timeout`` s) until none has run for ``quiet`` s."""
        self.closing = True
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._running == 0 and time.monotonic() - self._last >= self.quiet:
                    return True
            time.sleep(0.02)
        return False


DECODE_CALLS = DecodeCalls()
"""The process's tracker of decoding calls (one for every source)."""


class _ClipLoader:
    """Decodes element ``e`` = clip ``e % clips_per_video`` of video ``e // clips_per_video``.

    Runs inside ``tf.numpy_function`` and never raises: it returns
    ``(clip, video, ok)``. On a failure the path and reason go to
    ``failures``; with ``on_error="skip"`` the next video is used instead
    (deterministic, so the pass keeps its length; up to `RETRIES` videos),
    else ``ok`` is False and ``stop`` holds the `VideoError`.
    """

    def __init__(self, paths, frame_counts, config, failures):
        self.paths, self.frame_counts, self.config = paths, frame_counts, config
        self.geometry = config.geometry
        self.failures = failures
        self.stop = None
        self._lock = threading.Lock()
        self._dummy = np.zeros((config.num_frames, config.resize_to, config.resize_to, 3), np.uint8)

    def indices(self, video, clip, start_draw):
        """The frame indices of clip ``clip`` of ``video`` (random: start = draw % valid starts)."""
        frames, config = self.frame_counts[video], self.config
        if config.sampling_mode == "uniform":
            sampled = sampling.uniform_clips(frames, self.geometry, config.clips_per_video, config.short_video_policy)
            return list(sampled[clip].indices)
        valid = frames - self.geometry.span + 1
        start = int(start_draw) % valid if valid > 0 else 0
        return list(sampling.clip_at(start, self.geometry, frames, config.short_video_policy).indices)

    def read(self, path, indices):
        # Frames are scaled down while they are decoded (short side = resize_to): memory bounded in frame size.
        return read_clip(path, indices, short_side=self.config.resize_to)

    def _failed(self, path, problem):
        with self._lock:
            self.failures[path] = problem

    def __call__(self, element, start_draw):
        if not DECODE_CALLS.enter():
            DECODE_CALLS.leave()
            return self._dummy, np.int64(0), np.bool_(False)
        try:
            return self._load(int(element), int(start_draw))
        finally:
            DECODE_CALLS.leave()

    def _load(self, element, start_draw):
        if self.stop is not None and self.config.on_error == "raise":  # the run was stopped: end the pass at once
            return self._dummy, np.int64(0), np.bool_(False)
        video, clip = divmod(element, self.config.clips_per_video)
        attempts = 1 if self.config.on_error == "raise" else min(RETRIES + 1, len(self.paths))
        for attempt in range(attempts):
            candidate = (video + attempt) % len(self.paths)
            path = self.paths[candidate]
            try:
                frames = self.read(path, self.indices(candidate, clip, start_draw))
                return np.ascontiguousarray(frames, np.uint8), np.int64(candidate), np.bool_(True)
            except Exception as error:  # noqa: BLE001 - nothing may escape into the tf.data graph
                problem = error.problem if isinstance(error, VideoError) else f"{type(error).__name__}: {error}"
                self._failed(path, problem)
                if self.config.on_error == "raise":
                    self.stop = VideoError(path, f"{problem} (on_error='raise' stopped the run; pass "
                                                 "on_error='skip' to skip videos that fail to decode)")
                    return self._dummy, np.int64(0), np.bool_(False)
                following = self.paths[(candidate + 1) % len(self.paths)]
                warnings.warn(f"Skipping a clip of {path}: {problem}; using {following} instead.", stacklevel=2)
        # on_error="skip" and every candidate failed: a black clip keeps the pass whole; check_failures raises.
        others = f"the next {attempts - 1} videos" if attempts > 1 else "no other video can take its place"
        self.stop = VideoError(self.paths[video], f"failed to decode, and so did {others}: the run stops "
                                                  "(every failure is in `failures`)")
        return self._dummy, np.int64(video), np.bool_(True)


class VideoSource:
    """Clips decoded from video files on the fly (folders, list files, `VideoList`).

    One pass holds ``clips_per_video`` clips of every video; the order is a
    permutation keyed by the pass key when ``config.shuffle``.

    Args:
        paths: sequence of str. The usable videos (probed).
        labels: sequence of tuples of int, one per video (``()`` when unlabelled).
        frame_counts: sequence of int. Frames of each video.
        num_classes: int. Classes of the labels.
        config: the `PipelineConfig`.
        failures: dict the decode failures are recorded in (``{path: reason}``).

    Example:
    ```python
    source = VideoSource(paths, labels, counts, num_classes=3, config=config, failures={})
    ```
    """

    def __init__(self, paths, labels, frame_counts, num_classes, config, failures):
        self.paths, self.labels, self.frame_counts = list(paths), list(labels), list(frame_counts)
        self.num_classes, self.config = num_classes, config
        self.num_elements = len(self.paths) * config.clips_per_video
        self.loader = _ClipLoader(self.paths, self.frame_counts, config, failures)
        if config.label_mode == "int":
            self.label_table = np.array([l[0] for l in self.labels], np.int32)
        elif config.label_mode is not None:
            self.label_table = multi_hot(self.labels, num_classes, dtype="float32")
        else:
            self.label_table = None
        DECODE_CALLS.register()

    @property
    def can_fail(self):
        """True with ``on_error="raise"``: a decode failure ends the pass."""
        return self.config.on_error == "raise"

    def with_config(self, config):
        """The same videos under another config (the failures record is shared)."""
        return VideoSource(self.paths, self.labels, self.frame_counts, self.num_classes, config, self.loader.failures)

    @property
    def stop(self):
        """The `VideoError` that stopped the pass, or None."""
        return self.loader.stop

    def reset_stop(self):
        """Clears the stop, so the data can be iterated again."""
        self.loader.stop = None

    def elements(self, key, skip):
        """``(element, key)`` of one pass, shuffled by ``key`` when the config says so."""
        import tensorflow as tf

        from keras_sportsnet.data import random

        if self.config.shuffle:
            order = tf.data.Dataset.from_tensor_slices(random.permutation(self.num_elements, key))
        else:
            order = tf.data.Dataset.range(self.num_elements)
        return order.skip(skip).map(tf.autograph.experimental.do_not_convert(lambda element: (element, key)))

    def load(self, element, draws):
        """``(uint8 clip at resize_to, label, ok)`` of one element (runs in the tf.data graph)."""
        import tensorflow as tf

        from keras_sportsnet.transforms import functional

        clip, video, ok = tf.numpy_function(self.loader, [element, draws[0]], [tf.uint8, tf.int64, tf.bool],
                                            stateful=False)
        clip.set_shape((self.config.num_frames, None, None, 3))
        video.set_shape(())
        ok.set_shape(())
        clip = functional.centre_crop_resize(clip, self.config.resize_to)
        label = None if self.label_table is None else tf.gather(tf.constant(self.label_table), video)
        return clip, label, ok
