"""Prepared clip shards: the path for Sports-1M-sized data.

`prepare_shards` samples clips once, crops each frame to its centre square,
resizes it to ``resize_to`` (200) and stores the frames as JPEG in sharded
TFRecord files with the labels and the video's id; `shard_dataset` reads them
back with `tf.data`, decoding in-graph with `tf.io.decode_jpeg` (no Python, no
GIL, and usable on tf.data service workers). Paths go through `tf.io.gfile`,
so local folders and cloud URIs (``gs://...``) both work.

Layout of an output folder::

    clips-00000-of-00008.tfrecord ... clips-00007-of-00008.tfrecord
    clips-00000-of-00008.json ...     # per shard: done mark, clip count, skipped videos
    shards.json      # when all are done: class names, clip geometry, counts, skipped videos

Each shard is written to a temporary name and renamed when complete, then
marked done by a small ``clips-00000-of-00008.json`` beside it (written
atomically, with the settings and a digest of the video list). An interrupted
`prepare_shards` therefore leaves only whole shards, and running it again
resumes: shards marked done with the same settings and videos are kept, the
rest are written. ``shards.json`` appears only when every shard is done, so a
reader never sees a half-prepared folder. Independent jobs (``worker=``) can
write disjoint subsets of the shards of one folder.
"""

import concurrent.futures
import hashlib
import json
import os
import sys
import warnings

import numpy as np

from keras_sportsnet.data import sampling
from keras_sportsnet.data.errors import VideoError
from keras_sportsnet.data.lists import VideoList
from keras_sportsnet.validation import check_choice

__all__ = ["prepare_shards", "shard_dataset", "INDEX_FILE"]

INDEX_FILE = "shards.json"
_PREFIX = "clips"


def prepare_shards(
    videos,
    output_dir,
    *,
    model=None,
    num_frames=None,
    frame_stride=None,
    image_size=None,
    clips_per_video=1,
    sampling_mode="random",
    resize_to=200,
    num_shards=None,
    seed=0,
    short_video_policy="loop",
    on_error="skip",
    jpeg_quality=90,
    num_workers=None,
    worker=None,
    verbose=True,
):
    """Samples clips from videos and writes them as sharded TFRecord files.

    Args:
        videos: a `VideoList` or a list of paths (unlabelled).
        output_dir: local folder or `tf.io.gfile` URI.
        model / num_frames, frame_stride, image_size: the clip geometry
            (``image_size`` is the crop the reader makes from ``resize_to``).
        clips_per_video: int. Clips sampled from every video.
        sampling_mode: ``"random"`` (seeded) or ``"uniform"``.
        resize_to: int. Stored frames are ``resize_to x resize_to``.
        num_shards: int; default: about 500 clips per shard.
        seed: int. Seed of the clip positions.
        short_video_policy: see `keras_sportsnet.data.SHORT_VIDEO_POLICIES`.
        on_error: ``"skip"`` (warn, record in ``shards.json``) or ``"raise"``.
        jpeg_quality: int in [1, 100].
        num_workers: threads writing shards (default: CPU count).
        worker: ``(num_jobs, index)`` or None. Run as one of ``num_jobs``
            independent jobs (e.g. one per host): this one writes the shards
            ``index, index + num_jobs, ...``. The job that finds every shard
            complete writes ``shards.json``.
        verbose: bool. Progress per shard to stderr.

    Returns:
        The index dict (also written to ``shards.json`` once every shard is
        complete): ``settings``, ``complete``, ``shards`` (file, clips,
        skipped videos of each finished shard), ``clips``, ``skipped``.

    Example:
    ```python
    train = ksn.data.read_ucf101_split("/data/UCF-101", 1, "train")
    ksn.data.prepare_shards(train, "gs://bucket/ucf101-train", model=model, clips_per_video=50)
    ds = ksn.data.shard_dataset("gs://bucket/ucf101-train", batch_size=32, seed=0)
    ```
    """
    import tensorflow as tf

    from keras_sportsnet.data.datasets import _geometry

    if not isinstance(videos, VideoList):
        videos = VideoList(tuple(os.fspath(p) for p in videos), tuple(() for _ in videos), ())
    check_choice("sampling_mode", sampling_mode, ("random", "uniform"))
    check_choice("on_error", on_error, ("skip", "raise"))
    check_choice("short_video_policy", short_video_policy, sampling.SHORT_VIDEO_POLICIES)
    if not 1 <= int(jpeg_quality) <= 100:
        raise ValueError(f"`jpeg_quality` must be in [1, 100]. Received: jpeg_quality={jpeg_quality!r}")
    geometry = _geometry(model, num_frames, frame_stride, image_size)
    total = len(videos) * clips_per_video
    num_shards = num_shards or max(1, -(-total // 500))
    num_workers_total, worker_index = _check_worker(worker)
    tf.io.gfile.makedirs(output_dir)
    settings = {
        "num_frames": geometry.num_frames,
        "frame_stride": geometry.frame_stride,
        "image_size": list(geometry.image_size),
        "resize_to": resize_to,
        "clips_per_video": clips_per_video,
        "sampling_mode": sampling_mode,
        "seed": seed,
        "short_video_policy": short_video_policy,
        "jpeg_quality": int(jpeg_quality),
        "num_shards": num_shards,
        "class_names": list(videos.class_names),
        "videos": len(videos),
        "videos_sha256": _list_digest(videos),
    }

    def write(shard):
        name = f"{_PREFIX}-{shard:05d}-of-{num_shards:05d}"
        final, record_path = _join(output_dir, name + ".tfrecord"), _join(output_dir, name + ".json")
        done = _read_json(record_path) if tf.io.gfile.exists(record_path) else None
        if done and done.get("settings") == settings and tf.io.gfile.exists(final):
            return done["shard"]  # finished by an earlier (possibly interrupted) run
        temporary = final + ".incomplete"
        clips, skipped = 0, {}
        with tf.io.TFRecordWriter(temporary) as writer:
            for video in range(shard, len(videos), num_shards):
                path = videos.paths[video]
                try:
                    for start, frames in _sample_video(path, geometry, clips_per_video, sampling_mode,
                                                       seed, video, short_video_policy, resize_to):
                        writer.write(_example(frames, videos.labels[video], path, start, jpeg_quality))
                        clips += 1
                except VideoError as error:
                    if on_error == "raise":
                        raise
                    skipped[path] = error.problem
        tf.io.gfile.rename(temporary, final, overwrite=True)
        record = {"file": name + ".tfrecord", "clips": clips, "skipped": skipped}
        _write_json(record_path, {"settings": settings, "shard": record})  # the shard's completion mark
        if verbose:
            print(f"shard {shard + 1}/{num_shards}: {clips} clips, {len(skipped)} videos skipped", file=sys.stderr)
        return record

    mine = range(worker_index, num_shards, num_workers_total)
    threads = num_workers or os.cpu_count() or 1
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, mine))
    # The index lists every shard once all are complete (whichever job finishes last writes it).
    shards = []
    for shard in range(num_shards):
        record_path = _join(output_dir, f"{_PREFIX}-{shard:05d}-of-{num_shards:05d}.json")
        done = _read_json(record_path) if tf.io.gfile.exists(record_path) else None
        shards.append(done["shard"] if done and done.get("settings") == settings else None)
    finished = [s for s in shards if s is not None]
    skipped = {p: r for s in finished for p, r in s["skipped"].items()}
    if skipped:
        listing = "\n".join(f"  {p}: {r}" for p, r in sorted(skipped.items()))
        warnings.warn(f"prepare_shards skipped {len(skipped)} video(s):\n{listing}", stacklevel=2)
    index = {
        "settings": settings,
        "complete": len(finished) == num_shards,
        "shards": finished,
        "clips": sum(s["clips"] for s in finished),
        "skipped": skipped,
    }
    if index["complete"]:
        _write_json(_join(output_dir, INDEX_FILE), index)
    elif verbose:
        print(f"{len(finished)} of {num_shards} shards complete; {INDEX_FILE} is written when all are.", file=sys.stderr)
    return index


