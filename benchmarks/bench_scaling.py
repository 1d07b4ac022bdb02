"""Data-parallel scaling benchmark: 1 vs 2 devices, the shard reader per host, and a Sports-1M projection.

Measured on the local machine, in one run:

1. **Data-parallel training throughput**, clips/s of ``model.fit`` on a
   global batch split over 1 and over 2 devices, with the package's
   `keras_sportsnet.distributed.setup`: TensorFlow `MirroredStrategy` and
   JAX `DataParallel`. On a machine with GPUs the devices are real GPUs
   (1 and then 2 of them); without, the CPU is split into 2 logical (TF) or
   fake (JAX) devices, which share the same cores: there the "scaling
   efficiency" ``clips/s(2) / (2 x clips/s(1))`` measures the overhead of the
   data-parallel step (splitting, all-reduce, one extra program) rather than
   a GPU speed-up (see the note printed under the table).
   Each (backend, devices) point runs in its own subprocess (device counts
   are fixed at import): one `fit` of 2 untimed warm-up steps (the first
   compiles) then ``--steps`` timed steps, each step's loss read back; the model is a tiny SlowFusion on 10 x 64 x 64 clips (``--spec``).
2. **Prepared-shard reader, clips/s per host**: `prepare_shards` on small
   generated videos (paper geometry: 10 frames, 200 x 200 stored JPEG, 170 x
   170 random crops and flips), then `shard_dataset` read in a loop with no
   model, one process: what one host's input pipeline can feed.
3. **Projection** of the time to train paper-size slow fusion on
   Sports-1M-sized data, 500 M clips seen (the paper: ~a month on 10-50
   replicas), on ``--gpus`` (8) devices::

       days = clips_seen / (per_device_clips_per_s x devices x efficiency) / 86400

   with the per-device training rate **measured here** for the paper's slow
   fusion (batch ``--paper-batch``, TensorFlow, this machine's only device:
   the CPU), or given with ``--per-device-clips-per-s`` (e.g. from
   ``bench_models.py`` on a GPU). It is a projection: it assumes the input
   pipeline keeps up (compare row 2 x hosts) and the measured or stated
   efficiency; it is printed as such.

Usage::

    python benchmarks/bench_scaling.py                    # ~3-5 min on 2 CPU cores
    python benchmarks/bench_scaling.py --per-device-clips-per-s 900 --gpus 8
    python benchmarks/bench_scaling.py --skip-paper-model --backends jax

Writes ``benchmarks/results/scaling.json`` and ``scaling.md`` (``--output``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT_MARKER = "@@BENCH_RESULT@@ "
PAPER_CLIPS_SEEN = 500_000_000
TINY_SPEC = "C(16,5,2)-N-P-C(24,3,1)-N-P-FC(64)"


def log(message):
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------- workers


def _train_worker(args):
    """One (backend, devices) training measurement; prints a JSON line."""
    os.environ["KERAS_BACKEND"] = args.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    import keras_sportsnet as ksn
    from keras_sportsnet import distributed

    if args.gpus_present >= args.devices:
        kind = "gpu"
        devices = _gpu_devices(args.backend, args.devices)
    else:
        kind = "cpu (simulated)" if args.devices > 1 else "cpu"
        if args.devices > 1:
            distributed.simulate_cpu_devices(args.devices)
        devices = None
        if args.backend == "tensorflow":
            import tensorflow as tf

            tf.config.set_visible_devices([], "GPU")
            devices = [f"/cpu:{i}" for i in range(args.devices)]
    engine = "data_parallel" if args.backend == "jax" else ("mirrored" if args.devices > 1 or kind == "gpu" else "none")
    context = distributed.setup(engine, devices=devices, seed=0)
    frames, size = (10, 170) if args.paper else (10, args.size)
    batch = args.batch
    with context.scope():
        model = ksn.SlowFusion(spec=None if args.paper else args.spec, input_shape=(frames, size, size, 3),
                               classes=487 if args.paper else 16)
        model.compile(keras.optimizers.SGD(1e-3, momentum=0.9), "sparse_categorical_crossentropy")
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch, frames, size, size, 3)).astype("float32")
    y = rng.integers(0, model.output.shape[-1], (batch,)).astype("int32")
    data = tf.data.Dataset.from_tensors((x, y)).repeat()

    class Clock(keras.callbacks.Callback):
        """Times the steps after the warm-up ones (the first compiles); reading the loss waits for the step."""

        def on_train_batch_end(self, batch, logs=None):
            float(logs["loss"])
            if batch + 1 == args.warmup_steps:
                self.start = time.perf_counter()
            self.end = time.perf_counter()

    clock = Clock()
    model.fit(data, steps_per_epoch=args.warmup_steps + args.steps, epochs=1, verbose=0, callbacks=[clock])
    seconds = clock.end - clock.start
    print(RESULT_MARKER + json.dumps({
        "backend": args.backend, "devices": context.num_replicas, "kind": kind, "engine": context.engine,
        "global_batch": batch, "steps": args.steps, "seconds": seconds,
        "clips_per_s": batch * args.steps / seconds, "paper": args.paper,
        "input": f"{frames}x{size}x{size}", "spec": "paper" if args.paper else args.spec,
    }), flush=True)


def gpu_count(backend):
    """GPUs the backend sees, asked in a subprocess (asking initialises the backend, fixing its device count)."""
    code = ("import os, sys; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
            "try:\n"
            "    if sys.argv[1] == 'jax':\n"
            "        import jax; n = len([d for d in jax.devices() if d.platform == 'gpu'])\n"
            "    else:\n"
            "        import tensorflow as tf; n = len(tf.config.list_physical_devices('GPU'))\n"
            "except Exception:\n"
            "    n = 0\n"
            "print('GPUS', n)\n")
    proc = subprocess.run([sys.executable, "-c", code, backend], capture_output=True, text=True, timeout=300)
    counts = [int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("GPUS ")]
    return counts[0] if counts else 0


def _gpu_devices(backend, count):
    if backend == "jax":
        import keras

        return [d for d in keras.distribution.list_devices("gpu")][:count]
    return [f"/gpu:{i}" for i in range(count)]


def _run_worker(extra, timeout):
    command = [sys.executable, os.path.abspath(__file__), "--worker", *extra]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO_ROOT)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    raise RuntimeError(f"worker {extra} failed (rc {proc.returncode}):\n" + "\n".join(
        (proc.stdout + proc.stderr).splitlines()[-25:]))


# --------------------------------------------------------------------------------------------- measurements


def measure_scaling(args):
    rows = []
    for backend in args.backends:
        points = {}
        gpus = gpu_count(backend)
        log(f"{backend}: {gpus} GPU(s) visible" + ("" if gpus >= 2 else "; splitting the CPU into simulated devices"))
        for devices in (1, 2):
            log(f"training throughput: {backend}, {devices} device(s)...")
            result = _run_worker(["train", "--backend", backend, "--devices", str(devices), "--batch",
                                  str(args.global_batch), "--steps", str(args.steps), "--spec", args.spec,
                                  "--size", str(args.size), "--gpus-present", str(gpus)], args.timeout)
            points[devices] = result
            rows.append(result)
        efficiency = points[2]["clips_per_s"] / (2 * points[1]["clips_per_s"])
        for devices in (1, 2):
            points[devices]["scaling_efficiency"] = efficiency if devices == 2 else 1.0
    return rows


def measure_shard_reader(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras_sportsnet as ksn
    from keras_sportsnet.testing.videos import index_frames
    from keras_sportsnet.data.encoding import write_video

    with tempfile.TemporaryDirectory() as scratch:
        videos = os.path.join(scratch, "videos")
        for label in range(4):
            os.makedirs(os.path.join(videos, f"class{label}"))
            for video in range(args.reader_videos // 4):
                write_video(os.path.join(videos, f"class{label}", f"v{video}.mp4"),
                            index_frames(40, 320, 240, seed=10 * label + video))
        out = os.path.join(scratch, "shards")
        log(f"prepare_shards: {args.reader_videos} videos x {args.reader_clips_per_video} clips...")
        start = time.perf_counter()
        index = ksn.data.prepare_shards(ksn.data.read_video_folder(videos), out, num_frames=10, image_size=170,
                                        resize_to=200, clips_per_video=args.reader_clips_per_video, num_files=4,
                                        seed=0, verbose=False)
        prepare_seconds = time.perf_counter() - start
        rows = []
        for label, shard in (("1 host reads all 4 files", None), ("1 of 2 hosts: every 2nd file", (2, 0))):
            data = ksn.data.shard_dataset(out, batch_size=32, seed=0, shard=shard)
            stream = iter(data.as_tf_dataset())
            next(stream)  # warm-up (graph building, first files opened)
            clips, start = 0, time.perf_counter()
            while time.perf_counter() - start < args.reader_seconds:
                clips += int(next(stream)[0].shape[0])
            seconds = time.perf_counter() - start
            rows.append({"reader": label, "clips": clips, "seconds": seconds, "clips_per_s": clips / seconds})
        return {"prepare_clips": index["clips"], "prepare_seconds": prepare_seconds,
                "prepare_clips_per_s": index["clips"] / prepare_seconds, "rows": rows}


def projection(per_device, devices, efficiency, clips=PAPER_CLIPS_SEEN):
    seconds = clips / (per_device * devices * efficiency)
    return seconds / 86400


# ---------------------------------------------------------------------------------------------------- report


def markdown(results):
    lines = ["### Data-parallel training (model.fit, global batch split over the devices)", "",
             "| backend | engine | devices | kind | model, clip | global batch | clips/s | scaling efficiency |",
             "|---|---|---|---|---|---|---|---|"]
    for row in results["training"]:
        lines.append(f"| {row['backend']} | {row['engine']} | {row['devices']} | {row['kind']} | tiny SlowFusion "
                     f"`{row['spec']}`, {row['input']} | {row['global_batch']} | {row['clips_per_s']:.1f} | "
                     f"{row['scaling_efficiency']:.2f} |")
    lines += ["", "Scaling efficiency = clips/s on 2 devices / (2 x clips/s on 1 device), both measured in this run."]
    if any(row["kind"].startswith("cpu") for row in results["training"]):
        lines += ["Simulated devices share this machine's CPU cores, so this ratio is not a GPU scaling figure: it "
                  "shows what the data-parallel step costs or gains on shared cores (0.5 = the same clips/s as one "
                  "device). On a busy 2-core machine it varies from run to run."]
    reader = results.get("reader")
    if reader:
        lines += ["", "### Prepared-shard reader (shard_dataset, paper geometry 10 x 170 x 170, paper augmentation, "
                  "batches of 32, no model)", "",
                  "| reader | clips/s per host |", "|---|---|"]
        for row in reader["rows"]:
            lines.append(f"| {row['reader']} | {row['clips_per_s']:.1f} |")
        lines += ["", f"prepare_shards wrote {reader['prepare_clips']} clips in {reader['prepare_seconds']:.1f} s "
                  f"({reader['prepare_clips_per_s']:.1f} clips/s, one host)."]
    proj = results["projection"]
    lines += ["", "### PROJECTION (not a measurement): slow fusion, paper size, Sports-1M-sized training", "",
              f"days = {PAPER_CLIPS_SEEN:,} clips seen / (per-device clips/s x {proj['devices']} devices x efficiency)"
              " / 86400", "",
              "| per-device clips/s | source | devices | efficiency | projected days |", "|---|---|---|---|---|"]
    for row in proj["rows"]:
        lines.append(f"| {row['per_device']:.2f} | {row['source']} | {row['devices']} | {row['efficiency']:.2f} | "
                     f"{row['days']:,.1f} |")
    lines += ["", proj["note"]]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", choices=("train",), help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--devices", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=16, help=argparse.SUPPRESS)
    parser.add_argument("--paper", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--warmup-steps", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--gpus-present", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--backends", default="tensorflow,jax")
    parser.add_argument("--global-batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per point")
    parser.add_argument("--spec", default=TINY_SPEC)
    parser.add_argument("--size", type=int, default=64, help="frame side of the tiny model's clips")
    parser.add_argument("--reader-videos", type=int, default=16)
    parser.add_argument("--reader-clips-per-video", type=int, default=4)
    parser.add_argument("--reader-seconds", type=float, default=8.0)
    parser.add_argument("--skip-reader", action="store_true")
    parser.add_argument("--skip-paper-model", action="store_true", help="no paper-size measurement (needs the override)")
    parser.add_argument("--paper-batch", type=int, default=4)
    parser.add_argument("--paper-steps", type=int, default=3)
    parser.add_argument("--per-device-clips-per-s", type=float,
                        help="paper slow fusion training clips/s of ONE device (e.g. a GPU): used for the projection")
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--efficiency", type=float, default=0.9,
                        help="scaling efficiency assumed on real GPUs for the second projection row (default 0.9)")
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--output", default=os.path.join(REPO_ROOT, "benchmarks", "results"))
    args = parser.parse_args(argv)
    if args.worker:
        args.steps = args.paper_steps if args.paper else args.steps
        return _train_worker(args)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    results = {"training": measure_scaling(args)}
    if not args.skip_reader:
        results["reader"] = measure_shard_reader(args)
    rows = []
    if not args.skip_paper_model:
        log("paper-size slow fusion, one device, tensorflow...")
        paper = _run_worker(["train", "--backend", "tensorflow", "--devices", "1", "--paper",
                             "--gpus-present", str(gpu_count("tensorflow")), "--batch",
                             str(args.paper_batch), "--paper-steps", str(args.paper_steps)], args.timeout)
        results["paper_model"] = paper
        rows.append({"per_device": paper["clips_per_s"], "source": f"measured here ({paper['kind']}, batch "
                     f"{paper['global_batch']})", "devices": args.gpus, "efficiency": 1.0})
    if args.per_device_clips_per_s:
        rows.append({"per_device": args.per_device_clips_per_s, "source": "--per-device-clips-per-s",
                     "devices": args.gpus, "efficiency": 1.0})
    rows += [{**row, "efficiency": args.efficiency} for row in list(rows)]
    for row in rows:
        row["days"] = projection(row["per_device"], row["devices"], row["efficiency"])
    results["projection"] = {
        "clips_seen": PAPER_CLIPS_SEEN, "devices": args.gpus, "rows": rows,
        "note": ("A projection from one device's measured training rate, assuming the input pipeline keeps up and "
                 "the stated efficiency (1.0 = ideal; the assumed --efficiency for real GPUs). The only device "
                 "measured here is a CPU; pass --per-device-clips-per-s with a GPU measurement "
                 "(e.g. bench_models.py training clips/s of slow fusion) for a GPU projection."),
    }
    text = markdown(results)
    print(text)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "scaling.json"), "w") as file:
        json.dump(results, file, indent=1)
    with open(os.path.join(args.output, "scaling.md"), "w") as file:
        file.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
