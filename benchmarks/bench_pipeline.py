"""Speed benchmark of keras_sportsnet's video data pipeline (decoding, shards, tf.data, fit).

The script writes its own test videos into a temporary folder (frames from
`keras_sportsnet.testing.videos.index_frames`: seeded 8x8 colour blocks that
drift a pixel a frame, under bars that encode the frame number, so every
decoded clip is also checked for being the right frames) and measures, in one
run:

1. Random-clip decoding per core: random 10-frame clips (`random_clip`) read
   with `read_clip` on one thread, in clips per CPU-second of the process,
   against the decode limit of the same file: its sequential decode speed
   (frames per CPU-second of the ``ffmpeg -benchmark`` CLI, one decoder
   thread; or a single-threaded PyAV pass over the whole file when there is no
   ``ffmpeg`` on PATH) divided by the mean number of frames a keyframe seek
   decodes for the same clips (from the keyframe at or before the start
   through the clip's last frame). Files: 320x240 H.264 with a keyframe every
   250 frames (YouTube-like) and every 25, 640x360 H.264 and VP9, 320x240
   MPEG-4 Part 2 AVI with B-frames (the UCF-101 family). Target: >= 0.9.
2. Evaluation decoding on the long-GOP file: 20 random clips of one video in
   one `read_clips` pass vs 20 `read_clip` calls (CPU time). Target: >= 2x.
3. The prepared-shard reader: `prepare_shards` (200x200 JPEG frames) then
   `shard_dataset(augmentation="paper")`, process CPU-ms per augmented
   10-frame 170x170 clip while iterating. Target: <= 5 ms.
4. End to end: ``model.fit`` clips/s of a tiny `SlowFusion` fed by (a) the
   shard reader, (b) on-the-fly decoding `video_dataset_from_directory`, and
   (c) an in-memory dataset of the same shapes. Target (a)/(c) >= 0.9; (b)/(c)
   is reported.
5. Augmentation placement: the paper's augmentation in tf.data
   (``augmentation="paper"``, = 4a) vs ``augmentation="deferred"`` with
   `PaperAugmentation` as the model's first layer: fit clips/s, and which wins.
6. Peak RSS of a fresh process that decodes one random clip of a 10-second
   and of a 10-minute 160x120 H.264 video. Target: long <= 1.1x short. The
   peak is ``VmHWM`` (/proc/self/status), not ``ru_maxrss``: Linux carries a
   forked process' peak over ``exec``, so a subprocess' ``ru_maxrss`` starts at
   its parent's peak (here: the parent that wrote the long video).
7. Memory bounded in frame size: peak RSS (``VmHWM``) of a fresh process
   running ``keras-sportsnet predict`` (the CLI's own ``main``, the shipped
   ``slow_fusion_synthetic`` preset, 20 clips x 4 views) on a 4-second
   1920x1080 H.264 video vs the same on a 176x144 one. Target: 1080p <= 1.25x
   176x144. And a 3840x2160 video must classify (exit status 0).

Absolute speeds are noisy on a shared machine, so every target is a ratio of
two numbers measured in the same run, decoding rates use CPU time rather than
wall time, and the fit runs alternate between pipelines (median of rounds;
each ``fit`` call's first epoch is a warm-up, so compilation and pipeline
start-up are excluded). Every measurement group runs in its own subprocess
(``--worker``) so that TensorFlow's threads and memory do not leak from one
into the next. Progress goes to stderr, a Markdown table to stdout; nothing is
asserted (PASS/MISS columns).

Usage::

    python benchmarks/bench_pipeline.py                     # everything (~10 min on 2 cores)
    python benchmarks/bench_pipeline.py --quick             # tiny videos, few clips: a smoke test
    python benchmarks/bench_pipeline.py --json results.json # also save every number
    python benchmarks/bench_pipeline.py --reference pyav    # decode limit from PyAV even with ffmpeg
    python benchmarks/bench_pipeline.py --fit-spec paper    # measurements 4-5 with the paper's network (slow)
"""

import argparse
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT_MARKER = "@@BENCH_RESULT@@ "
SEED = 1234
CLIP_FRAMES = 10
CROP = 170
TINY_SPEC = "C(8,5,2)-N-P-C(16,3,1)-P-FC(32)"

TARGETS = {
    "decode_ratio": 0.9,  # random-clip clips/s over the decode limit, per file
    "eval_speedup": 2.0,  # 20 read_clip calls / one read_clips pass
    "shard_cpu_ms": 5.0,  # at most, per augmented clip
    "fit_shards_ratio": 0.9,  # fit fed by shards / fit fed from memory
    "rss_ratio": 1.1,  # at most, 10-minute / 10-second video
    "predict_rss_ratio": 1.25,  # at most, `predict` on 1080p / on 176x144
}

PREDICT_VIDEOS = (("176x144", (144, 176)), ("1920x1080", (1080, 1920)), ("3840x2160", (2160, 3840)))
"""Frame sizes of measurement 7 (name, (height, width))."""
PREDICT_PRESET = "slow_fusion_synthetic"
MEASUREMENTS = ("decode", "reader", "fit", "rss", "predict")

# key, description, (height, width), codec, extension, keyframe interval, max B-frames, frames setting
DECODE_VIDEOS = (
    ("h264_240p_gop250", "320x240 H.264, keyframe every 250", (240, 320), "h264", ".mp4", 250, None, "frames_240p"),
    ("h264_240p_gop25", "320x240 H.264, keyframe every 25", (240, 320), "h264", ".mp4", 25, None, "frames_240p"),
    ("h264_360p", "640x360 H.264, keyframe every 250", (360, 640), "h264", ".mp4", 250, None, "frames_360p"),
    ("vp9_360p", "640x360 VP9, keyframe every 250", (360, 640), "vp9", ".webm", 250, None, "frames_360p"),
    ("mpeg4_240p", "320x240 MPEG-4 AVI, GOP 12, 2 B-frames", (240, 320), "mpeg4", ".avi", 12, 2, "frames_240p"),
)
LONG_GOP_VIDEO = "h264_240p_gop250"
RSS_SIZE = (120, 160)
RSS_FPS = 25

