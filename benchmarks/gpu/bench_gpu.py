"""The accelerator benchmark: the paper's networks under Keras 3 + JAX, float32 and mixed_bfloat16.

One time-boxed run (default budget 450 s, compile times included) measures, on
whatever device JAX has (an H200 on the GPU machine; the CPU with ``--quick``):

1. GEMM peaks of this process: ``jnp.matmul`` of random N x N matrices
   (N = 8192) in bfloat16, in float32 at JAX's default precision (TF32 on
   NVIDIA GPUs since Ampere: the precision Keras' float32 convolutions get)
   and in float32 at ``Precision.HIGHEST`` (true fp32).
2. The on-device ``PaperAugmentation`` rate: uint8 clips of 10 x 240 x 320
   (a decoded 320 x 240 video) -> centre 200 x 200 -> random 170 x 170 crop
   and flip, per clip; jitted ``stateless_call``.
3. For Single-Frame, Single-Frame + Multires, Slow Fusion and Slow Fusion +
   Multires at paper size (487 classes), in ``float32`` and
   ``mixed_bfloat16``: inference clips/s (batch 32 and 256; a jitted
   ``stateless_call``) and training clips/s (batch 32 and 128; a jitted
   step: forward, ``jax.value_and_grad``, SGD with momentum 0.9 through
   ``optimizer.stateless_apply``, buffers donated). MFU = achieved FLOP/s
   (`keras_sportsnet.count_flops`; a training step counts 3 x the forward
   FLOPs) over the in-run GEMM peak of the same precision (bf16 peak for
   mixed_bfloat16, the default-precision float32 peak for float32).
4. If time is left: diagnosis of Slow Fusion mixed_bfloat16 at the largest
   batch: the model without its LRN layers, and conv1 alone.

Every measurement is one compiling call, one call to size the loop, then 3
timed loops of ``n`` back-to-back calls (each loop at least ``--min-time``
seconds), synchronised at the end of each loop; the median loop gives the
time per call. Measurements are ordered so the ones the targets need come
first; one that would start after the budget is recorded as skipped. After
every measurement ``results.json`` and ``tables.md`` are rewritten in
``--out`` (partial tables survive a time-out). Progress, with elapsed
seconds, goes to stderr.

TensorFlow and PyAV are blocked in this process (the GPU image has neither):
the benchmark proves that the models, the mixed precision policy and the
augmentation layers run on Keras + JAX alone.

Usage::

    KERAS_BACKEND=jax python benchmarks/gpu/bench_gpu.py --out /tmp/gpu   # the full run
    KERAS_BACKEND=jax python benchmarks/gpu/bench_gpu.py --quick --out /tmp/gpu  # tiny, CPU ok

``benchmarks/gpu/run.sh`` wraps it for the GPU machine (wheels, $OUT, logs).
"""

import argparse
import datetime
import importlib.abc
import json
import os
import platform
import statistics
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARCHITECTURE_NAMES = ("Single-Frame", "Single-Frame + Multires", "Slow Fusion", "Slow Fusion + Multires")
MULTIRES_PAIRS = (("Single-Frame", "Single-Frame + Multires", 1.6), ("Slow Fusion", "Slow Fusion + Multires", 1.75))
POLICIES = ("mixed_bfloat16", "float32")
TARGETS = {"inference_mfu_bf16": 0.45, "training_mfu_bf16": 0.35, "bf16_over_fp32": 1.8,
           "augmentation_over_training": 10.0}
TARGET_ARCHITECTURE = "Slow Fusion"
NUM_CLASSES = 487  # Sports-1M
TRAINING_FLOPS_FACTOR = 3
SEED = 1234
QUICK_SPEC = "C(8,5,2)-N-P-C(16,3,1)-P-FC(32)"
PAPER_CLIPS_SEEN = 500_000_000  # as benchmarks/bench_scaling.py: the paper's month on 10-50 replicas
PROJECTION_GPUS = (1, 8, 64)
PROJECTION_EFFICIENCY = (1.0, 0.9)

FULL = {"inference_batches": (32, 256), "training_batches": (32, 128), "gemm_size": 8192,
        "clip_source": (10, 240, 320), "resize_to": 200, "augmentation_batch": 128, "spec": None,
        "image_size": None, "classes": NUM_CLASSES}
