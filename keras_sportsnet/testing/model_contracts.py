"""Contract checks for keras_sportsnet models (keras-hub's ``run_backbone_test``/``run_task_test`` role).

One call checks everything a model of this package promises, so every
architecture is held to the same contract and new ones (your own specs,
fusions or resolutions) can be checked in your own tests:

- `run_backbone_test`: config round trip (``get_config`` -> ``from_config``
  gives the same JSON and the same parameters), eager call, ``predict`` on
  NumPy arrays and on a ``tf.data.Dataset``, one ``fit`` step, mixed precision
  (global policy ``mixed_float16``: float32 variables, finite outputs), and a
  ``.keras`` save/load in safe mode with identical outputs.
- `run_classifier_test`: the same for a `SportsNetVideoClassifier` over that
  backbone, plus probabilities that sum to one, raw uint8 clips of another frame
  size through the preprocessor, and a preset round trip
  (``save_to_preset`` -> ``from_preset``: same outputs, same preprocessor and
  class names; ``include_top=False`` and a new class count load without the head).

Plain functions raising AssertionError (no test framework needed); nothing in
the library imports this module.

```python
from keras_sportsnet.testing.model_contracts import run_classifier_test

def test_my_variant(tmp_path):
    run_classifier_test({"spec": "C(8,5,2)-N-P-FC(16)", "fusion": "slow", "image_size": 32},
                        num_classes=4, tmp_dir=str(tmp_path))
```
"""

import contextlib
import json
import os
import tempfile

import keras
import numpy as np

__all__ = ["random_clips", "run_backbone_test", "run_classifier_test", "run_serialization_test"]


def random_clips(model, batch=2, seed=0, low=0.0, high=255.0):
    """Float32 clips of ``model``'s input shape (values in ``[low, high)``).

    Example:
    ```python
    clips = random_clips(model, batch=2)
    ```
    """
    shape = (batch, *tuple(model.input.shape[1:]))
    return np.random.default_rng(seed).uniform(low, high, shape).astype("float32")


def _numpy(value):
    return keras.ops.convert_to_numpy(value)


