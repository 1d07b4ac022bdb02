"""Prepared clip shards: the path for Sports-1M-sized data.

`prepare_shards` samples clips once, crops each frame to its centre square,
resizes it to ``resize_to`` (200) and stores the frames as JPEG in sharded
TFRecord files with the labels and the video's id; `shard_dataset` reads them
back as a `VideoDataset` whose ``tf.data`` pipeline decodes in-graph with
`tf.io.decode_jpeg` (no Python, no GIL, and usable on tf.data service
workers). Paths go through `tf.io.gfile`, so local folders and cloud URIs
(``gs://...``) both work.

Layout of an output folder::

    clips-00000-of-00008.tfrecord ... clips-00007-of-00008.tfrecord
    clips-00000-of-00008.json ...     # per shard: done mark, clip count, size, skipped videos
    shards.json      # when all are done: class names, clip geometry, counts, skipped videos

Each shard is written to a temporary name unique to its writer (host,
process and a random token, so two ``prepare`` runs into one folder never
write the same file) and renamed when complete, then marked done by a small
``clips-00000-of-00008.json`` beside it (written atomically, with the
settings, the clip count, the byte size and a digest of the video list). An
interrupted `prepare_shards` therefore leaves only whole shards, and running
it again resumes: shards marked done with the same settings and videos are
kept, the rest are written, and the temporary files of dead writers on this
host are removed. ``shards.json`` appears only when every shard is done, so a
reader never sees a half-prepared folder. Independent jobs
(``shard=(num_shards, shard_index)``, e.g. one per host) write disjoint
subsets of the files of one folder, each with a pool of worker processes
that die with their parent (and ignore Ctrl-C, which the parent handles);
readers on several hosts each take their own subset of the files
(``shard_dataset(..., shard=(num_hosts, host_index))``).

The reader checks every shard against the manifest: a missing file or one
whose size differs (emptied, truncated, cut at a record boundary) is refused
before training, naming the file; while reading, a shard that yields another
number of clips than listed (a corrupted record) stops with an error naming
the shard.
"""

import contextlib
import hashlib
import json
import multiprocessing
import os
import secrets
import signal
import socket
import sys
import threading
import time
import warnings

import numpy as np

from keras_sportsnet.data import random
from keras_sportsnet.data import sampling
from keras_sportsnet.data.config import PipelineConfig
from keras_sportsnet.data.config import check_shard
from keras_sportsnet.data.config import resolve_geometry
from keras_sportsnet.data.dataset import VideoDataset
from keras_sportsnet.data.errors import VideoError
from keras_sportsnet.data.lists import VideoList
from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_int
from keras_sportsnet.utils.checks import check_positive_int
from keras_sportsnet.utils.files import TEMPORARY_MARK
from keras_sportsnet.utils.files import write_json
from keras_sportsnet.utils.imports import require_tensorflow
from keras_sportsnet.utils.progress import Progress

