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

__all__ = ["DEFAULT_RESIZE_TO", "LoadedModel", "load_model"]

DEFAULT_RESIZE_TO = 200
"""The paper's centre-square side, for a model without a preprocessor."""


@dataclasses.dataclass
class LoadedModel:
    """A model and what its preset says about it.

    Attributes:
        model: the Keras model (`SportsNetVideoClassifier`, or the backbone
            with ``include_top=False``).
        class_names: list of str: one per output (``"0"``, ``"1"``... when the
            preset names none).
        resize_to: int or ``(height, width)``. Side of the centre square the
            model's clips are cut from (its preprocessor's: what it was trained on).
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

    @classmethod
    def from_model(cls, model, source=None):
        """The `LoadedModel` of a model in memory: its class names and ``resize_to`` (from its preprocessor).

        Example:
        ```python
        loaded = LoadedModel.from_model(ksn.SlowFusion(classes=3))
        ```
        """
        return cls(model, _class_names(model), _resize_to(model), source)


def _class_names(model):
    if not hasattr(model, "output"):
        return []
    names = getattr(model, "class_names", None)
    if names:
        return [str(name) for name in names]
    outputs = getattr(model, "num_classes", None) or int(model.output.shape[-1])
    return [str(i) for i in range(outputs)]


def _resize_to(model):
    from keras_sportsnet.data.config import preprocessor_settings

    return preprocessor_settings(model).get("resize_to") or DEFAULT_RESIZE_TO


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
        return LoadedModel.from_model(weights)
    from keras_sportsnet.models import SportsNetBackbone
    from keras_sportsnet.models import SportsNetVideoClassifier

    cls = SportsNetVideoClassifier if include_top else SportsNetBackbone
    return LoadedModel.from_model(cls.from_preset(os.fspath(weights)), source=os.fspath(weights))