def _close(actual, expected, what, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(_numpy(actual), _numpy(expected), rtol=rtol, atol=atol, err_msg=what)


def run_serialization_test(instance):
    """``from_config(get_config())`` rebuilds an object with the same JSON config (and parameters for models).

    Returns:
        The rebuilt object.

    Example:
    ```python
    run_serialization_test(ksn.SlowFusion(spec=..., input_shape=(10, 32, 32, 3)))
    ```
    """
    config = instance.get_config()
    rebuilt = type(instance).from_config(config)
    before = json.dumps(keras.saving.serialize_keras_object(instance)["config"], sort_keys=True, default=str)
    after = json.dumps(keras.saving.serialize_keras_object(rebuilt)["config"], sort_keys=True, default=str)
    assert before == after, f"config changed in a round trip:\n{before}\n{after}"
    if hasattr(instance, "count_params"):
        assert rebuilt.count_params() == instance.count_params(), "parameter count changed in a round trip"
    return rebuilt


@contextlib.contextmanager
def _global_policy(name):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _tf_dataset(x, y=None, batch=2):
    try:
        import tensorflow as tf
    except ImportError:  # pragma: no cover - TensorFlow is optional
        return None
    data = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    return data.batch(batch)


def _check_common(build, expected_shape, fit_target, tmp_dir, run_mixed_precision, policy):
    model = build()
    clips = random_clips(model)
    outputs = model(clips)
    assert tuple(outputs.shape) == (len(clips), *expected_shape), (tuple(outputs.shape), expected_shape)
    rebuilt = run_serialization_test(model)
    rebuilt.set_weights(model.get_weights())
    _close(rebuilt(clips), outputs, "from_config + set_weights")
    _close(model.predict(clips, batch_size=1, verbose=0), outputs, "predict on arrays")
    dataset = _tf_dataset(clips)
    if dataset is not None:
        _close(model.predict(dataset, verbose=0), outputs, "predict on tf.data")
    trainable = build()
    trainable.compile(optimizer=keras.optimizers.SGD(1e-3), loss=fit_target[0])
    history = trainable.fit(clips, fit_target[1](len(clips)), epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0]), history.history
    path = os.path.join(tmp_dir, f"{model.name}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    _close(loaded(clips), outputs, ".keras save/load")
    if run_mixed_precision:
        with _global_policy(policy):
            mixed = build()
        assert all(v.dtype == "float32" for v in mixed.weights), "mixed precision: variables must stay float32"
        mixed_out = _numpy(mixed(clips))
        assert mixed_out.shape == tuple(outputs.shape) and np.isfinite(mixed_out.astype("float32")).all()
    return model, clips, outputs


def run_backbone_test(init_kwargs, *, expected_output_shape=None, tmp_dir=None, run_mixed_precision=True,
                      mixed_precision_policy="mixed_bfloat16"):
    """Checks the `SportsNetBackbone` contract for ``init_kwargs`` (see the module docstring).

    Args:
        init_kwargs: dict of `SportsNetBackbone` arguments (a tiny spec keeps it fast).
        expected_output_shape: tuple without the batch axis, or None (the last FC's units).
        tmp_dir: str or None. Where to write the ``.keras`` file (default: a temporary folder).
        run_mixed_precision: bool.
        mixed_precision_policy: str. The global dtype policy of the mixed precision check.

    Returns:
        The backbone.

    Example:
    ```python
    run_backbone_test({"spec": "C(8,5,2)-N-P-FC(16)", "fusion": "early", "image_size": 32})
    ```
    """
    from keras_sportsnet.models.backbone import SportsNetBackbone

    def build():
        return SportsNetBackbone(**init_kwargs)

    if expected_output_shape is None:
        expected_output_shape = tuple(build().output.shape[1:])
    with _maybe_tmp(tmp_dir) as folder:
        model, _, _ = _check_common(
            build, tuple(expected_output_shape), ("mse", lambda n: np.zeros((n, *expected_output_shape), "float32")),
            folder, run_mixed_precision, mixed_precision_policy,
        )
    return model


@contextlib.contextmanager
def _maybe_tmp(tmp_dir):
    if tmp_dir is not None:
        yield tmp_dir
        return
    with tempfile.TemporaryDirectory(prefix="ksn_contract_") as folder:
        yield folder


def run_classifier_test(backbone_kwargs, *, num_classes=3, tmp_dir=None, run_mixed_precision=True,
                        run_preset=True, mixed_precision_policy="mixed_bfloat16"):
    """Checks the `SportsNetVideoClassifier` contract over a backbone of ``backbone_kwargs``.

    Args:
        backbone_kwargs: dict of `SportsNetBackbone` arguments.
        num_classes: int.
        tmp_dir: str or None. Where to write files (default: a temporary folder).
        run_mixed_precision: bool.
        run_preset: bool. Also the preset round trip.
        mixed_precision_policy: str. The global dtype policy of the mixed precision check.

    Returns:
        The classifier.

    Example:
    ```python
    run_classifier_test({"spec": "C(8,5,2)-N-P-FC(16)", "fusion": "late", "image_size": 32}, num_classes=4)
    ```
    """
    from keras_sportsnet.models.backbone import SportsNetBackbone
    from keras_sportsnet.models.classifier import SportsNetVideoClassifier

    names = [f"class_{i}" for i in range(num_classes)]

    def build():
        return SportsNetVideoClassifier(SportsNetBackbone(**backbone_kwargs), num_classes=num_classes,
                                        class_names=names)

    with _maybe_tmp(tmp_dir) as folder:
        model, clips, outputs = _check_common(
            build, (num_classes,), ("sparse_categorical_crossentropy", lambda n: np.arange(n) % num_classes),
            folder, run_mixed_precision, mixed_precision_policy,
        )
        np.testing.assert_allclose(_numpy(outputs).sum(axis=-1), 1.0, atol=1e-4, err_msg="probabilities sum to 1")
        height, width = model.preprocessor.image_size
        raw = np.random.default_rng(3).integers(0, 256, (2, clips.shape[1], height + 9, width + 17, 3), np.uint8)
        _close(model.predict(raw, verbose=0), model(model.preprocessor(raw)), "raw uint8 clips via the preprocessor")
        if run_preset:
            _check_preset(model, clips, outputs, folder, num_classes)
    return model


def _check_preset(model, clips, outputs, folder, num_classes):
    import warnings

    from keras_sportsnet.models.backbone import SportsNetBackbone
    from keras_sportsnet.models.classifier import SportsNetVideoClassifier

    path = os.path.join(folder, f"{model.name}_preset")
    model.save_to_preset(path, overwrite=True)
    loaded = SportsNetVideoClassifier.from_preset(path)
    _close(loaded(clips), outputs, "preset round trip")
    assert loaded.class_names == model.class_names, (loaded.class_names, model.class_names)
    unnamed = [{k: v for k, v in p.get_config().items() if k != "name"} for p in (loaded.preprocessor, model.preprocessor)]
    assert unnamed[0] == unnamed[1], unnamed
    backbone = SportsNetBackbone.from_preset(path)
    _close(backbone(clips), model.backbone(clips), "backbone from a classifier preset")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        transfer = SportsNetVideoClassifier.from_preset(path, num_classes=num_classes + 1)
    assert transfer.num_classes == num_classes + 1
    _close(transfer.backbone(clips), model.backbone(clips), "backbone under a new head")