__all__ = ["prepare_shards", "shard_dataset", "ShardSource", "INDEX_FILE"]

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
    resize_to=None,
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
    one process share about one core) or threads. Worker processes die with
    this process (even after ``kill -9``) and leave Ctrl-C to it.
    Independent jobs, e.g. one per host, each write their share of the files
    of one folder (``shard=(num_shards, shard_index)``). Re-running skips
    every file already finished with the same settings and videos.

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
        resize_to: int. Stored frames are ``resize_to x resize_to``; at least
            ``image_size`` (the model's preprocessor's, else 200).
        num_files: int or None. Shard files to write; default: enough for
            about ``clips_per_file`` clips each.
        clips_per_file: int. Target clips per file when ``num_files`` is None.
        seed: int. Seed of the clip positions (video ``v`` draws from
            `keras_sportsnet.data.random.video_seed` ``(seed, v)``, whichever worker writes it).
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
        verbose: bool. A progress line on stderr (files done, clips, time left).

    Returns:
        The index dict (also written to ``shards.json`` once every file is
        complete): ``settings``, ``complete``, ``shards`` (file, clips,
        bytes, skipped videos of each finished file), ``clips``, ``skipped``.

    Example:
    ```python
    train = ksn.data.read_ucf101_split("/data/UCF-101", 1, "train")
    ksn.data.prepare_shards(train, "gs://bucket/ucf101-train", model=model, clips_per_video=50,
                            num_workers=8, shard=(4, host_index))   # 4 hosts, 8 processes each
    ds = ksn.data.shard_dataset("gs://bucket/ucf101-train", batch_size=32, seed=0)
    ```
    """
    tf = require_tensorflow("prepare_shards")

    if not isinstance(videos, VideoList):
        videos = VideoList(tuple(os.fspath(p) for p in videos), tuple(() for _ in videos), ())
    check_choice("sampling_mode", sampling_mode, ("random", "uniform"))
    check_choice("on_error", on_error, ("skip", "raise"))
    check_choice("short_video_policy", short_video_policy, sampling.SHORT_VIDEO_POLICIES)
    check_choice("parallelism", parallelism, ("processes", "threads", None))
    jpeg_quality = check_int("jpeg_quality", jpeg_quality, minimum=1, maximum=100)
    if clips_per_video is not None and max_clips_per_video is not None:
        raise ValueError(
            "Pass either `clips_per_video` (exactly that many clips) or `max_clips_per_video` (up to that many), "
            f"not both. Received: clips_per_video={clips_per_video!r}, max_clips_per_video={max_clips_per_video!r}"
        )
    clips_per_video = check_positive_int("clips_per_video", clips_per_video, allow_none=True)
    max_clips_per_video = check_positive_int("max_clips_per_video", max_clips_per_video, allow_none=True)
    num_files = check_positive_int("num_files", num_files, allow_none=True)
    clips_per_file = check_positive_int("clips_per_file", clips_per_file)
    num_workers = check_positive_int("num_workers", num_workers, allow_none=True)
    seed = check_int("seed", seed, minimum=0)
    in_memory = str(output_dir).startswith("ram://")
    if parallelism == "processes" and in_memory and (num_workers or 0) != 1:
        raise ValueError(
            "`parallelism='processes'` cannot write to a ram:// folder: TensorFlow's in-memory filesystem belongs "
            f"to one process. Use parallelism='threads' (or None). Received: output_dir={output_dir!r}"
        )
    parallelism = parallelism or ("threads" if in_memory else "processes")
    count = (clips_per_video or 1) if max_clips_per_video is None else None
    geometry, resize_to = resolve_geometry(model, num_frames, frame_stride, image_size, resize_to)
    total = len(videos) * (count or max_clips_per_video)
    num_files = num_files or max(1, -(-total // clips_per_file))
    num_shards, shard_index = check_shard("shard", shard) or (1, 0)
    tf.io.gfile.makedirs(output_dir)
    _remove_dead_temporaries(output_dir)
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
        "jpeg_quality": jpeg_quality,
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
    with Progress("prepare", total=len(tasks), unit="files", enabled=verbose) as progress:
        clips = 0

        def done(file, record):
            nonlocal clips
            records[file] = record
            clips += record["clips"]
            progress.update(extra=f"{clips} clips written")

        if workers == 1:
            for task in tasks:
                done(task["file"], _write_shard(task))
        elif parallelism == "threads":
            _run_threads(tasks, workers, done)
        else:
            _run_processes(tasks, workers, done)
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


def _run_threads(tasks, workers, done):
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(_write_shard, task): task["file"] for task in tasks}
        try:
            for future in concurrent.futures.as_completed(futures):
                done(futures[future], future.result())
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # finished files stay; the rest resume on re-run
            raise


def _run_processes(tasks, workers, done):
    """Runs the tasks in worker processes that die with this one; Ctrl-C stops them without their tracebacks."""
    context = multiprocessing.get_context("spawn")
    # A spawned worker spends seconds importing before its initializer runs; an ignored SIGINT survives exec,
    # so workers started while the parent ignores it never print a KeyboardInterrupt from inside an import.
    previous = _ignore_sigint()
    try:
        with _main_module_hidden():
            pool = context.Pool(workers, initializer=_worker_start, initargs=(os.getpid(),))
    finally:
        _restore_sigint(previous)
    try:
        for file, record in pool.imap_unordered(_write_shard_task, tasks):
            done(file, record)
    except BaseException:
        pool.terminate()  # Ctrl-C or a failure: stop the workers now; their unfinished files resume on re-run
        pool.join()
        raise
    pool.close()
    pool.join()


@contextlib.contextmanager
def _main_module_hidden():
    """Starts spawned workers without re-running the caller's script.

    A spawned worker normally re-imports the parent's ``__main__`` (by path, or
    by name under ``python -m``); a script that calls `prepare_shards` at its
    top level, without an ``if __name__ == "__main__":`` guard, then calls it
    again in every worker, each of which fails and is replaced for ever: a
    hang. The workers run only keras_sportsnet code on plain task data, so
    they are started as if ``__main__`` had neither a file nor a module spec.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {name: main.__dict__[name] for name in ("__file__", "__spec__") if name in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def _ignore_sigint():
    """Ignores SIGINT in this process if it is the main thread (else signals cannot be set); returns the old handler."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, signal.SIG_IGN)


def _restore_sigint(previous):
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


def _write_shard_task(task):
    return task["file"], _write_shard(task)


def _worker_start(parent):
    """In a worker process: die with the parent (Linux: PR_SET_PDEATHSIG; else a watchdog) and ignore Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C (and terminates the pool)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="keras_sportsnet-parent-watch").start()


