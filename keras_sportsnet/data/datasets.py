"""The Keras-familiar front doors: a `VideoDataset` from a folder or a list of videos.

`video_dataset_from_directory` reads a folder the way
`keras.utils.image_dataset_from_directory` does (one sub-folder per class);
`video_dataset_from_list` takes a `VideoList` (UCF-101 split, Sports-1M
partition, CSV list) or paths. Both check their arguments once into a
`PipelineConfig`, probe every file (`usable_videos`: bad files are reported
by path and reason, then skipped or raised), and return a `VideoDataset`.

Example:
```python
train, val = ksn.data.video_dataset_from_directory(
    "videos/", model=model, validation_split=0.2, subset="both", seed=1, batch_size=8)
model.fit(train, validation_data=val, epochs=2)
```
"""

import os
import sys
import warnings

from keras_sportsnet.data import random
from keras_sportsnet.data.config import PipelineConfig
from keras_sportsnet.data.config import check_shard
from keras_sportsnet.data.config import resolve_geometry
from keras_sportsnet.data.dataset import VideoDataset
from keras_sportsnet.data.errors import VideoError
from keras_sportsnet.data.lists import VideoList
from keras_sportsnet.data.lists import missing_reason
from keras_sportsnet.data.lists import read_video_folder
from keras_sportsnet.data.scan import usable_videos
from keras_sportsnet.data.sources import VideoSource
from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_float

__all__ = [
    "video_dataset_from_directory",
    "video_dataset_from_list",
]


