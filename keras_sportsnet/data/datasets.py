"""`tf.data` clip datasets from folders and lists of videos.

The pieces: `scan_videos` (probe every file once, report bad ones), the clip
samplers of `sampling` (which frames), `read_clip` (exactly those frames), the
centre-square resize of `transforms` and the stateless crop/flip of `epochs`;
this module composes them.

Epoch semantics: one epoch = ``clips_per_video`` clips of every usable video,
so the dataset's length is known (``len(videos) * clips_per_video / batch``).
Everything random (file order, clip positions, crops, flips) is drawn from a
per-pass key (see `keras_sportsnet.data.epochs`): the same seed gives the same
epochs, each epoch differs from the last, and ``dataset.stream(start_step)``
gives an endless sequence of passes, each a pure function of (seed, pass),
starting at any batch, for training that resumes exactly.
"""

import os
import sys
import warnings

import numpy as np

from keras_sportsnet.data import sampling
from keras_sportsnet.data.decoding import read_clip
from keras_sportsnet.data.errors import VideoError
from keras_sportsnet.data.lists import VideoList
from keras_sportsnet.data.lists import read_video_folder
from keras_sportsnet.data.scan import usable_videos
from keras_sportsnet.utils.checks import check_choice

__all__ = [
    "LABEL_MODES",
    "AUGMENTATIONS",
    "video_dataset_from_directory",
    "video_dataset_from_list",
]