QUICK = {"inference_batches": (2, 8), "training_batches": (2, 4), "gemm_size": 256,
         "clip_source": (10, 60, 80), "resize_to": 52, "augmentation_batch": 4, "spec": QUICK_SPEC,
         "image_size": 48, "classes": 5}


class _Refuse(importlib.abc.MetaPathFinder):
    """Makes ``import name`` fail for the modules the GPU image does not have."""

    def __init__(self, names):
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            raise ImportError(f"{fullname} is blocked in bench_gpu.py (the GPU image has none)")
        return None


class Clock:
    """Elapsed time, the budget, and timestamped progress lines on stderr."""

    def __init__(self, budget):
        self.start = time.perf_counter()
        self.budget = budget

    def elapsed(self):
        return time.perf_counter() - self.start

    def left(self):
        return self.budget - self.elapsed()

    def log(self, message):
        stamp = datetime.datetime.now().strftime("%H:%M:%S")
        print(f"[{stamp} +{self.elapsed():6.1f}s] {message}", file=sys.stderr, flush=True)


def block(tree):
    import jax

    return jax.block_until_ready(tree)


def time_calls(call, *, min_time, deadline, loops=3):
    """Seconds per call: a compiling call, a sizing call, then up to ``loops`` timed loops (median).

    ``call()`` runs one step and returns what to synchronise on (it may carry
    state between calls itself). Returns a dict: ``seconds``, ``compile_s``,
    ``calls`` (per loop), ``loop_seconds``.
    """
    start = time.perf_counter()
    block(call())
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    block(call())
    once = max(time.perf_counter() - start, 1e-6)
    calls = max(1, min(1000, int(min_time / once) + 1))
    per_call = []
    for _ in range(loops):
        if per_call and time.perf_counter() + calls * once > deadline:
            break
        start = time.perf_counter()
        for _ in range(calls):
            out = call()
        block(out)
        per_call.append((time.perf_counter() - start) / calls)
    return {"seconds": statistics.median(per_call), "compile_s": compile_s, "calls": calls,
            "loop_seconds": per_call, "sizing_call_s": once}


def gemm_peaks(size, clock, min_time):
    """TFLOP/s of ``size``^3 matmuls: bf16, fp32 at default precision (TF32 on GPUs), fp32 HIGHEST."""
    import jax
    import jax.numpy as jnp

    keys = jax.random.split(jax.random.PRNGKey(SEED), 2)
    peaks = {}
    for label, dtype, precision in (("bf16", jnp.bfloat16, None),
                                    ("fp32_default", jnp.float32, None),
                                    ("fp32_highest", jnp.float32, jax.lax.Precision.HIGHEST)):
        a = jax.random.normal(keys[0], (size, size), dtype)
        b = jax.random.normal(keys[1], (size, size), dtype)
        matmul = jax.jit(lambda x, y, p=precision: jnp.matmul(x, y, precision=p))
        timing = time_calls(lambda: matmul(a, b), min_time=min_time, deadline=clock.start + clock.budget)
        peaks[label] = {"tflops": 2 * size**3 / timing["seconds"] / 1e12, **timing}
        clock.log(f"GEMM {size}^3 {label}: {peaks[label]['tflops']:.3g} TFLOP/s")
        del a, b
    return peaks


def build(name, policy, settings):
    import keras

    from keras_sportsnet import TEMPORAL_PLANS
    from keras_sportsnet import build_model
    from keras_sportsnet.analysis import ARCHITECTURES

    kwargs = dict(ARCHITECTURES[name], classes=settings["classes"])
    if settings["spec"]:
        kwargs["spec"] = settings["spec"]
    if settings["image_size"]:
        size = settings["image_size"]
        kwargs["input_shape"] = (TEMPORAL_PLANS[kwargs["fusion"]]["num_frames"], size, size, 3)
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(SEED)
        return build_model(**kwargs)
    finally:
        keras.config.set_dtype_policy("float32")


def random_clips(model, batch, seed):
    import jax
    import numpy as np

    shape = (batch, *model.input.shape[1:])
    return jax.device_put(np.random.default_rng(seed).uniform(0, 255, shape).astype("float32"))


def inference_call(model, batch):
    import jax

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    x = random_clips(model, batch, seed=batch)

    @jax.jit
    def forward(trainable, non_trainable, x):
        outputs, _ = model.stateless_call(trainable, non_trainable, x, training=False)
        return outputs

    return lambda: forward(trainable, non_trainable, x)


