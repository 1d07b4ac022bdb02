"""Optional dependencies, imported on first use with one clear error when missing.

keras_sportsnet's models, layers, presets and single-video prediction need
only Keras 3 (any backend), NumPy, h5py and PyAV. TensorFlow is needed for
the `tf.data` pipelines, prepared shards, the TensorFlow-only paths (fused
LRN, MirroredStrategy) and TensorBoard; matplotlib for plots.

Example:
```python
from keras_sportsnet.utils.imports import require_tensorflow
tf = require_tensorflow("video_dataset_from_directory")
```
"""

import importlib
import importlib.util

__all__ = ["MissingDependencyError", "require", "require_tensorflow", "tensorflow_available"]

_EXTRAS = {
    "tensorflow": ("tensorflow", 'pip install "keras-sportsnet[tensorflow]"'),
    "matplotlib": ("matplotlib", 'pip install "keras-sportsnet[plots]"'),
    "av": ("PyAV", 'pip install av'),
    "huggingface_hub": ("huggingface_hub", 'pip install huggingface-hub'),
}


class MissingDependencyError(ImportError):
    """An optional dependency a feature needs is not installed; the message says how to install it."""


def require(module, feature):
    """Imports ``module`` or raises `MissingDependencyError` naming ``feature`` and the install command.

    Args:
        module: str. Module name (``"tensorflow"``, ``"matplotlib"``, ``"av"``...).
        feature: str. What needs it, for the message.

    Example:
    ```python
    plt = require("matplotlib", "plot_training_curves")
    ```
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        name, command = _EXTRAS.get(module.split(".")[0], (module, f"pip install {module}"))
        raise MissingDependencyError(
            f"{feature} needs {name}, which is not installed ({error}). Install it with: {command}"
        ) from None


def require_tensorflow(feature):
    """``import tensorflow`` for ``feature``, or a clear `MissingDependencyError`.

    Example:
    ```python
    tf = require_tensorflow("shard_dataset")
    ```
    """
    return require("tensorflow", feature)


def tensorflow_available():
    """True when TensorFlow can be imported (checked without importing it).

    Example:
    >>> isinstance(tensorflow_available(), bool)
    True
    """
    return importlib.util.find_spec("tensorflow") is not None
