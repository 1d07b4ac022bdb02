"""`evaluate_videos`: the paper's video-level protocol (Sec. 4.1), streamed.

Every video is probed once, then decoded once: its ``clips_per_video`` seeded
random clips (20 in the paper) come out of one forward pass of the decoder
(`read_clips`), and the 4 evaluation views of each clip (`EvaluationViews`:
centre, centre flipped, top-left, bottom-right) are cut from the same frames.
A `tf.data` pipeline decodes several videos in parallel while the model runs
on fixed-size batches of views that cross video boundaries, so decoding,
the model and aggregation overlap, and memory holds only the videos in flight
(plus the per-view outputs, which can be written to a memory-mapped file).

The per-view outputs are kept as log-probabilities in a `VideoScores`, from
which any number of clips (1..20) and views (1..4), any aggregation rule and
ensembles of several models are scored again without the model.
"""

import os
import sys
import time
import warnings

import keras
import numpy as np

from keras_sportsnet.data import sampling
from keras_sportsnet.data.decoding import read_clips
from keras_sportsnet.data.errors import VideoError
from keras_sportsnet.data.lists import VideoList
from keras_sportsnet.data.lists import read_video_folder
from keras_sportsnet.data.scan import usable_videos
from keras_sportsnet.transforms import EVALUATION_VIEWS
from keras_sportsnet.transforms import PAPER_RESIZE
from keras_sportsnet.evaluation.scores import VideoScores
from keras_sportsnet.utils.checks import check_choice

__all__ = ["evaluate_videos"]


def evaluate_videos(
    model,
    videos,
    *,
    clips_per_video=20,
    views=4,
    seed=0,
    batch_size=32,
    short_video_policy="loop",
    on_error="skip",
    scores_path=None,
    resize_to=PAPER_RESIZE,
    num_parallel_calls=None,
    verbose=True,
):
    """Scores every video with the paper's protocol: random clips x views, averaged.

    Args:
        model: a keras_sportsnet classifier (its ``clip_geometry`` says which
            frames to read), softmax or logits head.
        videos: a `VideoList` (e.g. `read_ucf101_split(..., subset="test")`), a
            folder of class folders, or a dataset from
            `video_dataset_from_directory`/`_from_list` (its videos are used).
        clips_per_video: int. Random clips per video (20 in the paper).
        views: int in 1..4. Crops/flips per clip (4 in the paper).
        seed: int. Clip positions are a pure function of ``(seed, video)``.
        batch_size: int. Views per model call (batches cross videos).
        short_video_policy: for videos shorter than a clip, one of
            `keras_sportsnet.data.SHORT_VIDEO_POLICIES` (``"skip"``: the video
            is reported and left out).
        on_error: ``"skip"`` (report the video, with a warning, and leave it
            out) or ``"raise"``.
        scores_path: str or None. Write the per-view scores to this ``.npy``
            (memory-mapped while filling), and the `VideoScores` beside it
            (``.npz``), so memory does not grow with the dataset.
        resize_to: int. Side of the centre square the views are cut from (200).
        num_parallel_calls: videos decoded at once (default: AUTOTUNE).
        verbose: bool. Progress on stderr.

    Returns:
        `keras_sportsnet.evaluation.VideoScores` with ``metadata`` (protocol,
        seed, model, skipped videos, timings); ``.metrics()`` gives Clip
        Hit@1, Video Hit@1/@5, mAP and more.

    Example:
    ```python
    test = ksn.data.read_ucf101_split("/data/UCF-101", fold=1, subset="test")
    scores = ksn.evaluate_videos(model, test, clips_per_video=20, views=4, seed=0)
    print(scores.metrics())                                 # the paper's protocol
    print(scores.accuracy_vs_views().format())              # 1..20 clips x 1..4 views, no re-run
    ```
    """
    import tensorflow as tf

    from keras_sportsnet.transforms import EvaluationViews

    check_choice("on_error", on_error, ("skip", "raise"))
    check_choice("short_video_policy", short_video_policy, sampling.SHORT_VIDEO_POLICIES)
    if not isinstance(views, int) or not 1 <= views <= len(EVALUATION_VIEWS):
        raise ValueError(f"`views` must be an int in 1..{len(EVALUATION_VIEWS)}. Received: views={views!r}")
    if not isinstance(clips_per_video, int) or clips_per_video < 1:
        raise ValueError(f"`clips_per_video` must be a positive int. Received: clips_per_video={clips_per_video!r}")
    geometry = sampling.ClipGeometry.from_model(model)
    listing = _as_video_list(videos)
    num_classes = int(model.output.shape[-1])

    keep, counts, problems, _ = usable_videos(listing.paths, geometry.span, short_video_policy, verbose=verbose)
    if problems:
        text = "\n".join(f"  {p}: {r}" for p, r in sorted(problems.items()))
        if on_error == "raise":
            raise VideoError(sorted(problems)[0], f"{len(problems)} video(s) cannot be evaluated:\n{text}")
        warnings.warn(f"Leaving {len(problems)} of {len(listing)} videos out of the evaluation:\n{text}", stacklevel=2)
    if not keep:
        raise ValueError(f"No video can be evaluated ({len(listing)} listed, {len(problems)} unusable).")
    paths = [listing.paths[i] for i in keep]

    def decode(video):
        video = int(video)
        clips = sampling.random_clips(counts[video], geometry, clips_per_video, [seed, keep[video]],
                                      short_video_policy)
        return np.stack(read_clips(paths[video], [list(c.indices) for c in clips]))

    cut_views = EvaluationViews(geometry.image_size, resize_to=resize_to)

    def load(video):
        frames = tf.numpy_function(decode, [video], tf.uint8, stateful=False)
        frames.set_shape((clips_per_video, geometry.num_frames, None, None, 3))
        cut = tf.cast(tf.round(cut_views(frames)), tf.uint8)  # (clips * 4, T, h, w, 3), view-major per clip
        cut = tf.reshape(cut, (clips_per_video, len(EVALUATION_VIEWS), geometry.num_frames, *geometry.image_size, 3))
        return tf.reshape(cut[:, :views], (clips_per_video * views, geometry.num_frames, *geometry.image_size, 3))

    parallel = num_parallel_calls or tf.data.AUTOTUNE
    pipeline = (
        tf.data.Dataset.range(len(paths))
        .map(load, num_parallel_calls=parallel, deterministic=True)
        .unbatch()
        .batch(batch_size)
        .prefetch(2)
    )
    shape = (len(paths), clips_per_video, views, num_classes)
    if scores_path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(scores_path)) or ".", exist_ok=True)
        logits = np.lib.format.open_memmap(_npy_path(scores_path), mode="w+", dtype=np.float32, shape=shape)
    else:
        logits = np.empty(shape, np.float32)
    flat = logits.reshape(-1, num_classes)
    probabilities = getattr(model, "activation", None) == "softmax"
    progress = _Progress(len(paths) * clips_per_video * views, len(paths), verbose)
    filled = 0
    start = time.perf_counter()
    for batch in pipeline:
        rows = int(batch.shape[0])
        if rows < batch_size:  # pad the last batch: one shape, one compiled function
            batch = tf.concat([batch, tf.zeros((batch_size - rows, *batch.shape[1:]), batch.dtype)], 0)
        outputs = keras.ops.convert_to_numpy(model.predict_on_batch(batch))[:rows].astype(np.float32)
        if not np.isfinite(outputs).all():
            raise FloatingPointError(
                f"Model {model.name!r} produced NaN or infinite outputs (after {filled} views): its weights have "
                "diverged (check the training's learning rate and loss)."
            )
        if probabilities:
            outputs = np.log(np.maximum(outputs, np.finfo(np.float32).tiny))
        flat[filled : filled + len(outputs)] = outputs
        filled += len(outputs)
        progress.update(filled)
    progress.close()
    elapsed = time.perf_counter() - start
    labels = [listing.labels[i] for i in keep]
    metadata = {
        "model": model.name,
        "protocol": {"clips_per_video": clips_per_video, "views": views, "view_order": [list(v) for v in EVALUATION_VIEWS[:views]],
                     "seed": seed, "short_video_policy": short_video_policy, "resize_to": resize_to},
        "skipped": problems,
        "seconds": elapsed,
        "videos_per_second": len(paths) / elapsed if elapsed else None,
        "outputs": "log-probabilities" if probabilities else "logits",
    }
    class_names = list(listing.class_names) if len(listing.class_names) == num_classes else None
    scores = VideoScores(
        logits,
        _multi_hot(labels, num_classes),
        class_names=class_names,
        video_ids=list(paths),
        metadata=metadata,
    )
    if scores_path is not None:
        logits.flush()
        scores.save(_npz_path(scores_path))
    return scores