SETTINGS = {
    "full": {
        "frames_240p": 750,  # 30 s at 25 fps: random seeks matter
        "frames_360p": 500,
        "rss_frames": {"short": 250, "long": 15000},  # 10 s and 10 min at 25 fps
        "predict_frames": 100,  # 4 s at 25 fps, for 176x144 and 1920x1080
        "predict_uhd_frames": 50,  # 2 s of 3840x2160
        "dataset_videos": 6,  # for shards and the folder pipeline: 320x240 H.264, GOP 250
        "dataset_frames": 300,
        "clips_per_video": 8,
        "min_clips": 30,  # random clips per file: at least this many ...
        "min_seconds": 4.0,  # ... and until they took this much CPU time ...
        "max_clips": 400,  # ... but no more than this
        "reference_repeats": 3,
        "eval_rounds": 3,
        "reader_batches": 40,
        "batch_size": 16,
        "steps_per_epoch": 12,
        "fit_rounds": 5,
    },
    "quick": {
        "frames_240p": 120,
        "frames_360p": 60,
        "rss_frames": {"short": 250, "long": 1500},
        "predict_frames": 30,
        "predict_uhd_frames": 12,
        "dataset_videos": 2,
        "dataset_frames": 60,
        "clips_per_video": 4,
        "min_clips": 4,
        "min_seconds": 0.0,
        "max_clips": 4,
        "reference_repeats": 1,
        "eval_rounds": 1,
        "reader_batches": 2,
        "batch_size": 4,
        "steps_per_epoch": 2,
        "fit_rounds": 1,
    },
}


def log(message):
    print(message, file=sys.stderr, flush=True)


# --- test videos (parent) ---------------------------------------------------


def make_videos(work_dir, settings):
    """Writes every test video; returns {"decode": {key: path}, "dataset": {...}, "rss": {...}}."""
    from keras_sportsnet.testing.videos import index_frames
    from keras_sportsnet.data.encoding import write_video

    paths = {"decode": {}, "rss": {}}
    cache = {}  # one frame array per (size, count), shared by the files of that size
    for number, (key, _, size, codec, extension, keyframes, bframes, count) in enumerate(DECODE_VIDEOS):
        shape = (settings[count], *size)
        if shape not in cache:
            cache.clear()
            cache[shape] = index_frames(*shape, seed=SEED + number)
        path = os.path.join(work_dir, key + extension)
        start = time.perf_counter()
        write_video(path, cache[shape], codec=codec, keyframe_interval=keyframes, bframes=bframes)
        paths["decode"][key] = path
        log(f"wrote {key}{extension}: {shape[0]} frames, {os.path.getsize(path) / 1e6:.1f} MB "
            f"({time.perf_counter() - start:.1f}s)")
    cache.clear()
    paths["dataset"] = make_class_folder(os.path.join(work_dir, "folder"), settings)
    for name, count in settings["rss_frames"].items():
        path = os.path.join(work_dir, f"rss_{name}.mp4")
        start = time.perf_counter()
        write_long_video(path, count, work_dir)
        paths["rss"][name] = path
        log(f"wrote {os.path.basename(path)}: {count} frames ({count / RSS_FPS:.0f} s) at "
            f"{RSS_SIZE[1]}x{RSS_SIZE[0]}, {os.path.getsize(path) / 1e6:.1f} MB ({time.perf_counter() - start:.1f}s)")
    return paths


def make_class_folder(folder, settings):
    """A two-class folder of 320x240 H.264 videos (keyframe every 250) for shards and tf.data."""
    from keras_sportsnet.testing.videos import index_frames
    from keras_sportsnet.data.encoding import write_video

    videos = {"paths": [], "labels": [], "class_names": ["class_a", "class_b"], "folder": folder}
    for number in range(settings["dataset_videos"]):
        label = number % 2
        directory = os.path.join(folder, videos["class_names"][label])
        os.makedirs(directory, exist_ok=True)
        frames = index_frames(settings["dataset_frames"], 240, 320, seed=SEED + 100 + number)
        path = write_video(os.path.join(directory, f"video_{number:02d}.mp4"), frames, keyframe_interval=250)
        videos["paths"].append(path)
        videos["labels"].append(label)
    log(f"wrote {settings['dataset_videos']} dataset videos of {settings['dataset_frames']} frames in {folder}")
    return videos


def write_long_video(path, num_frames, work_dir):
    """A 160x120 H.264 video (keyframe every 250) built through a memory-mapped frame array."""
    from keras_sportsnet.testing.videos import index_frames
    from keras_sportsnet.data.encoding import write_video

    block = 250
    buffer = os.path.join(work_dir, "long_frames.npy")
    frames = np.lib.format.open_memmap(buffer, mode="w+", dtype=np.uint8, shape=(num_frames, *RSS_SIZE, 3))
    try:
        for number, start in enumerate(range(0, num_frames, block)):
            count = min(block, num_frames - start)
            frames[start : start + count] = index_frames(count, *RSS_SIZE, seed=SEED + 1000 + number)
        write_video(path, frames, fps=RSS_FPS, keyframe_interval=block)
    finally:
        del frames
        os.remove(buffer)


def write_predict_videos(work_dir, settings):
    """Measurement 7's videos: the same moving, frame-numbered content at 176x144, 1080p and 4K (H.264, GOP 25)."""
    from keras_sportsnet.data.encoding import write_video
    from keras_sportsnet.testing.videos import index_frames

    paths = {}
    for name, (height, width) in PREDICT_VIDEOS:
        count = settings["predict_uhd_frames"] if height > 1080 else settings["predict_frames"]
        buffer = os.path.join(work_dir, f"predict_{name}.npy")
        frames = np.lib.format.open_memmap(buffer, mode="w+", dtype=np.uint8, shape=(count, height, width, 3))
        try:
            for start in range(0, count, 10):  # a few frames at a time: 4K frames are 25 MB each
                stop = min(count, start + 10)
                frames[start:stop] = index_frames(stop - start, height, width, seed=SEED + 7)
            path = os.path.join(work_dir, f"predict_{name}.mp4")
            write_video(path, frames, fps=25, keyframe_interval=25)
            paths[name] = path
        finally:
            del frames
            os.remove(buffer)
        log(f"wrote {path} ({count} frames)")
    return paths


# --- decode limits ------------------------------------------------------------


def ffmpeg_decode(path, repeats):
    """CPU seconds of ``ffmpeg -benchmark`` decoding the whole file with one thread (median of `repeats`).

    ``-benchmark`` reports the CPU time of the transcoding loop (after the
    input is opened and probed); decoding goes to the ``null`` muxer, with no
    pixel format conversion.
    """
    command = ["ffmpeg", "-hide_banner", "-nostdin", "-benchmark", "-threads", "1", "-i", path,
               "-map", "0:v:0", "-f", "null", "-"]
    seconds = []
    for _ in range(repeats):
        completed = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
        match = re.search(r"bench: utime=([\d.]+)s stime=([\d.]+)s rtime=([\d.]+)s", completed.stderr)
        if not match:
            raise RuntimeError(f"no 'bench:' line in ffmpeg's output for {path}")
        seconds.append(float(match.group(1)) + float(match.group(2)))
    return statistics.median(seconds)


