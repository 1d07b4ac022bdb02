"""benchmarks/gpu/run.sh --quick on the CPU: the GPU benchmark runs end to end before a GPU minute is spent.

The full run is for the lent GPU machine (benchmarks/README.md); ``--quick``
swaps in tiny models, small batches and 256^3 GEMMs, on whatever device JAX
has. TensorFlow and PyAV are blocked inside the benchmark (the GPU image has
neither), so this also proves that its path needs Keras + JAX alone.
"""

import json
import os
import subprocess

import pytest

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_gpu_benchmark_quick_run_writes_every_table(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, OUT=str(out), KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="")
    env.pop("XLA_FLAGS", None)
    completed = subprocess.run(["bash", os.path.join(ROOT, "benchmarks", "gpu", "run.sh"), "--quick"],
                               env=env, capture_output=True, text=True, timeout=1200)
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert {"tables.md", "results.json", "log.txt", "environment.txt"} <= set(os.listdir(out))

    results = json.loads((out / "results.json").read_text())
    assert results["quick"] and not results["errors"] and not results["skipped"], results
    assert set(results["gemm"]) == {"bf16", "fp32_default", "fp32_highest"}
    assert all(g["tflops"] > 0 for g in results["gemm"].values())
    assert results["augmentation"]["clips_per_s"] > 0
    assert len(results["models"]) == 8  # 4 architectures x (float32, mixed_bfloat16)
    for entry in results["models"].values():
        assert set(entry["inference"]) == {"2", "8"} and set(entry["training"]) == {"2", "4"}, entry
        assert all(m["clips_per_s"] > 0 and m["tflops"] > 0 for k in ("inference", "training")
                   for m in entry[k].values())
    assert {"no_lrn", "conv1"} <= set(results["diagnosis"])

    tables = (out / "tables.md").read_text()
    for heading in ("## GEMM peaks", "## Models", "## Targets", "## On-device augmentation", "## Diagnosis"):
        assert heading in tables
    assert "multires speedup Slow Fusion mixed_bfloat16 inference@8" in tables
    assert tables.strip() in completed.stdout  # the tables close the output (the device reply's tail)
