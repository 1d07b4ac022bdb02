"""`evaluate_videos`: the paper's video-level protocol (Sec. 4.1), streamed on threads.

Three stages run at once, so decoding overlaps the model instead of adding to
it, and memory stays bounded whatever the number of videos or their frame
size:

1. **Decoding threads** (PyAV releases the GIL): each probes a video, draws
   its ``clips_per_video`` seeded random clips (`random_clips`), decodes them
   in one forward pass (`read_clips`) with frames scaled down *while they are
   decoded* to the short side the protocol needs (``short_side``), and cuts
   the centre square of every frame at ``resize_to``. At most
   ``workers + 2`` videos are decoded ahead of the model.
2. **One batching thread** takes the videos in order and cuts the views of
   every clip (`EVALUATION_VIEWS`: centre, centre flipped, top-left,
   bottom-right) into fixed-size float32 batches that cross video boundaries.
3. **The calling thread** runs the model on each batch (the last one padded:
   one shape, one compiled function) and writes the outputs, as
   log-probabilities, into the per-view array of a `VideoScores` (in memory,
   or a memory-mapped ``.npy`` with ``scores_path``).

Nothing here needs TensorFlow: it works on every Keras backend. A video that
cannot be decoded is reported by path and reason: with ``on_error="skip"`` it
is left out (every other result kept) and counted at the end; with
``on_error="raise"`` the evaluation stops with its `VideoError`. Worker
threads are daemons that stop when the evaluation ends, however it ends, so
the process always exits.
"""

import os
import queue
import threading
import time
import warnings

import keras
import numpy as np

from keras_sportsnet.data import random as keys
from keras_sportsnet.data import sampling
from keras_sportsnet.data.decoding import probe_video
from keras_sportsnet.data.decoding import read_clips
from keras_sportsnet.data.errors import VideoError
from keras_sportsnet.evaluation.archive import ScoresFiles
from keras_sportsnet.evaluation.metrics import as_multi_hot
from keras_sportsnet.evaluation.protocol import EvaluationProtocol
from keras_sportsnet.evaluation.protocol import video_list
from keras_sportsnet.evaluation.scores import VideoScores
from keras_sportsnet.transforms.functional import EVALUATION_VIEWS
from keras_sportsnet.transforms.functional import centre_crop_resize
from keras_sportsnet.transforms.functional import crop_offsets
from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_int
from keras_sportsnet.utils.checks import closest
from keras_sportsnet.utils.progress import Progress

__all__ = ["MISSING", "ON_ERROR_POLICIES", "EvaluationRun", "decode_video", "evaluate_videos", "missing_videos",
           "run_protocol"]

ON_ERROR_POLICIES = ("skip", "raise")
"""What to do with a video that cannot be decoded: leave it out and report it, or stop."""

_POLL_SECONDS = 0.2