def ffmpeg_version():
    first = subprocess.run(["ffmpeg", "-version"], stdout=subprocess.PIPE, text=True).stdout.split("\n")[0]
    match = re.match(r"ffmpeg version (\S+)", first)
    return match.group(1) if match else first


def pyav_decode(path, single_thread=True):
    """One PyAV pass over the whole file: (frames, keyframe numbers, CPU s).

    Frames are decoded but not converted (as ffmpeg's null output). Keyframes
    are taken from the decoded frames in display order, so their numbers are
    right whatever the container's timestamps are (AVI B-frames included).
    ``single_thread=False`` keeps PyAV's default threading (as
    `keras_sportsnet.data.read_clip` opens files).
    """
    import av

    keyframes, count = [], 0
    with av.open(path) as container:
        stream = container.streams.video[0]
        if single_thread:
            stream.thread_type = "NONE"
            stream.codec_context.thread_count = 1
        start = time.process_time()
        for count, frame in enumerate(container.decode(stream), 1):
            if frame.key_frame:
                keyframes.append(count - 1)
        seconds = time.process_time() - start
    return count, keyframes, seconds


def seek_cost(starts, keyframes, clip_frames=CLIP_FRAMES):
    """Frames decoded from the keyframe at or before each start through the clip's last frame."""
    starts = np.asarray(starts, np.int64)
    keys = np.asarray(sorted(set(keyframes) | {0}), np.int64)
    anchors = keys[np.searchsorted(keys, starts, side="right") - 1]
    return starts + clip_frames - anchors


# --- worker side ----------------------------------------------------------------