def _watch_parent(parent, interval=1.0):
    """Ends this worker process when its parent is gone (where no death signal exists)."""
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            os._exit(1)


def _file_name(file, num_files):
    return f"{_PREFIX}-{file:05d}-of-{num_files:05d}"


def _finished(output_dir, file, settings):
    """The record of a file finished with these settings, or None."""
    tf = require_tensorflow("prepare_shards")

    name = _file_name(file, settings["num_files"])
    record_path = _join(output_dir, name + ".json")
    done = _read_json(record_path) if tf.io.gfile.exists(record_path) else None
    if done and done.get("settings") == settings and tf.io.gfile.exists(_join(output_dir, name + ".tfrecord")):
        return done["shard"]
    return None


def _temporary_path(final):
    """A temporary name for ``final`` unique to this writer: ``.<name>.<host>-<pid>-<token>.incomplete``."""
    folder, name = final.rsplit("/", 1)
    host = socket.gethostname().replace("-", "_").replace("/", "_") or "host"
    return f"{folder}/.{name}.{host}-{os.getpid()}-{secrets.token_hex(4)}{TEMPORARY_MARK}"


def _remove_dead_temporaries(output_dir):
    """Removes the temporary files of writers that died on this host (and the old fixed ``.incomplete`` names)."""
    tf = require_tensorflow("prepare_shards")

    host = socket.gethostname().replace("-", "_").replace("/", "_") or "host"
    for name in tf.io.gfile.listdir(output_dir):
        name = name.rstrip("/")
        if name.endswith(".tfrecord.incomplete") and not name.startswith("."):  # the fixed name of older versions
            tf.io.gfile.remove(_join(output_dir, name))
            continue
        if not (name.startswith(".") and name.endswith(TEMPORARY_MARK)):
            continue
        writer = name[: -len(TEMPORARY_MARK)].rsplit(".", 1)[-1].split("-")
        if len(writer) != 3 or writer[0] != host or not writer[1].isdigit():
            continue  # another host's writer, or not ours: leave it
        if not _alive(int(writer[1])):
            tf.io.gfile.remove(_join(output_dir, name))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_shard(task):
    """Writes one shard file (a task of `prepare_shards`; runs in a worker process or thread)."""
    tf = require_tensorflow("prepare_shards")

    settings, output_dir = task["settings"], task["output_dir"]
    geometry = sampling.ClipGeometry(num_frames=settings["num_frames"], frame_stride=settings["frame_stride"],
                                     image_size=tuple(settings["image_size"]))
    name = _file_name(task["file"], settings["num_files"])
    final = _join(output_dir, name + ".tfrecord")
    temporary = _temporary_path(final)
    clips, skipped = 0, {}
    try:
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
        size = tf.io.gfile.stat(temporary).length
        tf.io.gfile.rename(temporary, final, overwrite=True)
    except BaseException:
        if tf.io.gfile.exists(temporary):
            tf.io.gfile.remove(temporary)
        raise
    record = {"file": name + ".tfrecord", "clips": clips, "bytes": int(size), "skipped": skipped}
    _write_json(_join(output_dir, name + ".json"), {"settings": settings, "shard": record})  # the completion mark
    return record


