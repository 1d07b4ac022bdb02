"""One loader for every model class: a preset's weights into a model built to match.

`preset_architecture` reconciles a constructor's arguments with a preset's
config (arguments left at None are taken from the preset; any given
argument must agree, or the error names both sides); `load_preset_weights`
then copies the weights, layer by layer by their stable names, from the
preset's own model into the new one:

- same classes and ``include_top=True``: every layer;
- other ``classes``: the backbone only, with a new head (transfer learning,
  said once with a warning);
- ``include_top=False``: the backbone only.

Every layer that receives weights must exist in the preset with the same
shapes: there is no partial load.
"""

import warnings

import numpy as np

from keras_sportsnet.presets.store import PresetError

__all__ = ["preset_architecture", "load_preset_weights", "load_weights_file"]

ARCHITECTURE_ARGUMENTS = ("spec", "resolution", "num_frames", "frame_stride", "image_size", "pooling")
"""Backbone arguments that decide which weights fit (dropout and names do not)."""


def preset_architecture(preset, fusion, given):
    """The backbone arguments for building a model that takes ``preset``'s weights.

    Args:
        preset: `LocalPreset`.
        fusion: str. The fusion of the constructor called.
        given: dict of the architecture arguments the user passed (None: not given).

    Returns:
        dict of `ARCHITECTURE_ARGUMENTS` values.

    Raises:
        PresetError: the preset is another fusion, or a given argument disagrees.
    """
    saved = preset.backbone_config
    if saved["fusion"] != fusion:
        raise PresetError(
            f"Preset {preset.source!r} is a {saved['fusion']!r} fusion model, but a {fusion!r} fusion model was "
            f"asked for. Use the matching constructor, or keras_sportsnet.from_preset({preset.source!r})."
        )
    resolved = {}
    for argument in ARCHITECTURE_ARGUMENTS:
        value, stored = given.get(argument), saved.get(argument)
        if argument == "image_size" and stored is not None:
            stored = tuple(stored)
            value = None if value is None else tuple(value)
        if value is not None and value != stored:
            raise PresetError(
                f"Preset {preset.source!r} was saved with {argument}={stored!r}, but the model asked for has "
                f"{argument}={value!r}: its weights do not fit. Leave `{argument}` unset to take the preset's."
            )
        resolved[argument] = stored
    return resolved


def load_preset_weights(model, preset):
    """Loads a preset's weights into ``model`` (built with `preset_architecture`).

    Args:
        model: a `SportsNetVideoClassifier` or `SportsNetBackbone`.
        preset: `LocalPreset`.

    Returns:
        ``model``.

    Example:
    ```python
    preset = resolve_preset("hf://org/slow-fusion@v1")
    model = keras_sportsnet.from_preset(preset.path)
    ```
    """
    from keras_sportsnet.models.classifier import SportsNetVideoClassifier

    source = preset.build()
    try:
        source.load_weights(preset.weights_path)
    except (ValueError, OSError) as error:
        raise PresetError(
            f"Preset {preset.source!r}: {preset.weights_path} does not fit the preset's own config.json "
            f"({str(error).splitlines()[0]})."
        ) from None
    if isinstance(model, SportsNetVideoClassifier):
        if preset.has_head and model.num_classes == source.num_classes:
            _copy_layers(source, model, preset.source)
            return model
        reason = (
            f"it has {source.num_classes} classes and the model {model.num_classes}"
            if preset.has_head
            else "it is a backbone without a classifier"
        )
        warnings.warn(
            f"Loading the backbone of preset {preset.source!r} only ({reason}): the "
            f"{model.num_classes}-way 'predictions' layer is newly initialised (transfer learning).",
            UserWarning,
            stacklevel=4,
        )
        _copy_layers(_backbone_of(source), model.backbone, preset.source)
        return model
    _copy_layers(_backbone_of(source), model, preset.source)
    return model


def _backbone_of(model):
    return getattr(model, "backbone", model)


def _weighted_layers(model):
    """``{name: layer}`` of every layer with weights, nested models flattened."""
    import keras

    found = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.update(_weighted_layers(layer))
        elif layer.weights:
            found[layer.name] = layer
    return found


def _copy_layers(source, target, name):
    """Copies every weighted layer of ``target`` from the same-named layer of ``source``."""
    available, wanted = _weighted_layers(source), _weighted_layers(target)
    missing = sorted(set(wanted) - set(available))
    extra = sorted(set(available) - set(wanted))
    if missing or extra:
        raise PresetError(
            f"Preset {name!r} does not fit the model: layers only in the model: {missing or 'none'}; "
            f"only in the preset: {extra or 'none'}."
        )
    for layer_name, layer in wanted.items():
        values = available[layer_name].get_weights()
        shapes = [tuple(v.shape) for v in layer.weights]
        if [np.shape(v) for v in values] != shapes:
            raise PresetError(
                f"Preset {name!r}: layer {layer_name!r} has weight shapes {[np.shape(v) for v in values]} "
                f"in the preset but {shapes} in the model."
            )
    for layer_name, layer in wanted.items():
        layer.set_weights(available[layer_name].get_weights())


def load_weights_file(model, path):
    """Loads a bare ``.weights.h5`` file, refusing any partial or mismatched load.

    Keras reads the file by layer order and type; this wraps its errors so the
    message names the file and the model.
    """
    try:
        model.load_weights(path)
    except ValueError as error:
        raise PresetError(
            f"`weights` file {path!r} does not fit the model {model.name!r} "
            f"({type(model).__name__}, {getattr(_backbone_of(model), 'spec', '?')}): {str(error).splitlines()[0]}"
        ) from None
    return model
