"""The models' side of presets: build a model once from a preset's configs, read its weights in, save one.

`keras_sportsnet.presets` finds, downloads and verifies preset folders and
knows nothing of the model classes; this module reads the configs it returns
(every value checked before anything is built: a hostile or damaged config is
a `PresetError`, never a raw TypeError, never an absurd allocation), builds
the model once and loads the weights files into it:

- ``model.weights.h5``: the backbone (Keras' weights-only HDF5);
- ``task.weights.h5``: the classifier head only (one HDF5 group per head
  layer, written and read with the layers' ``save_own_variables`` /
  ``load_own_variables``), so a backbone, or a backbone under a new head,
  never builds the preset's head.

Format 1 presets (one weights file for the whole classifier) still load; for
``include_top=False`` or another class count their saved classifier is built
once and its backbone kept.

The model classes call in here from their ``from_preset``/``save_to_preset``
and pass themselves (``backbone_cls``, ``classifier_cls``): this module
imports neither, so the classes and their preset code form no import circle.
"""

import datetime
import os
import warnings

import keras
import numpy as np

from keras_sportsnet.models.preprocessor import AGGREGATIONS
from keras_sportsnet.models.preprocessor import VideoPreprocessor
from keras_sportsnet.presets.errors import PresetError
from keras_sportsnet.presets.folder import CONFIG_FILE
from keras_sportsnet.presets.folder import PREPROCESSOR_FILE
from keras_sportsnet.presets.folder import TASK_CONFIG_FILE
from keras_sportsnet.presets.folder import TASK_WEIGHTS_FILE
from keras_sportsnet.presets.folder import WEIGHTS_FILE
from keras_sportsnet.presets.folder import LocalPreset
from keras_sportsnet.presets.folder import check_weights_file
from keras_sportsnet.presets.folder import write_preset
from keras_sportsnet.presets.resolve import resolve_preset
from keras_sportsnet.utils.checks import is_int
from keras_sportsnet.version import __version__

__all__ = [
    "ARCHITECTURE_ARGUMENTS",
    "MAX_PRESET_PARAMETERS",
    "describe_model",
    "load_backbone",
    "load_classifier",
    "load_weights_source",
    "save_preset",
]

ARCHITECTURE_ARGUMENTS = ("spec", "resolution", "num_frames", "frame_stride", "image_size", "pooling")
"""Backbone arguments that decide which weights fit (dropout and names do not)."""
MAX_PRESET_PARAMETERS = 1_000_000_000
"""A preset describing a larger model (4 GB of float32) is refused before anything is allocated.
The paper's largest network, slow fusion multires, has 132 M."""
PAPER_PROTOCOL = {"clips_per_video": 20, "views": 4, "aggregation": "mean_probability"}

_MAX_SIDE = 8192
_MAX_FRAMES = 4096
_MAX_CLASSES = 1_000_000


# ----------------------------------------------------------- config checks
def _fail(preset, name, problem):
    return PresetError(f"Preset {preset.source!r}: {name} {problem}")


def _int(preset, name, key, value, low, high, allow_none=True):
    if value is None and allow_none:
        return None
    if not is_int(value) or not low <= value <= high:
        raise _fail(preset, name, f"has {key}={_short(value)}; expected an int in [{low}, {high}].")
    return int(value)


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _text(preset, name, key, value, allow_none=True, limit=200):
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise _fail(preset, name, f"has {key}={_short(value)}; expected a str of at most {limit} characters.")
    return value


def _rate(preset, name, key, value):
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise _fail(preset, name, f"has {key}={value!r}; expected a number in [0, 1).")
    return float(value)


def _choice(preset, name, key, value, allowed):
    if value not in allowed:
        raise _fail(preset, name, f"has {key}={_short(value)}; expected one of {list(allowed)}.")
    return value


def _size(preset, name, key, value):
    if value is None:
        return None
    pair = [value, value] if is_int(value) else value
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        raise _fail(preset, name, f"has {key}={_short(value)}; expected an int or [height, width].")
    return tuple(_int(preset, name, key, v, 1, _MAX_SIDE, allow_none=False) for v in pair)


