"""Export a classifier to a serving format that runs in its own runtime: SavedModel, ONNX, LiteRT.

`export_model(model, path, format=...)` wraps Keras' own exporters (`keras.export.ExportArchive`,
``model.export``) and makes each artifact usable without keras_sportsnet:

- ``"tf_saved_model"``: endpoint ``serve`` takes **uint8** clips straight from a
  decoder, ``(batch, frames, H, W, 3)`` of any frame size (or of ``frame_size``),
  and runs ``model.preprocessor`` inside the signature; endpoint
  ``serve_preprocessed`` takes float32 clips of the model's frame size. Load with
  ``loaded = tf.saved_model.load(path)``, then call ``loaded.serve(clips)`` (keep
  ``loaded`` alive: chained as ``tf.saved_model.load(path).serve(clips)`` the
  variables are freed before the call).
- ``"onnx"``: one input named ``clips``, float32 clips of the model's frame size; with
  ``frame_size=(H, W)``, uint8 clips of that size with the preprocessor inside.
  The model is called once before export (a never-called model cannot be traced).
  Run with ``onnxruntime``.
- ``"litert"``: like ``"onnx"``, built from TFLite builtin operators only: the
  paper's 3-D poolings of temporal extent 1 (``MaxPooling3D((1, 2, 2))``, the
  multires context stream's ``AveragePooling3D``) are rewritten as 2-D pooling
  over the frames (`keras_sportsnet.layers.FramewisePooling`; the same
  variables, nothing retrained), so the file runs in ``ai-edge-litert`` without
  the Flex delegate.

All three need TensorFlow (``pip install "keras-sportsnet[export]"`` adds
``onnx``, ``onnxruntime``, ``tf2onnx`` and ``ai-edge-litert``).
"""

import contextlib
import os
import warnings

import keras
import numpy as np

from keras_sportsnet.layers import FramewisePooling
from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_size
from keras_sportsnet.utils.imports import require_tensorflow

__all__ = ["EXPORT_FORMATS", "export_model", "framewise_pooling_copy"]

EXPORT_FORMATS = ("tf_saved_model", "onnx", "litert")


def _framewise(layer):
    """A `FramewisePooling` for a 3-D pooling of temporal extent 1; any other layer itself (shared weights)."""
    if isinstance(layer, (keras.layers.MaxPooling3D, keras.layers.AveragePooling3D)):
        if layer.pool_size[0] == 1 and layer.strides[0] == 1 and layer.data_format == "channels_last":
            mode = "max" if isinstance(layer, keras.layers.MaxPooling3D) else "avg"
            return FramewisePooling(layer.pool_size[1:], layer.strides[1:], layer.padding, mode, name=layer.name)
    return layer


def framewise_pooling_copy(model):
    """A plain functional copy of ``model`` whose 3-D poolings of temporal extent 1 are 2-D poolings per frame.

    Every other layer is the model's own (its variables are shared, not
    copied), so the copy computes the same function with the same weights.

    Example:
    ```python
    copy = framewise_pooling_copy(ksn.SlowFusion(resolution="multires"))
    ```
    """
    return keras.models.clone_model(model, clone_function=_framewise, recursive=True)


def _clip_shape(model):
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is None:
        raise TypeError(
            f"`model` must be a keras_sportsnet classifier with a `preprocessor`. Received: {type(model).__name__}"
        )
    return preprocessor.num_frames, preprocessor.image_size


def _with_preprocessor(model, network, frame_size):
    """A functional model: uint8 ``(B, T, H, W, 3)`` -> preprocessor -> ``network``."""
    frames, _ = _clip_shape(model)
    clips = keras.Input((frames, *frame_size, 3), dtype="uint8", name="clips")
    return keras.Model(clips, network(model.preprocessor(clips)), name=f"{model.name}_serving")


@contextlib.contextmanager
def _quiet(tf, verbose):
    """Without ``verbose``: no TensorFlow INFO lines ("Assets written to ...") and no warnings from the converters."""
    if verbose:
        yield
        return
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # tf2onnx inside Keras probes the removed `np.object`
            yield
    finally:
        logger.setLevel(level)


def export_model(model, path, *, format="tf_saved_model", frame_size=None, verbose=False):
    """Exports a classifier for serving (see the module docstring for what each format takes).

    Args:
        model: a `SportsNetVideoClassifier` or `CNNAverage`.
        path: the SavedModel folder, ``.onnx`` or ``.tflite`` file to write.
        format: ``"tf_saved_model"``, ``"onnx"`` or ``"litert"``.
        frame_size: int, ``(height, width)`` or None. The decoded frame size
            the artifact takes as uint8 (the preprocessor inside). None: any
            size for ``"tf_saved_model"``'s ``serve``; for ``"onnx"`` and
            ``"litert"``, float32 clips of the model's own frame size.
        verbose: bool. Keras' and TensorFlow's export messages and the
            converters' warnings (False: silent).

    Returns:
        str. ``path``.

    Example:
    ```python
    model = ksn.from_preset("slow_fusion_synthetic")
    ksn.models.export_model(model, "slow_savedmodel")                       # serve(uint8 clips of any size)
    ksn.models.export_model(model, "slow.onnx", format="onnx")
    ksn.models.export_model(model, "slow.tflite", format="litert", frame_size=(64, 64))
    ```
    """
    check_choice("format", format, EXPORT_FORMATS)
    tf = require_tensorflow(f"export_model(format={format!r})")
    frames, image_size = _clip_shape(model)
    frame_size = None if frame_size is None else check_size("frame_size", frame_size)
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    model(np.zeros((1, frames, *image_size, 3), "float32"))  # a model must have been called to be traced

    if format == "tf_saved_model":
        if keras.backend.backend() == "jax" and frame_size is None:
            raise ValueError(
                "On the JAX backend the SavedModel signature needs a fixed frame size (jax2tf cannot trace the "
                "preprocessor for any frame size): pass frame_size=(height, width). Received: frame_size=None"
            )
        archive = keras.export.ExportArchive()
        archive.track(model)
        preprocessor = model.preprocessor
        height, width = frame_size or (None, None)
        archive.add_endpoint(
            name="serve",
            fn=lambda clips: model(preprocessor(clips), training=False),
            input_signature=[tf.TensorSpec((None, frames, height, width, 3), tf.uint8, name="clips")],
        )
        archive.add_endpoint(
            name="serve_preprocessed",
            fn=lambda clips: model(clips, training=False),
            input_signature=[tf.TensorSpec((None, frames, *image_size, 3), tf.float32, name="clips")],
        )
        with _quiet(tf, verbose):
            archive.write_out(path, verbose=verbose)
        return path

    network = framewise_pooling_copy(model) if format == "litert" else model
    if frame_size is not None:
        network = _with_preprocessor(model, network, frame_size)
    shape, dtype = (None, frames, *(frame_size or image_size), 3), ("uint8" if frame_size else "float32")
    if keras.backend.backend() == "tensorflow":  # a named spec: the artifact's input is called "clips"
        signature = [tf.TensorSpec(shape, dtype, name="clips")]
    else:
        signature = [keras.InputSpec(shape=shape, dtype=dtype)]
    with _quiet(tf, verbose):
        network.export(path, format=format, input_signature=signature, verbose=verbose)
    return path
