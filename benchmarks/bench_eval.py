"""Video-level evaluation throughput and memory (the paper's 20 clips x 4 views).

Measured in one run, on videos this script writes itself:

1. ``evaluate_videos`` videos/s over the same model's pure inference rate,
   both at the same batch size and in the same process: the model-only rate
   is ``predict_on_batch`` on views already in memory, divided by the 80
   views of a video. Target: >= 0.8 (decoding, view cutting and aggregation
   overlap the model instead of adding to it).
2. Peak memory (``VmHWM`` of a fresh process after its imports) of evaluating
   one 30-minute video vs one 1-minute video with the same protocol. Target:
   within 10%.

Usage::

    python benchmarks/bench_eval.py                 # paper-size Slow Fusion, ~5 min on 2 cores
    python benchmarks/bench_eval.py --quick         # a tiny model and short videos, ~1 min
    python benchmarks/bench_eval.py --json out.json

Progress goes to stderr, the table to stdout. ``--spec`` picks another network;
the default is the paper's (the protocol matters most when the model is heavy).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

QUICK_SPEC = "C(8,5,2)-N-P-C(16,3,1)-P-FC(32)"
RSS_SCRIPT = """
import os, sys, json
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras_sportsnet as ksn
from keras_sportsnet.evaluation.runner import evaluate_videos

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
path, spec = sys.argv[1], sys.argv[2]
model = ksn.SlowFusion(spec=spec, input_shape=(10, 64, 64, 3), classes=5)
videos = ksn.data.VideoList((path,), ((0,),), tuple("abcde"))
evaluate_videos(model, videos, clips_per_video=1, views=1, seed=0, verbose=False)   # warm-up: graphs, imports
before = hwm()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")   # reset VmHWM to the current RSS
evaluate_videos(model, videos, clips_per_video=20, views=4, seed=1, verbose=False)
print(json.dumps({"after_warmup": before, "peak": hwm()}))
"""


def log(message):
    print(message, file=sys.stderr, flush=True)


def write_videos(folder, count, frames, height, width):
    from keras_sportsnet.testing.videos import index_frames
    from keras_sportsnet.data.encoding import write_video

    paths = []
    for index in range(count):
        path = os.path.join(folder, f"video_{index:03d}.mp4")
        write_video(path, index_frames(frames, height, width, seed=index), fps=25, keyframe_interval=250)
        paths.append(path)
    return paths


def throughput(args, folder):
    import keras
    import numpy as np

    import keras_sportsnet as ksn
    from keras_sportsnet.evaluation.runner import evaluate_videos

    log(f"writing {args.videos} test videos ({args.frames} frames, 240x320 H.264, keyframe every 250)")
    paths = write_videos(folder, args.videos, args.frames, 240, 320)
    keras.utils.set_random_seed(0)
    spec = args.spec or (QUICK_SPEC if args.quick else ksn.PAPER_SPEC)
    model = ksn.SlowFusion(spec=spec, classes=487, weights=None)
    videos = ksn.data.VideoList(tuple(paths), tuple((0,) for _ in paths), ())
    views = np.random.default_rng(0).integers(0, 256, (args.batch_size, *model.input.shape[1:]), np.uint8)
    batch = keras.ops.convert_to_tensor(views.astype("float32"))
    model.predict_on_batch(batch)  # compile
    log("model-only rate ...")
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < args.min_seconds:
        keras.ops.convert_to_numpy(model.predict_on_batch(batch))
        calls += 1
    model_views_per_s = calls * args.batch_size / (time.perf_counter() - start)
    log(f"  {model_views_per_s:.1f} views/s")
    evaluate_videos(model, ksn.data.VideoList(tuple(paths[:1]), ((0,),), ()), clips_per_video=2, views=4,
                    batch_size=args.batch_size, verbose=False)  # warm-up of the evaluation graph
    log(f"evaluate_videos on {len(paths)} videos x 20 clips x 4 views ...")
    start = time.perf_counter()
    scores = evaluate_videos(model, videos, clips_per_video=20, views=4, seed=0, batch_size=args.batch_size,
                             verbose=True)
    seconds = time.perf_counter() - start
    evaluation = len(paths) / seconds
    model_only = model_views_per_s / 80
    return {
        "spec": spec,
        "params": model.count_params(),
        "batch_size": args.batch_size,
        "videos": len(paths),
        "model_views_per_s": model_views_per_s,
        "model_only_videos_per_s": model_only,
        "evaluation_videos_per_s": evaluation,
        "ratio": evaluation / model_only,
        "scores_shape": list(scores.logits.shape),
    }


def memory(args, folder):
    minutes = (0.25, 2.0) if args.quick else (1.0, 30.0)
    results = {}
    for length in minutes:
        frames = int(length * 60 * 25)
        path = os.path.join(folder, f"long_{length:g}min.mp4")
        log(f"writing a {length:g}-minute 120x160 video ({frames} frames) ...")
        chunk = 1500
        _write_long(path, frames, chunk)
        script = os.path.join(folder, "rss.py")
        with open(script, "w") as file:
            file.write(RSS_SCRIPT)
        done = subprocess.run([sys.executable, script, path, QUICK_SPEC], capture_output=True, text=True, timeout=1800)
        if done.returncode:
            raise RuntimeError(done.stderr[-2000:])
        results[f"{length:g}min"] = json.loads(done.stdout.strip().splitlines()[-1])
        log(f"  peak {results[f'{length:g}min']['peak'] / 2**20:.0f} MB")
    return results


def _write_long(path, frames, chunk):
    """A long small video written chunk by chunk (never all frames in memory)."""
    import av
    import numpy as np

    from keras_sportsnet.testing.videos import index_frames

    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.options = {"g": "250", "preset": "ultrafast"}
        for start in range(0, frames, chunk):
            block = index_frames(min(chunk, frames - start), 120, 160, seed=start)
            for image in block:
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny model, fewer and shorter videos")
    parser.add_argument("--spec", help="layer shorthand of the Slow Fusion model (default: the paper's)")
    parser.add_argument("--videos", type=int, default=None, help="test videos (default 6, quick 4)")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--min-seconds", type=float, default=10.0)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    args.videos = args.videos or (4 if args.quick else 6)
    if args.quick:
        args.min_seconds = min(args.min_seconds, 3.0)
    with tempfile.TemporaryDirectory(prefix="bench_eval_") as folder:
        speed = throughput(args, folder)
        peaks = memory(args, folder)
    short, long = (peaks[k]["peak"] for k in peaks)
    memory_ratio = long / short
    rows = [
        ["evaluation / model-only videos/s", f"SlowFusion {speed['spec'][:28]}{'...' if len(speed['spec']) > 28 else ''}",
         f"{speed['evaluation_videos_per_s']:.3f}", f"{speed['model_only_videos_per_s']:.3f}", f"{speed['ratio']:.2f}",
         ">= 0.80", "PASS" if speed["ratio"] >= 0.8 else "MISS"],
        [f"peak memory, {list(peaks)[1]} vs {list(peaks)[0]} video", "tiny SlowFusion, 20 clips x 4 views",
         f"{long / 2**20:.0f} MB", f"{short / 2**20:.0f} MB", f"{memory_ratio:.3f}", "<= 1.10",
         "PASS" if memory_ratio <= 1.10 else "MISS"],
    ]
    header = ["measurement", "model", "value", "reference", "ratio", "target", "result"]
    print(f"keras_sportsnet video-level evaluation benchmark{' (quick)' if args.quick else ''}, {os.cpu_count()} CPU cores\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\n- {speed['videos']} videos of {args.frames} frames (240x320 H.264, keyframe every 250), batch "
          f"{speed['batch_size']}; model-only = {speed['model_views_per_s']:.1f} views/s on views in memory / 80 views "
          f"per video; {speed['params']:,} parameters.")
    warmed = ", ".join(f"{key} {value['after_warmup'] / 2**20:.0f} MB" for key, value in peaks.items())
    print(f"- Peak memory = VmHWM of a fresh process, reset after a warm-up evaluation (imports and graphs excluded); "
          f"after warm-up: {warmed}.")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"throughput": speed, "memory": peaks}, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