def _serialized(preset, name, document, class_name):
    """The ``config`` dict of a serialized keras_sportsnet object, its class checked."""
    if not isinstance(document, dict) or document.get("class_name") != class_name:
        found = document.get("class_name") if isinstance(document, dict) else type(document).__name__
        raise _fail(preset, name, f"holds {str(found)[:80]!r}, not a keras_sportsnet {class_name}.")
    registered = document.get("registered_name")
    if registered not in (None, class_name, f"keras_sportsnet>{class_name}"):
        raise _fail(preset, name, f"registers {str(registered)[:80]!r}, not keras_sportsnet>{class_name}.")
    config = document.get("config")
    if not isinstance(config, dict):
        raise _fail(preset, name, "has no 'config' object.")
    return config


_BACKBONE_KEYS = {"name", "trainable", "dtype", *ARCHITECTURE_ARGUMENTS, "fusion", "dropout"}


_CONFIG_JSON = object()


def backbone_arguments(preset, backbone_cls, document=_CONFIG_JSON, name=CONFIG_FILE):
    """The checked `SportsNetBackbone` constructor arguments of a preset (nothing built).

    Raises:
        PresetError: an unknown key, a wrong type, a value out of range, a spec
            that does not parse or does not fit, or a model over
            `MAX_PRESET_PARAMETERS`.
    """
    if document is _CONFIG_JSON:
        document = preset.config
        if preset.format_version < 2 and preset.has_head:
            document = _serialized(preset, name, preset.config, "SportsNetVideoClassifier").get("backbone")
    config = _serialized(preset, name, document, "SportsNetBackbone")
    unknown = sorted(set(config) - _BACKBONE_KEYS)
    if unknown:
        raise _fail(preset, name, f"has unknown backbone arguments {unknown[:5]}.")
    arguments = {
        "spec": _text(preset, name, "spec", config.get("spec"), allow_none=False, limit=2000),
        "fusion": _text(preset, name, "fusion", config.get("fusion"), allow_none=False, limit=40),
        "resolution": _text(preset, name, "resolution", config.get("resolution", "full"), allow_none=False, limit=40),
        "num_frames": _int(preset, name, "num_frames", config.get("num_frames"), 1, _MAX_FRAMES),
        "frame_stride": _int(preset, name, "frame_stride", config.get("frame_stride"), 1, _MAX_FRAMES),
        "image_size": _size(preset, name, "image_size", config.get("image_size")),
        "pooling": _text(preset, name, "pooling", config.get("pooling"), limit=40),
        "dropout": _rate(preset, name, "dropout", config.get("dropout")),
        "name": _text(preset, name, "name", config.get("name")),
    }
    if "trainable" in config and not isinstance(config["trainable"], bool):
        raise _fail(preset, name, f"has trainable={config['trainable']!r}; expected true or false.")
    _estimate(preset, name, arguments, backbone_cls)
    return arguments


def _estimate(preset, name, arguments, backbone_cls, num_classes=None):
    shape = {key: arguments[key] for key in ("spec", "fusion", "resolution", "num_frames", "image_size", "pooling")}
    try:
        count = backbone_cls.estimate_parameter_count(**shape, num_classes=num_classes)
    except (ValueError, TypeError, RecursionError) as error:
        raise _fail(preset, name, f"describes no buildable model: {str(error)[:300]}") from None
    if count > MAX_PRESET_PARAMETERS:
        raise _fail(
            preset, name, f"describes a model of {count:,} parameters, more than any preset "
            f"({MAX_PRESET_PARAMETERS:,}): refused before allocating it."
        )
    return count


_CLASSIFIER_KEYS = {"name", "trainable", "dtype", "backbone", "num_classes", "activation", "dropout",
                    "preprocessor", "class_names"}


