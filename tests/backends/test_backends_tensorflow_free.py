"""The TensorFlow-free model zoo: what must work with Keras 3 alone, on any backend.

These tests run in the normal suite (on its backend) and, through the
``tensorflow_free`` marker, in a venv that has neither TensorFlow nor
matplotlib installed (tests/backends/test_backends_without_tensorflow.py, on
JAX and torch). They never import TensorFlow themselves.
"""

import importlib
import importlib.util
import os
import re
import subprocess
import sys
import tomllib

import keras
import numpy as np
import pytest
from conftest import TINY_SIZE
from conftest import TINY_SPEC

import keras_sportsnet as ksn
from keras_sportsnet.transforms import CenterCropResize
from keras_sportsnet.transforms import EvaluationViews
from keras_sportsnet.transforms import PaperAugmentation
from keras_sportsnet.transforms import RandomClipCrop
from keras_sportsnet.transforms import RandomClipFlip
from keras_sportsnet.utils.imports import MissingDependencyError
from keras_sportsnet.utils.imports import require_tensorflow
from keras_sportsnet.utils.imports import tensorflow_available

pytestmark = pytest.mark.tensorflow_free

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INSTALL_HINT = 'pip install "keras-sportsnet[tensorflow]"'


def _block_tensorflow(monkeypatch):
    """Makes ``import tensorflow`` fail in this process, as if it were not installed."""
    for name in [m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorflow", None)


def test_models_on_another_backend_load_neither_tensorflow_nor_visualization():
    # A fresh interpreter on this backend (JAX when the suite runs on TensorFlow): building and
    # running a model with on-device augmentation pulls in no TensorFlow, and
    # `import keras_sportsnet` no matplotlib of its own (Keras imports it when it is installed).
    script = (
        "import sys, numpy as np, keras, keras_sportsnet as ksn\n"
        "from keras_sportsnet.transforms import PaperAugmentation\n"
        f"m = ksn.SlowFusion(spec={TINY_SPEC!r}, input_shape=(10, {TINY_SIZE}, {TINY_SIZE}, 3), classes=3)\n"
        f"clips = np.zeros((1, 10, {TINY_SIZE + 8}, {TINY_SIZE + 8}, 3), 'uint8')\n"
        f"m(PaperAugmentation(crop_size={TINY_SIZE}, resize_to={TINY_SIZE + 4}, seed=0)(clips))\n"
        "print('tensorflow' in sys.modules, 'keras_sportsnet.visualization' in sys.modules)\n"
    )
    backend = "jax" if keras.backend.backend() == "tensorflow" else keras.backend.backend()
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.path.dirname(ksn.__path__[0]), env.get("PYTHONPATH")) if p)
    completed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.split()[-2:] == ["False", "False"], completed.stdout


def test_missing_tensorflow_is_one_clear_error_naming_the_feature_and_the_extra(monkeypatch):
    _block_tensorflow(monkeypatch)
    with pytest.raises(MissingDependencyError) as raised:
        require_tensorflow("shard_dataset")
    message = str(raised.value)
    assert message.startswith("shard_dataset needs tensorflow"), message
    assert INSTALL_HINT in message
    assert isinstance(raised.value, ImportError)  # `except ImportError` keeps working


@pytest.mark.skipif(tensorflow_available(), reason="TensorFlow is installed: the no-TensorFlow venv runs this")
def test_tf_data_pipelines_say_they_need_tensorflow(tmp_path):
    # The real thing, in the venv without TensorFlow: a tf.data entry point of the public API
    # fails with the one clear error, not a ModuleNotFoundError from deep inside.
    from keras_sportsnet.data.encoding import write_video

    for label in ("a", "b"):
        os.makedirs(tmp_path / "videos" / label)
        frames = np.random.default_rng(0).integers(0, 255, (24, 32, 32, 3), np.uint8)
        write_video(str(tmp_path / "videos" / label / "v.mp4"), frames)
    calls = {
        "video_dataset_from_directory": lambda: _as_tf(ksn.data.video_dataset_from_directory(
            str(tmp_path / "videos"), num_frames=2, image_size=16, batch_size=2, seed=0)),
        "shard_dataset": lambda: _as_tf(ksn.data.shard_dataset(str(tmp_path / "shards"), batch_size=2)),
    }
    for name, call in calls.items():
        with pytest.raises(MissingDependencyError) as raised:
            call()
        assert "tensorflow" in str(raised.value).lower() and INSTALL_HINT in str(raised.value), (name, raised.value)