def cpu_snapshot():
    """(wall s, machine-wide busy CPU s, this process' CPU s), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    busy = sum(fields[:8]) - fields[3] - fields[4]  # all but idle and iowait
    return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), time.process_time()


def other_cores(before, after):
    """Average number of cores kept busy by other processes between two snapshots."""
    if before is None or after is None or after[0] <= before[0]:
        return None
    return max(((after[1] - before[1]) - (after[2] - before[2])) / (after[0] - before[0]), 0.0)


def measure_random_clips(key, path, settings, reference):
    """Measurement 1: random clips with `read_clip` on one thread vs the file's decode limit.

    The reference passes and the clip reads alternate in ``reference_repeats``
    chunks, so that both see the same machine load; the limit uses the mean
    seek cost of the very clips that were read.
    """
    from keras_sportsnet.data import probe_video
    from keras_sportsnet.data import read_clip
    from keras_sportsnet.data.sampling import ClipGeometry
    from keras_sportsnet.data.sampling import random_clip
    from keras_sportsnet.testing.videos import frame_code

    before = cpu_snapshot()
    info = probe_video(path)  # builds and caches the index: not timed
    geometry = ClipGeometry(num_frames=CLIP_FRAMES)
    rng = np.random.default_rng([SEED, [v[0] for v in DECODE_VIDEOS].index(key)])
    read_clip(path, list(random_clip(info.num_frames, geometry, [SEED, 999]).indices))  # warm-up
    chunks = settings["reference_repeats"]
    seconds = {"pyav": [], "pyav_default_threads": [], "ffmpeg": []}
    starts, cpu, wall, wrong = [], 0.0, 0.0, 0
    for chunk in range(1, chunks + 1):
        num_frames, keyframes, pass_seconds = pyav_decode(path)
        seconds["pyav"].append(pass_seconds)
        seconds["pyav_default_threads"].append(pyav_decode(path, single_thread=False)[2])
        if reference == "ffmpeg":
            seconds["ffmpeg"].append(ffmpeg_decode(path, 1))
        share = chunk / chunks
        while len(starts) < settings["max_clips"] * share and (
            len(starts) < settings["min_clips"] * share or cpu < settings["min_seconds"] * share
        ):
            clip = random_clip(info.num_frames, geometry, rng)
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            frames = read_clip(path, list(clip.indices))
            cpu += time.process_time() - cpu_start
            wall += time.perf_counter() - wall_start
            wrong += [frame_code(frames[0]), frame_code(frames[-1])] != [clip.indices[0], clip.indices[-1]]
            starts.append(clip.start)
    fps = {name: num_frames / statistics.median(values) for name, values in seconds.items() if values}
    costs = seek_cost(starts, keyframes)
    reference_fps = fps[reference]
    result = {
        "file": key, "num_frames": info.num_frames, "decoded_frames": num_frames, "codec": info.codec,
        "size": [info.width, info.height], "keyframes": keyframes,
        "pyav_sequential_fps": fps["pyav"], "pyav_default_threads_sequential_fps": fps["pyav_default_threads"],
        "ffmpeg_sequential_fps": fps.get("ffmpeg"), "reference": reference, "reference_fps": reference_fps,
        "clips": len(starts), "cpu_s": cpu, "wall_s": wall, "wrong_clips": wrong,
        "clips_per_cpu_s": len(starts) / cpu, "clips_per_wall_s": len(starts) / wall,
        "mean_seek_frames": float(costs.mean()),
        "mean_seek_frames_all_starts": float(seek_cost(range(info.num_frames - CLIP_FRAMES + 1), keyframes).mean()),
    }
    result["limit_clips_per_s"] = reference_fps / result["mean_seek_frames"]
    result["ratio"] = result["clips_per_cpu_s"] / result["limit_clips_per_s"]
    # CPU per clip beyond the decoding the limit accounts for (threading, open, seek, RGB conversion, stacking).
    result["overhead_ms_per_clip"] = 1e3 * (1 / result["clips_per_cpu_s"] - 1 / result["limit_clips_per_s"])
    result["overheads_ms"] = per_clip_overheads(path)
    result["other_cpu_cores"] = other_cores(before, cpu_snapshot())
    log(f"[decode] {key}: {result['clips_per_cpu_s']:.1f} clips/CPU-s ({len(starts)} clips, "
        f"{result['mean_seek_frames']:.1f} frames/seek, {wrong} wrong), limit {result['limit_clips_per_s']:.1f} "
        f"({reference} {reference_fps:.0f} frames/s; PyAV 1 thread {fps['pyav']:.0f}, default threads "
        f"{fps['pyav_default_threads']:.0f}), ratio {result['ratio']:.2f}")
    return result


def per_clip_overheads(path, repeats=30):
    """CPU ms of per-clip work the decode limit leaves out, measured apart on this file.

    ``open``: opening and closing the container (once per `read_clip`);
    ``rgb``: converting 10 freshly decoded frames with
    ``frame.to_ndarray(format="rgb24")`` (as the decoder does);
    ``rgb_shared_reformatter``: the same with one reused
    `av.video.reformatter.VideoReformatter` (each frame's own reformatter sets
    up a new conversion context); ``stack``: `np.stack` of 10 frames.
    """
    import av
    from av.video.reformatter import VideoReformatter

    start = time.process_time()
    for _ in range(repeats):
        with av.open(path) as container:
            container.streams.video[0]
    opening = (time.process_time() - start) / repeats
    seconds = {"rgb": [], "rgb_shared_reformatter": []}
    reformatter, converted = VideoReformatter(), []
    convert = {"rgb": lambda frame: frame.to_ndarray(format="rgb24"),
               "rgb_shared_reformatter": lambda frame: reformatter.reformat(frame, format="rgb24").to_ndarray()}
    with av.open(path) as container:
        decoded = container.decode(container.streams.video[0])
        for name in seconds:  # each way on its own run of freshly decoded frames, after one untimed
            convert[name](next(decoded))  # (the shared reformatter builds its conversion context once)
            for frame in itertools.islice(decoded, repeats):
                start = time.process_time()
                converted.append(convert[name](frame))
                seconds[name].append(time.process_time() - start)
    frames = (converted * CLIP_FRAMES)[:CLIP_FRAMES]
    start = time.process_time()
    for _ in range(repeats):
        np.stack(frames)
    stacking = (time.process_time() - start) / repeats
    parts = {name: 1e3 * CLIP_FRAMES * statistics.mean(values) for name, values in seconds.items()}
    return {"open": 1e3 * opening, **parts, "stack": 1e3 * stacking}


def measure_evaluation(key, path, settings):
    """Measurement 2: 20 random clips of one video, one `read_clips` pass vs 20 `read_clip` calls."""
    from keras_sportsnet.data import probe_video
    from keras_sportsnet.data import read_clip
    from keras_sportsnet.data import read_clips
    from keras_sportsnet.data.sampling import ClipGeometry
    from keras_sportsnet.data.sampling import random_clips

    info = probe_video(path)
    geometry = ClipGeometry(num_frames=CLIP_FRAMES)
    one_pass, separate, identical = [], [], True
    for round_ in range(settings["eval_rounds"]):
        clips = [list(c.indices) for c in random_clips(info.num_frames, geometry, 20, seed=[SEED, 100 + round_])]
        start = time.process_time()
        together = read_clips(path, clips)
        one_pass.append(time.process_time() - start)
        start = time.process_time()
        apart = [read_clip(path, clip) for clip in clips]
        separate.append(time.process_time() - start)
        identical &= all(np.array_equal(a, b) for a, b in zip(together, apart))
        del together, apart
    result = {
        "file": key, "rounds": settings["eval_rounds"], "clips": 20,
        "read_clips_cpu_s": one_pass, "read_clip_cpu_s": separate, "identical": bool(identical),
        "read_clips_clips_per_s": 20 * len(one_pass) / sum(one_pass),
        "read_clip_clips_per_s": 20 * len(separate) / sum(separate),
        "speedup": sum(separate) / sum(one_pass),
    }
    log(f"[eval] {key}: read_clips {result['read_clips_clips_per_s']:.1f} clips/CPU-s vs read_clip "
        f"{result['read_clip_clips_per_s']:.1f}: {result['speedup']:.2f}x (identical: {identical})")
    return result


def decode_worker(payload):
    """Measurements 1 and 2 (KERAS_BACKEND=numpy: no TensorFlow in this process)."""
    settings, videos = payload["settings"], payload["videos"]
    results = {"random_clips": [], "evaluation": None}
    for key, path in videos.items():
        results["random_clips"].append(measure_random_clips(key, path, settings, payload["reference"]))
    results["evaluation"] = measure_evaluation(LONG_GOP_VIDEO, videos[LONG_GOP_VIDEO], settings)
    if payload["reference"] == "ffmpeg":
        results["ffmpeg_version"] = ffmpeg_version()
    return results


def reader_worker(payload):
    """Measurement 3: `prepare_shards`, then CPU per clip of `shard_dataset(augmentation="paper")`."""
    import tensorflow as tf

    from keras_sportsnet.data import VideoList
    from keras_sportsnet.data import prepare_shards
    from keras_sportsnet.data import shard_dataset

    settings, dataset = payload["settings"], payload["dataset"]
    videos = VideoList(tuple(dataset["paths"]), tuple((l,) for l in dataset["labels"]), tuple(dataset["class_names"]))
    start = time.perf_counter()
    index = prepare_shards(videos, payload["shard_dir"], num_frames=CLIP_FRAMES, image_size=CROP,
                           clips_per_video=settings["clips_per_video"], num_files=2, seed=SEED,
                           parallelism="threads", verbose=False)
    prepare_s = time.perf_counter() - start
    result = {"clips_stored": index["clips"], "prepare_s": prepare_s, "tensorflow": tf.__version__,
              "disk_kb_per_clip": _folder_bytes(payload["shard_dir"]) / 1e3 / index["clips"]}
    log(f"[shards] prepared {index['clips']} clips in {prepare_s:.1f}s")
    batch, batches = settings["batch_size"], settings["reader_batches"]
    # "paper" is the target; "deferred" (JPEG decoding alone) tells what the augmentation costs.
    for augmentation in ("paper", "deferred"):
        dataset = shard_dataset(payload["shard_dir"], batch_size=batch, augmentation=augmentation, seed=SEED)
        iterator = iter(dataset.as_tf_dataset())
        clips, _ = next(iterator)  # warm-up: traces the graph, fills the prefetch buffer
        next(iterator)
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        for _ in range(batches):
            next(iterator)
        cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
        result[augmentation] = {"batch_shape": list(clips.shape), "dtype": clips.dtype.name, "clips": batches * batch,
                                "cpu_ms_per_clip": 1e3 * cpu / (batches * batch),
                                "clips_per_wall_s": batches * batch / wall}
        del iterator
        log(f"[shards] reader, augmentation={augmentation!r}: {result[augmentation]['cpu_ms_per_clip']:.2f} "
            f"CPU-ms/clip, {result[augmentation]['clips_per_wall_s']:.0f} clips/s, batches {list(clips.shape)}")
    return result


def _folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if f.endswith(".tfrecord"))


def fit_model(spec, classes, name):
    import keras_sportsnet as ksn

    return ksn.SlowFusion(spec=ksn.PAPER_SPEC if spec == "paper" else spec, classes=classes, weights=None, name=name)


def compiled(model):
    import keras

    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-3, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    return model


def training_pipelines(payload):
    """{name: (model, dataset)} for measurements 4 and 5; all datasets repeat forever."""
    import keras
    import tensorflow as tf

    from keras_sportsnet.transforms import PaperAugmentation
    from keras_sportsnet.data import shard_dataset
    from keras_sportsnet.data import video_dataset_from_directory

    settings, dataset = payload["settings"], payload["dataset"]
    batch, classes = settings["batch_size"], len(dataset["class_names"])
    model = compiled(fit_model(payload["spec"], classes, "slow_fusion"))
    inner = fit_model(payload["spec"], classes, "slow_fusion_inner")
    inputs = keras.Input((CLIP_FRAMES, 200, 200, 3), dtype="uint8", name="clips_200")
    deferred = compiled(keras.Model(inputs, inner(PaperAugmentation.for_model(inner, seed=SEED)(inputs)),
                                    name="augment_then_slow_fusion"))
    rng = np.random.default_rng(SEED)
    x = rng.integers(0, 256, (2 * batch, CLIP_FRAMES, CROP, CROP, 3), dtype=np.uint8)
    y = rng.integers(0, classes, 2 * batch).astype(np.int32)
    memory = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch).cache().repeat().prefetch(tf.data.AUTOTUNE)
    shards = shard_dataset(payload["shard_dir"], batch_size=batch, augmentation="paper", seed=SEED).as_tf_dataset()
    folder = video_dataset_from_directory(dataset["folder"], batch_size=batch, model=model, seed=SEED,
                                          augmentation="paper", clips_per_video=settings["clips_per_video"],
                                          verbose=False).as_tf_dataset()
    stored = shard_dataset(payload["shard_dir"], batch_size=batch, augmentation="deferred",
                           seed=SEED).as_tf_dataset()
    return {"memory": (model, memory), "shards": (model, shards), "deferred": (deferred, stored),
            "folder": (model, folder)}


def fit_worker(payload):
    """Measurements 4 and 5: fit clips/s per pipeline, pipelines alternating round by round."""
    import keras

    keras.utils.set_random_seed(SEED)
    settings = payload["settings"]
    batch, steps = settings["batch_size"], settings["steps_per_epoch"]
    pipelines = training_pipelines(payload)
    timings = {name: [] for name in pipelines}

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = (time.perf_counter(), time.process_time())

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append((time.perf_counter() - self._start[0], time.process_time() - self._start[1]))

    for round_ in range(settings["fit_rounds"]):
        for name, (model, dataset) in pipelines.items():
            timer = EpochTimer()
            # Epoch 0 warms up (compiles on the first call, starts the pipeline); epoch 1 is timed.
            model.fit(dataset, epochs=2, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[timer])
            wall, cpu = timer.epochs[1]
            timings[name].append({"clips_per_s": steps * batch / wall, "cpu_ms_per_clip": 1e3 * cpu / (steps * batch),
                                  "warmup_s": timer.epochs[0][0]})
            log(f"[fit] round {round_ + 1}/{settings['fit_rounds']} {name}: {steps * batch / wall:.1f} clips/s, "
                f"{1e3 * cpu / (steps * batch):.1f} CPU-ms/clip (warm-up epoch {timer.epochs[0][0]:.1f}s)")
    result = {"batch_size": batch, "steps_per_epoch": steps, "spec": payload["spec"], "rounds": timings}
    for name, rounds in timings.items():
        result[name] = {"clips_per_s": statistics.median(r["clips_per_s"] for r in rounds),
                        "cpu_ms_per_clip": statistics.median(r["cpu_ms_per_clip"] for r in rounds)}
    # Ratios within a round (the pipelines ran minutes apart at most), then the median over rounds.
    for name, base in (("shards", "memory"), ("folder", "memory"), ("deferred", "shards")):
        result[name][f"ratio_to_{base}"] = statistics.median(
            r["clips_per_s"] / b["clips_per_s"] for r, b in zip(timings[name], timings[base]))
    result["params"] = pipelines["memory"][0].count_params()
    return result


def rss_worker(payload):
    """Measurement 6: peak RSS of this fresh process around decoding one random clip.

    The peak is the kernel's ``VmHWM`` of this process image. ``ru_maxrss``
    (kept in the results) is not used: Linux carries the peak of the process
    image replaced by ``exec`` over, and the subprocess was forked from the
    parent, which held the frames of the long video when it wrote it.
    """
    import resource

    from keras_sportsnet.data import get_decoder
    from keras_sportsnet.data import probe_video
    from keras_sportsnet.data import read_clip
    from keras_sportsnet.data.sampling import ClipGeometry
    from keras_sportsnet.data.sampling import random_clip

    get_decoder()  # loads PyAV and FFmpeg before the baseline
    imports_peak, resident = _proc_status_mb("VmHWM"), _proc_status_mb("VmRSS")
    # Reset VmHWM to the current RSS (Linux >= 4.0): the imports may peak above the decoding.
    reset = _reset_peak_rss()
    info = probe_video(payload["path"])
    clip = random_clip(info.num_frames, ClipGeometry(num_frames=CLIP_FRAMES), [SEED, 6])
    start = time.perf_counter()
    frames = read_clip(payload["path"], list(clip.indices))
    read_s = time.perf_counter() - start
    decoding_peak = _proc_status_mb("VmHWM")
    result = {"name": payload["name"], "num_frames": info.num_frames, "duration_s": info.duration,
              "clip_start": clip.start, "clip_shape": list(frames.shape), "read_s": read_s,
              "peak_rss_mb": max(imports_peak, decoding_peak), "imports_peak_rss_mb": imports_peak,
              "rss_mb_before_decoding": resident, "decoding_peak_rss_mb": decoding_peak if reset else None,
              "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    growth = "" if not reset else f", +{decoding_peak - resident:.1f} MB while probing and decoding"
    log(f"[rss] {payload['name']}: {info.num_frames} frames, clip at {clip.start}: peak RSS {result['peak_rss_mb']:.0f} MB "
        f"({imports_peak:.0f} MB after imports{growth}; ru_maxrss {result['ru_maxrss_mb']:.0f} MB)")
    return result


def predict_worker(payload):
    """Measurement 7: ``keras-sportsnet predict`` (the CLI's ``main``) in this fresh process; its peak RSS.

    The peak is ``VmHWM`` of this process (see `rss_worker` for why not ``ru_maxrss``), read after ``main``
    returns: imports, model loading, decoding, evaluation and printing all count.
    """
    from keras_sportsnet.cli import main as cli_main

    output = payload["json"]
    start = time.perf_counter()
    code = cli_main(["predict", payload["path"], "--weights", payload["preset"], "--quiet", "--json", output])
    elapsed = time.perf_counter() - start
    top = None
    if code == 0 and os.path.exists(output):
        with open(output) as f:
            top = json.load(f)[0]["top"][0]
    result = {"name": payload["name"], "exit_code": code, "peak_rss_mb": _proc_status_mb("VmHWM"),
              "seconds": elapsed, "top": top}
    log(f"[predict] {payload['name']}: exit {code}, peak RSS {result['peak_rss_mb']:.0f} MB, {elapsed:.1f} s, top {top}")
    return result


def _proc_status_mb(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak_rss():
    """Resets the process' VmHWM to its current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _proc_status_mb("VmHWM") is not None
    except OSError:
        return False


WORKERS = {"decode": decode_worker, "reader": reader_worker, "fit": fit_worker, "rss": rss_worker,
           "predict": predict_worker}


def worker_main(kind, payload):
    sys.path.insert(0, REPO_ROOT)
    before = cpu_snapshot()
    result = WORKERS[kind](json.loads(payload))
    result["other_cpu_cores"] = other_cores(before, cpu_snapshot())
    print(RESULT_MARKER + json.dumps(result), flush=True)


# --- parent side ------------------------------------------------------------


def run_worker(kind, payload, backend, timeout):
    """Runs one worker subprocess; returns its result dict, or {"error": ...} if it failed."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED=str(SEED))
    command = [sys.executable, os.path.abspath(__file__), "--worker", kind, json.dumps(payload)]
    start = time.perf_counter()
    try:
        completed = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, timeout=timeout)
        stdout, failure = completed.stdout, f"worker exited with status {completed.returncode}"
    except subprocess.TimeoutExpired as expired:
        stdout, failure = expired.stdout or "", f"worker timed out after {timeout}s"
        if isinstance(stdout, bytes):
            stdout = stdout.decode()
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            result = json.loads(line[len(RESULT_MARKER):])
            result["worker_s"] = time.perf_counter() - start
            return result
    log(f"[{kind}] {failure}")
    return {"error": failure}


def pick_reference(choice):
    if choice == "auto":
        return "ffmpeg" if shutil.which("ffmpeg") else "pyav"
    if choice == "ffmpeg" and not shutil.which("ffmpeg"):
        raise SystemExit("--reference ffmpeg: there is no ffmpeg on PATH")
    return choice


def run_all(args, settings, work_dir):
    """Writes the videos and runs the workers of the measurements asked for; returns the results dict."""
    start = time.perf_counter()
    only = set(args.only)
    skipped = {"error": "not run (--only)"}
    paths = make_videos(work_dir, settings) if only - {"predict"} else {"decode": {}, "dataset": None, "rss": {}}
    predict_paths = write_predict_videos(work_dir, settings) if "predict" in only else {}
    results = {"generation_s": time.perf_counter() - start, "reference": pick_reference(args.reference),
               "decode": skipped, "reader": skipped, "fit": skipped,
               "rss": {"short": skipped, "long": skipped}, "predict": {}}
    timeout = args.worker_timeout
    shard_dir = os.path.join(work_dir, "shards")
    if "decode" in only:
        log("== decode: random clips and evaluation (measurements 1, 2)")
        results["decode"] = run_worker("decode", {"settings": settings, "videos": paths["decode"],
                                                  "reference": results["reference"]}, "numpy", timeout)
    pipeline = {"settings": settings, "dataset": paths["dataset"], "shard_dir": shard_dir, "spec": args.fit_spec}
    if only & {"reader", "fit"}:
        log("== shard reader (measurement 3)")
        results["reader"] = run_worker("reader", pipeline, "tensorflow", timeout)
    if "fit" in only:
        log("== fit throughput per pipeline (measurements 4, 5)")
        if "error" in results["reader"]:
            results["fit"] = {"error": "no shards (the reader worker failed)"}
        else:
            results["fit"] = run_worker("fit", pipeline, "tensorflow", timeout)
    if "rss" in only:
        log("== peak RSS (measurement 6)")
        results["rss"] = {name: run_worker("rss", {"name": name, "path": path}, "numpy", timeout)
                          for name, path in paths["rss"].items()}
    if "predict" in only:
        log("== peak RSS of `keras-sportsnet predict` by frame size (measurement 7)")
        for name, path in predict_paths.items():
            payload = {"name": name, "path": path, "preset": PREDICT_PRESET,
                       "json": os.path.join(work_dir, f"predict_{name}.json")}
            results["predict"][name] = run_worker("predict", payload, "tensorflow", timeout)
    results["elapsed_s"] = time.perf_counter() - start
    return results


def verdict(value, target, at_most=False):
    if value is None:
        return "ERROR"
    return "PASS" if (value <= target if at_most else value >= target) else "MISS"


def build_rows(results):
    """The table: one dict per line (measurement, file, value, reference, ratio, target, result)."""
    rows = []
    t = TARGETS
    descriptions = {key: description for key, description, *_ in DECODE_VIDEOS}

    def row(measurement, file, value, reference, ratio, target, result):
        if result in ("ERROR: not run (--only)", "ERROR: not run"):
            return  # a measurement group left out with --only
        rows.append({"measurement": measurement, "file": file, "value": value, "reference": reference,
                     "ratio": ratio, "target": target, "result": result})

    def error_row(measurement, part):
        row(measurement, "-", "-", "-", "-", "-", "ERROR: " + results[part].get("error", "?"))

    decode = results["decode"]
    if "error" in decode:
        error_row("1. random clip, 1 thread", "decode")
    else:
        for r in decode["random_clips"]:
            note = f" ({r['wrong_clips']} WRONG)" if r["wrong_clips"] else ""
            row("1. random 10-frame clips per CPU-second, `read_clip`, 1 thread", descriptions[r["file"]],
                f"{r['clips_per_cpu_s']:.1f} clips/s{note}",
                f"{r['limit_clips_per_s']:.1f} clips/s = {r['reference_fps']:.0f} fr/s / {r['mean_seek_frames']:.1f} fr",
                f"{r['ratio']:.2f}", f">= {t['decode_ratio']}", verdict(r["ratio"], t["decode_ratio"]))
        e = decode["evaluation"]
        row("2. 20 clips of a video: `read_clips` vs 20 `read_clip`", descriptions[e["file"]],
            f"{e['read_clips_clips_per_s']:.1f} clips/s" + ("" if e["identical"] else " (DIFFERENT FRAMES)"),
            f"{e['read_clip_clips_per_s']:.1f} clips/s", f"{e['speedup']:.2f}x", f">= {t['eval_speedup']:g}x",
            verdict(e["speedup"], t["eval_speedup"]))
    reader = results["reader"]
    if "error" in reader:
        error_row("3. shard reader", "reader")
    else:
        row("3. shard reader, `augmentation=\"paper\"`, CPU per clip", "200x200 JPEG shards -> 10x170x170",
            f"{reader['paper']['cpu_ms_per_clip']:.2f} ms", f"{t['shard_cpu_ms']:g} ms",
            f"{reader['paper']['cpu_ms_per_clip'] / t['shard_cpu_ms']:.2f}", f"<= {t['shard_cpu_ms']:g} ms",
            verdict(reader["paper"]["cpu_ms_per_clip"], t["shard_cpu_ms"], at_most=True))
    fit = results["fit"]
    if "error" in fit:
        error_row("4/5. fit", "fit")
    else:
        memory = fit["memory"]["clips_per_s"]
        model_name = ("tiny " if fit["spec"] == TINY_SPEC else "paper " if fit["spec"] == "paper" else "") + "SlowFusion, 10x170x170"
        for name, label, target in (("shards", "4a. fit fed by shards / in memory", t["fit_shards_ratio"]),
                                    ("folder", "4b. fit fed by on-the-fly decoding / in memory", None)):
            ratio = fit[name]["ratio_to_memory"]
            row(label, model_name, _fit_cell(fit[name]), _fit_cell(fit["memory"]) + " (in memory)", f"{ratio:.2f}",
                "-" if target is None else f">= {target}", "report" if target is None else verdict(ratio, target))
        ratio = fit["deferred"]["ratio_to_shards"]
        winner = ("tie (within 5%)" if abs(ratio - 1) < 0.05 else "in the model wins" if ratio > 1 else "tf.data wins")
        row("5. augmentation in the model (`deferred`) / in tf.data (`paper`)", "shards, " + model_name,
            _fit_cell(fit["deferred"]), _fit_cell(fit["shards"]) + " (tf.data)", f"{ratio:.2f}", "report", winner)
    predict = results.get("predict") or {}
    small, large, uhd = (predict.get(name, {"error": "not run"}) for name, _ in PREDICT_VIDEOS)
    if "error" in small or "error" in large:
        row("7. peak RSS of `keras-sportsnet predict`", "-", "-", "-", "-", "-",
            "ERROR: " + (small.get("error") or large.get("error")))
    else:
        ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
        failed = " (EXIT STATUS " + str(large["exit_code"]) + ")" if large["exit_code"] else ""
        row(f"7. peak RSS of `keras-sportsnet predict` ({PREDICT_PRESET}, 20 clips x 4 views)",
            "H.264, 1920x1080 vs 176x144", f"{large['peak_rss_mb']:.0f} MB{failed}", f"{small['peak_rss_mb']:.0f} MB",
            f"{ratio:.2f}x", f"<= {t['predict_rss_ratio']}x", verdict(ratio, t["predict_rss_ratio"], at_most=True))
    if "error" in uhd:
        row("7b. a 4K video classifies", "-", "-", "-", "-", "-", "ERROR: " + uhd["error"])
    else:
        row("7b. a 4K video classifies (`keras-sportsnet predict`)", "H.264, 3840x2160",
            f"exit status {uhd['exit_code']}, peak {uhd['peak_rss_mb']:.0f} MB", "-", "-", "exit status 0",
            "PASS" if uhd["exit_code"] == 0 else "MISS")
    rss = results["rss"]
    short, long = rss.get("short", {}), rss.get("long", {})
    if "error" in short or "error" in long:
        row("6. peak RSS", "-", "-", "-", "-", "-", "ERROR: " + (short.get("error") or long.get("error")))
    else:
        ratio = long["peak_rss_mb"] / short["peak_rss_mb"]
        row("6. peak RSS (VmHWM) of a fresh process, one random clip", f"160x120 H.264, {_duration(long)} vs {_duration(short)}",
            f"{long['peak_rss_mb']:.0f} MB", f"{short['peak_rss_mb']:.0f} MB", f"{ratio:.3f}x",
            f"<= {t['rss_ratio']}x", verdict(ratio, t["rss_ratio"], at_most=True))
    return rows


def _fit_cell(pipeline):
    return f"{pipeline['clips_per_s']:.1f} clips/s, {pipeline['cpu_ms_per_clip']:.1f} CPU-ms/clip"


def _cores(value):
    return "?" if value is None else f"{value:.2f}"


def _duration(rss):
    seconds = rss["num_frames"] / RSS_FPS
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def markdown_table(rows):
    header = ["measurement", "file", "value", "limit / reference", "ratio", "target", "result"]
    keys = ["measurement", "file", "value", "reference", "ratio", "target", "result"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---", "---", "---:", "---:", "---:", "---", "---"]) + "|"]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def notes(results, args, settings):
    """Lines printed under the table: how each number was made, and what the machine was doing."""
    lines = []
    decode, fit, reader, rss = results["decode"], results["fit"], results["reader"], results["rss"]
    if "error" not in decode:
        if results["reference"] == "ffmpeg":
            source = (f"`ffmpeg -benchmark -threads 1 ... -f null -` (ffmpeg {decode['ffmpeg_version']} CLI, "
                      "utime + stime of the decoding loop)")
        else:
            source = "a single-threaded PyAV pass over the whole file (no `ffmpeg` CLI on PATH)"
        lines.append(f"- Decode limit reference: {source}, median of {settings['reference_repeats']}. "
                     "Limit = sequential frames/s / mean frames a keyframe seek decodes for the same clips "
                     "(keyframe at or before the start through the clip's last frame). Clips/s = clips per "
                     "CPU-second of the reading process (`time.process_time`), one thread.")
        lines.append("- Per file: clips timed; CPU per clip beyond the limit's decoding (= 1/value - 1/limit), and "
                     "apart on the same file: open+close, RGB conversion of 10 fresh frames as the decoder does it "
                     "(`to_ndarray(format=\"rgb24\")`) [with one shared `VideoReformatter`], `np.stack`; PyAV "
                     "sequential decode, 1 thread (and with PyAV's default threading, which `read_clip` keeps); "
                     "keyframes / frames; cores kept busy by other processes meanwhile:")
        for r in decode["random_clips"]:
            o = r["overheads_ms"]
            lines.append(f"  - {r['file']}: {r['clips']} clips; overhead {r['overhead_ms_per_clip']:.2f} ms/clip "
                         f"(open {o['open']:.2f}, RGB {o['rgb']:.2f} [{o['rgb_shared_reformatter']:.2f}], "
                         f"stack {o['stack']:.2f}); PyAV {r['pyav_sequential_fps']:.0f} fr/s "
                         f"({r['pyav_default_threads_sequential_fps']:.0f} with PyAV's default threading); "
                         f"{len(r['keyframes'])} / {r['num_frames']}; other processes "
                         f"{_cores(r['other_cpu_cores'])} cores")
        e = decode["evaluation"]
        lines.append(f"- Evaluation: {e['rounds']} seeded sets of 20 clips, CPU time; both ways returned "
                     f"{'identical' if e['identical'] else 'DIFFERENT'} frames.")
    if "error" not in reader:
        lines.append(f"- Shards: {reader['clips_stored']} clips written by `prepare_shards` in {reader['prepare_s']:.1f} s "
                     f"({reader['disk_kb_per_clip']:.0f} KB/clip); reader CPU = process CPU time over "
                     f"{reader['paper']['clips']} clips in batches of {settings['batch_size']} "
                     f"({reader['paper']['clips_per_wall_s']:.0f} clips/s wall); without the augmentation "
                     f"(`augmentation=\"deferred\"`: JPEG decoding only) {reader['deferred']['cpu_ms_per_clip']:.2f} ms/clip.")
    if "error" not in fit:
        cpu = ", ".join(f"{name} {fit[name]['cpu_ms_per_clip']:.1f}" for name in ("memory", "shards", "deferred", "folder"))
        lines.append(f"- Fit: `SlowFusion(spec=\"{fit['spec']}\")` ({fit['params']} parameters), SGD, batch "
                     f"{fit['batch_size']}, {fit['steps_per_epoch']} steps per epoch; {settings['fit_rounds']} rounds of "
                     "`fit(epochs=2)` per pipeline, the pipelines alternating, epoch 1 of each call timed (epoch 0 = "
                     "warm-up); clips/s = median over rounds, ratios = median of the ratios within a round. "
                     f"Process CPU-ms per clip during fit: {cpu}.")
    if "error" not in rss.get("long", {"error": 1}):
        short, long = rss["short"], rss["long"]
        growth = ""
        if short["decoding_peak_rss_mb"] is not None and long["decoding_peak_rss_mb"] is not None:
            growth = ("; peak growth while probing and decoding (VmHWM reset after the imports): "
                      f"{short['decoding_peak_rss_mb'] - short['rss_mb_before_decoding']:.1f} / "
                      f"{long['decoding_peak_rss_mb'] - long['rss_mb_before_decoding']:.1f} MB")
        lines.append("- Peak RSS: `VmHWM` of a fresh process (KERAS_BACKEND=numpy) after `probe_video` + one "
                     f"`read_clip` ({short['num_frames']} / {long['num_frames']} frames); after the imports alone: "
                     f"{short['imports_peak_rss_mb']:.0f} / {long['imports_peak_rss_mb']:.0f} MB "
                     f"(short / long){growth}. `ru_maxrss` is not used: Linux keeps the peak of the image a process "
                     f"`exec`s from (here the parent, which held the long video's frames): "
                     f"{short['ru_maxrss_mb']:.0f} / {long['ru_maxrss_mb']:.0f} MB.")
    predict = results.get("predict") or {}
    if predict and all("error" not in predict.get(name, {"error": 1}) for name, _ in PREDICT_VIDEOS):
        listing = ", ".join(f"{name}: {predict[name]['peak_rss_mb']:.0f} MB in {predict[name]['seconds']:.0f} s, "
                            f"top-1 {predict[name]['top']['class'] if predict[name]['top'] else '-'}"
                            for name, _ in PREDICT_VIDEOS)
        lines.append(f"- `predict`: {settings['predict_frames']} frames at 176x144 and 1920x1080, "
                     f"{settings['predict_uhd_frames']} at 3840x2160 (H.264, keyframe every 25); `VmHWM` of a fresh "
                     f"process (KERAS_BACKEND=tensorflow) calling the CLI's `main`: {listing}.")
    busy = {k: v.get("other_cpu_cores") for k, v in (("decode", decode), ("reader", reader), ("fit", fit))}
    busy = {k: v for k, v in busy.items() if v is not None}
    if busy:
        listing = ", ".join(f"{k} {v:.2f}" for k, v in busy.items())
        lines.append(f"- Cores kept busy by other processes during the workers: {listing} (of {os.cpu_count()}).")
        if max(busy.values()) > 0.2:
            lines.append("- WARNING: other processes were using the CPU: wall-clock numbers (fit clips/s) are "
                         "low and noisy; the CPU-time numbers and the ratios are the meaningful ones.")
    lines.append(f"- Total {results['elapsed_s']:.0f} s (video generation {results['generation_s']:.0f} s), "
                 f"{'QUICK mode (smoke test: tiny videos, few clips)' if args.quick else 'full run'}.")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Tiny videos, few clips, one round: a smoke test (seconds).")
    parser.add_argument("--json", metavar="PATH", help="Also write every result to this JSON file.")
    parser.add_argument("--reference", choices=("auto", "ffmpeg", "pyav"), default="auto",
                        help="Sequential-decode reference of the decode limit (auto: ffmpeg if on PATH, else PyAV).")
    parser.add_argument("--fit-spec", default=TINY_SPEC,
                        help="Layer spec of the SlowFusion trained in measurements 4-5 ('paper': the paper's network; "
                             "default: a tiny one, so that the data pipeline matters).")
    parser.add_argument("--work-dir", help="Write the videos and shards here and keep them (default: a temporary folder).")
    parser.add_argument("--worker-timeout", type=int, default=1800, help="Seconds before a worker is killed.")
    parser.add_argument("--only", type=lambda text: [part for part in text.split(",") if part], default=list(MEASUREMENTS),
                        help=f"Comma-separated measurement groups to run, of {','.join(MEASUREMENTS)} (default: all). "
                             "decode = 1-2, reader = 3, fit = 4-5, rss = 6, predict = 7.")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "PAYLOAD"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    unknown = sorted(set(args.only) - set(MEASUREMENTS))
    if unknown:
        raise SystemExit(f"--only: unknown measurement group(s) {unknown}; choose from {list(MEASUREMENTS)}")
    if args.worker:
        return worker_main(*args.worker)
    sys.path.insert(0, REPO_ROOT)
    os.environ.setdefault("KERAS_BACKEND", "numpy")  # the parent only writes videos
    settings = SETTINGS["quick" if args.quick else "full"]
    if args.work_dir:
        os.makedirs(args.work_dir, exist_ok=True)
        results = run_all(args, settings, args.work_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as work_dir:
            results = run_all(args, settings, work_dir)
    rows = build_rows(results)
    mode = "QUICK smoke test" if args.quick else "full run"
    print(f"keras_sportsnet data pipeline benchmark ({mode}), {os.cpu_count()} CPU cores\n")
    print(markdown_table(rows))
    print()
    print(notes(results, args, settings))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items() if k != "worker"}, "settings": settings,
                       "targets": TARGETS, "rows": rows, "results": results}, f, indent=1)
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