def classifier_arguments(preset, backbone_cls):
    """The checked `SportsNetVideoClassifier` arguments (without the backbone) of a classifier preset."""
    name = preset.classifier_file
    config = _serialized(preset, name, preset.classifier_config, "SportsNetVideoClassifier")
    unknown = sorted(set(config) - _CLASSIFIER_KEYS)
    if unknown:
        raise _fail(preset, name, f"has unknown classifier arguments {unknown[:5]}.")
    activation = _text(preset, name, "activation", config.get("activation", "softmax"), limit=64)
    if activation is not None:
        try:
            keras.activations.get(activation)
        except (ValueError, TypeError):
            raise _fail(preset, name, f"has activation={activation!r}, which is not a Keras activation.") from None
    num_classes = _int(preset, name, "num_classes", config.get("num_classes"), 1, _MAX_CLASSES, allow_none=False)
    class_names = config.get("class_names")
    if class_names is not None:
        if not isinstance(class_names, list) or len(class_names) != num_classes or not all(
            isinstance(c, str) and len(c) <= 1000 for c in class_names
        ):
            raise _fail(preset, name, f"has class_names that are not {num_classes} str.")
    if preset.format_version >= 2:
        nested = backbone_arguments(preset, backbone_cls, config.get("backbone"), name)
        if nested != backbone_arguments(preset, backbone_cls):
            raise _fail(preset, name, f"describes another backbone than {CONFIG_FILE}.")
    return {
        "num_classes": num_classes,
        "activation": activation,
        "dropout": _rate(preset, name, "dropout", config.get("dropout")),
        "name": _text(preset, name, "name", config.get("name")),
        "class_names": class_names,
        "preprocessor": config.get("preprocessor"),
    }


_PREPROCESSOR_KEYS = {"name", "trainable", "dtype", "num_frames", "frame_stride", "image_size", "resize_to",
                      "clips_per_video", "views", "aggregation"}


def _preprocessor(preset, backbone, document, name):
    """The preset's `VideoPreprocessor` (``preprocessor.json``, else the classifier's, else the metadata's protocol)."""
    geometry = backbone.clip_geometry
    if document is None:
        protocol = (preset.metadata.get("evaluation") or {}).get("protocol") or {}
        protocol = protocol if isinstance(protocol, dict) else {}
        config = {key: protocol[key] for key in ("resize_to", "clips_per_video", "views", "aggregation")
                  if key in protocol}
        name = f"metadata.json (evaluation.protocol)"
    else:
        config = _serialized(preset, name, document, "VideoPreprocessor")
        unknown = sorted(set(config) - _PREPROCESSOR_KEYS)
        if unknown:
            raise _fail(preset, name, f"has unknown preprocessor arguments {unknown[:5]}.")
    resize_to = config.get("resize_to")
    arguments = {
        "num_frames": geometry["num_frames"],
        "frame_stride": geometry["frame_stride"],
        "image_size": geometry["image_size"],
        "resize_to": None if resize_to is None else _size(preset, name, "resize_to", resize_to),
        "clips_per_video": _int(preset, name, "clips_per_video", config.get("clips_per_video", 20), 1, 10_000),
        "views": _int(preset, name, "views", config.get("views", 4), 1, 4),
        "aggregation": _choice(preset, name, "aggregation", config.get("aggregation", "mean_probability"),
                               AGGREGATIONS),
    }
    if arguments["resize_to"] is not None and arguments["resize_to"][0] == arguments["resize_to"][1]:
        arguments["resize_to"] = arguments["resize_to"][0]
    for key in ("num_frames", "image_size"):
        saved = config.get(key)
        if saved is not None and document is not None:
            saved = _size(preset, name, key, saved) if key == "image_size" else saved
            if saved != (tuple(geometry[key]) if key == "image_size" else geometry[key]):
                raise _fail(preset, name, f"has {key}={saved!r}, but the backbone reads {geometry[key]!r}.")
    try:
        return VideoPreprocessor(**arguments)
    except (ValueError, TypeError) as error:
        raise _fail(preset, name, f"describes no valid preprocessor: {error}") from None