def evaluate_videos(
    model,
    videos,
    *,
    clips_per_video=None,
    views=None,
    resize_to=None,
    seed=0,
    batch_size=32,
    short_video_policy="loop",
    on_error="skip",
    scores_path=None,
    workers=None,
    max_pixels=None,
    verbose=True,
):
    """Scores every video with the paper's protocol: random clips x views, averaged.

    The protocol's defaults come from ``model.preprocessor`` (what the model
    was trained with: e.g. ``resize_to=64`` for the shipped presets); without
    one, the paper's 20 clips x 4 views at ``resize_to=200``. An explicit
    ``resize_to`` that disagrees with the preprocessor is used, with a
    `UserWarning` naming both values.

    Args:
        model: a keras_sportsnet classifier or ensemble (softmax or logits
            head); its clip geometry says which frames to read.
        videos: a `VideoDataset` (its usable videos and labels), a
            `keras_sportsnet.data.VideoList` (e.g. `read_ucf101_split(...)`),
            a folder (class sub-folders give labels; a flat folder gives
            unlabelled videos), a video file, or a list of video files.
        clips_per_video: int or None. Random clips per video (20 in the paper).
        views: int in 1..4 or None. Crops/flips per clip (4 in the paper).
        resize_to: int or None. Side of the centre square the views are cut
            from; frames are scaled down to it while they are decoded.
        seed: int. Clip positions are a pure function of ``(seed, index of
            the video in the list)``.
        batch_size: int. Views per model call (batches cross videos).
        short_video_policy: for videos shorter than a clip, one of
            `keras_sportsnet.data.SHORT_VIDEO_POLICIES` (``"skip"``: the video
            is reported and left out).
        on_error: ``"skip"``: a video that cannot be read is reported (a
            `UserWarning` at the end listing every such path and reason, and
            ``metadata["skipped"]``) and left out, every other result kept;
            ``"raise"``: the evaluation stops with the `VideoError`.
        scores_path: str or None. Write the per-view scores to this ``.npy``
            (memory-mapped while filling, so memory does not grow with the
            number of videos; written under a temporary name and renamed when
            complete) and the `VideoScores` beside it (``.npz``, atomically).
            Leftovers of an interrupted run at this path (temporary files, a
            ``.npy`` without its ``.npz``) are removed first.
        workers: int or None. Decoding threads (default: the CPU count, at
            most 8).
        max_pixels: int or None. Budget of pixels per frame (None: the
            decoder's default, 4096 x 4096); a video with larger frames is
            reported like any unreadable one.
        verbose: bool. Progress on stderr.

    Returns:
        `keras_sportsnet.evaluation.VideoScores` of the evaluated videos, with
        ``metadata``: ``protocol`` (`EvaluationProtocol.to_dict`), ``model``,
        ``skipped`` (``{path: reason}``), ``seconds``, ``model_seconds``
        (time in the model's calls; the rest is waiting for decoded videos),
        ``videos_per_second``, ``outputs``. ``.metrics()`` gives Clip Hit@1, Video Hit@1/@5, mAP.

    Raises:
        VideoError: with ``on_error="raise"``, the first video that cannot be read.
        ValueError: bad arguments, labels the model does not have, or no
            video could be evaluated (the message lists why for each).

    Example:
    ```python
    test = ksn.data.read_ucf101_split("/data/UCF-101", fold=1, subset="test")
    scores = ksn.evaluate_videos(model, test)                    # the preprocessor's protocol
    print(scores.metrics())                                       # Clip Hit@1, Video Hit@1/@5, mAP
    print(scores.accuracy_vs_views().format())                    # 1..20 clips x 1..4 views, no re-run
    ```
    """
    protocol = EvaluationProtocol.for_model(
        model,
        clips_per_video=clips_per_video,
        views=views,
        resize_to=resize_to,
        seed=seed,
        short_video_policy=short_video_policy,
        stacklevel=2,
    )
    check_choice("on_error", on_error, ON_ERROR_POLICIES)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    workers = check_int("workers", workers, minimum=1, allow_none=True)
    listing = video_list(videos)
    missing = missing_videos(listing, on_error)
    num_classes = _num_classes(model)
    labels, class_names = _labels_for_model(listing, model, num_classes)
    files = None
    if scores_path is not None:
        files = ScoresFiles(scores_path)
        files.clean()
    shape = (len(listing), protocol.clips_per_video, protocol.views, num_classes)
    run = EvaluationRun(model, listing.paths, protocol, batch_size=batch_size, on_error=on_error,
                        workers=workers, max_pixels=max_pixels, verbose=verbose)

    failures = dict(missing)

    def evaluate(array):
        run.run(array.reshape(-1, num_classes))
        failures.update(run.failures)
        if failures:
            listed = len(listing) + len(missing)
            text = "\n".join(f"  {path}: {reason}" for path, reason in failures.items())
            if not run.kept:
                raise ValueError(f"No video could be evaluated: all {listed} failed:\n{text}")
            warnings.warn(f"Leaving {len(failures)} of {listed} videos out of the evaluation:\n{text}",
                          UserWarning, stacklevel=4 if files is None else 6)
        return len(run.kept), None

    if files is None:
        logits = np.empty(shape, np.float32)
        evaluate(logits)
        logits = logits[: len(run.kept)]
    else:  # the .npy is renamed into place only when complete, then the .npz is written
        logits, _ = files.fill(shape, evaluate)
    metadata = {
        "model": getattr(model, "name", type(model).__name__),
        "protocol": protocol.to_dict(),
        "skipped": failures,
        "seconds": run.seconds,
        "model_seconds": run.model_seconds,
        "videos_per_second": len(run.kept) / run.seconds if run.seconds else None,
        "outputs": "log-probabilities" if _outputs_probabilities(model) else "logits",
    }
    scores = VideoScores(
        logits,
        as_multi_hot([labels[i] for i in run.kept], num_classes),
        class_names=class_names,
        video_ids=[listing.paths[i] for i in run.kept],
        metadata=metadata,
    )
    if files is not None:
        scores.save(files.npz)
    return scores