def _as_tf(dataset):
    # Today the functions return tf.data datasets; a `VideoDataset` builds one on request.
    return dataset.as_tf_dataset() if hasattr(dataset, "as_tf_dataset") else dataset


@pytest.mark.parametrize("fusion, resolution", [("slow", "multires"), ("late", "full")])
def test_models_predict_train_and_round_trip_through_a_preset(tmp_path, fusion, resolution):
    size = TINY_SIZE + 4 if resolution != "full" else TINY_SIZE
    frames = ksn.TEMPORAL_PLANS[fusion]["num_frames"]
    model = ksn.build_model(fusion=fusion, resolution=resolution, spec=TINY_SPEC,
                            input_shape=(frames, size, size, 3), classes=3)
    clips = np.random.default_rng(0).uniform(0, 255, (2, frames, size, size, 3)).astype("float32")
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
    loss = model.train_on_batch(clips, np.array([0, 2]))
    assert np.isfinite(loss)
    expected = keras.ops.convert_to_numpy(model.predict_on_batch(clips))
    np.testing.assert_allclose(expected.sum(axis=-1), 1.0, rtol=1e-5)

    folder = ksn.save_preset(model, str(tmp_path / "preset"))
    loaded = ksn.from_preset(folder)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded.predict_on_batch(clips)), expected,
                               rtol=1e-5, atol=1e-6)


def test_augmentation_layers_on_uint8_clips_of_the_backend():
    # The on-device path: uint8 clips in, float clips of the crop size out, the same
    # crop and flip for every frame of a clip, and the evaluation views in order.
    rng = np.random.default_rng(1)
    clips = rng.integers(0, 256, (3, 4, 30, 40, 3), np.uint8)
    clips[:, 1:] = clips[:, :1]  # still clips: every frame the same image
    tensor = keras.ops.convert_to_tensor(clips)

    out = keras.ops.convert_to_numpy(PaperAugmentation(crop_size=20, resize_to=24, seed=3)(tensor, training=True))
    assert out.shape == (3, 4, 20, 20, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 1:], np.repeat(out[:, :1], 3, axis=1))  # one crop/flip per clip

    resized = keras.ops.convert_to_numpy(CenterCropResize(24)(tensor))
    cropped = keras.ops.convert_to_numpy(RandomClipCrop(20, seed=5)(resized, training=True))
    found = [any(np.array_equal(cropped[b, 0], resized[b, 0, y:y + 20, x:x + 20])
                 for y in range(5) for x in range(5)) for b in range(3)]
    assert all(found)  # a crop is a window of the resized frame, not a resample

    flipped = keras.ops.convert_to_numpy(RandomClipFlip(seed=0)(resized, training=True))
    for b in range(3):
        assert (np.array_equal(flipped[b], resized[b]) or np.array_equal(flipped[b], resized[b, :, :, ::-1]))

    views = keras.ops.convert_to_numpy(EvaluationViews(crop_size=20, resize_to=24)(tensor))
    assert views.shape == (3 * 4, 4, 20, 20, 3)
    np.testing.assert_array_equal(views[4], resized[1, :, 2:22, 2:22])  # clip 1, view 0: the centre
    np.testing.assert_array_equal(views[5], resized[1, :, 2:22, 2:22][:, :, ::-1])  # ... flipped


def test_visualization_is_imported_on_first_use_only():
    # `import keras_sportsnet` must not need matplotlib: the plots live behind the `plots` extra.
    module = importlib.import_module("keras_sportsnet")
    assert "visualization" in module.__all__
    if importlib.util.find_spec("matplotlib") is None:
        with pytest.raises(MissingDependencyError, match=r"keras-sportsnet\[plots\]"):
            module.visualization  # noqa: B018
    else:
        assert module.visualization.__name__ == "keras_sportsnet.visualization"
    with pytest.raises(AttributeError, match="no_such_thing"):
        module.no_such_thing  # noqa: B018


def test_declared_dependencies_leave_tensorflow_and_matplotlib_to_extras():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as file:
        project = tomllib.load(file)["project"]
    core = {_requirement_name(r).lower() for r in project["dependencies"]}
    assert not core & {"tensorflow", "tensorboard", "matplotlib"}, core
    extras = {key: {_requirement_name(r).lower() for r in value} for key, value in project["optional-dependencies"].items()}
    assert {"tensorflow", "tensorboard"} <= extras["tensorflow"]
    assert "matplotlib" in extras["plots"]
    # `pip install -e ".[test]"` (the README, CI) still sets up everything.
    assert {"tensorflow", "tensorboard", "matplotlib", "jax", "pytest"} <= extras["test"]


def _requirement_name(requirement):
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip()
