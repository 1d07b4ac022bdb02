"""Throughput benchmark of the paper's architectures (Karpathy et al., CVPR 2014).

For every Table 1 architecture (`keras_sportsnet.analysis.ARCHITECTURES`) and
every Keras backend asked for, this script measures on the local machine:

- parameters and analytic forward GFLOPs per clip (`count_flops`);
- inference clips/s at each batch size (default 8 and 32), float32, with
  ``model.predict_on_batch`` on inputs already converted to backend tensors.
  That is Keras' standard compiled path on each backend: a ``tf.function``
  without XLA on TensorFlow (Keras' "auto" picks ``jit_compile=False`` on
  CPU-only machines; XLA makes Conv3D several times slower on CPU) and a
  ``jax.jit``-compiled step on JAX;
- training clips/s at the reference batch (the largest batch size, 32 by
  default): ``model.compile(SGD(momentum=0.9), "sparse_categorical_crossentropy")``
  then ``model.train_on_batch``; a training step counts 3 x forward FLOPs;
- the GEMM peak of the same process: GFLOP/s of an N x N float32 matmul
  (N=4096) with the backend's own matmul (``tf.linalg.matmul`` /
  ``jax.jit(jnp.dot)``), best of several repetitions, and from it the MFU
  (achieved FLOP/s / GEMM peak) of inference and training at the reference batch;
- bfloat16 inference at the reference batch (the model built under
  ``keras.config.set_dtype_policy("bfloat16")``) and its ratio to float32;
- a summary: measured multi-resolution speedups (multires clips/s over
  full-frame clips/s, i.e. full-frame time / multires time) next
  to the analytic FLOP ratios, and the faster backend per architecture.

Targets are printed as PASS/MISS columns (nothing is asserted): inference MFU
>= 0.85, training MFU >= 0.65, multires speedup >= 1.6x (single frame) and
>= 1.75x (slow fusion), bfloat16 >= 1.4x float32.

Every (backend, architecture, dtype) measurement runs in its own subprocess
(``--worker``), because TensorFlow keeps memory after ``clear_session()`` and
the backend is fixed at import; each worker measures its own GEMM peak, so the
MFU compares two numbers taken in the same process a few seconds apart. Each
measurement is one untimed warm-up call (which compiles) and then up to
``--repeats`` timed calls (training: ``--train-repeats``); the median is
reported. Progress goes to stderr, the table to stdout.

Usage::

    python benchmarks/bench_models.py                      # everything (~30-60 min on 2 cores)
    python benchmarks/bench_models.py --architectures single,single-multires --backends tensorflow
    python benchmarks/bench_models.py --quick              # tiny models, seconds (smoke test)
    python benchmarks/bench_models.py --json results.json
    python benchmarks/bench_models.py --per-layer --architectures single,single-multires --backends tensorflow \
        --batch-sizes 32      # where each model's time goes, layer by layer

``--quick`` swaps the paper's network for a tiny spec on 48 x 48 frames, one
repetition, a 1024 x 1024 GEMM, and runs all jobs of a backend in one worker.
"""

import argparse
import concurrent.futures
import json
import os
import re
import statistics
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT_MARKER = "@@BENCH_RESULT@@ "

TARGETS = {
    "inference_mfu": 0.85,
    "training_mfu": 0.65,
    "multires_single": 1.6,
    "multires_slow": 1.75,
    "bf16_speedup": 1.4,
}
# Analytic forward-FLOP ratios full / multires of the paper's networks.
PAPER_MULTIRES_RATIOS = {"Single-Frame": 1.71, "Slow Fusion": 1.87}
MULTIRES_PAIRS = (
    ("Single-Frame", "Single-Frame + Multires", "multires_single"),
    ("Slow Fusion", "Slow Fusion + Multires", "multires_slow"),
)
ALIASES = {
    "single": "Single-Frame",
    "single-multires": "Single-Frame + Multires",
    "fovea": "Single-Frame Fovea Only",
    "context": "Single-Frame Context Only",
    "early": "Early Fusion",
    "late": "Late Fusion",
    "slow": "Slow Fusion",
    "slow-multires": "Slow Fusion + Multires",
}
QUICK_SPEC = "C(8,5,2)-N-P-C(16,3,1)-P-FC(32)"
QUICK_IMAGE_SIZE = 48
TRAINING_FLOPS_FACTOR = 3
SEED = 1234