def video_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    batch_size=32,
    *,
    model=None,
    num_frames=None,
    frame_stride=None,
    image_size=None,
    clips_per_video=1,
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    follow_links=False,
    verbose=True,
    augmentation=None,
    resize_to=None,
    sampling_mode=None,
    short_video_policy="loop",
    on_error="skip",
    manifest=None,
    shard=None,
    num_parallel_calls=None,
    drop_remainder=False,
):
    """Clips from a folder of videos, one sub-folder per class, for `model.fit`.

    Mirrors `keras.utils.image_dataset_from_directory`: ``labels="inferred"``
    takes the class from the top-level sub-folder (sorted; hidden ones
    skipped; files found recursively, by extension), ``class_names`` picks and
    orders classes, ``validation_split`` + ``subset`` ("training",
    "validation" or "both") split the files after a seeded shuffle (the
    validation files are the last ones), ``shuffle=False`` keeps sorted order.

    Every file is probed first (in parallel, cached in ``manifest`` when
    given); unreadable, empty, truncated and non-video files are reported by
    path and reason and then skipped (``on_error="skip"``, with a warning and
    a count) or raised (``on_error="raise"``). A video that fails later, while
    clips are decoded, is handled by the same policy (`VideoDataset.failures`).

    Args:
        directory: folder with one sub-folder per class (``my_videos/<class>/<video>``),
            or any videos when ``labels`` is None or a list.
        labels: ``"inferred"``, None, or a list of int labels, one per file in
            sorted path order.
        label_mode: ``"int"``, ``"categorical"``, ``"multi_hot"`` or None.
        class_names: list of sub-folder names to use, in label order.
        batch_size: int, or None for unbatched clips.
        model: a keras_sportsnet model: its clip geometry gives
            ``num_frames``, ``frame_stride`` and ``image_size``, its
            preprocessor ``resize_to``.
        num_frames, frame_stride, image_size: the clip, if no ``model``.
        clips_per_video: int. Clips of every video per pass.
        shuffle: bool. Shuffle files (and clips) each pass.
        seed: int. Seed of every random choice (None: drawn, then in ``ds.seed``).
        validation_split: float in (0, 1).
        subset: ``"training"``, ``"validation"`` or ``"both"``.
        follow_links: bool. Follow symbolic links to folders.
        verbose: bool. Print what was found and skipped.
        augmentation: ``"paper"`` (centre square, resize to ``resize_to``,
            random ``image_size`` crop, random flip, in tf.data),
            ``"centre"`` (the same with a centre crop and no flip),
            ``"deferred"`` (resized ``resize_to`` clips; put
            `keras_sportsnet.transforms.PaperAugmentation` first in the model to
            augment on the accelerator). Default: ``"paper"`` for training
            data, ``"centre"`` for the validation subset.
        resize_to: int. Side of the square frames before cropping: the
            model's preprocessor's, else 200 (the paper).
        sampling_mode: ``"random"`` (a random clip per draw) or ``"uniform"``
            (evenly spaced clips). Default: random for training, uniform for
            validation.
        short_video_policy: what to do with videos shorter than a clip; one of
            `keras_sportsnet.data.SHORT_VIDEO_POLICIES`.
        on_error: ``"skip"`` or ``"raise"``.
        manifest: path of a JSON scan manifest (reused while files are unchanged).
        shard: ``(num_shards, index)``: keep every num_shards-th video from
            ``index``, e.g. ``(num_workers, worker_index)``.
        num_parallel_calls: decoding parallelism (default: AUTOTUNE).
        drop_remainder: bool. Drop the smaller last batch of every pass.

    Returns:
        A `VideoDataset`; a pair ``(training, validation)`` for ``subset="both"``.

    Example:
    ```python
    model = ksn.SlowFusion(classes=3)
    train, val = ksn.data.video_dataset_from_directory(
        "videos/", model=model, validation_split=0.2, subset="both", seed=1, batch_size=8)
    model.fit(train, validation_data=val, epochs=2)
    ```
    """
    check_choice("subset", subset, (None, "training", "validation", "both"))
    if validation_split is not None:
        validation_split = check_float("validation_split", validation_split, 0, 1, low_open=True, high_open=True)
        if subset is None:
            raise ValueError(
                "`subset` must be 'training', 'validation' or 'both' when `validation_split` is set. "
                f"Received: subset=None, validation_split={validation_split!r}"
            )
        if shuffle and seed is None:
            raise ValueError(
                "`seed` is required with `validation_split` and `shuffle=True`, so the two subsets do not overlap. "
                "Pass e.g. seed=0."
            )
    elif subset is not None:
        raise ValueError(f"`validation_split` must be set when `subset` is. Received: subset={subset!r}")
    videos = read_video_folder(directory, labels, class_names, follow_links)
    if verbose:
        print(f"Found {len(videos)} files belonging to {len(videos.class_names)} classes.", file=sys.stderr)
    if labels == "inferred" and len(videos.class_names) == 1:
        warnings.warn(
            f"{directory} has one class sub-folder ({videos.class_names[0]!r}): a classifier needs at least two. "
            f"Videos go in one sub-folder per class ({os.path.join(directory, '<class>', '<video>')}).",
            UserWarning,
            stacklevel=2,
        )
    common = dict(
        label_mode=label_mode if labels is not None else None, batch_size=batch_size, model=model,
        num_frames=num_frames, frame_stride=frame_stride, image_size=image_size, clips_per_video=clips_per_video,
        seed=seed, verbose=verbose, resize_to=resize_to, short_video_policy=short_video_policy, on_error=on_error,
        manifest=manifest, shard=shard, num_parallel_calls=num_parallel_calls, drop_remainder=drop_remainder,
    )
    if validation_split is None:
        return _from_list(videos, shuffle=shuffle, augmentation=augmentation, sampling_mode=sampling_mode,
                          **common)
    order = random.split_permutation(seed, len(videos)) if shuffle else list(range(len(videos)))
    num_val = int(validation_split * len(videos))
    if num_val == 0:
        count = len(videos)
        fix = (f"use validation_split >= {1 / count:.3g} (1/{count}) or add videos" if count > 1
               else "add videos: one file cannot be split")
        raise ValueError(
            f"`validation_split={validation_split}` leaves no file for validation: {directory} holds {count} "
            f"file(s), and {validation_split} x {count} rounds down to 0. To validate, {fix}."
        )
    parts = {"training": order[: len(order) - num_val], "validation": order[len(order) - num_val :]}
    wanted = ("training", "validation") if subset == "both" else (subset,)
    datasets = []
    for part in wanted:
        chosen = sorted(parts[part]) if not shuffle else parts[part]
        if verbose:
            print(f"Using {len(chosen)} files for {part}.", file=sys.stderr)
        training = part == "training"
        listing = VideoList(tuple(videos.paths[i] for i in chosen), tuple(videos.labels[i] for i in chosen),
                            tuple(videos.class_names))
        datasets.append(
            _from_list(
                listing, shuffle=shuffle and training, augmentation=augmentation or ("paper" if training else "centre"),
                sampling_mode=sampling_mode or ("random" if training else "uniform"), **common,
            )
        )
    return tuple(datasets) if subset == "both" else datasets[0]