def missing_videos(listing, on_error):
    """``{path: reason}`` for the entries of a `VideoList` whose file was not found (``listing.missing``).

    They are reported with the videos that cannot be read, never dropped
    silently; with ``on_error="raise"`` the first one raises at once, before
    any work.

    Args:
        listing: `keras_sportsnet.data.VideoList`.
        on_error: ``"skip"`` or ``"raise"``.

    Returns:
        dict ``{path: reason}`` (``"file not found ..."``, or ``"is a directory, ..."``).

    Example:
    ```python
    missing_videos(ksn.data.read_video_list("test.txt", video_root="videos/"), "skip")
    ```
    """
    from keras_sportsnet.data.lists import missing_reason

    missing = {os.fspath(path): missing_reason(os.fspath(path)) for path in getattr(listing, "missing", ())}
    if missing and on_error == "raise":
        path = next(iter(missing))
        raise VideoError(path, missing[path])
    return missing


MISSING = "file not found (the list names it, but it does not exist)"
"""The reason given for a listed video whose file is missing."""


# --------------------------------------------------------------------------- one video


def decode_video(path, index, protocol, *, max_pixels=None):
    """The centre squares of one video's evaluation clips, one uint8 array ``(T, R, R, 3)`` per clip.

    Probes the video, draws its clips (a pure function of ``(protocol.seed,
    index)``), decodes them in one forward pass with frames scaled down to
    ``protocol.short_side`` while decoding, and cuts the centre square of
    each frame at ``protocol.resize_to`` (resized only when the decoded
    square is not already that size).

    Args:
        path: str. The video.
        index: int >= 0. Its position in the evaluated list (seeds its clips).
        protocol: `EvaluationProtocol`.
        max_pixels: int or None. Budget of pixels per frame (None: the
            decoder's default, 4096 x 4096); a larger frame is a `VideoError`.

    Returns:
        list of ``clips_per_video`` uint8 arrays ``(num_frames, resize_h,
        resize_w, 3)``.

    Raises:
        VideoError: the video cannot be read, or is too short with
            ``short_video_policy="skip"``; the message names the file.

    Example:
    ```python
    squares = decode_video("clip.mp4", 0, EvaluationProtocol.for_model(model))
    ```
    """
    geometry = protocol.geometry
    budget = {} if max_pixels is None else {"max_pixels": max_pixels}
    info = probe_video(path, **budget)
    if protocol.short_video_policy == "skip" and info.num_frames < geometry.span:
        raise VideoError(
            path, f"too short: {info.num_frames} frames, a clip spans {geometry.span} (short_video_policy='skip')"
        )
    clips = sampling.random_clips(info.num_frames, geometry, protocol.clips_per_video,
                                  keys.video_seed(protocol.seed, index), protocol.short_video_policy)
    try:
        frames = read_clips(path, [list(clip.indices) for clip in clips], short_side=protocol.short_side, **budget)
        return _centre_squares(frames, protocol.resize_to)
    except MemoryError:
        raise VideoError(path, "out of memory while decoding its clips") from None