def _list_digest(videos):
    digest = hashlib.sha256()
    for path, labels in zip(videos.paths, videos.labels):
        digest.update(f"{path}\t{','.join(map(str, labels))}\n".encode())
    return digest.hexdigest()


class ShardSource:
    """Clips read from prepared shards (a `VideoDataset` source; pure TensorFlow ops).

    One pass holds every clip of the files once: the file order is a
    permutation keyed by the pass key and the clips are shuffled within
    windows of ``shuffle_buffer`` (`keras_sportsnet.data.random`). Every file
    is checked while it is read: when it yields another number of clips than
    the manifest lists, the pipeline stops with an error naming it.

    Args:
        files: list of shard paths.
        counts: list of int: clips of each file (from the manifest).
        settings: the ``settings`` of ``shards.json``.
        config: the `PipelineConfig`.
        shuffle_buffer: int. Clips per shuffling window.

    Example:
    ```python
    source = ShardSource(files, counts, index["settings"], config, shuffle_buffer=2048)
    ```
    """

    can_fail = False

    def __init__(self, files, counts, settings, config, shuffle_buffer):
        self.files, self.counts, self.settings = list(files), [int(c) for c in counts], settings
        self.config, self.shuffle_buffer = config, shuffle_buffer
        self.num_elements = sum(self.counts)

    def with_config(self, config):
        """The same files under another config."""
        return ShardSource(self.files, self.counts, self.settings, config, self.shuffle_buffer)

    def _checked_records(self, file_index):
        """The records of one file, then an error naming it when their number differs from the manifest's."""
        import tensorflow as tf

        name = tf.gather(tf.constant(self.files), file_index)
        expected = tf.gather(tf.constant(self.counts, tf.int64), file_index)
        plain = tf.autograph.experimental.do_not_convert  # no AutoGraph: nothing here needs it (see VideoDataset)
        records = tf.data.TFRecordDataset(name).ignore_errors().map(plain(lambda r: (r, tf.constant(True))))
        end = tf.data.Dataset.from_tensors((tf.constant(b""), tf.constant(False)))

        def count(read, element):
            record, is_record = element
            read = read + tf.cast(is_record, tf.int64)

            def damaged():
                message = tf.strings.join([
                    "keras_sportsnet: shard ", name, " is damaged: it gave ", tf.strings.as_string(read),
                    " clips, its manifest lists ", tf.strings.as_string(expected), ". Delete the shard and its "
                    ".json mark and run prepare again to rewrite it."])
                with tf.control_dependencies([tf.debugging.Assert(False, [message])]):
                    return tf.constant(False)

            check = tf.cond(tf.logical_or(is_record, tf.equal(read, expected)), lambda: tf.constant(True), damaged)
            return read, (record, is_record, check)

        checked = records.concatenate(end).scan(tf.constant(0, tf.int64), plain(count))
        return checked.filter(plain(lambda record, is_record, check: tf.logical_and(is_record, check))).map(
            plain(lambda record, is_record, check: record))

    def elements(self, key, skip):
        """``(element, key, record)`` of one pass: file order and shuffling windows keyed by ``key``."""
        import tensorflow as tf

        num_files = len(self.files)
        order = tf.range(num_files, dtype=tf.int64)
        if self.config.shuffle:
            order = tf.gather(order, random.permutation(num_files, key))
        plain = tf.autograph.experimental.do_not_convert
        records = tf.data.Dataset.from_tensor_slices(order).interleave(
            plain(self._checked_records), cycle_length=min(4, num_files), num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True)
        if self.config.shuffle:
            window = self.shuffle_buffer

            def permute(index, block):
                size = tf.shape(block)[0]
                return tf.gather(block, random.window_permutation(key, index, size))

            records = records.batch(window).enumerate().map(plain(permute)).unbatch()
        return records.enumerate().skip(skip).map(plain(lambda element, record: (element, key, record)))

    def load(self, element, draws, record):
        """``(uint8 clip, label, ok)`` of one record (in-graph JPEG decoding)."""
        import tensorflow as tf

        num_frames, size = self.settings["num_frames"], self.settings["resize_to"]
        features = {
            "frames": tf.io.FixedLenFeature([num_frames], tf.string),
            "labels": tf.io.VarLenFeature(tf.int64),
        }
        example = tf.io.parse_single_example(record, features)
        frames = [tf.io.decode_jpeg(example["frames"][t], channels=3) for t in range(num_frames)]
        clip = tf.ensure_shape(tf.stack(frames), (num_frames, size, size, 3))
        labels = tf.sparse.to_dense(example["labels"])
        mode = self.config.label_mode
        if mode is None:
            label = None
        elif mode == "int":
            label = tf.cast(labels[0], tf.int32)
        else:
            num_classes = len(self.settings["class_names"])
            label = tf.reduce_max(tf.one_hot(labels, num_classes, dtype=tf.float32), axis=0)
        return clip, label, tf.constant(True)


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
    drop_remainder=False,
):
    """Reads shards written by `prepare_shards` as a `VideoDataset`.

    Every shard is checked against the manifest first (present, same size:
    an emptied or cut shard is refused here, naming the file) and again while
    it is read (the number of clips).

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
            ``num_clips`` are this share's.
        shuffle_buffer: int. Clips per shuffling window.
        drop_remainder: bool. Drop the smaller last batch of every pass.

    Returns:
        A `VideoDataset` (``file_paths``: the shard files read, ``index``: the
        manifest, ``videos``: None). Its pipeline is TensorFlow ops only
        (TFRecord reading, ``tf.io.decode_jpeg``, stateless crops and flips):
        no Python runs per clip, so it parallelises freely and can run on
        tf.data service workers.

    Example:
    ```python
    # Each of 4 hosts streams its own quarter of the files from one shared folder.
    ds = ksn.data.shard_dataset("gs://bucket/sports1m-train", batch_size=32, seed=0,
                                shard=(num_hosts, host_index))
    model.fit(ds, epochs=10)
    ```
    """
    tf = require_tensorflow("shard_dataset")

    index_path = _join(directory, INDEX_FILE)
    if not tf.io.gfile.exists(index_path):
        raise ValueError(
            f"{index_path} does not exist: write shards with keras_sportsnet.data.prepare_shards "
            "(or `keras-sportsnet prepare`) first; if it was interrupted, run it again: it resumes."
        )
    index = _read_json(index_path)
    try:
        settings = index["settings"]
        shards = list(index["shards"])
        counts = [int(s["clips"]) for s in shards]
        names = [str(s["file"]) for s in shards]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{index_path} is not a shard manifest written by prepare_shards ({error!r}).") from None
    bad_names = [n for n in names if "/" in n or n in (".", "..")]
    if bad_names:
        raise ValueError(f"{index_path} lists files outside its folder: {bad_names}. Prepare the shards again.")
    if shard is not None:
        num_shards, shard_index = check_shard("shard", shard)
        if num_shards > len(shards):
            raise ValueError(
                f"`shard` asks for {num_shards} shares of {directory}, which holds {len(shards)} files: every "
                f"share needs at least one file (prepare with num_files >= {num_shards}). Received: shard={shard!r}"
            )
        shards, counts, names = shards[shard_index::num_shards], counts[shard_index::num_shards], names[shard_index::num_shards]
    files = [_join(directory, n) for n in names]
    _check_files(files, shards, index_path)
    config = PipelineConfig(
        num_frames=settings["num_frames"], frame_stride=settings["frame_stride"],
        image_size=tuple(settings["image_size"]), resize_to=settings["resize_to"], augmentation=augmentation,
        label_mode=label_mode, batch_size=batch_size, drop_remainder=drop_remainder, shuffle=shuffle,
        seed=random.resolve_seed(seed),
    )
    shuffle_buffer = check_positive_int("shuffle_buffer", shuffle_buffer)
    source = ShardSource(files, counts, settings, config, shuffle_buffer)
    return VideoDataset(source, config, class_names=settings["class_names"], videos=None, file_paths=files,
                        skipped=index.get("skipped", {}), index=index)