# ----------------------------------------------------------------- weights
def _allowance(parameters):
    """The most values a weights file for ``parameters`` may hold: the weights plus an optimizer's slots
    (files saved from a compiled model carry them, e.g. format 1 presets and Keras' own ``save_weights``)."""
    return 4 * parameters + 1024


def _load_backbone_weights(preset, backbone):
    path = preset.weights_path
    check_weights_file(path, preset.source, _allowance(backbone.count_params()))
    try:
        backbone.load_weights(path)
    except KeyboardInterrupt:
        raise
    except Exception as error:  # Keras reports a mismatch as ValueError, h5py damage as OSError/KeyError
        raise PresetError(
            f"Preset {preset.source!r}: {WEIGHTS_FILE} does not fit the preset's own {CONFIG_FILE} "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})."
        ) from None


def _head_layers(classifier):
    return [layer for layer in classifier.layers if layer is not classifier.backbone and layer.weights]


def _write_head(classifier, path):
    import h5py

    with h5py.File(path, "w") as file:
        for layer in _head_layers(classifier):
            store = {}
            layer.save_own_variables(store)
            group = file.create_group(layer.name).create_group("vars")
            for key, value in store.items():
                group.create_dataset(key, data=keras.ops.convert_to_numpy(value))


def _load_head_weights(preset, classifier):
    import h5py

    path = preset.task_weights_path
    layers = _head_layers(classifier)
    check_weights_file(path, preset.source, _allowance(sum(layer.count_params() for layer in layers)))
    try:
        with h5py.File(path, "r") as file:
            for layer in layers:
                if layer.name not in file or "vars" not in file[layer.name]:
                    raise PresetError(f"Preset {preset.source!r}: {TASK_WEIGHTS_FILE} has no weights for {layer.name!r}.")
                group = file[layer.name]["vars"]
                expected = [tuple(v.shape) for v in layer.weights]
                found = [tuple(group[str(i)].shape) if str(i) in group else None for i in range(len(group))]
                if found != expected:
                    raise PresetError(
                        f"Preset {preset.source!r}: {TASK_WEIGHTS_FILE} holds shapes {found} for {layer.name!r}, "
                        f"but the model has {expected}."
                    )
                layer.load_own_variables({str(i): np.asarray(group[str(i)]) for i in range(len(expected))})
    except PresetError:
        raise
    except KeyboardInterrupt:
        raise
    except Exception as error:
        raise PresetError(
            f"Preset {preset.source!r}: {TASK_WEIGHTS_FILE} cannot be read ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''})."
        ) from None


# ------------------------------------------------------------------ loading
def _build_backbone(preset, backbone_cls, arguments, overrides):
    arguments = {**arguments, **{k: v for k, v in overrides.items() if v is not None}}
    try:
        return backbone_cls(**arguments)
    except (ValueError, TypeError) as error:
        raise PresetError(f"Preset {preset.source!r}: {CONFIG_FILE} describes no valid backbone: {error}") from None


def _as_preset(preset, argument="preset"):
    source = preset if isinstance(preset, LocalPreset) else resolve_preset(preset, argument=argument)
    if not isinstance(source, LocalPreset):
        raise ValueError(
            f"`{argument}` must be a preset name, an hf:// handle or a preset folder; a bare weights file "
            f"({source}) has no config: pass it as `weights=` to the constructor of its architecture."
        )
    return source


def _legacy_classifier(preset, backbone_cls, classifier_cls, architecture, arguments, load_weights):
    """Format 1: the saved classifier, built once, all its weights read in."""
    if classifier_cls is None:
        raise PresetError(
            f"Preset {preset.source!r} is a format 1 classifier preset (one weights file): load its backbone with "
            "SportsNetVideoClassifier.from_preset(..., include_top=False), or re-save it (save_preset) in format 2."
        )
    backbone = _build_backbone(preset, backbone_cls, architecture, {})
    classifier = classifier_cls(
        backbone,
        num_classes=arguments["num_classes"],
        activation=arguments["activation"],
        dropout=arguments["dropout"],
        preprocessor=_preprocessor(preset, backbone, preset.preprocessor_config, PREPROCESSOR_FILE),
        class_names=_class_names(preset, arguments),
        name=arguments["name"],
    )
    if load_weights:
        check_weights_file(preset.weights_path, preset.source, _allowance(classifier.count_params()))
        try:
            classifier.load_weights(preset.weights_path)
        except KeyboardInterrupt:
            raise
        except Exception as error:
            raise PresetError(
                f"Preset {preset.source!r}: {WEIGHTS_FILE} does not fit the preset's own {CONFIG_FILE} "
                f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})."
            ) from None
    return classifier