def log(message):
    print(message, file=sys.stderr, flush=True)


# --- worker side: runs in a subprocess with KERAS_BACKEND already set --------


def time_call(fn, options, repeats):
    """Times `fn`: one untimed warm-up call (it compiles), then timed calls.

    Makes `repeats` timed calls, more while they total under
    ``options["min_seconds"]`` (short calls are noisy), fewer once they exceed
    ``options["max_seconds"]`` (at least one). Returns a dict with the median
    ``seconds``, every call's ``times`` and ``warmup_s``.
    """
    start = time.perf_counter()
    fn()
    warmup = time.perf_counter() - start
    times = []
    while not times or (
        (len(times) < repeats or sum(times) < options["min_seconds"]) and sum(times) < options["max_seconds"]
    ):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "times": times, "reps": len(times), "warmup_s": warmup}


def gemm_peak(size, repeats, dtype="float32"):
    """GFLOP/s of a ``size x size`` matmul with the backend's own matmul (best of `repeats`)."""
    import keras
    import numpy as np

    a = np.random.default_rng(SEED).standard_normal((size, size)).astype("float32")
    if keras.backend.backend() == "jax":
        import jax
        import jax.numpy as jnp

        matrix = jnp.asarray(a, dtype=dtype)
        dot = jax.jit(jnp.dot)
        run = lambda: dot(matrix, matrix).block_until_ready()  # noqa: E731
        how = "jax.jit(jnp.dot)"
    elif keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        matrix = tf.cast(tf.constant(a), dtype)
        # Eager TF ops on CPU run synchronously; reading one element is cheap.
        run = lambda: tf.linalg.matmul(matrix, matrix)[0, 0].numpy()  # noqa: E731
        how = "tf.linalg.matmul"
    else:
        raise ValueError(f"Unsupported backend {keras.backend.backend()!r}")
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9, how


def build_architecture(name, quick, dtype):
    """Builds a Table 1 architecture (tiny in quick mode) under the dtype policy."""
    import keras
    from keras_sportsnet import TEMPORAL_PLANS
    from keras_sportsnet import build_model
    from keras_sportsnet.analysis import ARCHITECTURES

    kwargs = dict(ARCHITECTURES[name])
    if quick:
        frames = TEMPORAL_PLANS[kwargs["fusion"]]["num_frames"]
        kwargs.update(spec=QUICK_SPEC, input_shape=(frames, QUICK_IMAGE_SIZE, QUICK_IMAGE_SIZE, 3))
    keras.config.set_dtype_policy(dtype)
    try:
        return build_model(**kwargs)
    finally:
        keras.config.set_dtype_policy("float32")


def measure(job, options):
    """Runs one (architecture, dtype) job in this process; returns a result dict."""
    import keras
    import numpy as np
    from keras_sportsnet import count_flops

    name, dtype = job["architecture"], job["dtype"]
    tag = f"[{keras.backend.backend()}] {name} {dtype}"
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    result = {"architecture": name, "backend": keras.backend.backend(), "dtype": dtype}

    peak, how = gemm_peak(options["gemm_size"], options["gemm_repeats"], "float32")
    result.update(gemm_gflops=peak, gemm_op=how, gemm_size=options["gemm_size"])
    log(f"{tag}: GEMM {options['gemm_size']}^2 float32 {peak:.0f} GFLOP/s")
    if dtype != "float32":
        result["gemm_gflops_" + dtype], _ = gemm_peak(
            options["gemm_size"], options["gemm_repeats"], dtype
        )
        log(f"{tag}: GEMM {dtype} {result['gemm_gflops_' + dtype]:.0f} GFLOP/s")

    start = time.perf_counter()
    model = build_architecture(name, options["quick"], dtype)
    result.update(
        build_s=time.perf_counter() - start,
        params=model.count_params(),
        gflops=count_flops(model) / 1e9,
        clip_shape=list(model.input.shape[1:]),
        jit_compile=bool(model.jit_compile),
    )
    rng = np.random.default_rng(SEED)

    def clips(batch):
        x = rng.uniform(0, 255, (batch, *model.input.shape[1:])).astype("float32")
        return keras.ops.convert_to_tensor(x)

    inference = {}
    for batch in job["inference_batches"]:
        x = clips(batch)
        timing = time_call(lambda: model.predict_on_batch(x), options, options["repeats"])
        inference[str(batch)] = {"clips_per_s": batch / timing["seconds"], **timing}
        log(f"{tag}: inference@{batch} {_describe_timing(batch, timing)}")
        del x
    result["inference"] = inference

    if job["train_batch"]:
        batch = job["train_batch"]
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=1e-3, momentum=0.9),
            loss="sparse_categorical_crossentropy",
        )
        x = clips(batch)
        y = keras.ops.convert_to_tensor(rng.integers(0, model.output.shape[-1], (batch,)).astype("int32"))
        timing = time_call(lambda: model.train_on_batch(x, y), options, options["train_repeats"])
        result["training"] = {"batch": batch, "clips_per_s": batch / timing["seconds"], **timing}
        log(f"{tag}: training@{batch} {_describe_timing(batch, timing)}")
    return result