def _check_files(files, shards, index_path):
    """Refuses missing shards and shards whose size differs from the manifest's, naming them."""
    tf = require_tensorflow("shard_dataset")

    problems = []
    for path, record in zip(files, shards):
        if not tf.io.gfile.exists(path):
            problems.append(f"  {path}: missing")
            continue
        expected = record.get("bytes")
        if expected is not None:
            size = tf.io.gfile.stat(path).length
            if size != expected:
                problems.append(f"  {path}: {size} bytes, the manifest lists {expected} (emptied, cut or rewritten)")
        elif record["clips"] > 0 and tf.io.gfile.stat(path).length == 0:
            problems.append(f"  {path}: empty, the manifest lists {record['clips']} clips")
    if problems:
        raise ValueError(
            f"{len(problems)} shard(s) of {index_path} do not match the manifest:\n" + "\n".join(problems)
            + "\nDelete them with their .json marks (and shards.json) and run prepare again: it rewrites only those."
        )


def _sample_video(path, geometry, settings, video):
    """Yields ``(start, frames)`` for the video's clips, frames resized uint8."""
    import keras

    from keras_sportsnet.data.decoding import probe_video
    from keras_sportsnet.data.decoding import read_clips
    from keras_sportsnet.transforms import functional

    policy = settings["short_video_policy"]
    info = probe_video(path)
    count = settings["clips_per_video"]
    if count is None:  # up to max_clips_per_video: as many distinct clips as fit end to end, at least one
        count = max(1, min(settings["max_clips_per_video"], info.num_frames // geometry.span))
    if settings["sampling_mode"] == "uniform":
        clips = sampling.uniform_clips(info.num_frames, geometry, count, policy)
    else:
        clips = sampling.random_clips(info.num_frames, geometry, count, random.video_seed(settings["seed"], video),
                                      policy)
    clips = [c for c in clips if c is not None and c.indices]
    if not clips:
        raise VideoError(path, f"too short: {info.num_frames} frames, a clip spans {geometry.span} (short_video_policy='skip')")
    decoded = read_clips(path, [list(c.indices) for c in clips], short_side=settings["resize_to"])  # bounded memory
    for clip, frames in zip(clips, decoded):
        resized = functional.centre_crop_resize(np.asarray(frames), settings["resize_to"])
        yield clip.start, np.asarray(keras.ops.convert_to_numpy(resized))


def _example(frames, labels, path, start, quality):
    tf = require_tensorflow("prepare_shards")

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
    tf = require_tensorflow("shard_dataset")

    try:
        with tf.io.gfile.GFile(path, "r") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}): run prepare again to rewrite it.") from None


def _write_json(path, data):
    """Writes JSON atomically: `keras_sportsnet.utils.files` for local folders, a unique temporary + rename elsewhere."""
    tf = require_tensorflow("prepare_shards")

    if "://" not in path:
        write_json(path, data)
        return
    temporary = _temporary_path(path)
    with tf.io.gfile.GFile(temporary, "w") as f:
        json.dump(data, f, indent=1)
    tf.io.gfile.rename(temporary, path, overwrite=True)