def _npy_path(path):
    return os.path.splitext(os.fspath(path))[0] + ".npy"


def _npz_path(path):
    return os.path.splitext(os.fspath(path))[0] + ".npz"


def _multi_hot(labels, num_classes):
    table = np.zeros((len(labels), num_classes), np.uint8)
    for row, targets in enumerate(labels):
        for label in targets:
            if not 0 <= label < num_classes:
                raise ValueError(f"Label {label} of video {row} is outside the model's {num_classes} classes.")
            table[row, label] = 1
    return table


def _as_video_list(videos):
    if isinstance(videos, VideoList):
        return videos
    listing = getattr(videos, "videos", None)
    if isinstance(listing, VideoList):
        return listing
    if isinstance(videos, (str, os.PathLike)):
        return read_video_folder(os.fspath(videos))
    raise TypeError(
        "`videos` must be a keras_sportsnet.data.VideoList, a folder of class folders, or a dataset made by "
        f"keras_sportsnet.data (which keeps its videos). Received: {type(videos).__name__}"
    )


class _Progress:
    """A throttled ``evaluating: views done/total`` line on stderr."""

    def __init__(self, total, videos, enabled, interval=1.0):
        self.total, self.videos, self.enabled, self.interval = total, videos, enabled, interval
        self.start = self.last = time.monotonic()
        self.shown = False

    def update(self, done):
        now = time.monotonic()
        if self.enabled and (now - self.last >= self.interval or done == self.total):
            self.last, self.shown = now, True
            rate = done / max(now - self.start, 1e-9)
            sys.stderr.write(f"\revaluating {self.videos} videos: {done}/{self.total} views ({rate:.0f} views/s)")
            sys.stderr.flush()

    def close(self):
        if self.shown:
            sys.stderr.write("\n")