def _describe_timing(batch, timing):
    low, high = batch / max(timing["times"]), batch / min(timing["times"])
    return (f"{batch / timing['seconds']:.2f} clips/s (range {low:.2f}-{high:.2f}, "
            f"{timing['reps']} calls, warm-up {timing['warmup_s']:.1f}s)")


def layer_flops(layer):
    """Analytic forward FLOPs per example of one Conv2D/Conv3D/Dense layer (0 for the others)."""
    import math

    import keras

    if isinstance(layer, (keras.layers.Conv3D, keras.layers.Conv2D)):
        return 2 * math.prod(layer.output.shape[1:-1]) * math.prod(layer.kernel.shape)
    if isinstance(layer, keras.layers.Dense):
        return 2 * math.prod(layer.kernel.shape)
    return 0


def profile_layers(model, inputs, options, prefix=""):
    """Times every layer of a functional model alone, on its real input at this batch.

    Nested functional models (the classifier's backbone) are walked into.
    Each layer runs as the backend compiles a model call (a ``tf.function`` on
    TensorFlow, ``jax.jit`` on JAX), on the activations a full forward pass
    gave it. Returns rows ``{layer, kind, output, gflops, ms}`` (per batch).
    """
    import keras

    body = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    values = {id(model.inputs[0]): inputs}  # each layer's output, computed in graph order
    rows = []
    for layer in body:
        # The node of this graph (a nested model also has one of its own construction).
        (node,) = [n for n in layer._inbound_nodes if all(id(t) in values for t in n.input_tensors)][:1]
        arguments = [values[id(t)] for t in node.input_tensors]
        argument = arguments[0] if len(arguments) == 1 else arguments
        if isinstance(layer, keras.Model):
            rows += profile_layers(layer, argument, options, prefix=f"{prefix}{layer.name}/")
        else:
            timing = time_call(_compiled_layer_call(layer, argument), options, options["repeats"])
            rows.append({"layer": prefix + layer.name, "kind": type(layer).__name__,
                         "output": list(layer.output.shape[1:]), "gflops": layer_flops(layer) / 1e9,
                         "ms": timing["seconds"] * 1e3})
        values[id(node.output_tensors[0])] = layer(argument)
    return rows


def _compiled_layer_call(layer, argument):
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        kwargs = {"training": False} if _takes_training(layer) else {}
        function = tf.function(lambda x: layer(x, **kwargs))
        return lambda: function(argument)[..., :1].numpy()  # waits for the result, copies little
    import jax

    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]
    function = jax.jit(lambda t, n, x: layer.stateless_call(t, n, x)[0])
    return lambda: function(trainable, non_trainable, argument).block_until_ready()


def _takes_training(layer):
    import inspect

    return "training" in inspect.signature(layer.call).parameters