def training_call(model, batch):
    import functools

    import jax
    import keras
    import numpy as np

    optimizer = keras.optimizers.SGD(learning_rate=1e-3, momentum=0.9)
    optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    x = random_clips(model, batch, seed=batch + 1)
    y = jax.device_put(np.random.default_rng(batch).integers(0, model.output.shape[-1], (batch,)).astype("int32"))

    def compute_loss(trainable, non_trainable, x, y):
        predictions, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
        return loss_fn(y, predictions), non_trainable

    gradients = jax.value_and_grad(compute_loss, has_aux=True)

    @functools.partial(jax.jit, donate_argnums=(0, 1, 2))
    def step(trainable, non_trainable, optimizer_state, x, y):
        (loss, non_trainable), grads = gradients(trainable, non_trainable, x, y)
        trainable, optimizer_state = optimizer.stateless_apply(optimizer_state, grads, trainable)
        return trainable, non_trainable, optimizer_state, loss

    # Copies: the step donates its state buffers, and the model's own variables serve the next measurement.
    state = [[jax.numpy.copy(v.value) for v in variables]
             for variables in (model.trainable_variables, model.non_trainable_variables, optimizer.variables)]

    def call():
        *new_state, loss = step(*state, x, y)
        state[:] = new_state
        return loss

    return call


def augmentation_call(settings, crop_size, batch):
    import jax
    import numpy as np

    from keras_sportsnet.transforms import PaperAugmentation

    frames, height, width = settings["clip_source"]
    layer = PaperAugmentation(crop_size=crop_size, resize_to=settings["resize_to"], seed=SEED)
    clips = jax.device_put(np.random.default_rng(SEED).integers(0, 256, (batch, frames, height, width, 3), np.uint8))
    layer.build(clips.shape)
    trainable = [v.value for v in layer.trainable_variables]
    state = [[v.value for v in layer.non_trainable_variables]]  # the seed generators' states

    @jax.jit
    def augment(non_trainable, clips):
        outputs, non_trainable = layer.stateless_call(trainable, non_trainable, clips, training=True)
        return outputs, non_trainable

    def call():
        outputs, state[0] = augment(state[0], clips)
        return outputs

    out = block(call())
    expected = (batch, frames, crop_size, crop_size, 3)
    if tuple(out.shape) != expected:
        raise AssertionError(f"PaperAugmentation gave {tuple(out.shape)}, expected {expected}")
    first = np.asarray(call())
    if not np.isfinite(first).all() or first.min() < 0 or first.max() > 255:
        raise AssertionError("PaperAugmentation output is not pixel values in [0, 255]")
    return call


class Run:
    """The results so far, written to ``--out`` after every measurement."""

    def __init__(self, out, clock, quick, settings):
        self.out, self.clock = out, clock
        self.data = {"quick": quick, "settings": {k: v for k, v in settings.items()}, "targets": TARGETS,
                     "environment": {}, "gemm": {}, "augmentation": {}, "models": {}, "diagnosis": {},
                     "skipped": [], "errors": [], "budget_s": clock.budget}
        os.makedirs(out, exist_ok=True)

    def save(self):
        self.data["elapsed_s"] = self.clock.elapsed()
        _write(os.path.join(self.out, "results.json"), json.dumps(self.data, indent=1, default=str))
        _write(os.path.join(self.out, "tables.md"), render(self.data))

    def measure(self, what, needs_s, function):
        """Runs ``function()`` unless fewer than ``needs_s`` seconds of the budget are left."""
        if self.clock.left() < needs_s:
            self.data["skipped"].append(f"{what} (time box: {self.clock.left():.0f}s left, needs ~{needs_s:.0f}s)")
            self.clock.log(f"skip {what}: {self.clock.left():.0f}s left")
            return None
        try:
            return function()
        except Exception as error:  # keep measuring the rest; the error is in the tables
            import traceback

            traceback.print_exc()
            self.data["errors"].append(f"{what}: {type(error).__name__}: {error}")
            self.clock.log(f"ERROR {what}: {type(error).__name__}: {error}")
            return None
        finally:
            self.save()


def _write(path, text):
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w") as file:
        file.write(text)
    os.replace(temporary, path)


