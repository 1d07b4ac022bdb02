"""A model from ``weights=`` with its class names and evaluation protocol, the preset resolved once.

Example:
```python
from keras_sportsnet.workflows import load_model
loaded = load_model("slow_fusion_synthetic")
loaded.model, loaded.class_names[:3], loaded.resize_to
```
"""

import dataclasses
import os

__all__ = ["DEFAULT_RESIZE_TO", "LoadedModel", "describe_model", "load_model"]

DEFAULT_RESIZE_TO = 200
"""The paper's centre-square side, used when neither the model nor its preset says otherwise."""


@dataclasses.dataclass
class LoadedModel:
    """A model and what its preset says about it.

    Attributes:
        model: the Keras model (`SportsNetVideoClassifier`, or the backbone
            with ``include_top=False``).
        class_names: list of str: one per output (``"0"``, ``"1"``... when the
            preset names none).
        resize_to: int. Side of the centre square the model's clips are cut
            from (what it was trained on).
        source: str or None. The preset's name, handle or folder.

    Example:
    ```python
    loaded = load_model("slow_fusion_synthetic")
    print(loaded.class_names)
    ```
    """

    model: object
    class_names: list
    resize_to: int
    source: str = None


def _class_names(model, metadata):
    names = getattr(model, "class_names", None) or (metadata or {}).get("class_names")
    if names:
        return [str(name) for name in names]
    outputs = getattr(model, "num_classes", None) or int(model.output.shape[-1])
    return [str(i) for i in range(outputs)]


def _resize_to(model, metadata):
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is not None and hasattr(preprocessor, "get_config"):
        resize_to = preprocessor.get_config().get("resize_to")
        if resize_to:
            return int(resize_to)
    protocol = ((metadata or {}).get("evaluation") or {}).get("protocol") or {}
    return int(protocol.get("resize_to") or DEFAULT_RESIZE_TO)


def describe_model(model, metadata=None, source=None):
    """`LoadedModel` for a model already in memory (its preset's ``metadata`` if known).

    Args:
        model: a keras_sportsnet classifier.
        metadata: dict or None. The preset's metadata.
        source: str or None.

    Example:
    ```python
    loaded = describe_model(ksn.SlowFusion(classes=3))
    ```
    """
    return LoadedModel(model, _class_names(model, metadata) if hasattr(model, "output") else [],
                       _resize_to(model, metadata), source)


def load_model(weights, *, include_top=True):
    """Loads the model of ``weights``, resolving (and hash-checking) the preset exactly once.

    Args:
        weights: a registered preset name (did-you-mean on a typo), an
            ``hf://org/repo[@revision]`` handle, a preset folder, or a model
            already built (returned as is).
        include_top: bool. False: the backbone alone.

    Returns:
        `LoadedModel`.

    Raises:
        ValueError: ``weights`` names nothing that exists, or a bare
            ``.weights.h5`` file (it carries no architecture).
        keras_sportsnet.PresetError: a download, file or hash problem.

    Example:
    ```python
    loaded = load_model("runs/slow/preset")
    ```
    """
    if not isinstance(weights, (str, os.PathLike)):
        return describe_model(weights)
    from keras_sportsnet.models import build_model
    from keras_sportsnet.presets import LocalPreset
    from keras_sportsnet.presets import resolve_preset

    preset = resolve_preset(weights)
    if not isinstance(preset, LocalPreset):
        raise ValueError(
            f"`weights` {os.fspath(weights)!r} is a bare weights file: it carries no architecture. Pass a preset "
            "(a registered name, an hf:// handle or a folder written by save_preset)."
        )
    model = build_model(preset.backbone_config["fusion"], include_top=include_top, weights=preset)
    return LoadedModel(model, _class_names(model, preset.metadata) if include_top else [],
                       _resize_to(model, preset.metadata), os.fspath(weights))