def _class_names(preset, arguments):
    names = arguments.get("class_names")
    if names is None:
        names = preset.class_names
    return names if names is not None and len(names) == arguments["num_classes"] else None


def load_preset(
    preset,
    *,
    backbone_cls,
    classifier_cls=None,
    fusion=None,
    given=None,
    include_top=True,
    num_classes=None,
    activation="__preset__",
    dropout=None,
    class_names=None,
    name=None,
    load_weights=True,
):
    """Builds the model a preset describes, once, and reads its weights into it.

    Args:
        preset: `LocalPreset`, or what `resolve_preset` accepts.
        backbone_cls: the backbone class (`SportsNetBackbone` or a subclass).
        classifier_cls: the classifier class, or None (a backbone is wanted).
        fusion: str or None. The fusion the caller builds (the preset must match).
        given: dict of `ARCHITECTURE_ARGUMENTS` the caller set (None: unset); each must agree with the preset.
        include_top: bool. False: the backbone alone.
        num_classes: int or None (the preset's). Another number: a new, untrained head.
        activation: the head's activation (default: the preset's).
        dropout: float or None. Dropout before every FC layer and the head (default: the preset's).
        class_names: list of str or None (default: the preset's, for its own head).
        name: str or None. The model's name.
        load_weights: bool.

    Returns:
        `SportsNetVideoClassifier` or `SportsNetBackbone`.
    """
    preset = _as_preset(preset)
    architecture = backbone_arguments(preset, backbone_cls)
    if fusion is not None and architecture["fusion"] != fusion:
        raise PresetError(
            f"Preset {preset.source!r} is a {architecture['fusion']!r} fusion model, but a {fusion!r} fusion model "
            f"was asked for. Use the matching constructor, or keras_sportsnet.from_preset({preset.source!r})."
        )
    for argument, value in (given or {}).items():
        stored = architecture[argument]
        if argument == "image_size" and value is not None:
            value = tuple(value)
        if value is not None and value != stored:
            raise PresetError(
                f"Preset {preset.source!r} was saved with {argument}={stored!r}, but the model asked for has "
                f"{argument}={value!r}: its weights do not fit. Leave `{argument}` unset to take the preset's."
            )
    head = classifier_arguments(preset, backbone_cls) if preset.has_head else None
    if include_top and head is None and num_classes is None:
        raise PresetError(
            f"Preset {preset.source!r} is a backbone without a classifier: pass num_classes= (classes=) for a new "
            "head, or include_top=False."
        )
    new_head = include_top and (head is None or (num_classes is not None and num_classes != head["num_classes"]))
    if include_top:
        _estimate(preset, CONFIG_FILE, architecture, backbone_cls, num_classes or head["num_classes"])

    if preset.format_version < 2 and head is not None and load_weights:
        saved = _legacy_classifier(preset, backbone_cls, classifier_cls, architecture, head, load_weights)
        backbone = saved.backbone
        if dropout is not None and dropout != backbone.dropout:
            backbone = _build_backbone(preset, backbone_cls, architecture, {"dropout": dropout})
            backbone.set_weights(saved.backbone.get_weights())
        if not include_top:
            return backbone
        if not new_head and dropout in (None, head["dropout"]) and activation in ("__preset__", head["activation"]):
            if name:
                saved.name = name
            if class_names is not None:
                saved.class_names = class_names
            return saved
        model = classifier_cls(
            backbone,
            num_classes=num_classes or head["num_classes"],
            activation=head["activation"] if activation == "__preset__" else activation,
            dropout=head["dropout"] if dropout is None else dropout,
            preprocessor=saved.preprocessor,
            class_names=class_names if new_head else (class_names or saved.class_names),
            name=name or head["name"],
        )
        if not new_head:
            _head_layers(model)[-1].set_weights(_head_layers(saved)[-1].get_weights())
        else:
            _warn_new_head(preset, head, model)
        return model

    backbone_name = (name + "_backbone") if (name and include_top) else (name or None)
    backbone = _build_backbone(preset, backbone_cls, architecture, {"dropout": dropout, "name": backbone_name})
    if load_weights:
        _load_backbone_weights(preset, backbone)
    if not include_top:
        return backbone
    preprocessor = _preprocessor(
        preset, backbone, preset.preprocessor_config or (head or {}).get("preprocessor"), PREPROCESSOR_FILE
    )
    if classifier_cls is None:
        raise ValueError("load_preset: `classifier_cls` is needed for include_top=True.")
    head = head or {"num_classes": num_classes, "activation": "softmax", "dropout": 0.0, "name": None}
    model = classifier_cls(
        backbone,
        num_classes=num_classes or head["num_classes"],
        activation=head["activation"] if activation == "__preset__" else activation,
        dropout=head["dropout"] if dropout is None else dropout,
        preprocessor=preprocessor,
        class_names=class_names if new_head else (class_names or _class_names(preset, head)),
        name=name or head["name"],
    )
    if new_head:
        _warn_new_head(preset, head if preset.has_head else None, model)
    elif load_weights:
        _load_head_weights(preset, model)
    return model