def environment():
    import jax
    import keras
    import numpy as np

    device = jax.devices()[0]
    return {"date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "device": f"{device.platform}: {getattr(device, 'device_kind', str(device))}",
            "device_count": jax.device_count(), "jax": jax.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "python": platform.python_version(),
            "xla_flags": os.environ.get("XLA_FLAGS", ""), "host_cpus": os.cpu_count()}


def run_models(run, combinations, settings, min_time):
    """Inference and training of each (architecture, policy), each (step, batch) a measurement.

    Two passes: first the largest batches of every combination (the targets
    are read there), then the smaller ones, so a run that meets its time box
    still has every target's numbers. The built models stay on the device
    between the passes (about 0.3-0.5 GB of weights each at paper size).
    """
    from keras_sportsnet import count_flops

    clock = run.clock
    deadline = clock.start + clock.budget
    models = {}
    largest = [("inference", max(settings["inference_batches"])), ("training", max(settings["training_batches"]))]
    smaller = [("inference", b) for b in sorted(settings["inference_batches"], reverse=True)[1:]]
    smaller += [("training", b) for b in sorted(settings["training_batches"], reverse=True)[1:]]
    for jobs in (largest, smaller):
        for name, policy in combinations:
            key = f"{name} | {policy}"
            entry = run.data["models"].setdefault(key, {"architecture": name, "policy": policy, "inference": {},
                                                        "training": {}})
            if key not in models:
                models[key] = run.measure(f"build {key}", 20, lambda: build(name, policy, settings))
                if models[key] is not None:
                    model = models[key]
                    entry.update(params=model.count_params(), gflops=count_flops(model) / 1e9,
                                 clip=list(model.input.shape[1:]))
            model = models[key]
            if model is None:
                continue
            for kind, batch in jobs:
                def measure(kind=kind, batch=batch, model=model, entry=entry, key=key):
                    call = inference_call(model, batch) if kind == "inference" else training_call(model, batch)
                    timing = time_calls(call, min_time=min_time, deadline=deadline)
                    clips_per_s = batch / timing["seconds"]
                    factor = 1 if kind == "inference" else TRAINING_FLOPS_FACTOR
                    entry[kind][str(batch)] = {"clips_per_s": clips_per_s,
                                               "tflops": clips_per_s * entry["gflops"] * factor / 1e3, **timing}
                    clock.log(f"{key} {kind}@{batch}: {clips_per_s:.1f} clips/s, "
                              f"{entry[kind][str(batch)]['tflops']:.3g} TFLOP/s (compile {timing['compile_s']:.1f}s)")

                run.measure(f"{key} {kind}@{batch}", 15 if not run.data["quick"] else 1, measure)
    models.clear()
    import keras

    keras.backend.clear_session()


def run_augmentation(run, settings, min_time):
    clock = run.clock
    crop = settings["image_size"] or 170
    batch = settings["augmentation_batch"]

    def measure():
        timing = time_calls(augmentation_call(settings, crop, batch), min_time=min_time,
                            deadline=clock.start + clock.budget)
        frames, height, width = settings["clip_source"]
        run.data["augmentation"] = {"clips_per_s": batch / timing["seconds"], "batch": batch,
                                    "input": f"uint8 {frames}x{height}x{width}x3",
                                    "output": f"{frames}x{crop}x{crop}x3 ({'float32'})",
                                    "resize_to": settings["resize_to"], **timing}
        clock.log(f"PaperAugmentation@{batch}: {batch / timing['seconds']:.0f} clips/s")

    run.measure("PaperAugmentation", 10, measure)


