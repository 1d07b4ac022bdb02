"""The architectures under the JAX backend, and TF/JAX numerical agreement.

Keras picks its backend once per process, so JAX runs in a subprocess.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import TINY_SIZE
from conftest import TINY_SPEC

import keras_sportsnet as ksn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VARIANTS = [
    ("single_frame", "full"),
    ("early", "full"),
    ("late", "full"),
    ("slow", "full"),
    ("single_frame", "multires"),
    ("slow", "multires"),
    ("single_frame", "fovea"),
    ("single_frame", "context"),
]

JAX_SCRIPT = """
import json, sys
import numpy as np, keras, keras_sportsnet as ksn
assert keras.backend.backend() == "jax", keras.backend.backend()
jobs = json.load(open(sys.argv[1]))
for job in jobs:
    model = ksn.build_model(**job["kwargs"])
    model.load_weights(job["weights"])
    clips = np.load(job["clips"])
    np.save(job["out"], keras.ops.convert_to_numpy(model(clips)))
    fit = ksn.build_model(**job["kwargs"])
    fit.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    loss = fit.train_on_batch(clips, np.zeros(len(clips), "int32"))
    assert np.isfinite(loss), loss
print("ok", len(jobs))
"""


def _run(args, env_backend):
    env = dict(os.environ, KERAS_BACKEND=env_backend, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="drives JAX from the TF run")
def test_tensorflow_and_jax_agree_on_every_variant(tmp_path):
    jobs, expected = [], {}
    for fusion, resolution in VARIANTS:
        frames = ksn.TEMPORAL_PLANS[fusion]["num_frames"]
        size = TINY_SIZE if resolution == "full" else TINY_SIZE + 4
        kwargs = {
            "fusion": fusion, "resolution": resolution, "spec": TINY_SPEC,
            "input_shape": [frames, size, size, 3], "classes": 6,
        }
        model = ksn.build_model(**{**kwargs, "input_shape": tuple(kwargs["input_shape"])})
        stem = os.path.join(tmp_path, f"{fusion}_{resolution}")
        model.save_weights(stem + ".weights.h5")
        clips = np.random.default_rng(7).uniform(0, 255, (3, frames, size, size, 3)).astype("float32")
        np.save(stem + "_clips.npy", clips)
        expected[stem] = keras.ops.convert_to_numpy(model(clips))
        jobs.append({"kwargs": kwargs, "weights": stem + ".weights.h5", "clips": stem + "_clips.npy", "out": stem + "_jax.npy"})
    spec_file = os.path.join(tmp_path, "jobs.json")
    with open(spec_file, "w") as f:
        json.dump(jobs, f)
    script = os.path.join(tmp_path, "run_jax.py")
    with open(script, "w") as f:
        f.write(JAX_SCRIPT)
    result = _run([sys.executable, script, spec_file], "jax")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for stem, probabilities in expected.items():
        np.testing.assert_allclose(np.load(stem + "_jax.npy"), probabilities, rtol=1e-4, atol=1e-6, err_msg=stem)


# The architecture, layer and preprocessor test files also run whole under JAX, without TensorFlow installed:
# tests/backends/test_backends_without_tensorflow.py (they carry the tensorflow_free marker).