def measure_layers(job, options):
    """The per-layer profile of one architecture (float32, inference at the job's batch)."""
    import keras
    import numpy as np

    name, batch = job["architecture"], job["layers_batch"]
    tag = f"[{keras.backend.backend()}] {name} layers@{batch}"
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    peak, _ = gemm_peak(options["gemm_size"], options["gemm_repeats"], "float32")
    model = build_architecture(name, options["quick"], "float32")
    x = keras.ops.convert_to_tensor(
        np.random.default_rng(SEED).uniform(0, 255, (batch, *model.input.shape[1:])).astype("float32"))
    whole = time_call(lambda: model.predict_on_batch(x), options, options["repeats"])
    rows = profile_layers(model, x, options)
    for row in rows:
        row["gflops_per_s"] = row["gflops"] * batch / (row["ms"] / 1e3) if row["gflops"] else None
        row["mfu"] = row["gflops_per_s"] / peak if row["gflops_per_s"] else None
    log(f"{tag}: whole model {whole['seconds'] * 1e3:.1f} ms, layers alone {sum(r['ms'] for r in rows):.1f} ms")
    return {"architecture": name, "dtype": "float32", "kind": "layers", "batch": batch, "gemm_gflops": peak,
            "whole_ms": whole["seconds"] * 1e3, "gflops": sum(r["gflops"] for r in rows), "layers": rows}


def worker_main(payload):
    """Entry point of ``--worker``: runs its jobs and prints one result line per job."""
    sys.path.insert(0, REPO_ROOT)
    import keras
    import numpy as np

    request = json.loads(payload)
    for job in request["jobs"]:
        before = _cpu_sample()
        try:
            if job.get("kind") == "layers":
                result = measure_layers(job, request["options"])
            else:
                result = measure(job, request["options"])
        except Exception as error:  # report, keep going with the other jobs
            import traceback

            traceback.print_exc()
            result = {"architecture": job["architecture"], "dtype": job["dtype"], "error": repr(error)}
        result["backend"] = keras.backend.backend()
        result["versions"] = {"keras": keras.__version__, "numpy": np.__version__}
        result["other_cpu_cores"] = _other_cpu_cores(before, _cpu_sample())
        print(RESULT_MARKER + json.dumps(result), flush=True)


def _cpu_sample():
    """(wall s, CPU s busy machine-wide, CPU s of this process), or None off Linux."""
    import resource

    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    busy = sum(fields[:8]) - fields[3] - fields[4]  # all but idle and iowait, steal included
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), usage.ru_utime + usage.ru_stime


def _other_cpu_cores(before, after):
    """Average number of cores that other processes (or the hypervisor) kept busy."""
    if before is None or after is None or after[0] <= before[0]:
        return None
    other = (after[1] - before[1]) - (after[2] - before[2])
    return max(other / (after[0] - before[0]), 0.0)


# --- parent side -------------------------------------------------------------


def resolve_architectures(text):
    """Comma list of Table 1 names or `ALIASES` (case, spaces and '+' ignored)."""
    from keras_sportsnet.analysis import ARCHITECTURES

    def key(s):
        return re.sub(r"[^a-z0-9]", "", s.lower())

    lookup = {key(name): name for name in ARCHITECTURES}
    lookup.update({key(alias): name for alias, name in ALIASES.items()})
    names = []
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        if key(item) not in lookup:
            raise SystemExit(
                f"Unknown architecture {item!r}. Choose from {list(ARCHITECTURES)} or aliases {list(ALIASES)}."
            )
        names.append(lookup[key(item)])
    return list(dict.fromkeys(names))


def plan_workers(args, architectures, backends):
    """Groups jobs into worker processes: one job per worker, or per (backend, dtype) (--quick)."""
    ref_batch = max(args.batch_sizes)
    jobs = []
    for backend in backends:
        for name in architectures:
            jobs.append(
                (backend, {"architecture": name, "dtype": "float32",
                           "inference_batches": args.batch_sizes, "train_batch": ref_batch})
            )
            if not args.no_bf16:
                jobs.append(
                    (backend, {"architecture": name, "dtype": "bfloat16",
                               "inference_batches": [ref_batch], "train_batch": None})
                )
    if not args.quick:
        return [(backend, [job]) for backend, job in jobs]
    groups = {}
    for backend, job in jobs:
        groups.setdefault((backend, job["dtype"]), []).append(job)
    # Longest first: XLA compilation makes the JAX workers the slow ones here.
    order = sorted(groups, key=lambda key: (key[0] != "jax", key[1] != "float32"))
    return [(backend, groups[backend, dtype]) for backend, dtype in order]