def run_diagnosis(run, settings, min_time):
    """Slow Fusion mixed_bfloat16 at the largest batches: without LRN, and conv1 alone (inference)."""
    import keras

    from keras_sportsnet import count_flops
    from keras_sportsnet.spec import PAPER_SPEC

    clock = run.clock
    spec = settings["spec"] or PAPER_SPEC
    no_lrn = dict(settings, spec=spec.replace("-N-", "-"))
    batch_inference, batch_training = max(settings["inference_batches"]), max(settings["training_batches"])
    deadline = clock.start + clock.budget

    def without_lrn():
        model = build(TARGET_ARCHITECTURE, "mixed_bfloat16", no_lrn)
        inference = time_calls(inference_call(model, batch_inference), min_time=min_time, deadline=deadline)
        training = time_calls(training_call(model, batch_training), min_time=min_time, deadline=deadline)
        run.data["diagnosis"]["no_lrn"] = {
            "spec": no_lrn["spec"], "gflops": count_flops(model) / 1e9,
            "inference_clips_per_s": batch_inference / inference["seconds"], "inference_batch": batch_inference,
            "training_clips_per_s": batch_training / training["seconds"], "training_batch": batch_training}
        clock.log(f"no-LRN Slow Fusion bf16: inference {batch_inference / inference['seconds']:.0f}, "
                  f"training {batch_training / training['seconds']:.0f} clips/s")
        keras.backend.clear_session()

    def conv1_alone():
        model = build(TARGET_ARCHITECTURE, "mixed_bfloat16", settings)
        (backbone,) = [layer for layer in model.layers if isinstance(layer, keras.Model)]
        conv1 = keras.Model(backbone.input, backbone.get_layer("full_0_conv").output)
        gflops = count_flops(conv1) / 1e9
        timing = time_calls(inference_call(conv1, batch_inference), min_time=min_time, deadline=deadline)
        rate = batch_inference / timing["seconds"]
        run.data["diagnosis"]["conv1"] = {"gflops": gflops, "clips_per_s": rate, "tflops": rate * gflops / 1e3,
                                          "batch": batch_inference}
        clock.log(f"conv1 of Slow Fusion bf16: {rate:.0f} clips/s, {rate * gflops / 1e3:.3g} TFLOP/s")
        keras.backend.clear_session()

    run.measure("diagnosis: Slow Fusion bf16 without LRN", 60 if not run.data["quick"] else 1, without_lrn)
    run.measure("diagnosis: Slow Fusion bf16 conv1 alone", 25 if not run.data["quick"] else 1, conv1_alone)


# --- tables --------------------------------------------------------------------


def _fmt(value, spec=".1f"):
    return "-" if value is None else format(value, spec)


def _verdict(value, target):
    return "" if value is None else ("PASS" if value >= target else "MISS")


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _peak_for(data, policy):
    gemm = data["gemm"]
    label = "bf16" if policy == "mixed_bfloat16" else "fp32_default"
    return gemm.get(label, {}).get("tflops")


def _rate(data, name, policy, kind, batch):
    return data["models"].get(f"{name} | {policy}", {}).get(kind, {}).get(str(batch), {}).get("clips_per_s")