def _warn_new_head(preset, head, model):
    reason = (
        f"it has {head['num_classes']} classes and the model {model.num_classes}"
        if head is not None
        else "it is a backbone without a classifier"
    )
    warnings.warn(
        f"Loading the backbone of preset {preset.source!r} only ({reason}): the "
        f"{model.num_classes}-way 'predictions' layer is newly initialised (transfer learning).",
        UserWarning,
        stacklevel=4,
    )


def load_classifier(classifier_cls, backbone_cls, preset, *, load_weights=True, include_top=True, num_classes=None,
                    **kwargs):
    """`SportsNetVideoClassifier.from_preset` (see there)."""
    allowed = {"activation", "dropout", "class_names", "name"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(f"from_preset() got unexpected keyword arguments {unknown}; allowed: {sorted(allowed)}.")
    if "activation" not in kwargs:
        kwargs["activation"] = "__preset__"
    return load_preset(preset, backbone_cls=backbone_cls, classifier_cls=classifier_cls, include_top=include_top,
                       num_classes=num_classes, load_weights=load_weights, **kwargs)


def load_backbone(backbone_cls, preset, *, load_weights=True, **kwargs):
    """`SportsNetBackbone.from_preset` (see there)."""
    unknown = sorted(set(kwargs) - {"dropout", "name"})
    if unknown:
        raise TypeError(f"from_preset() got unexpected keyword arguments {unknown}; allowed: ['dropout', 'name'].")
    return load_preset(preset, backbone_cls=backbone_cls, include_top=False, load_weights=load_weights, **kwargs)


def load_weights_source(model, path):
    """Loads a bare ``.weights.h5`` file into ``model``, refusing any partial or mismatched load.

    Keras reads the file by layer order and type; this wraps its errors so the
    message names the file and the model.
    """
    check_weights_file(path, path, _allowance(model.count_params()))
    try:
        model.load_weights(path)
    except KeyboardInterrupt:
        raise
    except Exception as error:
        backbone = getattr(model, "backbone", model)
        raise PresetError(
            f"`weights` file {path!r} does not fit the model {model.name!r} "
            f"({type(model).__name__}, {getattr(backbone, 'spec', '?')}): {str(error).splitlines()[0]}"
        ) from None
    return model


# ------------------------------------------------------------------- saving
def _words(size):
    size = (size, size) if is_int(size) else tuple(size)
    return f"{size[0]} x {size[1]}"


def describe_model(model, preprocessor=None):
    """What a model says about itself, as preset metadata (architecture, clip, preprocessing, versions).

    Example:
    ```python
    describe_model(ksn.SlowFusion())["architecture"]["table1_name"]     # 'Slow Fusion'
    ```
    """
    backbone = getattr(model, "backbone", model)
    preprocessor = preprocessor or getattr(model, "preprocessor", None)
    preprocessing = {
        "input": "RGB clips, values 0..255, (batch, frames, height, width, 3), uint8 or float, any frame size: "
        "frames of another size than the model's go through the preprocessor",
        "inside_the_model": "subtract 117" + ("; context and fovea streams" if backbone.resolution != "full" else ""),
    }
    if preprocessor is not None:
        crop = _words(preprocessor.image_size)
        preprocessing["preprocessor"] = (
            f"centre square of every frame, resized to {_words(preprocessor.resize_to)}, centre {crop} crop "
            "(preprocessor.json; model.preprocessor)"
        )
        preprocessing["training_augmentation"] = (
            f"a random {crop} crop of the {_words(preprocessor.resize_to)} square and a random left-right flip, "
            "the same for every frame of a clip"
        )
    return {
        "architecture": {
            "table1_name": backbone.table1_name,
            "class_name": type(model).__name__,
            "fusion": backbone.fusion,
            "resolution": backbone.resolution,
            "spec": backbone.spec,
            "pooling": backbone.pooling,
            "num_classes": getattr(model, "num_classes", None),
        },
        "clip_geometry": {**backbone.clip_geometry, "image_size": list(backbone.image_size)},
        "preprocessing": preprocessing,
        "parameter_count": int(model.count_params()),
        "license": "apache-2.0",
        "versions": {"keras_sportsnet": __version__, "keras": keras.__version__, "backend": keras.backend.backend()},
        "date_saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _plain(serialized):
    """A serialized model without compile or build state (a preset is for inference and fine-tuning)."""
    serialized = dict(serialized)
    serialized.pop("compile_config", None)
    serialized.pop("build_config", None)
    config = dict(serialized.get("config") or {})
    if isinstance(config.get("backbone"), dict):
        config["backbone"] = _plain(config["backbone"])
    serialized["config"] = config
    return serialized


def _protocol_preprocessor(model_preprocessor, protocol):
    """The model's preprocessor with the metadata's explicit protocol values (warning when they differ)."""
    config = model_preprocessor.get_config()
    changed = {}
    for key in ("resize_to", "clips_per_video", "views", "aggregation"):
        if key in protocol and protocol[key] != config[key]:
            changed[key] = protocol[key]
    if not changed:
        return model_preprocessor
    warnings.warn(
        "save_preset: metadata['evaluation']['protocol'] sets "
        + ", ".join(f"{key}={value!r} (the model's preprocessor: {config[key]!r})" for key, value in changed.items())
        + "; the metadata's values are saved (preprocessor.json).",
        UserWarning,
        stacklevel=4,
    )
    return VideoPreprocessor(**{**{k: config[k] for k in ("num_frames", "frame_stride", "image_size", "resize_to",
                                                        "clips_per_video", "views", "aggregation")}, **changed})


def save_preset(model, directory, *, metadata=None, overwrite=False, preprocessor=None):
    """Saves a model as a preset folder: configs, weights, preprocessor, metadata, model card.

    Writes ``config.json`` + ``model.weights.h5`` (the backbone), for a
    classifier ``task.json`` + ``task.weights.h5`` (its head), and
    ``preprocessor.json``, with no compile state or optimizer slots; then
    ``metadata.json`` (the sha256 of every file) and the model card, all
    into a staging folder renamed into place (a crash leaves no half preset).

    The ``metadata`` you give is merged over what the model itself says
    (architecture, spec, clip geometry, parameter count, preprocessing,
    versions). Say what the weights are; the model card is generated from it.
    Recognised keys (all optional, any others are kept):

    - ``name``, ``description``: str.
    - ``class_names``: list of str, one per output class (default: ``model.class_names``).
    - ``dataset``: dict, e.g. ``{"name": ..., "description": ..., "train_videos": ...}``.
    - ``evaluation``: dict ``{"protocol": {...}, "metrics": {...}}``; the
      protocol defaults to the preprocessor's (20 clips x 4 views, mean
      probability, its ``resize_to``); values given here win (with a warning).
    - ``training``: dict, the recipe (optimizer, epochs, batch size, ...).
    - ``trained_by``, ``hardware``: str. ``license``: str (default ``"apache-2.0"``).

    Args:
        model: a `SportsNetVideoClassifier` or `SportsNetBackbone`.
        directory: the folder to create.
        metadata: dict or None.
        overwrite: bool. Replace an existing folder.
        preprocessor: a `VideoPreprocessor` or None (the model's; for a
            backbone, one derived from its clip geometry).

    Returns:
        str. The folder.

    Example:
    ```python
    ksn.save_preset(model, "presets/slow_ucf101", metadata={
        "description": "Slow fusion fine-tuned on UCF-101 split 1",
        "dataset": {"name": "UCF-101", "split": "trainlist01"},
        "evaluation": {"metrics": {"video_hit@1": 0.65}},
    })
    model = ksn.from_preset("presets/slow_ucf101")
    ```
    """
    classifier = model if hasattr(model, "backbone") and hasattr(model, "num_classes") else None
    backbone = model.backbone if classifier is not None else model
    if not (hasattr(backbone, "spec") and hasattr(backbone, "clip_geometry") and hasattr(model, "save_to_preset")):
        raise TypeError(
            "`model` must be a keras_sportsnet SportsNetVideoClassifier or SportsNetBackbone. "
            f"Received: model of type {type(model).__name__}"
        )
    metadata = dict(metadata or {})
    class_names = metadata.get("class_names")
    if classifier is not None:
        if class_names is not None and len(class_names) != model.num_classes:
            raise ValueError(
                f"`metadata['class_names']` has {len(class_names)} names but the model has "
                f"{model.num_classes} classes."
            )
        if class_names is None and model.class_names is not None:
            class_names = list(model.class_names)
    if preprocessor is None:
        preprocessor = getattr(model, "preprocessor", None) or VideoPreprocessor.for_geometry(backbone.clip_geometry)
    evaluation = dict(metadata.get("evaluation") or {})
    protocol = dict(evaluation.get("protocol") or {})
    preprocessor = _protocol_preprocessor(preprocessor, protocol)
    config = preprocessor.get_config()
    evaluation["protocol"] = {
        **protocol,
        **{key: config[key] for key in ("clips_per_video", "views", "aggregation", "resize_to")},
    }
    full = describe_model(model, preprocessor)
    full.update(metadata)
    full["evaluation"] = evaluation
    if class_names is not None:
        full["class_names"] = [str(c) for c in class_names]

    if getattr(backbone, "optimizer", None) is not None:  # a compiled backbone: save an uncompiled twin
        twin = type(backbone).from_config(backbone.get_config())
        twin.set_weights(backbone.get_weights())
        backbone = twin
    documents = {CONFIG_FILE: _plain(keras.saving.serialize_keras_object(backbone)),
                 PREPROCESSOR_FILE: _plain(keras.saving.serialize_keras_object(preprocessor))}
    weights = {WEIGHTS_FILE: backbone.save_weights}
    if classifier is not None:
        task = _plain(keras.saving.serialize_keras_object(classifier))
        task["config"]["preprocessor"] = documents[PREPROCESSOR_FILE]
        task["config"]["class_names"] = full.get("class_names")
        task["config"]["backbone"] = documents[CONFIG_FILE]
        documents[TASK_CONFIG_FILE] = task
        weights[TASK_WEIGHTS_FILE] = lambda path: _write_head(classifier, path)
    return write_preset(os.fspath(directory), documents=documents, weights=weights, metadata=full,
                        overwrite=overwrite)