def run_worker(backend, jobs, options, timeout):
    """Runs one worker subprocess; returns its result dicts (error dicts if it died)."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED=str(SEED))
    # jax's default "partitionable" threefry takes XLA:CPU 1-2 s to compile per new
    # weight shape (model building); the classic one ~0.2 s. Only initial weight
    # values change; nothing timed draws random numbers.
    env.setdefault("JAX_THREEFRY_PARTITIONABLE", "0")
    payload = json.dumps({"jobs": jobs, "options": options})
    command = [sys.executable, os.path.abspath(__file__), "--worker", payload]
    try:
        completed = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, timeout=timeout)
        stdout, failure = completed.stdout, f"worker exited with status {completed.returncode}"
    except subprocess.TimeoutExpired as expired:
        stdout, failure = expired.stdout or "", f"worker timed out after {timeout}s"
        if isinstance(stdout, bytes):
            stdout = stdout.decode()
    results = [json.loads(line[len(RESULT_MARKER):]) for line in stdout.splitlines() if line.startswith(RESULT_MARKER)]
    done = {(r["architecture"], r["dtype"]) for r in results}
    for job in jobs:
        if (job["architecture"], job["dtype"]) not in done:
            log(f"[{backend}] {job['architecture']} {job['dtype']}: {failure}")
            results.append({"architecture": job["architecture"], "dtype": job["dtype"],
                            "backend": backend, "error": failure})
    return results


def collect_rows(results, architectures, backends, ref_batch):
    """Joins float32 and bfloat16 results into one row per (architecture, backend)."""
    by_key = {(r["backend"], r["architecture"], r["dtype"]): r for r in results}
    rows = []
    for name in architectures:
        for backend in backends:
            fp32 = by_key.get((backend, name, "float32"), {})
            bf16 = by_key.get((backend, name, "bfloat16"), {})
            row = {"architecture": name, "backend": backend, "errors": [r["error"] for r in (fp32, bf16) if "error" in r]}
            if "gflops" in fp32:
                peak, gflops = fp32["gemm_gflops"], fp32["gflops"]
                row.update(params=fp32["params"], gflops=gflops, gemm_gflops=peak)
                row["inference"] = {int(b): v["clips_per_s"] for b, v in fp32["inference"].items()}
                ref = row["inference"].get(ref_batch)
                if ref:
                    row["inference_mfu"] = ref * gflops / peak
                if fp32.get("training"):
                    row["training"] = fp32["training"]["clips_per_s"]
                    row["training_mfu"] = row["training"] * TRAINING_FLOPS_FACTOR * gflops / peak
            if "inference" in bf16:
                row["bf16"] = bf16["inference"][str(ref_batch)]["clips_per_s"]
                row["gemm_gflops_bf16"] = bf16.get("gemm_gflops_bfloat16")
                if row.get("inference", {}).get(ref_batch):
                    row["bf16_speedup"] = row["bf16"] / row["inference"][ref_batch]
            rows.append(row)
    return rows


def verdict(value, target):
    return "" if value is None else ("PASS" if value >= target else "MISS")


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def text_table(header, lines):
    widths = [max(len(str(c)) for c in column) for column in zip(header, *lines)]
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)) for line in lines]
    return "\n".join(out)


def main_table(rows, batch_sizes, ref_batch):
    t = TARGETS
    header = (["architecture", "backend", "params", "GFLOPs"]
              + [f"inf@{b}/s" for b in batch_sizes]
              + [f"MFU inf@{ref_batch}", f">={t['inference_mfu']}",
                 f"train@{ref_batch}/s", "MFU train", f">={t['training_mfu']}",
                 f"bf16@{ref_batch}/s", "bf16/fp32", f">={t['bf16_speedup']}x",
                 "GEMM fp32", "GEMM bf16"])
    lines = []
    for r in rows:
        inference = r.get("inference", {})
        lines.append(
            [r["architecture"], r["backend"],
             _count(r.get("params")), fmt(r.get("gflops"), ".4g")]
            + [fmt(inference.get(b), ".2f") for b in batch_sizes]
            + [fmt(r.get("inference_mfu"), ".2f"), verdict(r.get("inference_mfu"), t["inference_mfu"]),
               fmt(r.get("training"), ".2f"), fmt(r.get("training_mfu"), ".2f"),
               verdict(r.get("training_mfu"), t["training_mfu"]),
               fmt(r.get("bf16"), ".2f"), fmt(r.get("bf16_speedup"), ".2f") + ("x" if r.get("bf16_speedup") else ""),
               verdict(r.get("bf16_speedup"), t["bf16_speedup"]),
               fmt(r.get("gemm_gflops"), ".0f"), fmt(r.get("gemm_gflops_bf16"), ".0f")]
        )
        if r["errors"]:
            lines[-1][-1] += "  ERROR: " + "; ".join(r["errors"])
    return text_table(header, lines)


def multires_table(rows, ref_batch, quick):
    by_key = {(r["architecture"], r["backend"]): r for r in rows}
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    lines = []
    for full, multires, target_key in MULTIRES_PAIRS:
        for backend in backends:
            a, b = by_key.get((full, backend)), by_key.get((multires, backend))
            if not a or not b or "gflops" not in a or "gflops" not in b:
                continue
            target = TARGETS[target_key]
            inf = _speedup(a.get("inference", {}).get(ref_batch), b.get("inference", {}).get(ref_batch))
            train = _speedup(a.get("training"), b.get("training"))
            analytic = a["gflops"] / b["gflops"]
            paper = PAPER_MULTIRES_RATIOS[full]
            lines.append([f"{full} / {multires}", backend,
                          f"{analytic:.2f}x" + ("" if quick else f" (paper {paper:.2f}x)"),
                          fmt(inf, ".2f") + "x", verdict(inf, target),
                          fmt(train, ".2f") + "x", verdict(train, target), f">={target}x"])
    if not lines:
        return "(needs both the full and the multires model of a pair)"
    header = ["pair", "backend", "analytic FLOP ratio",  f"inf@{ref_batch}", "", f"train@{ref_batch}", "", "target"]
    return text_table(header, lines)


def backend_table(rows, ref_batch):
    by_arch = {}
    for r in rows:
        by_arch.setdefault(r["architecture"], []).append(r)
    lines = []
    for name, group in by_arch.items():
        cells = [name]
        for label, value in (("inference", lambda r: r.get("inference", {}).get(ref_batch)),
                             ("training", lambda r: r.get("training"))):
            scored = sorted(((value(r), r["backend"]) for r in group if value(r)), reverse=True)
            if len(scored) < 2:
                cells.append(scored[0][1] if scored else "-")
            else:
                cells.append(f"{scored[0][1]} ({scored[0][0] / scored[1][0]:.2f}x vs {scored[1][1]})")
        lines.append(cells)
    return text_table(["architecture", f"faster inference@{ref_batch}", f"faster training@{ref_batch}"], lines)


def _count(n):
    if n is None:
        return "-"
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def _speedup(full_clips_per_s, multires_clips_per_s):
    """How many times faster the multires model runs: its clips/s over the full-frame model's."""
    if not full_clips_per_s or not multires_clips_per_s:
        return None
    return multires_clips_per_s / full_clips_per_s