def render(data):
    """The markdown tables of a run (partial runs give partial tables)."""
    s = data["settings"]
    env = data["environment"]
    out = [f"# keras_sportsnet on {env.get('device', '?')} ({'QUICK: tiny models' if data['quick'] else 'paper size'})",
           "", f"{env.get('date_utc', '?')}; JAX {env.get('jax', '?')}, Keras {env.get('keras', '?')}, "
           f"Python {env.get('python', '?')}; elapsed {data.get('elapsed_s', 0):.0f}s of a {data['budget_s']:.0f}s "
           "budget.", ""]
    g = data["gemm"]
    out += ["## GEMM peaks (this process, jnp.matmul, random data)", "",
            _table(["precision", f"{s['gemm_size']}^3 TFLOP/s"],
                   [[label, _fmt(g.get(key, {}).get("tflops"), ".4g")] for key, label in (
                       ("bf16", "bfloat16"), ("fp32_default", "float32, default precision (TF32 on GPU)"),
                       ("fp32_highest", "float32, Precision.HIGHEST"))]), ""]

    rows = []
    for key, entry in data["models"].items():
        peak = _peak_for(data, entry["policy"])
        for kind, batches in (("inference", s["inference_batches"]), ("training", s["training_batches"])):
            for batch in batches:
                m = entry[kind].get(str(batch))
                if not m:
                    continue
                rows.append([entry["architecture"], entry["policy"], kind, batch, _fmt(m["clips_per_s"]),
                             _fmt(m["tflops"], ".3g"), _fmt(m["tflops"] / peak if peak else None, ".2f"),
                             _fmt(m["compile_s"])])
    out += ["## Models (clips/s, achieved TFLOP/s, MFU = over the in-run GEMM peak of the same precision)", "",
            _table(["architecture", "policy", "step", "batch", "clips/s", "TFLOP/s", "MFU", "compile s"], rows), ""]

    bi, bt = max(s["inference_batches"]), max(s["training_batches"])
    t = data["targets"]
    target_rows = []
    slow = data["models"].get(f"{TARGET_ARCHITECTURE} | mixed_bfloat16", {})
    peak = _peak_for(data, "mixed_bfloat16")
    for kind, batch, target in (("inference", bi, t["inference_mfu_bf16"]), ("training", bt, t["training_mfu_bf16"])):
        m = slow.get(kind, {}).get(str(batch))
        mfu = m["tflops"] / peak if m and peak else None
        target_rows.append([f"{TARGET_ARCHITECTURE} mixed_bfloat16 {kind}@{batch} MFU", _fmt(mfu, ".2f"),
                            f">= {target}", _verdict(mfu, target)])
    for name in ARCHITECTURE_NAMES:
        for kind, batch in (("inference", bi), ("training", bt)):
            bf16, fp32 = _rate(data, name, "mixed_bfloat16", kind, batch), _rate(data, name, "float32", kind, batch)
            ratio = bf16 / fp32 if bf16 and fp32 else None
            target_rows.append([f"{name} {kind}@{batch} bf16 / fp32", _fmt(ratio, ".2f"), f">= {t['bf16_over_fp32']}",
                                _verdict(ratio, t["bf16_over_fp32"])])
    for full, multires, target in MULTIRES_PAIRS:
        for policy in POLICIES:
            for kind, batch in (("inference", bi), ("training", bt)):
                a, b = _rate(data, full, policy, kind, batch), _rate(data, multires, policy, kind, batch)
                ratio = b / a if a and b else None
                target_rows.append([f"multires speedup {full} {policy} {kind}@{batch}", _fmt(ratio, ".2f"),
                                    f">= {target}", _verdict(ratio, target)])
    aug = data["augmentation"].get("clips_per_s")
    train = _rate(data, TARGET_ARCHITECTURE, "mixed_bfloat16", "training", bt)
    ratio = aug / train if aug and train else None
    target_rows.append([f"PaperAugmentation clips/s / {TARGET_ARCHITECTURE} bf16 training@{bt} clips/s",
                        _fmt(ratio, ".1f"), f">= {t['augmentation_over_training']}",
                        _verdict(ratio, t["augmentation_over_training"])])
    out += ["## Targets", "", _table(["what", "value", "target", ""], target_rows), ""]

    projection = []
    for name in (TARGET_ARCHITECTURE, "Slow Fusion + Multires"):
        for policy in POLICIES:
            rate = _rate(data, name, policy, "training", bt)
            if not rate:
                continue
            for gpus in PROJECTION_GPUS:
                for efficiency in PROJECTION_EFFICIENCY:
                    days = PAPER_CLIPS_SEEN / (rate * gpus * efficiency) / 86400
                    projection.append([f"{name}, {policy}", f"{rate:.1f} (training@{bt}, this run)", gpus,
                                       f"{efficiency:.2f}", f"{days:,.2f}" if days < 10 else f"{days:,.0f}"])
    if projection:
        out += [f"## PROJECTION (not a measurement): {PAPER_CLIPS_SEEN:,} training clips (Sports-1M scale)", "",
                "days = clips / (per-device clips/s x devices x efficiency) / 86400, from this run's per-device "
                "training rate; assumes the input pipeline keeps up and the stated data-parallel efficiency.", "",
                _table(["model", "per-device clips/s", "devices", "efficiency", "days"], projection), ""]

    a = data["augmentation"]
    if a:
        out += ["## On-device augmentation", "",
                f"PaperAugmentation (resize_to={a['resize_to']}) on {a['input']} clips -> {a['output']}, batch "
                f"{a['batch']}: {a['clips_per_s']:.0f} clips/s.", ""]
    d = data["diagnosis"]
    if d:
        out += ["## Diagnosis (Slow Fusion, mixed_bfloat16)", ""]
        if "no_lrn" in d:
            n = d["no_lrn"]
            base_i = _rate(data, TARGET_ARCHITECTURE, "mixed_bfloat16", "inference", n["inference_batch"])
            base_t = _rate(data, TARGET_ARCHITECTURE, "mixed_bfloat16", "training", n["training_batch"])
            out.append(f"- Without LRN: inference@{n['inference_batch']} {n['inference_clips_per_s']:.1f} clips/s "
                       f"(with LRN {_fmt(base_i)}), training@{n['training_batch']} {n['training_clips_per_s']:.1f} "
                       f"clips/s (with LRN {_fmt(base_t)}).")
        if "conv1" in d:
            c = d["conv1"]
            out.append(f"- conv1 alone ({c['gflops']:.3f} GFLOPs/clip), batch {c['batch']}: {c['clips_per_s']:.0f} "
                       f"clips/s, {c['tflops']:.3g} TFLOP/s ({_fmt(c['tflops'] / peak if peak else None, '.2f')} of "
                       "the bf16 peak).")
        out.append("")
    if data["skipped"]:
        out += ["## Skipped (time box)", ""] + [f"- {item}" for item in data["skipped"]] + [""]
    if data["errors"]:
        out += ["## Errors", ""] + [f"- {item}" for item in data["errors"]] + [""]
    return "\n".join(out)


