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
reader never sees a half-prepared folder. Independent jobs
(``shard=(num_shards, shard_index)``, e.g. one per host) write disjoint
subsets of the files of one folder, each with a pool of worker processes;
readers on several hosts each take their own subset of the files
(``shard_dataset(..., shard=(num_hosts, host_index))``).
"""

import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import sys
import time
import warnings

import numpy as np

from keras_sportsnet.data import sampling
from keras_sportsnet.data.errors import VideoError
from keras_sportsnet.data.lists import VideoList
from keras_sportsnet.utils.checks import check_choice

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
    clips_per_video=None,
    max_clips_per_video=None,
    sampling_mode="random",
    resize_to=200,
    num_files=None,
    clips_per_file=500,
    seed=0,
    short_video_policy="loop",
    on_error="skip",
    jpeg_quality=90,
    num_workers=None,
    parallelism=None,
    shard=None,
    verbose=True,
):
    """Samples clips from videos and writes them as sharded TFRecord files.

    The work is split into shard files (``num_files``): file ``f`` holds the
    clips of videos ``f, f + num_files, ...``, one task per file. Tasks run in
    ``num_workers`` worker processes (``parallelism="processes"``, the
    default: PyAV decoding and JPEG encoding hold Python's GIL, so threads of
    one process share about one core) or threads. Independent jobs, e.g. one
    per host, each write their share of the files of one folder
    (``shard=(num_shards, shard_index)``). Re-running skips every file already
    finished with the same settings and videos.

    Args:
        videos: a `VideoList` or a list of paths (unlabelled). Local files
            (PyAV reads them).
        output_dir: local folder or `tf.io.gfile` URI (``gs://...``,
            ``ram://...``, an NFS mount).
        model / num_frames, frame_stride, image_size: the clip geometry
            (``image_size`` is the crop the reader makes from ``resize_to``).
        clips_per_video: int. Exactly this many clips from every video
            (default 1; random starts are distinct while enough fit).
        max_clips_per_video: int or None. Instead of ``clips_per_video``: up
            to this many clips per video, as in the paper's Sports-1M training
            ("a random collection of up to 100 half-second clips from every
            video"): ``min(max_clips_per_video, frames // span)`` clips of
            distinct starts, at least one.
        sampling_mode: ``"random"`` (seeded) or ``"uniform"``.
        resize_to: int. Stored frames are ``resize_to x resize_to``.
        num_files: int or None. Shard files to write; default: enough for
            about ``clips_per_file`` clips each.
        clips_per_file: int. Target clips per file when ``num_files`` is None.
        seed: int. Seed of the clip positions (video ``v`` draws from
            ``[seed, v]``, whichever worker writes it).
        short_video_policy: see `keras_sportsnet.data.SHORT_VIDEO_POLICIES`.
        on_error: ``"skip"`` (warn, record in ``shards.json``) or ``"raise"``.
        jpeg_quality: int in [1, 100].
        num_workers: int or None. Files written at once (default: CPU
            count). 1 writes everything in this process.
        parallelism: ``"processes"``, ``"threads"`` or None (processes,
            except threads for ``ram://`` folders, which live in one process).
        shard: ``(num_shards, shard_index)`` or None. Run as job
            ``shard_index`` of ``num_shards`` independent jobs (e.g. one per
            host): this one writes the files ``shard_index,
            shard_index + num_shards, ...``. The job that finds every file
            complete writes ``shards.json``.
        verbose: bool. Progress per finished file to stderr (files done,
            clips, clips/s, time left).

    Returns:
        The index dict (also written to ``shards.json`` once every file is
        complete): ``settings``, ``complete``, ``shards`` (file, clips,
        skipped videos of each finished file), ``clips``, ``skipped``.

    Example:
    ```python
    train = ksn.data.read_ucf101_split("/data/UCF-101", 1, "train")
    ksn.data.prepare_shards(train, "gs://bucket/ucf101-train", model=model, clips_per_video=50,
                            num_workers=8, shard=(4, host_index))   # 4 hosts, 8 processes each
    ds = ksn.data.shard_dataset("gs://bucket/ucf101-train", batch_size=32, seed=0)
    ```
    """
    from keras_sportsnet.utils.imports import require_tensorflow

    tf = require_tensorflow("prepare_shards")

    from keras_sportsnet.data.datasets import _geometry

    if not isinstance(videos, VideoList):
        videos = VideoList(tuple(os.fspath(p) for p in videos), tuple(() for _ in videos), ())
    check_choice("sampling_mode", sampling_mode, ("random", "uniform"))
    check_choice("on_error", on_error, ("skip", "raise"))
    check_choice("short_video_policy", short_video_policy, sampling.SHORT_VIDEO_POLICIES)
    check_choice("parallelism", parallelism, ("processes", "threads", None))
    if not 1 <= int(jpeg_quality) <= 100:
        raise ValueError(f"`jpeg_quality` must be in [1, 100]. Received: jpeg_quality={jpeg_quality!r}")
    if clips_per_video is not None and max_clips_per_video is not None:
        raise ValueError(
            "Pass either `clips_per_video` (exactly that many clips) or `max_clips_per_video` (up to that many), "
            f"not both. Received: clips_per_video={clips_per_video!r}, max_clips_per_video={max_clips_per_video!r}"
        )
    for name, value in (("clips_per_video", clips_per_video), ("max_clips_per_video", max_clips_per_video),
                        ("num_files", num_files), ("clips_per_file", clips_per_file), ("num_workers", num_workers)):
        if value is not None and (not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1):
            raise ValueError(f"`{name}` must be an int >= 1 or None. Received: {name}={value!r}")
    in_memory = str(output_dir).startswith("ram://")
    if parallelism == "processes" and in_memory and (num_workers or 0) != 1:
        raise ValueError(
            "`parallelism='processes'` cannot write to a ram:// folder: TensorFlow's in-memory filesystem belongs "
            f"to one process. Use parallelism='threads' (or None). Received: output_dir={output_dir!r}"
        )
    parallelism = parallelism or ("threads" if in_memory else "processes")
    count = (clips_per_video or 1) if max_clips_per_video is None else None
    geometry = _geometry(model, num_frames, frame_stride, image_size)
    total = len(videos) * (count or max_clips_per_video)
    num_files = num_files or max(1, -(-total // clips_per_file))
    num_shards, shard_index = _check_shard("shard", shard)
    tf.io.gfile.makedirs(output_dir)
    settings = {
        "num_frames": geometry.num_frames,
        "frame_stride": geometry.frame_stride,
        "image_size": list(geometry.image_size),
        "resize_to": resize_to,
        "clips_per_video": count,
        "max_clips_per_video": max_clips_per_video,
        "sampling_mode": sampling_mode,
        "seed": seed,
        "short_video_policy": short_video_policy,
        "jpeg_quality": int(jpeg_quality),
        "num_files": num_files,
        "class_names": list(videos.class_names),
        "videos": len(videos),
        "videos_sha256": _list_digest(videos),
    }
    records = {f: _finished(output_dir, f, settings) for f in range(num_files)}
    pending = [f for f in range(shard_index, num_files, num_shards) if records[f] is None]
    tasks = [
        {
            "output_dir": output_dir,
            "file": f,
            "settings": settings,
            "videos": [(v, videos.paths[v], tuple(videos.labels[v])) for v in range(f, len(videos), num_files)],
            "on_error": on_error,
        }
        for f in pending
    ]
    workers = min(num_workers or os.cpu_count() or 1, max(1, len(tasks)))
    progress = _Progress(len(tasks), num_files, verbose)
    if workers == 1:
        for task in tasks:
            records[task["file"]] = progress.done(task["file"], _write_shard(task))
    else:
        if parallelism == "processes":
            pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        else:
            pool = concurrent.futures.ThreadPoolExecutor(workers)
        with pool:
            futures = {pool.submit(_write_shard, task): task["file"] for task in tasks}
            try:
                for future in concurrent.futures.as_completed(futures):
                    records[futures[future]] = progress.done(futures[future], future.result())
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # finished files stay; the rest resume on re-run
                raise
    # The index lists every file once all are complete (whichever job finishes last writes it).
    records.update({f: _finished(output_dir, f, settings) for f, r in records.items() if r is None})
    finished = [records[f] for f in range(num_files) if records[f] is not None]
    skipped = {p: r for s in finished for p, r in s["skipped"].items()}
    if skipped:
        listing = "\n".join(f"  {p}: {r}" for p, r in sorted(skipped.items()))
        warnings.warn(f"prepare_shards skipped {len(skipped)} video(s):\n{listing}", stacklevel=2)
    index = {
        "settings": settings,
        "complete": len(finished) == num_files,
        "shards": finished,
        "clips": sum(s["clips"] for s in finished),
        "skipped": skipped,
    }
    if index["complete"]:
        _write_json(_join(output_dir, INDEX_FILE), index)
    elif verbose:
        print(f"{len(finished)} of {num_files} files complete; {INDEX_FILE} is written when all are.", file=sys.stderr)
    return index


def _file_name(file, num_files):
    return f"{_PREFIX}-{file:05d}-of-{num_files:05d}"


def _finished(output_dir, file, settings):
    """The record of a file finished with these settings, or None."""
    import tensorflow as tf

    name = _file_name(file, settings["num_files"])
    record_path = _join(output_dir, name + ".json")
    done = _read_json(record_path) if tf.io.gfile.exists(record_path) else None
    if done and done.get("settings") == settings and tf.io.gfile.exists(_join(output_dir, name + ".tfrecord")):
        return done["shard"]
    return None


def _write_shard(task):
    """Writes one shard file (a task of `prepare_shards`; runs in a worker process or thread)."""
    import tensorflow as tf

    settings, output_dir = task["settings"], task["output_dir"]
    geometry = sampling.ClipGeometry(num_frames=settings["num_frames"], frame_stride=settings["frame_stride"],
                                     image_size=tuple(settings["image_size"]))
    name = _file_name(task["file"], settings["num_files"])
    final = _join(output_dir, name + ".tfrecord")
    temporary = final + ".incomplete"  # a re-run of this job overwrites what a killed one left
    clips, skipped = 0, {}
    with tf.io.TFRecordWriter(temporary) as writer:
        for video, path, labels in task["videos"]:
            try:
                for start, frames in _sample_video(path, geometry, settings, video):
                    writer.write(_example(frames, labels, path, start, settings["jpeg_quality"]))
                    clips += 1
            except VideoError as error:
                if task["on_error"] == "raise":
                    raise
                skipped[path] = error.problem
    tf.io.gfile.rename(temporary, final, overwrite=True)
    record = {"file": name + ".tfrecord", "clips": clips, "skipped": skipped}
    _write_json(_join(output_dir, name + ".json"), {"settings": settings, "shard": record})  # the completion mark
    return record


class _Progress:
    """One stderr line per finished file: files done, clips, clips/s, time left."""

    def __init__(self, tasks, num_files, verbose):
        self.tasks, self.num_files, self.verbose = tasks, num_files, verbose
        self.finished, self.clips, self.start = 0, 0, time.perf_counter()

    def done(self, file, record):
        self.finished += 1
        self.clips += record["clips"]
        if self.verbose:
            elapsed = time.perf_counter() - self.start
            left = elapsed / self.finished * (self.tasks - self.finished)
            print(
                f"[{self.finished}/{self.tasks}] file {file + 1} of {self.num_files}: {record['clips']} clips, "
                f"{len(record['skipped'])} video(s) skipped; {self.clips} clips in {elapsed:.1f} s "
                f"({self.clips / max(elapsed, 1e-9):.1f} clips/s), about {left:.0f} s left",
                file=sys.stderr,
            )
        return record


def _check_shard(argument, shard):
    """``(count, index)`` from ``None`` or a pair; ValueError naming `argument` otherwise."""
    if shard is None:
        return 1, 0
    try:
        count, index = (int(v) for v in shard)
    except (TypeError, ValueError):
        raise ValueError(f"`{argument}` must be (num_shards, shard_index). Received: {argument}={shard!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(
            f"`{argument}` must be (num_shards, shard_index) with 0 <= shard_index < num_shards. "
            f"Received: {argument}={shard!r}"
        )
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
        shard: ``(num_shards, shard_index)`` or None. This host (or
            worker) reads only the files ``shard_index, shard_index +
            num_shards, ...``: the shares of ``num_shards`` hosts are
            disjoint and together hold every clip once. The length and
            `pass_length` are this share's.
        shuffle_buffer: int. Clips per shuffling window.

    Returns:
        A `tf.data.Dataset` of ``(clips, labels)`` with ``class_names`` and
        ``index`` attributes; its length is known. The pipeline is TensorFlow
        ops only (TFRecord reading, ``tf.io.decode_jpeg``, stateless crops
        and flips): no Python runs per clip, so it parallelises freely and
        can run on tf.data service workers.

    Example:
    ```python
    # Each of 4 hosts streams its own quarter of the files from one shared folder.
    ds = ksn.data.shard_dataset("gs://bucket/sports1m-train", batch_size=32, seed=0,
                                shard=(num_hosts, host_index))
    model.fit(ds, epochs=10)
    ```
    """
    from keras_sportsnet.utils.imports import require_tensorflow

    tf = require_tensorflow("shard_dataset")

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
        num_shards, shard_index = _check_shard("shard", shard)
        if num_shards > len(shards):
            raise ValueError(
                f"`shard` asks for {num_shards} shares of {directory}, which holds {len(shards)} files: every "
                f"share needs at least one file (prepare with num_files >= {num_shards}). Received: shard={shard!r}"
            )
        shards = shards[shard_index::num_shards]
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


def _sample_video(path, geometry, settings, video):
    """Yields ``(start, frames)`` for the video's clips, frames resized uint8."""
    from keras_sportsnet.data.decoding import probe_video
    from keras_sportsnet.data.decoding import read_clips
    from keras_sportsnet.data.transforms import centre_square_resize

    policy = settings["short_video_policy"]
    info = probe_video(path)
    count = settings["clips_per_video"]
    if count is None:  # up to max_clips_per_video: as many distinct clips as fit end to end, at least one
        count = max(1, min(settings["max_clips_per_video"], info.num_frames // geometry.span))
    if settings["sampling_mode"] == "uniform":
        clips = sampling.uniform_clips(info.num_frames, geometry, count, policy)
    else:
        clips = sampling.random_clips(info.num_frames, geometry, count, [settings["seed"], video], policy)
    clips = [c for c in clips if c is not None and c.indices]
    if not clips:
        raise VideoError(path, f"too short: {info.num_frames} frames, a clip spans {geometry.span} (short_video_policy='skip')")
    decoded = read_clips(path, [list(c.indices) for c in clips])
    for clip, frames in zip(clips, decoded):
        yield clip.start, np.asarray(centre_square_resize(frames, settings["resize_to"]))


def _example(frames, labels, path, start, quality):
    import tensorflow as tf

    encoded = [tf.io.encode_jpeg(frame, quality=quality).numpy() for frame in frames]
    feature = {
        "frames": tf.train.Feature(bytes_list=tf.train.BytesList(value=encoded)),
        "labels": tf.train.Feature(int64_list=tf.train.Int64List(value=list(labels))),
        "video_id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[os.fspath(path).encode()])),
        "start": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(start)])),
    }
    # deterministic: map entries in key order, so every process writes the same bytes (protobuf's own order varies)
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


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