LAYER_GROUPS = (
    ("conv1", lambda r: r["kind"].startswith("Conv") and "_0_conv" in r["layer"]),
    ("other convolutions", lambda r: r["kind"].startswith("Conv")),
    ("LRN", lambda r: r["kind"] == "LocalResponseNormalization"),
    ("pooling", lambda r: "Pooling" in r["kind"] and "downsample" not in r["layer"]),
    ("stream inputs (fovea crop, context downsample)", lambda r: r["layer"].endswith(("fovea_crop", "context_downsample"))),
    ("concat", lambda r: r["kind"] == "Concatenate"),
    ("FC + classifier", lambda r: r["kind"] == "Dense"),
)


def layer_group(row):
    for label, test in LAYER_GROUPS:
        if test(row):
            return label
    return "other (mean subtraction, flatten, padding)"


def per_layer_tables(result):
    """Two tables of one architecture's per-layer profile: every layer, then by group."""
    rows, total = result["layers"], sum(r["ms"] for r in result["layers"])
    batch, peak = result["batch"], result["gemm_gflops"]
    lines = [[r["layer"], r["kind"], "x".join(map(str, r["output"])), fmt(r["gflops"] or None, ".3f"),
              f"{r['ms']:.2f}", f"{100 * r['ms'] / total:.1f}%", fmt(r.get("gflops_per_s"), ".0f"),
              fmt(r.get("mfu"), ".2f")] for r in rows]
    detail = text_table(["layer", "kind", "output", "GFLOPs/clip", f"ms@{batch}", "time", "GFLOP/s", "MFU"], lines)
    groups = {}
    for r in rows:
        g = groups.setdefault(layer_group(r), {"ms": 0.0, "gflops": 0.0})
        g["ms"] += r["ms"]
        g["gflops"] += r["gflops"]
    glines = []
    for label, g in groups.items():
        rate = g["gflops"] * batch / (g["ms"] / 1e3) if g["gflops"] else None
        glines.append([label, fmt(g["gflops"] or None, ".3f"), f"{100 * g['gflops'] / result['gflops']:.1f}%",
                       f"{g['ms']:.1f}", f"{100 * g['ms'] / total:.1f}%", fmt(rate, ".0f"),
                       fmt(rate / peak if rate else None, ".2f")])
    summary = text_table(["group", "GFLOPs/clip", "FLOPs", f"ms@{batch}", "time", "GFLOP/s", "MFU"], glines)
    whole_mfu = result["gflops"] * batch / (result["whole_ms"] / 1e3) / peak
    head = (f"{result['architecture']} [{result['backend']}], float32 inference, batch {batch}: whole model "
            f"{result['whole_ms']:.1f} ms (MFU {whole_mfu:.2f}), layers run alone {total:.1f} ms; "
            f"GEMM peak {peak:.0f} GFLOP/s")
    return f"{head}\n\n{summary}\n\n{detail}"