def _check_worker(worker):
    if worker is None:
        return 1, 0
    try:
        count, index = (int(v) for v in worker)
    except (TypeError, ValueError):
        raise ValueError(f"`worker` must be (num_workers, index). Received: worker={worker!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"`worker` must be (num_workers, index) with 0 <= index < num_workers. Received: worker={worker!r}")
    return count, index


def _list_digest(videos):
    digest = hashlib.sha256()
    for path, labels in zip(videos.paths, videos.labels):
        digest.update(f"{path}\t{','.join(map(str, labels))}\n".encode())
    return digest.hexdigest()


def shard_dataset(
    directory,
    *,
    batch_size=32,
    label_mode="int",
    augmentation="paper",
    shuffle=True,
    seed=None,
    shard=None,
    shuffle_buffer=2048,
):
    """Reads shards written by `prepare_shards` as a `tf.data.Dataset`.

    Args:
        directory: the output folder (local or `tf.io.gfile` URI).
        batch_size: int or None.
        label_mode: ``"int"``, ``"categorical"``, ``"multi_hot"`` or None.
        augmentation: ``"paper"`` (random crop + flip), ``"centre"`` or
            ``"deferred"`` (the stored ``resize_to`` frames), as in
            `video_dataset_from_directory`.
        shuffle: bool. Shuffle the shard files' order and the clips within
            windows of ``shuffle_buffer`` consecutive clips, differently each pass.
        seed: int or None.
        shard: ``(num_workers, index)``: this worker reads every
            num_workers-th shard file.
        shuffle_buffer: int. Clips per shuffling window.

    Returns:
        A `tf.data.Dataset` of ``(clips, labels)`` with ``class_names`` and
        ``index`` attributes; its length is known.
    """
    import tensorflow as tf

    from keras_sportsnet.data import epochs
    from keras_sportsnet.data.datasets import _stream_method

    check_choice("label_mode", label_mode, ("int", "categorical", "multi_hot", None))
    check_choice("augmentation", augmentation, ("paper", "centre", "deferred"))
    index_path = _join(directory, INDEX_FILE)
    if not tf.io.gfile.exists(index_path):
        raise ValueError(
            f"{index_path} does not exist: write shards with keras_sportsnet.data.prepare_shards "
            "(or `keras-sportsnet prepare`) first; if it was interrupted, run it again: it resumes."
        )
    index = _read_json(index_path)
    settings = index["settings"]
    shards = [s for s in index["shards"]]
    if shard is not None:
        num_workers, worker = shard
        shards = shards[worker::num_workers]
    files = [_join(directory, s["file"]) for s in shards]
    num_clips = sum(s["clips"] for s in shards)
    num_frames, size = settings["num_frames"], settings["resize_to"]
    num_classes = len(settings["class_names"])
    geometry = sampling.ClipGeometry(num_frames=num_frames, frame_stride=settings["frame_stride"],
                                     image_size=tuple(settings["image_size"]))
    seed = int(np.random.SeedSequence().entropy % (2**31)) if seed is None else int(seed)
    features = {
        "frames": tf.io.FixedLenFeature([num_frames], tf.string),
        "labels": tf.io.VarLenFeature(tf.int64),
    }

    def parse(record):
        example = tf.io.parse_single_example(record, features)
        frames = [tf.io.decode_jpeg(example["frames"][t], channels=3) for t in range(num_frames)]
        clip = tf.ensure_shape(tf.stack(frames), (num_frames, size, size, 3))
        labels = tf.sparse.to_dense(example["labels"])
        if label_mode is None:
            return (clip,)
        if label_mode == "int":
            return clip, tf.cast(labels[0], tf.int32)
        hot = tf.reduce_max(tf.one_hot(labels, num_classes, dtype=tf.float32), axis=0)
        return clip, hot

    num_files = len(files)

    def one_pass(key, skip):
        """All shards once: file order and the shuffling windows keyed by ``key``."""
        names = tf.constant(files)
        if shuffle:
            names = tf.gather(names, epochs.permutation(num_files, key))
        records = tf.data.Dataset.from_tensor_slices(names).interleave(
            tf.data.TFRecordDataset, cycle_length=min(4, num_files),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if shuffle:
            records = epochs.window_shuffle(records, shuffle_buffer, key)
        return records.enumerate().skip(skip).map(lambda element, record: (record, element, key))

    def load(record, element, key):
        clip, *label = parse(record)
        if augmentation != "deferred":
            clip = epochs.augment_clip(clip, epochs.element_key(key, element), geometry.image_size,
                                       training=augmentation == "paper")
        return (clip, *label) if label else clip

    def finish(elements):
        dataset = elements.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if batch_size is not None:
            dataset = dataset.batch(batch_size)
        return dataset.prefetch(tf.data.AUTOTUNE)

    steps = num_clips if batch_size is None else -(-num_clips // batch_size)
    dataset = finish(epochs.passes_per_iteration(seed, one_pass))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(steps))
    dataset.pass_length = num_clips
    dataset.stream = _stream_method(seed, one_pass, num_clips, batch_size, finish)
    dataset.class_names = list(settings["class_names"])
    dataset.index = index
    return dataset


def _sample_video(path, geometry, clips_per_video, mode, seed, video, policy, resize_to):
    """Yields ``(start, frames)`` for the video's clips, frames resized uint8."""
    from keras_sportsnet.data.decoding import probe_video
    from keras_sportsnet.data.decoding import read_clips
    from keras_sportsnet.data.transforms import centre_square_resize

    info = probe_video(path)
    if mode == "uniform":
        clips = sampling.uniform_clips(info.num_frames, geometry, clips_per_video, policy)
    else:
        clips = sampling.random_clips(info.num_frames, geometry, clips_per_video, [seed, video], policy)
    clips = [c for c in clips if c is not None and c.indices]
    if not clips:
        raise VideoError(path, f"too short: {info.num_frames} frames, a clip spans {geometry.span} (short_video_policy='skip')")
    decoded = read_clips(path, [list(c.indices) for c in clips])
    for clip, frames in zip(clips, decoded):
        yield clip.start, np.asarray(centre_square_resize(frames, resize_to))


def _example(frames, labels, path, start, quality):
    import tensorflow as tf

    encoded = [tf.io.encode_jpeg(frame, quality=quality).numpy() for frame in frames]
    feature = {
        "frames": tf.train.Feature(bytes_list=tf.train.BytesList(value=encoded)),
        "labels": tf.train.Feature(int64_list=tf.train.Int64List(value=list(labels))),
        "video_id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[os.fspath(path).encode()])),
        "start": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(start)])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _join(directory, name):
    return directory.rstrip("/") + "/" + name


def _read_json(path):
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "r") as f:
        return json.load(f)


def _write_json(path, data):
    """Writes JSON atomically: a temporary name, then a rename."""
    import tensorflow as tf

    temporary = f"{path}.incomplete{os.getpid()}"
    with tf.io.gfile.GFile(temporary, "w") as f:
        json.dump(data, f, indent=1)
    tf.io.gfile.rename(temporary, path, overwrite=True)