LABEL_MODES = ("int", "categorical", "multi_hot", None)
AUGMENTATIONS = ("paper", "centre", "deferred")
ON_ERROR = ("skip", "raise")
SAMPLINGS = ("random", "uniform")
_RETRIES = 3


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
    resize_to=200,
    sampling_mode=None,
    short_video_policy="loop",
    on_error="skip",
    manifest=None,
    shard=None,
    num_parallel_calls=None,
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
    a count) or raised (``on_error="raise"``).

    Args:
        directory: folder with one sub-folder per class (or any videos when
            ``labels`` is None or a list).
        labels: ``"inferred"``, None, or a list of int labels, one per file in
            sorted path order.
        label_mode: ``"int"``, ``"categorical"``, ``"multi_hot"`` or None.
        class_names: list of sub-folder names to use, in label order.
        batch_size: int, or None for unbatched clips.
        model: a keras_sportsnet model: its ``clip_geometry`` gives
            ``num_frames``, ``frame_stride`` and ``image_size``.
        num_frames, frame_stride, image_size: the clip, if no ``model``.
        clips_per_video: int. Clips of every video per epoch.
        shuffle: bool. Shuffle files (and clips) each epoch.
        seed: int. Seed of every random choice.
        validation_split: float in (0, 1).
        subset: ``"training"``, ``"validation"`` or ``"both"``.
        follow_links: bool. Follow symbolic links to folders.
        verbose: bool. Print what was found and skipped.
        augmentation: ``"paper"`` (centre square, resize to ``resize_to``,
            random ``image_size`` crop, random flip, in tf.data),
            ``"centre"`` (the same with a centre crop and no flip),
            ``"deferred"`` (resized ``resize_to`` clips; put
            `keras_sportsnet.data.PaperAugmentation` first in the model to
            augment on the accelerator). Default: ``"paper"`` for training
            data, ``"centre"`` for the validation subset.
        resize_to: int. Side of the square frames before cropping (200).
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

    Returns:
        A `tf.data.Dataset` of ``(clips, labels)`` (``clips`` only when
        unlabelled), with ``class_names``, ``file_paths`` and ``scan_report``
        attributes; a pair of them for ``subset="both"``.

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
        if not 0 < validation_split < 1:
            raise ValueError(f"`validation_split` must be between 0 and 1. Received: validation_split={validation_split!r}")
        if subset is None:
            raise ValueError("`subset` must be 'training', 'validation' or 'both' when `validation_split` is set.")
        if shuffle and seed is None:
            raise ValueError("`seed` is required with `validation_split` and `shuffle=True`, so the two subsets do not overlap.")
    elif subset is not None:
        raise ValueError(f"`validation_split` must be set when `subset` is. Received: subset={subset!r}")
    videos = read_video_folder(directory, labels, class_names, follow_links)
    paths, targets, names = videos.paths, videos.labels, videos.class_names
    if verbose:
        print(f"Found {len(paths)} files belonging to {len(names)} classes.", file=sys.stderr)
    if validation_split is None:
        return video_dataset_from_list(
            videos, label_mode=label_mode if labels is not None else None, batch_size=batch_size, model=model,
            num_frames=num_frames, frame_stride=frame_stride, image_size=image_size,
            clips_per_video=clips_per_video, shuffle=shuffle, seed=seed, verbose=verbose,
            augmentation=augmentation, resize_to=resize_to, sampling_mode=sampling_mode,
            short_video_policy=short_video_policy, on_error=on_error, manifest=manifest, shard=shard,
            num_parallel_calls=num_parallel_calls,
        )
    order = np.arange(len(paths))
    if shuffle:
        np.random.RandomState(seed).shuffle(order)
    num_val = int(validation_split * len(paths))
    parts = {"training": order[: len(order) - num_val], "validation": order[len(order) - num_val :]}
    wanted = ("training", "validation") if subset == "both" else (subset,)
    datasets = []
    for part in wanted:
        chosen = sorted(parts[part]) if not shuffle else parts[part]
        if verbose:
            print(f"Using {len(chosen)} files for {part}.", file=sys.stderr)
        training = part == "training"
        datasets.append(
            video_dataset_from_list(
                VideoList(tuple(paths[i] for i in chosen), tuple(targets[i] for i in chosen), tuple(names)),
                label_mode=label_mode if labels is not None else None, batch_size=batch_size, model=model,
                num_frames=num_frames, frame_stride=frame_stride, image_size=image_size,
                clips_per_video=clips_per_video, shuffle=shuffle and training, seed=seed, verbose=verbose,
                augmentation=augmentation or ("paper" if training else "centre"), resize_to=resize_to,
                sampling_mode=sampling_mode or ("random" if training else "uniform"),
                short_video_policy=short_video_policy, on_error=on_error, manifest=manifest, shard=shard,
                num_parallel_calls=num_parallel_calls,
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
    resize_to=200,
    sampling_mode=None,
    short_video_policy="loop",
    on_error="skip",
    manifest=None,
    shard=None,
    num_parallel_calls=None,
):
    """Clips from a `VideoList` (UCF-101 split, Sports-1M partition, CSV list).

    Args:
        videos: a `keras_sportsnet.data.VideoList` (from `read_ucf101_split`,
            `read_sports1m_partition`, `read_video_list`) or a list of paths.
        label_mode: ``"int"`` (the first label), ``"categorical"`` (one-hot),
            ``"multi_hot"`` (every label: Sports-1M) or None (unlabelled).
        Other arguments: as `video_dataset_from_directory`. ``augmentation``
        defaults to ``"paper"``, ``sampling_mode`` to ``"random"``.

    Returns:
        A `tf.data.Dataset` with ``class_names``, ``file_paths`` and
        ``scan_report`` attributes.

    Example:
    ```python
    test = ksn.data.read_ucf101_split("/data/UCF-101", fold=1, subset="test")
    ds = ksn.data.video_dataset_from_list(test, model=model, augmentation="centre", shuffle=False)
    ```
    """
    from keras_sportsnet.utils.imports import require_tensorflow

    tf = require_tensorflow("video_dataset_from_directory (a tf.data pipeline)")
    from keras_sportsnet.data import epochs
    from keras_sportsnet.data.transforms import centre_square_resize

    if not isinstance(videos, VideoList):
        videos = VideoList(tuple(os.fspath(p) for p in videos), tuple(() for _ in videos), ())
    augmentation = augmentation or "paper"
    sampling_mode = sampling_mode or "random"
    check_choice("label_mode", label_mode, LABEL_MODES)
    check_choice("augmentation", augmentation, AUGMENTATIONS)
    check_choice("sampling_mode", sampling_mode, SAMPLINGS)
    check_choice("on_error", on_error, ON_ERROR)
    check_choice("short_video_policy", short_video_policy, sampling.SHORT_VIDEO_POLICIES)
    if label_mode is not None and any(len(l) == 0 for l in videos.labels):
        raise ValueError("`label_mode` must be None for a list with unlabelled videos.")
    if label_mode == "int" and videos.multi_label:
        raise ValueError("`label_mode='int'` keeps one label per video, but this list is multi-label: use 'multi_hot'.")
    if not isinstance(clips_per_video, int) or clips_per_video < 1:
        raise ValueError(f"`clips_per_video` must be a positive integer. Received: clips_per_video={clips_per_video!r}")
    geometry = _geometry(model, num_frames, frame_stride, image_size)
    seed = int(np.random.SeedSequence().entropy % (2**31)) if seed is None else int(seed)

    # --- which videos: probe every file once, report the bad ones ---------
    keep, frame_counts, problems, report = usable_videos(videos.paths, geometry.span, short_video_policy,
                                                         manifest=manifest, verbose=verbose)
    if problems:
        listing = "\n".join(f"  {p}: {r}" for p, r in sorted(problems.items()))
        if on_error == "raise":
            raise VideoError(next(iter(sorted(problems))), f"{len(problems)} unusable video(s):\n{listing}")
        warnings.warn(f"Skipping {len(problems)} of {len(videos)} videos:\n{listing}", stacklevel=2)
    if shard is not None:
        num_shards, shard_index = shard
        if not 0 <= shard_index < num_shards:
            raise ValueError(f"`shard` must be (num_shards, index) with 0 <= index < num_shards. Received: shard={shard!r}")
        keep, frame_counts = keep[shard_index::num_shards], frame_counts[shard_index::num_shards]
    if not keep:
        raise ValueError(f"No usable videos: {len(videos)} listed, {len(problems)} unusable.")
    paths = [videos.paths[i] for i in keep]
    labels = [videos.labels[i] for i in keep]

    # --- which clips: (video, clip) pairs; decoding in parallel -----------
    loader = _ClipLoader(paths, frame_counts, geometry, clips_per_video, sampling_mode, seed,
                         short_video_policy, on_error)
    num_elements = len(paths) * clips_per_video
    label_table = _label_table(labels, len(videos.class_names), label_mode)
    parallel = num_parallel_calls or tf.data.AUTOTUNE

    def one_pass(key, skip):
        """Every clip of every video once; order, clip positions, crops and flips keyed by ``key``."""
        if shuffle:
            order = tf.data.Dataset.from_tensor_slices(epochs.permutation(num_elements, key))
        else:
            order = tf.data.Dataset.range(num_elements)
        return order.skip(skip).map(lambda element: (element, key))

    def load(element, key):
        clip, video = tf.numpy_function(loader, [element, key], [tf.uint8, tf.int64], stateful=False)
        clip.set_shape((geometry.num_frames, None, None, 3))
        video.set_shape(())
        clip = centre_square_resize(clip, resize_to)
        if augmentation != "deferred":
            clip = epochs.augment_clip(clip, epochs.element_key(key, element), geometry.image_size,
                                       training=augmentation == "paper")
        if label_mode is None:
            return clip
        return clip, tf.gather(tf.constant(label_table), video)

    def finish(elements):
        dataset = elements.map(load, num_parallel_calls=parallel, deterministic=True)
        if batch_size is not None:
            dataset = dataset.batch(batch_size)
        return dataset.prefetch(tf.data.AUTOTUNE)

    steps = num_elements if batch_size is None else -(-num_elements // batch_size)
    dataset = finish(epochs.passes_per_iteration(seed, one_pass))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(steps))
    dataset.class_names = list(videos.class_names)
    dataset.file_paths = list(paths)
    dataset.videos = VideoList(tuple(paths), tuple(labels), tuple(videos.class_names))
    dataset.scan_report = report
    dataset.skipped = dict(problems)
    dataset.failures = loader.failures
    dataset.pass_length = num_elements
    dataset.stream = _stream_method(seed, one_pass, num_elements, batch_size, finish)
    return dataset


def _stream_method(seed, one_pass, pass_length, batch_size, finish):
    """``dataset.stream(start_step=0)``: endless passes keyed by (seed, pass), from batch ``start_step``."""
    from keras_sportsnet.data import epochs

    def stream(start_step=0):
        """An endless dataset of this data's passes, pass ``p`` a pure function of (seed, p).

        Args:
            start_step: int. Batches already consumed (resume point); the first
                batch is the one an uninterrupted stream yields at this step.

        Example:
        ```python
        model.fit(train.stream(), steps_per_epoch=100, epochs=10)
        ```
        """
        per_step = batch_size or 1
        return finish(epochs.stream(seed, one_pass, pass_length, start_position=int(start_step) * per_step))

    return stream


class _ClipLoader:
    """Decodes element ``e`` = clip ``e % clips_per_video`` of video ``e // clips_per_video``.

    On a decoding failure with ``on_error="skip"`` the next video in the list is
    used instead (deterministic), and the failure is warned about and recorded
    in ``failures``, so the epoch keeps its length and no bad file goes unnoticed.
    """

    def __init__(self, paths, frame_counts, geometry, clips_per_video, mode, seed, policy, on_error):
        self.paths, self.frame_counts, self.geometry = paths, frame_counts, geometry
        self.clips_per_video, self.mode, self.seed = clips_per_video, mode, seed
        self.policy, self.on_error = policy, on_error
        self.failures = {}

    def indices(self, video, clip, key):
        frames = self.frame_counts[video]
        if self.mode == "uniform":
            sampled = sampling.uniform_clips(frames, self.geometry, self.clips_per_video, self.policy)[clip]
        else:
            rng = np.random.default_rng([self.seed, int(key) % (2**63), video, clip])
            sampled = sampling.random_clip(frames, self.geometry, rng, self.policy)
        return list(sampled.indices)

    def __call__(self, element, key):
        video, clip = divmod(int(element), self.clips_per_video)
        for attempt in range(_RETRIES + 1):
            candidate = (video + attempt) % len(self.paths)
            path = self.paths[candidate]
            try:
                return read_clip(path, self.indices(candidate, clip, key)), np.int64(candidate)
            except VideoError as error:
                if self.on_error == "raise":
                    raise
                self.failures[path] = error.problem
                warnings.warn(f"Skipping a clip of {path}: {error.problem}; using {self.paths[(candidate + 1) % len(self.paths)]} instead.")
        raise VideoError(self.paths[video], f"this and the next {_RETRIES} videos failed to decode")


def _label_table(labels, num_classes, label_mode):
    if label_mode is None:
        return None
    if label_mode == "int":
        return np.array([l[0] for l in labels], np.int32)
    table = np.zeros((len(labels), num_classes), np.float32)
    for row, targets in enumerate(labels):
        table[row, list(targets)] = 1.0
    return table


def _geometry(model, num_frames, frame_stride, image_size):
    if model is not None:
        if any(v is not None for v in (num_frames, frame_stride, image_size)):
            raise ValueError("Pass either `model` or `num_frames`/`frame_stride`/`image_size`, not both.")
        return sampling.ClipGeometry.from_model(model)
    if num_frames is None or image_size is None:
        raise ValueError("Pass `model=` or both `num_frames` and `image_size` to say which clips to make.")
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    return sampling.ClipGeometry(num_frames=num_frames, frame_stride=frame_stride or 1, image_size=size)
