"""keras_sportsnet: the video CNNs of Karpathy et al. (CVPR 2014) for Keras 3.

The public names below are imported on first use (PEP 562), so that
``import keras_sportsnet`` and the ``keras-sportsnet`` command line start in a
fraction of a second: Keras (and with it the TensorFlow backend), matplotlib
and PyAV load only when a name that needs them is first touched. The first
such access also imports every module that registers Keras-serializable
classes (`KERAS_OBJECT_MODULES`), so ``keras.saving.load_model`` finds them;
so does ``import keras_sportsnet`` in a program that has imported Keras already.

Example:
```python
import keras_sportsnet as ksn
model = ksn.SlowFusion(weights="slow_fusion_synthetic")
```
"""

import importlib
import sys

from keras_sportsnet.version import __version__

KERAS_OBJECT_MODULES = (
    # Every module with a @keras.saving.register_keras_serializable class (checked by tests/cli/test_cli_startup.py).
    "keras_sportsnet.layers",
    "keras_sportsnet.models",
    "keras_sportsnet.training.recipe",
    "keras_sportsnet.transforms",
)
_registered = False

_EXPORTS = {
    # name: module that defines it (imported on first access)
    "ARCHITECTURES": "keras_sportsnet.analysis",
    "architecture_table": "keras_sportsnet.analysis",
    "count_flops": "keras_sportsnet.analysis",
    "LocalResponseNormalization": "keras_sportsnet.layers",
    "SelectFrames": "keras_sportsnet.layers",
    "FUSIONS": "keras_sportsnet.models",
    "RESOLUTIONS": "keras_sportsnet.models",
    "TEMPORAL_PLANS": "keras_sportsnet.models",
    "VideoPreprocessor": "keras_sportsnet.models",
    "CNNAverage": "keras_sportsnet.models",
    "EarlyFusion": "keras_sportsnet.models",
    "LateFusion": "keras_sportsnet.models",
    "SingleFrame": "keras_sportsnet.models",
    "SlowFusion": "keras_sportsnet.models",
    "SportsNetBackbone": "keras_sportsnet.models",
    "SportsNetVideoClassifier": "keras_sportsnet.models",
    "build_model": "keras_sportsnet.models",
    "export_model": "keras_sportsnet.models",
    "from_preset": "keras_sportsnet.models",
    "inflate_weights": "keras_sportsnet.models",
    "save_preset": "keras_sportsnet.models",
    "PresetError": "keras_sportsnet.presets",
    "UnverifiedPresetWarning": "keras_sportsnet.presets",
    "list_presets": "keras_sportsnet.presets",
    "upload_preset": "keras_sportsnet.presets",
    "PAPER_SPEC": "keras_sportsnet.spec",
    "format_spec": "keras_sportsnet.spec",
    "parse_spec": "keras_sportsnet.spec",
    "decode_predictions": "keras_sportsnet.evaluation",
    "evaluate_videos": "keras_sportsnet.evaluation",
    "predict_video": "keras_sportsnet.evaluation",
    "VideoPrediction": "keras_sportsnet.evaluation",
}
_SUBPACKAGES = (
    "data", "datasets", "distributed", "evaluation", "training", "transforms", "visualization", "workflows",
)

__all__ = sorted([*_EXPORTS, *_SUBPACKAGES, "KERAS_OBJECT_MODULES", "__version__"])


def _register_keras_objects():
    global _registered
    if not _registered:
        _registered = True
        for module in KERAS_OBJECT_MODULES:
            try:
                importlib.import_module(module)
            except ImportError as error:  # an optional dependency (TensorFlow) missing: its classes are not needed
                if not (getattr(error, "name", None) or "").startswith("tensorflow") and "tensorflow" not in str(error):
                    raise


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name in _EXPORTS or name in _SUBPACKAGES:
        _register_keras_objects()
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBPACKAGES:
        if name == "visualization":  # needs matplotlib (the `plots` extra): say so in one clear error
            from keras_sportsnet.utils.imports import require

            require("matplotlib", "keras_sportsnet.visualization")
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted({*globals(), *__all__})


if "keras" in sys.modules:  # a Keras program: its keras.saving calls may need our classes at once
    _register_keras_objects()