def video_dataset_from_list(
    videos,
    *,
    label_mode="int",
    batch_size=32,
    model=None,
    num_frames=None,
    frame_stride=None,
    image_size=None,
    clips_per_video=1,
    shuffle=True,
    seed=None,
    verbose=True,
    augmentation=None,
    resize_to=None,
    sampling_mode=None,
    short_video_policy="loop",
    on_error="skip",
    manifest=None,
    shard=None,
    num_parallel_calls=None,
    drop_remainder=False,
):
    """Clips from a `VideoList` (UCF-101 split, Sports-1M partition, CSV list) or a list of paths.

    The keyword arguments not listed here mean what they mean for
    `video_dataset_from_directory`; ``augmentation`` defaults to ``"paper"``
    and ``sampling_mode`` to ``"random"``.

    Args:
        videos: a `keras_sportsnet.data.VideoList` (from `read_ucf101_split`,
            `read_sports1m_partition`, `read_video_list`) or a list of paths.
        label_mode: ``"int"`` (the first label), ``"categorical"`` (one-hot),
            ``"multi_hot"`` (every label: Sports-1M) or None (unlabelled).

    Returns:
        A `VideoDataset`.

    Example:
    ```python
    test = ksn.data.read_ucf101_split("/data/UCF-101", fold=1, subset="test")
    ds = ksn.data.video_dataset_from_list(test, model=model, augmentation="centre", shuffle=False)
    ```
    """
    return _from_list(
        videos, label_mode=label_mode, batch_size=batch_size, model=model, num_frames=num_frames,
        frame_stride=frame_stride, image_size=image_size, clips_per_video=clips_per_video, shuffle=shuffle,
        seed=seed, verbose=verbose, augmentation=augmentation, resize_to=resize_to, sampling_mode=sampling_mode,
        short_video_policy=short_video_policy, on_error=on_error, manifest=manifest, shard=shard,
        num_parallel_calls=num_parallel_calls, drop_remainder=drop_remainder,
    )


def _from_list(videos, *, label_mode, batch_size, model, num_frames, frame_stride, image_size, clips_per_video,
               shuffle, seed, verbose, augmentation, resize_to, sampling_mode, short_video_policy, on_error, manifest,
               shard, num_parallel_calls, drop_remainder):
    """The one place a decoding `VideoDataset` is made: config once, probe, source."""
    if not isinstance(videos, VideoList):
        if isinstance(videos, (str, os.PathLike)):
            raise ValueError(
                f"`videos` must be a VideoList or a list of paths; for a folder use video_dataset_from_directory. "
                f"Received: videos={videos!r}"
            )
        videos = VideoList(tuple(os.fspath(p) for p in videos), tuple(() for _ in videos), ())
    geometry, resize_to = resolve_geometry(model, num_frames, frame_stride, image_size, resize_to)
    config = PipelineConfig(
        num_frames=geometry.num_frames, frame_stride=geometry.frame_stride, image_size=geometry.image_size,
        resize_to=resize_to, augmentation=augmentation or "paper", sampling_mode=sampling_mode or "random",
        clips_per_video=clips_per_video, short_video_policy=short_video_policy, on_error=on_error,
        label_mode=label_mode, batch_size=batch_size, drop_remainder=drop_remainder, shuffle=shuffle,
        seed=random.resolve_seed(seed), num_parallel_calls=num_parallel_calls,
    )
    if label_mode is not None and any(len(l) == 0 for l in videos.labels):
        raise ValueError("`label_mode` must be None for a list with unlabelled videos.")
    if label_mode == "int" and videos.multi_label:
        raise ValueError("`label_mode='int'` keeps one label per video, but this list is multi-label: use 'multi_hot'.")
    shard = check_shard("shard", shard)
    if not len(videos) and not videos.missing:
        raise ValueError(
            "No videos to make clips from: the list is empty. For a folder, videos go in one sub-folder per class "
            "(my_videos/<class>/<video>)."
        )

    # --- which videos: probe every file once, report the bad ones ---------
    keep, frame_counts, problems, report = usable_videos(videos.paths, geometry.span, short_video_policy,
                                                         manifest=manifest, verbose=verbose)
    problems.update((path, missing_reason(path)) for path in videos.missing)  # listed, not found: never dropped silently
    listed = len(videos) + len(videos.missing)
    if problems:
        listing = "\n".join(f"  {p}: {r}" for p, r in sorted(problems.items()))
        if on_error == "raise":
            raise VideoError(next(iter(sorted(problems))), f"{len(problems)} unusable video(s):\n{listing}")
        warnings.warn(f"Skipping {len(problems)} of {listed} videos:\n{listing}", stacklevel=3)
    if shard is not None:
        num_shards, shard_index = shard
        keep, frame_counts = keep[shard_index::num_shards], frame_counts[shard_index::num_shards]
    if not keep:
        why = f"all {listed} are unusable (listed above)" if problems and len(problems) == listed else (
            f"{listed} listed, {len(problems)} unusable" + (f", none in shard {shard}" if shard else ""))
        raise ValueError(f"No usable videos: {why}.")
    paths = [videos.paths[i] for i in keep]
    labels = [videos.labels[i] for i in keep]
    failures = {}
    source = VideoSource(paths, labels, frame_counts, len(videos.class_names), config, failures)
    return VideoDataset(
        source, config, class_names=videos.class_names,
        videos=VideoList(tuple(paths), tuple(labels), tuple(videos.class_names)), file_paths=paths,
        scan_report=report, skipped=problems, failures=failures,
    )
