"""Exported artifacts run in their own runtimes and agree with Keras: TensorFlow, onnxruntime, ai-edge-litert."""

import keras
import numpy as np
import pytest

import keras_sportsnet as ksn
from keras_sportsnet.models.export import export_model
from keras_sportsnet.models.export import framewise_pooling_copy

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="export runs on TensorFlow")

SPEC = "C(4,5,2)-N-P-C(6,3,1)-P-FC(8)"


@pytest.fixture(scope="module")
def multires():
    """A never-called multires slow fusion model (both 3-D pooling kinds) with a non-default preprocessor."""
    keras.utils.set_random_seed(11)
    model = ksn.SlowFusion(spec=SPEC, input_shape=(10, 34, 34, 3), classes=3, resolution="multires")
    model.preprocessor = ksn.VideoPreprocessor(num_frames=10, image_size=34, resize_to=40)
    raw = np.random.default_rng(0).integers(0, 256, (2, 10, 48, 64, 3), dtype=np.uint8)
    return model, raw


def keras_outputs(model, raw):
    ready = keras.ops.convert_to_numpy(model.preprocessor(raw))
    return ready, keras.ops.convert_to_numpy(model(ready))


def test_framewise_copy_shares_the_weights_and_computes_the_same(multires):
    model, raw = multires
    copy = framewise_pooling_copy(model)
    kinds = {type(layer).__name__ for layer in copy.layers[-2].layers} if hasattr(copy.layers[-2], "layers") else set()
    assert "MaxPooling3D" not in kinds and "AveragePooling3D" not in kinds
    assert {id(v) for v in copy.weights} == {id(v) for v in model.weights}
    ready, expected = keras_outputs(model, raw)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(copy(ready)), expected, rtol=1e-5, atol=1e-6)


def test_saved_model_serves_uint8_clips_of_any_size(multires, tmp_path):
    import tensorflow as tf

    model, raw = multires
    ready, expected = keras_outputs(model, raw)
    path = export_model(model, str(tmp_path / "saved"))
    loaded = tf.saved_model.load(path)  # kept in a variable (the module docstring says why)
    np.testing.assert_allclose(loaded.serve(tf.constant(raw)).numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.serve_preprocessed(tf.constant(ready)).numpy(), expected, rtol=1e-5, atol=1e-6)
    other = np.random.default_rng(1).integers(0, 256, (1, 10, 90, 70, 3), dtype=np.uint8)
    np.testing.assert_allclose(loaded.serve(tf.constant(other)).numpy(), model.predict(other, verbose=0),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("frame_size", [None, (48, 64)])
def test_onnx_runs_in_onnxruntime(multires, tmp_path, frame_size, recwarn):
    import onnxruntime

    model, raw = multires
    ready, expected = keras_outputs(model, raw)
    path = export_model(model, str(tmp_path / "model.onnx"), format="onnx", frame_size=frame_size)
    # verbose=False: no converter warnings (tf2onnx's `np.object` probe).
    assert [str(w.message) for w in recwarn if issubclass(w.category, FutureWarning)] == []
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    (inputs,) = session.get_inputs()
    assert inputs.name == "clips"
    assert inputs.type == ("tensor(float)" if frame_size is None else "tensor(uint8)")
    outputs = session.run(None, {inputs.name: ready if frame_size is None else raw})[0]
    np.testing.assert_allclose(outputs, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("frame_size", [None, (48, 64)])
def test_litert_uses_builtin_operators_only(multires, tmp_path, frame_size):
    from ai_edge_litert.interpreter import Interpreter

    model, raw = multires
    ready, expected = keras_outputs(model, raw)
    path = export_model(model, str(tmp_path / "model.tflite"), format="litert", frame_size=frame_size)
    interpreter = Interpreter(model_path=path)  # no Flex delegate: a Flex op would fail allocate_tensors
    (details,) = interpreter.get_input_details()
    interpreter.resize_tensor_input(details["index"], (2, *details["shape"][1:]))
    interpreter.allocate_tensors()
    interpreter.set_tensor(details["index"], ready if frame_size is None else raw)
    interpreter.invoke()
    outputs = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(outputs, expected, rtol=1e-4, atol=1e-5)
    operators = {op["op_name"] for op in interpreter._get_ops_details()}
    assert not any(name.startswith("Flex") or "POOL_3D" in name for name in operators), operators


def test_export_checks_its_arguments(multires, tmp_path):
    model, _ = multires
    with pytest.raises(ValueError, match=r"`format` must be one of \['tf_saved_model', 'onnx', 'litert'\]"):
        export_model(model, str(tmp_path / "x"), format="tflite")
    with pytest.raises(TypeError, match="with a `preprocessor`"):
        export_model(model.backbone, str(tmp_path / "x"), format="onnx")


def test_onnx_export_of_a_never_called_preset_model(tmp_path):
    import onnxruntime

    model = ksn.from_preset("slow_fusion_synthetic")  # built, never called
    path = export_model(model, str(tmp_path / "slow.onnx"), format="onnx", frame_size=(64, 64))
    raw = np.random.default_rng(2).integers(0, 256, (1, 10, 64, 64, 3), dtype=np.uint8)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: raw})[0]
    np.testing.assert_allclose(outputs, model.predict(raw, verbose=0), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_saved_model_export_on_the_jax_backend_with_a_frame_size(tmp_path):
    """jax2tf traces the preprocessor with JAX tracers inside a TF function: the transforms keep JAX ops there."""
    import subprocess
    import sys

    script = (
        "import numpy as np, tensorflow as tf, keras_sportsnet as ksn\n"
        "m = ksn.from_preset('slow_fusion_synthetic')\n"
        f"path = ksn.export_model(m, {str(tmp_path / 'saved')!r}, frame_size=(64, 64))\n"
        "raw = np.random.default_rng(0).integers(0, 256, (2, 10, 64, 64, 3), dtype=np.uint8)\n"
        "loaded = tf.saved_model.load(path)\n"
        "print('max difference', float(np.abs(loaded.serve(tf.constant(raw)).numpy() - m.predict(raw, verbose=0)).max()))\n"
    )
    import os

    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    difference = float(result.stdout.strip().splitlines()[-1].split()[-1])
    assert difference < 1e-5