# --- main ----------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.environ.get("OUT") or "bench_gpu_out",
                        help="Folder for results.json and tables.md (default: $OUT, else ./bench_gpu_out).")
    parser.add_argument("--budget", type=float, default=None,
                        help="Seconds for the whole run, compiles included (default 450; 600 with --quick).")
    parser.add_argument("--min-time", type=float, default=None,
                        help="Seconds per timed loop (default 0.5; 0.05 with --quick).")
    parser.add_argument("--quick", action="store_true",
                        help=f"Tiny models ({QUICK_SPEC}, 48 x 48 frames), small batches, 256^3 GEMMs: "
                             "checks the script on any device, the CPU included.")
    parser.add_argument("--architectures", default=",".join(ARCHITECTURE_NAMES),
                        help="Comma list of Table 1 names (default: the four of the issue).")
    parser.add_argument("--no-diagnosis", action="store_true", help="Skip the without-LRN and conv1 runs.")
    args = parser.parse_args(argv)
    args.budget = args.budget if args.budget is not None else (600.0 if args.quick else 450.0)
    args.min_time = args.min_time if args.min_time is not None else (0.05 if args.quick else 0.5)
    args.architectures = [a.strip() for a in args.architectures.split(",") if a.strip()]
    unknown = [a for a in args.architectures if a not in ARCHITECTURE_NAMES]
    if unknown:
        parser.error(f"--architectures: unknown {unknown}; choose from {list(ARCHITECTURE_NAMES)}")
    return args


def plan(architectures):
    """(architecture, policy) in order of what the targets need first."""
    order = [(TARGET_ARCHITECTURE, "mixed_bfloat16"), (TARGET_ARCHITECTURE, "float32"),
             ("Slow Fusion + Multires", "mixed_bfloat16"), ("Single-Frame", "mixed_bfloat16"),
             ("Single-Frame + Multires", "mixed_bfloat16"), ("Single-Frame", "float32"),
             ("Single-Frame + Multires", "float32"), ("Slow Fusion + Multires", "float32")]
    return [(name, policy) for name, policy in order if name in architectures]


def main(argv=None):
    args = parse_args(argv)
    sys.meta_path.insert(0, _Refuse({"tensorflow", "av"}))
    if os.environ.get("KERAS_BACKEND", "jax") != "jax":
        raise SystemExit(f"bench_gpu.py runs on Keras' JAX backend; KERAS_BACKEND={os.environ['KERAS_BACKEND']!r}")
    os.environ["KERAS_BACKEND"] = "jax"
    sys.path.insert(0, REPO_ROOT)
    clock = Clock(args.budget)
    settings = QUICK if args.quick else FULL
    run = Run(args.out, clock, args.quick, settings)
    run.data["environment"] = environment()
    clock.log(f"{run.data['environment']}")
    import keras  # noqa: F401  (after the backend is fixed)

    run.data["gemm"] = run.measure("GEMM peaks", 5, lambda: gemm_peaks(settings["gemm_size"], clock, args.min_time)) or {}
    run_augmentation(run, settings, args.min_time)
    run_models(run, plan(args.architectures), settings, args.min_time)
    if not args.no_diagnosis:
        run_diagnosis(run, settings, args.min_time)
    run.save()
    print(render(run.data))
    clock.log(f"done; tables in {os.path.join(args.out, 'tables.md')}")
    return 1 if run.data["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
