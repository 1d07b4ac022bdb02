"""A pip-installed wheel carries the shipped presets: build it, install it outside the repository, classify.

Slow (a wheel build and a fresh virtual environment): about a minute.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IGNORE = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", ".reproduce_work*", "__pycache__", ".pytest_cache")

SCRIPT = r"""
import json, os, sys, tempfile
import numpy as np
import keras_sportsnet as ksn
from keras_sportsnet.datasets.synthetic_sports import synthetic_sports
from keras_sportsnet.data import probe_video, read_clip

assert os.path.realpath(ksn.__file__).startswith(os.path.realpath(sys.prefix)), ksn.__file__
folder = tempfile.mkdtemp()
demo = synthetic_sports(1, classes=["gym_roll_fast"], num_frames=40, size=64, seed=2026).write(folder).paths[0]
frames = probe_video(demo).num_frames
results = {"package": ksn.__file__, "presets": {}}
for row in ksn.list_presets():
    model = ksn.from_preset(row["name"])
    span = (model.preprocessor.num_frames - 1) * model.preprocessor.frame_stride + 1
    starts = np.linspace(0, frames - span, 4).astype(int)
    clips = np.stack([read_clip(demo, list(range(s, s + span, model.preprocessor.frame_stride))) for s in starts])
    probabilities = model.predict(clips, verbose=0).mean(axis=0)   # raw uint8 64 x 64 clips -> the preprocessor
    top = int(np.argmax(probabilities))
    results["presets"][row["name"]] = {"top": model.class_names[top], "probability": float(probabilities[top]),
                                       "resize_to": model.preprocessor.resize_to}
print(json.dumps(results))
"""


@pytest.mark.slow
def test_wheel_installs_the_presets_and_classifies_the_demo_video(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=IGNORE)
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(wheels)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = wheels.glob("keras_sportsnet-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for preset in ("slow_fusion_synthetic", "single_frame_multires_synthetic"):
        for name in ("config.json", "model.weights.h5", "task.json", "task.weights.h5", "preprocessor.json",
                     "metadata.json", "README.md"):
            assert f"keras_sportsnet/presets/shipped/{preset}/{name}" in names
    assert "keras_sportsnet/presets/shipped.json" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    install = subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    run = subprocess.run([python, "-c", SCRIPT], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(run.stdout.strip().splitlines()[-1])
    assert str(venv) in results["package"]
    presets = results["presets"]
    assert set(presets) == {"single_frame_synthetic", "single_frame_multires_synthetic", "early_fusion_synthetic",
                            "late_fusion_synthetic", "slow_fusion_synthetic"}
    assert all(row["resize_to"] == 64 for row in presets.values())
    assert presets["slow_fusion_synthetic"]["top"] == "gym_roll_fast"
    print(json.dumps(presets, indent=1))
