"""Video-level evaluation: throughput against the model alone, and memory against frame size and length.

Measured in one run, on videos this script writes itself:

1. **Overlap.** ``evaluate_videos`` videos/s over the same model's pure
   inference rate, at the same batch size and in the same process: the
   model-only rate is ``predict_on_batch`` on float32 views already in memory,
   divided by the views of a video (20 clips x 4 views). Target: >= 0.85
   (decoding and view cutting run on threads while the model works, instead
   of adding to it).
2. **Frame size.** Peak memory (``VmHWM``) of a fresh process that classifies
   one 10-second 1920x1080 video with ``predict_video`` and the shipped
   ``slow_fusion_synthetic`` preset, over the same for a 176x144 video of the
   same length (frames are scaled down while they are decoded). Target: <= 1.25.
3. **Length.** Peak memory of evaluating a long video over a short one (same
   protocol, tiny model). Target: <= 1.10.

The peaks of 2 and 3 are of the whole process (imports included) and, in
brackets, above the process's memory after a warm-up call (the part the
evaluation itself adds).

Usage::

    python benchmarks/bench_eval.py                 # paper-size Slow Fusion, ~10 min on 2 cores
    python benchmarks/bench_eval.py --quick         # a small model, fewer and shorter videos, ~3 min
    python benchmarks/bench_eval.py --json out.json

Progress goes to stderr, the table to stdout. The machine should be quiet:
other work on the cores lowers the overlap ratio.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

QUICK_SPEC = "C(16,5,2)-N-P-C(32,3,1)-N-P-C(32,3,1)-P-FC(64)-FC(64)"
TINY_SPEC = "C(8,5,2)-N-P-C(16,3,1)-P-FC(32)"
RSS_SCRIPT = """
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras_sportsnet as ksn

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

mode, path, warmup = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "predict":
    model = ksn.from_preset("slow_fusion_synthetic")
    run = lambda video: ksn.predict_video(video, model=model)
else:
    model = ksn.SlowFusion(spec=sys.argv[4], input_shape=(10, 64, 64, 3), classes=5)
    run = lambda video: ksn.evaluate_videos(model, video, clips_per_video=20, views=4, verbose=False)
run(warmup)   # imports, graphs, thread start-up
after_warmup = status("VmRSS")
with open("/proc/self/clear_refs", "w") as file:
    file.write("5")   # VmHWM := the current RSS