def per_layer_main(args, architectures, options, ref_batch):
    """``--per-layer``: one worker per (backend, architecture); prints where each model's time goes."""
    start = time.perf_counter()
    results = []
    for backend in args.backends:
        for name in architectures:
            log(f"== per-layer [{backend}] {name} (elapsed {time.perf_counter() - start:.0f}s)")
            job = {"architecture": name, "dtype": "float32", "kind": "layers", "layers_batch": ref_batch}
            results += run_worker(backend, [job], options, args.worker_timeout)
    for result in results:
        if "error" in result:
            print(f"{result['architecture']} [{result['backend']}]: ERROR {result['error']}\n")
            continue
        print(per_layer_tables(result) + "\n")
    busy = [r["other_cpu_cores"] for r in results if r.get("other_cpu_cores") is not None]
    print(f"Per-layer timing: each layer alone (a compiled call on its real input), median of >= "
          f"{args.repeats} calls; MFU over the worker's float32 GEMM peak. Total {time.perf_counter() - start:.0f}s."
          + (f" Other processes kept {statistics.mean(busy):.2f} cores busy on average." if busy else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items() if k != "worker"}, "results": results}, f, indent=1)
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--architectures", default="all",
                        help="Comma list of Table 1 names or aliases (%s); default all." % ", ".join(ALIASES))
    parser.add_argument("--backends", default="tensorflow,jax")
    parser.add_argument("--batch-sizes", default="8,32",
                        help="Inference batch sizes; the largest is also the training/bf16/MFU batch.")
    parser.add_argument("--repeats", type=int, default=5, help="Timed inference calls after the warm-up.")
    parser.add_argument("--train-repeats", type=int, default=3, help="Timed training steps after the warm-up.")
    parser.add_argument("--min-seconds", type=float, default=3.0,
                        help="Keep repeating a measurement until its timed calls total this.")
    parser.add_argument("--max-seconds", type=float, default=90.0,
                        help="Stop repeating a measurement once its timed calls exceed this (>=1 call).")
    parser.add_argument("--gemm-size", type=int, default=4096)
    parser.add_argument("--gemm-repeats", type=int, default=8)
    parser.add_argument("--no-bf16", action="store_true", help="Skip the bfloat16 inference runs.")
    parser.add_argument("--worker-timeout", type=int, default=1800, help="Seconds before a worker is killed.")
    parser.add_argument("--quick", action="store_true",
                        help=f"Tiny models ({QUICK_SPEC}, {QUICK_IMAGE_SIZE}x{QUICK_IMAGE_SIZE}), 1 repeat, "
                             "1024^2 GEMM, one worker per backend: a smoke test.")
    parser.add_argument("--parallel", type=int, default=None,
                        help="Worker processes at a time (default 1, or 2 with --quick). Timings "
                             "are only meaningful with 1: workers share the CPU cores.")
    parser.add_argument("--per-layer", action="store_true",
                        help="Instead of the throughput table: time every layer of each architecture alone "
                             "(float32 inference at the largest batch size) and print where the time goes.")
    parser.add_argument("--json", metavar="PATH", help="Also write all results to this JSON file.")
    parser.add_argument("--worker", metavar="PAYLOAD", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.batch_sizes = sorted({int(b) for b in args.batch_sizes.split(",") if b.strip()})
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.quick:
        args.repeats = args.train_repeats = 1
        args.min_seconds = 0.0
        args.gemm_size, args.gemm_repeats = 1024, 3
    if args.parallel is None:
        args.parallel = 2 if args.quick else 1
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    sys.path.insert(0, REPO_ROOT)
    # The parent only reads names; the numpy backend imports fastest. Workers get their own.
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    from keras_sportsnet.analysis import ARCHITECTURES

    architectures = list(ARCHITECTURES) if args.architectures == "all" else resolve_architectures(args.architectures)
    options = {"quick": args.quick, "repeats": args.repeats, "train_repeats": args.train_repeats,
               "min_seconds": args.min_seconds,
               "max_seconds": args.max_seconds, "gemm_size": args.gemm_size, "gemm_repeats": args.gemm_repeats}
    ref_batch = max(args.batch_sizes)
    if args.per_layer:
        return per_layer_main(args, architectures, options, ref_batch)
    workers = plan_workers(args, architectures, args.backends)
    start = time.perf_counter()

    def launch(index, backend, jobs):
        what = f"{jobs[0]['architecture']} {jobs[0]['dtype']}" if len(jobs) == 1 else f"{len(jobs)} {jobs[0]['dtype']} jobs"
        log(f"== worker {index}/{len(workers)} [{backend}] {what} (elapsed {time.perf_counter() - start:.0f}s)")
        return run_worker(backend, jobs, options, args.worker_timeout)

    with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
        futures = [pool.submit(launch, i, b, jobs) for i, (b, jobs) in enumerate(workers, 1)]
        results = [result for future in futures for result in future.result()]
    elapsed = time.perf_counter() - start

    rows = collect_rows(results, architectures, args.backends, ref_batch)
    mode = f"QUICK ({QUICK_SPEC}, {QUICK_IMAGE_SIZE}x{QUICK_IMAGE_SIZE} frames)" if args.quick else "paper-size models"
    print(f"keras_sportsnet throughput, {mode}, {os.cpu_count()} CPU cores, clips/s = median of timed calls\n")
    print(main_table(rows, args.batch_sizes, ref_batch))
    print("\nMulti-resolution speedup (multires clips/s / full-frame clips/s) vs analytic FLOP ratio (full / multires)")
    print(multires_table(rows, ref_batch, args.quick))
    print(f"\nFaster backend per architecture (ratio of clips/s)")
    print(backend_table(rows, ref_batch))
    print(
        f"\nNotes: inference = model.predict_on_batch on backend tensors (TF: tf.function, "
        f"jit_compile=False, Keras' CPU default; JAX: jax.jit); training = train_on_batch, SGD(momentum=0.9), "
        f"3x forward FLOPs. Median of {args.repeats} inference / {args.train_repeats} training calls "
        f"after 1 warm-up (more while under {args.min_seconds:g}s, fewer past {args.max_seconds:g}s). GEMM = best of {args.gemm_repeats} "
        f"{args.gemm_size}x{args.gemm_size} matmuls with the backend's own matmul (tf.linalg.matmul / "
        f"jax.jit(jnp.dot)), measured inside each worker process; MFU = achieved FLOP/s / that worker's "
        f"float32 GEMM. {'One worker per (backend, dtype), ' if args.quick else 'One worker process per (backend, architecture, dtype), '}"
        f"{args.parallel} at a time{' (timings perturbed: workers share the cores)' if args.parallel > 1 else ''}. "
        f"Total {elapsed:.0f}s."
    )
    busy = [r["other_cpu_cores"] for r in results if r.get("other_cpu_cores") is not None]
    if busy and args.parallel == 1 and max(busy) > 0.2:
        print(f"WARNING: other processes kept {statistics.mean(busy):.2f} of the {os.cpu_count()} cores busy "
              f"on average during the measurements (worst job {max(busy):.2f}): timings are noisy and low.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items() if k != "worker"}, "elapsed_s": elapsed,
                       "targets": TARGETS, "rows": rows, "results": results}, f, indent=1)
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