def _centre_squares(clips, size):
    """uint8 clips ``(T, H, W, 3)`` of one video -> their centre regions of aspect ``size``, at ``size``.

    Views into the decoded frames when they already have that size (frames
    are scaled while decoding); else one `centre_crop_resize` for the video.
    """
    height, width = clips[0].shape[1:3]
    target_h, target_w = size
    crop_h = min(height, width * target_h // target_w)
    crop_w = min(width, height * target_w // target_h)
    if (crop_h, crop_w) != (target_h, target_w):
        return list(np.asarray(keras.ops.convert_to_numpy(centre_crop_resize(np.stack(clips), size))))
    top, left = crop_offsets("center", height, width, crop_h, crop_w)
    return [clip[:, top : top + crop_h, left : left + crop_w] for clip in clips]


def _view(square, position, flipped, crop):
    """One view of a clip's centre squares ``(T, R, R, 3)``: the crop at ``position``, flipped or not."""
    crop_h, crop_w = crop
    top, left = crop_offsets(position, square.shape[1], square.shape[2], crop_h, crop_w)
    view = square[:, top : top + crop_h, left : left + crop_w]
    return view[:, :, ::-1] if flipped else view


# --------------------------------------------------------------------------- the pipeline


class _Outcome:
    __slots__ = ("index", "value", "error", "crash")

    def __init__(self, index, value=None, error=None, crash=None):
        self.index, self.value, self.error, self.crash = index, value, error, crash


class _DecodePool:
    """Daemon threads that decode videos ahead of the consumer, at most ``window`` at a time, yielded in order."""

    def __init__(self, function, count, workers, window, stop):
        self._function, self._count, self._window, self._stop = function, count, window, stop
        self._jobs = queue.SimpleQueue()
        self._done = {}
        self._condition = threading.Condition()
        self._threads = [
            threading.Thread(target=self._work, name=f"keras_sportsnet-decode-{k}", daemon=True)
            for k in range(min(workers, count))
        ]
        for thread in self._threads:
            thread.start()

    def _work(self):
        while not self._stop.is_set():
            index = self._jobs.get()
            if index is None or self._stop.is_set():
                return
            try:
                outcome = _Outcome(index, value=self._function(index))
            except VideoError as error:
                outcome = _Outcome(index, error=error)
            except Exception as error:  # a bug, not a bad video: raised again by the caller
                outcome = _Outcome(index, crash=error)
            with self._condition:
                self._done[index] = outcome
                self._condition.notify_all()

    def __iter__(self):
        submitted = 0
        for index in range(self._count):
            while submitted < min(self._count, index + self._window):
                self._jobs.put(submitted)
                submitted += 1
            with self._condition:
                while index not in self._done:
                    if self._stop.is_set():
                        return
                    self._condition.wait(_POLL_SECONDS)
                outcome = self._done.pop(index)
            yield outcome

    def close(self, timeout=2.0):
        self._stop.set()
        for _ in self._threads:
            self._jobs.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class EvaluationRun:
    """One streamed pass of the protocol over a list of videos: decoding threads, a batcher, the model.

    `evaluate_videos` and `predict_video` are built on it; use it directly to
    fill your own array.

    Args:
        model: a keras_sportsnet classifier or ensemble.
        paths: sequence of video paths (their positions seed their clips).
        protocol: `EvaluationProtocol`.
        batch_size: int >= 1. Views per model call.
        on_error: ``"skip"`` or ``"raise"`` (see `evaluate_videos`).
        workers: int or None. Decoding threads (default: CPU count, at most 8).
        max_pixels: int or None. Budget of pixels per frame (see `decode_video`).
        verbose: bool. A progress line on stderr.

    Attributes (after `run`):
        kept: list of the indices (into ``paths``) of the evaluated videos, in order.
        failures: dict ``{path: reason}`` of the videos left out, in order.
        seconds: float. Wall time of the run.
        model_seconds: float. Time spent in the model's calls: close to
            ``seconds`` when decoding keeps up with the model.

    Example:
    ```python
    run = EvaluationRun(model, paths, EvaluationProtocol.for_model(model))
    logits = np.empty((len(paths) * run.protocol.views_per_video, num_classes), "float32")
    run.run(logits)            # rows of run.kept[k] are k * views_per_video ...
    ```
    """

    def __init__(self, model, paths, protocol, *, batch_size=32, on_error="skip", workers=None, max_pixels=None,
                 verbose=False):
        check_choice("on_error", on_error, ON_ERROR_POLICIES)
        self.model = model
        self.paths = [os.fspath(p) for p in paths]
        self.protocol = protocol
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.on_error = on_error
        self.workers = check_int("workers", workers, minimum=1, allow_none=True) or min(8, os.cpu_count() or 1)
        self.max_pixels = check_int("max_pixels", max_pixels, minimum=1, allow_none=True)
        self.verbose = verbose
        self.kept = []
        self.failures = {}
        self.seconds = 0.0
        self.model_seconds = 0.0

    def run(self, out):
        """Evaluates every video, writing the kept videos' outputs into ``out`` row by row.

        Args:
            out: float32 array ``(len(paths) * clips_per_video * views,
                num_classes)`` (a memory map is fine): kept video ``k``
                fills rows ``k * views_per_video ...``, clip-major, view-minor.
                Softmax outputs are stored as log-probabilities.

        Returns:
            The number of rows written.
        """
        self.kept, self.failures, self.model_seconds = [], {}, 0.0
        stop = threading.Event()
        per_video = self.protocol.views_per_video
        probabilities = _outputs_probabilities(self.model)
        pool = _DecodePool(
            lambda index: decode_video(self.paths[index], index, self.protocol, max_pixels=self.max_pixels),
            len(self.paths), self.workers, self.workers + 2, stop)
        batches = _Background(self._batches(pool), stop)
        progress = Progress("evaluating", total=len(self.paths), unit="videos", enabled=self.verbose)
        filled = 0
        start = time.perf_counter()
        try:
            for kind, *payload in batches:
                if kind == "video":
                    self.kept.append(payload[0])
                    continue
                if kind == "failed":
                    index, error = payload
                    if self.on_error == "raise":  # one clear error, without the decoding thread's traceback
                        raise VideoError(error.path, error.problem) from None
                    self.failures[self.paths[index]] = error.problem
                    progress.update(extra=f"{len(self.failures)} failed")
                    continue
                batch, rows = payload
                called = time.perf_counter()
                outputs = keras.ops.convert_to_numpy(self.model.predict_on_batch(batch))[:rows]
                self.model_seconds += time.perf_counter() - called
                outputs = np.asarray(outputs, np.float32)
                if not np.isfinite(outputs).all():
                    raise FloatingPointError(
                        f"Model {getattr(self.model, 'name', '')!r} produced NaN or infinite outputs (after {filled} "
                        "views): its weights have diverged (check the training's learning rate and loss)."
                    )
                if probabilities:
                    outputs = np.log(np.maximum(outputs, np.finfo(np.float32).tiny))
                out[filled : filled + rows] = outputs
                before = filled // per_video
                filled += rows
                progress.update(filled // per_video - before)
        finally:
            stop.set()
            pool.close()
            batches.close()
            progress.close()
            self.seconds = time.perf_counter() - start
        return filled

    def _batches(self, pool):
        """Events in video order: ("video", i), ("failed", i, error), ("batch", float32 array, rows)."""
        protocol = self.protocol
        crop = protocol.geometry.image_size
        shape = (self.batch_size, protocol.geometry.num_frames, *crop, 3)
        chosen = EVALUATION_VIEWS[: protocol.views]
        batch, rows = None, 0
        for outcome in pool:
            if outcome.crash is not None:
                raise outcome.crash
            if outcome.error is not None:
                yield ("failed", outcome.index, outcome.error)
                continue
            yield ("video", outcome.index)
            for square in outcome.value:
                for position, flipped in chosen:
                    if batch is None:
                        batch = np.empty(shape, np.float32)
                    batch[rows] = _view(square, position, flipped, crop)
                    rows += 1
                    if rows == self.batch_size:
                        yield ("batch", batch, rows)
                        batch, rows = None, 0
        if rows:
            batch[rows:] = 0  # pad the last batch: one shape, one compiled function
            yield ("batch", batch, rows)


class _Background:
    """Runs a generator in a daemon thread; iterating gives its items through a one-item queue."""

    _END = object()

    def __init__(self, generator, stop):
        self._generator, self._stop = generator, stop
        self._queue = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._produce, name="keras_sportsnet-batches", daemon=True)
        self._thread.start()

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self):
        try:
            for item in self._generator:
                if not self._put(item):
                    return
            self._put(self._END)
        except BaseException as error:  # handed to the consumer, raised there
            self._put(_Raised(error))
        finally:
            self._generator.close()

    def __iter__(self):
        while True:
            try:
                item = self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    raise RuntimeError("the evaluation's batching thread stopped without a result") from None
                continue
            if item is self._END:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item

    def close(self, timeout=2.0):
        self._stop.set()
        self._thread.join(timeout)


class _Raised:
    __slots__ = ("error",)

    def __init__(self, error):
        self.error = error


def run_protocol(model, paths, protocol, *, batch_size=32, on_error="skip", workers=None, max_pixels=None,
                 verbose=False):
    """Runs the protocol over ``paths`` in memory: ``(logits, kept, failures)``.

    Args:
        model: a keras_sportsnet classifier or ensemble.
        paths: sequence of video paths.
        protocol: `EvaluationProtocol`.
        batch_size, on_error, workers, max_pixels, verbose: as for `evaluate_videos`.

    Returns:
        ``(logits, kept, failures)``: float32 ``(len(kept), clips, views,
        num_classes)`` (log-probabilities for a softmax model), the indices of
        the evaluated videos in ``paths``, and ``{path: reason}`` for the others.

    Example:
    ```python
    logits, kept, failures = run_protocol(model, ["a.mp4", "b.mp4"], EvaluationProtocol.for_model(model))
    ```
    """
    num_classes = _num_classes(model)
    run = EvaluationRun(model, paths, protocol, batch_size=batch_size, on_error=on_error, workers=workers,
                        max_pixels=max_pixels, verbose=verbose)
    logits = np.empty((len(run.paths), protocol.clips_per_video, protocol.views, num_classes), np.float32)
    run.run(logits.reshape(-1, num_classes))
    return logits[: len(run.kept)], run.kept, run.failures


# --------------------------------------------------------------------------- model, labels


def _num_classes(model):
    output = getattr(model, "output", None)
    shape = getattr(output, "shape", None)
    if not shape or shape[-1] is None:
        raise TypeError(f"`model` must be a built Keras model with one output. Received: {type(model).__name__}")
    return int(shape[-1])


def _outputs_probabilities(model):
    """Whether the model outputs probabilities (a softmax head, or an ensemble averaging such members)."""
    activation = getattr(model, "activation", None)
    if activation is not None:
        return activation == "softmax"
    members = getattr(model, "members", None)
    return bool(members) and all(_outputs_probabilities(member) for member in members)


def _model_class_names(model, num_classes):
    names = getattr(model, "class_names", None)
    if names is None or isinstance(names, str) or len(names) != num_classes:
        return None
    return [str(name) for name in names]


def _labels_for_model(listing, model, num_classes):
    """The videos' labels as indices of the model's classes, and the class names of the scores.

    Labels are matched to the model's ``class_names`` by name when both have
    names (a test folder may hold a subset of the classes, in any order);
    otherwise they must be indices below the model's class count.
    """
    model_names = _model_class_names(model, num_classes)
    data_names = [str(name) for name in listing.class_names]
    labels = [tuple(int(l) for l in video_labels) for video_labels in listing.labels]
    if not any(labels):
        return labels, model_names or (data_names if len(data_names) == num_classes else None)
    if model_names is not None and data_names and data_names != model_names:
        unknown = [name for name in data_names if name not in model_names]
        if unknown:
            hints = [(name, closest(name, model_names)) for name in unknown]
            hint = " ".join(f"Did you mean {match!r} for {name!r}?" for name, match in hints if match)
            raise ValueError(
                f"The videos' classes {unknown[:5]}{' ...' if len(unknown) > 5 else ''} are not classes of the model "
                f"{getattr(model, 'name', '')!r} ({num_classes} classes: {model_names[:5]}"
                f"{' ...' if num_classes > 5 else ''}). {hint + ' ' if hint else ''}Evaluate on folders named like the "
                "model's classes."
            )
        mapping = [model_names.index(name) for name in data_names]
        return [tuple(mapping[l] for l in video_labels) for video_labels in labels], model_names
    largest = max(l for video_labels in labels for l in video_labels)
    if largest >= num_classes:
        raise ValueError(
            f"The videos have {max(len(data_names), largest + 1)} classes but the model "
            f"{getattr(model, 'name', '')!r} has {num_classes}: evaluate it on videos of its own classes."
        )
    return labels, model_names or (data_names if len(data_names) == num_classes else None)