run(path)
print(json.dumps({"after_warmup": after_warmup, "peak": status("VmHWM")}))
"""


def log(message):
    print(message, file=sys.stderr, flush=True)


def write_video(path, frames, height, width, fps=25, keyframe_interval=250, chunk=250):
    """An index-coded H.264 video written chunk by chunk (never all frames in memory)."""
    import av
    import numpy as np

    from keras_sportsnet.testing.videos import index_frames

    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(keyframe_interval), "preset": "ultrafast"}
        for start in range(0, frames, chunk):
            block = index_frames(min(chunk, frames - start), height, width, seed=start)
            for image in block:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def throughput(args, folder):
    import keras
    import numpy as np

    import keras_sportsnet as ksn

    log(f"writing {args.videos} test videos ({args.frames} frames, 240x320 H.264, keyframe every 250)")
    paths = [write_video(os.path.join(folder, f"video_{i:03d}.mp4"), args.frames, 240, 320) for i in range(args.videos)]
    keras.utils.set_random_seed(0)
    spec = args.spec or (QUICK_SPEC if args.quick else ksn.PAPER_SPEC)
    image_size = 56 if args.quick else 170
    model = ksn.SlowFusion(spec=spec, input_shape=(10, image_size, image_size, 3), classes=487)
    views = np.random.default_rng(0).integers(0, 256, (args.batch_size, *model.input.shape[1:])).astype("float32")
    model.predict_on_batch(views)  # compile

    def model_only(seconds):
        calls, start = 0, time.perf_counter()
        while calls < 3 or time.perf_counter() - start < seconds:
            keras.ops.convert_to_numpy(model.predict_on_batch(views))
            calls += 1
        return calls * args.batch_size / (time.perf_counter() - start)

    log("model-only rate ...")
    before = model_only(args.min_seconds / 2)
    ksn.evaluate_videos(model, paths[:1], clips_per_video=2, batch_size=args.batch_size, verbose=False)  # warm-up
    log(f"evaluate_videos on {len(paths)} videos x 20 clips x 4 views ...")
    start = time.perf_counter()
    scores = ksn.evaluate_videos(model, paths, clips_per_video=20, views=4, batch_size=args.batch_size,
                                 workers=args.workers, verbose=True)
    seconds = time.perf_counter() - start
    after = model_only(args.min_seconds / 2)  # before and after: a load that drifts during the run cancels out
    model_views_per_s = (before + after) / 2
    log(f"  model only {before:.1f} views/s before, {after:.1f} after")
    evaluation = len(paths) / seconds
    model_videos_per_s = model_views_per_s / 80
    log(f"  {evaluation:.3f} videos/s vs {model_videos_per_s:.3f} model-only")
    return {
        "spec": spec,
        "image_size": image_size,
        "params": model.count_params(),
        "batch_size": args.batch_size,
        "videos": len(paths),
        "model_views_per_s": model_views_per_s,
        "model_views_per_s_before_after": [before, after],
        "model_only_videos_per_s": model_videos_per_s,
        "evaluation_videos_per_s": evaluation,
        "ratio": evaluation / model_videos_per_s,
        "model_busy": scores.metadata["model_seconds"] / scores.metadata["seconds"],
        "scores_shape": list(scores.logits.shape),
    }


def _peak(folder, mode, path, warmup, spec=""):
    script = os.path.join(folder, "rss.py")
    with open(script, "w") as file:
        file.write(RSS_SCRIPT)
    done = subprocess.run([sys.executable, script, mode, path, warmup, spec], capture_output=True, text=True,
                          timeout=1800)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def frame_size_memory(args, folder):
    seconds = 4 if args.quick else 10
    warmup = write_video(os.path.join(folder, "warmup.mp4"), 30, 144, 176)
    results = {}
    for name, (height, width) in (("176x144", (144, 176)), ("1920x1080", (1080, 1920))):
        log(f"writing a {seconds} s {name} video ...")
        path = write_video(os.path.join(folder, f"size_{name}.mp4"), seconds * 25, height, width)
        results[name] = _peak(folder, "predict", path, warmup)
        log(f"  predict_video peak {results[name]['peak'] / 2**20:.0f} MB")
    return results


def length_memory(args, folder):
    minutes = (0.25, 2.0) if args.quick else (1.0, 30.0)
    warmup = write_video(os.path.join(folder, "warmup_small.mp4"), 30, 120, 160)
    results = {}
    for length in minutes:
        frames = int(length * 60 * 25)
        log(f"writing a {length:g}-minute 120x160 video ({frames} frames) ...")
        path = write_video(os.path.join(folder, f"long_{length:g}min.mp4"), frames, 120, 160, chunk=1500)
        results[f"{length:g}min"] = _peak(folder, "evaluate", path, warmup, TINY_SPEC)
        log(f"  evaluate_videos peak {results[f'{length:g}min']['peak'] / 2**20:.0f} MB")
    return results


def _memory_row(label, model, peaks, target):
    (small_name, small), (large_name, large) = peaks.items()
    ratio = large["peak"] / small["peak"]
    added = [max(p["peak"] - p["after_warmup"], 0) / 2**20 for p in (large, small)]
    return [f"{label}: {large_name} vs {small_name}", model, f"{large['peak'] / 2**20:.0f} MB (+{added[0]:.0f})",
            f"{small['peak'] / 2**20:.0f} MB (+{added[1]:.0f})", f"{ratio:.3f}", f"<= {target:.2f}",
            "PASS" if ratio <= target else "MISS"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small model, fewer and shorter videos")
    parser.add_argument("--spec", help="layer shorthand of the Slow Fusion model (default: the paper's)")
    parser.add_argument("--videos", type=int, default=None, help="test videos (default 6, quick 4)")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=None, help="decoding threads (default: evaluate_videos')")
    parser.add_argument("--min-seconds", type=float, default=10.0)
    parser.add_argument("--skip-memory", action="store_true", help="only the throughput row")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    args.videos = args.videos or (4 if args.quick else 6)
    if args.quick:
        args.min_seconds = min(args.min_seconds, 3.0)
    with tempfile.TemporaryDirectory(prefix="bench_eval_") as folder:
        speed = throughput(args, folder)
        sizes = lengths = None
        if not args.skip_memory:
            sizes = frame_size_memory(args, folder)
            lengths = length_memory(args, folder)
    spec = speed["spec"]
    rows = [
        ["evaluation / model-only videos/s", f"SlowFusion {spec[:28]}{'...' if len(spec) > 28 else ''}",
         f"{speed['evaluation_videos_per_s']:.3f}", f"{speed['model_only_videos_per_s']:.3f}", f"{speed['ratio']:.2f}",
         ">= 0.85", "PASS" if speed["ratio"] >= 0.85 else "MISS"],
    ]
    if sizes:
        rows.append(_memory_row("peak memory, predict_video", "slow_fusion_synthetic preset", sizes, 1.25))
        rows.append(_memory_row("peak memory, evaluate_videos", "tiny SlowFusion, 20 clips x 4 views", lengths, 1.10))
    header = ["measurement", "model", "value", "reference", "ratio", "target", "result"]
    print(f"keras_sportsnet video-level evaluation benchmark{' (quick)' if args.quick else ''}, "
          f"{os.cpu_count()} CPU cores, Keras backend {os.environ.get('KERAS_BACKEND', 'tensorflow')}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\n- The model was busy {100 * speed['model_busy']:.0f}% of the evaluation's wall time (the rest: waiting "
          "for decoded videos); this share does not drift with the machine's load as the rate ratio does.")
    print(f"- {speed['videos']} videos of {args.frames} frames (240x320 H.264, keyframe every 250), batch "
          f"{speed['batch_size']}, {speed['image_size']}x{speed['image_size']} crops; model-only = "
          f"{speed['model_views_per_s']:.1f} views/s on float32 views in memory / 80 views per video; "
          f"{speed['params']:,} parameters.")
    if sizes:
        print("- Peak memory = VmHWM of a fresh process (imports included); in brackets, above its RSS after a "
              "warm-up call.")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"throughput": speed, "frame_size_memory": sizes, "length_memory": lengths}, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
