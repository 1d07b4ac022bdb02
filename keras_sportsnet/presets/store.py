"""Preset folders on disk: write them (atomically), read and check them.

A preset folder holds::

    config.json        the model's serialized constructor arguments (the spec reads like the paper)
    model.weights.h5   the weights (Keras' weights-only HDF5: no code)
    metadata.json      what the weights are: architecture, classes, data, protocol, metrics, versions,
                       and the sha256 of config.json and model.weights.h5
    README.md          the model card, generated from metadata.json, with the Hub's front matter

`save_preset` writes all four into a temporary folder beside the target and
renames it into place, so a crash never leaves a half-written preset.
"""

import datetime
import hashlib
import json
import os
import shutil
import tempfile

import keras

from keras_sportsnet.models.backbone import ARCHITECTURES
from keras_sportsnet.models.backbone import SportsNetBackbone
from keras_sportsnet.models.classifier import SportsNetVideoClassifier
from keras_sportsnet.version import __version__

__all__ = [
    "CONFIG_FILE",
    "METADATA_FILE",
    "MODEL_CARD_FILE",
    "PRESET_FILES",
    "WEIGHTS_FILE",
    "LocalPreset",
    "PresetError",
    "read_preset",
    "save_preset",
    "sha256_of",
]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
MODEL_CARD_FILE = "README.md"
PRESET_FILES = (CONFIG_FILE, METADATA_FILE, WEIGHTS_FILE)
"""The files a loader needs (the model card is for people)."""
FORMAT_VERSION = 1

PAPER_EVALUATION = {"clips_per_video": 20, "views": 4, "aggregation": "mean_probability"}
"""The paper's video-level protocol (Sec. 4.1), the default `evaluation.protocol`."""


class PresetError(ValueError):
    """A preset that cannot be used: missing, incomplete, corrupt or for another model.

    The message names the preset (name, handle or folder) and what is wrong.
    """


def sha256_of(path, chunk_size=1 << 20):
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


class LocalPreset:
    """A preset folder on disk, its config and metadata read and checked.

    Attributes:
        path: str. The folder.
        source: str. How the user named it (preset name, ``hf://`` handle or path).
        config: dict. The serialized model (``class_name`` + ``config``).
        metadata: dict. The contents of ``metadata.json``.
    """

    def __init__(self, path, source, config, metadata):
        self.path, self.source, self.config, self.metadata = path, source, config, metadata

    @property
    def weights_path(self):
        return os.path.join(self.path, WEIGHTS_FILE)

    @property
    def has_head(self):
        """Whether the preset is a classifier (else a backbone alone)."""
        return self.config["class_name"] == "SportsNetVideoClassifier"

    @property
    def backbone_config(self):
        """The `SportsNetBackbone` constructor arguments of the preset."""
        if self.has_head:
            return dict(self.config["config"]["backbone"]["config"])
        return dict(self.config["config"])

    @property
    def num_classes(self):
        return self.config["config"]["num_classes"] if self.has_head else None

    def build(self):
        """The preset's own model, as saved (weights not loaded)."""
        # A preset's model is never compiled from its config (older presets recorded compile settings).
        config = {key: value for key, value in self.config.items() if key != "compile_config"}
        return keras.saving.deserialize_keras_object(config, safe_mode=True)


def read_preset(path, source=None):
    """Reads a preset folder's ``config.json`` and ``metadata.json``.

    Args:
        path: the folder.
        source: how the user named it, for error messages (default: the path).

    Returns:
        `LocalPreset`.

    Raises:
        PresetError: a file is missing or unreadable, or the config is not a
            keras_sportsnet model.
    """
    source = source or os.fspath(path)
    missing = [name for name in PRESET_FILES if not os.path.isfile(os.path.join(path, name))]
    if missing:
        raise PresetError(f"Preset {source!r} ({path}) is incomplete: missing {', '.join(missing)}.")
    documents = {}
    for name in (CONFIG_FILE, METADATA_FILE):
        try:
            with open(os.path.join(path, name), encoding="utf-8") as file:
                documents[name] = json.load(file)
        except (OSError, ValueError) as error:
            raise PresetError(f"Preset {source!r}: cannot read {name} ({error}).") from None
    config = documents[CONFIG_FILE]
    if not isinstance(config, dict) or config.get("class_name") not in ("SportsNetVideoClassifier", "SportsNetBackbone"):
        raise PresetError(
            f"Preset {source!r}: {CONFIG_FILE} is not a keras_sportsnet model "
            f"(class_name={config.get('class_name') if isinstance(config, dict) else None!r})."
        )
    return LocalPreset(os.fspath(path), source, config, documents[METADATA_FILE])



def _uncompiled(model):
    """``model`` itself, or an uncompiled copy of it with the same weights.

    A preset is for inference and fine-tuning: its config holds no compile settings and its weights no
    optimizer state (Keras' ``save_weights`` of a compiled model writes the optimizer's slots, twice the
    model for SGD with momentum, which a fresh model then cannot load). ``from_config`` builds the copy
    without compiling it (deserialising the full config would compile it again).
    """
    if getattr(model, "optimizer", None) is None:
        return model
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def save_preset(model, directory, metadata=None, overwrite=False):
    """Saves a model as a preset folder: config, weights, metadata, model card.

    The ``metadata`` you give is merged over what the model itself says
    (architecture, spec, clip geometry, parameter count, preprocessing,
    versions, file hashes). Say what the weights are; the model card is
    generated from it. Recognised keys (all optional, any others are kept):

    - ``name``, ``description``: str.
    - ``class_names``: list of str, one per output class.
    - ``dataset``: dict, e.g. ``{"name": ..., "description": ..., "train_videos": ...}``.
    - ``evaluation``: dict ``{"protocol": {...}, "metrics": {...}}``; the
      protocol defaults to the paper's (20 clips x 4 views, mean probability).
    - ``training``: dict, the recipe (optimizer, epochs, batch size, ...).
    - ``trained_by``, ``hardware``: str. ``license``: str (default ``"apache-2.0"``).

    Args:
        model: a `SportsNetVideoClassifier` or `SportsNetBackbone`.
        directory: the folder to create.
        metadata: dict or None.
        overwrite: bool. Replace an existing folder.

    Returns:
        str. The folder.

    Example:
    ```python
    ksn.save_preset(model, "presets/slow_ucf101", metadata={
        "description": "Slow fusion fine-tuned on UCF-101 split 1",
        "class_names": ksn.data.class_names("ucf101"),
        "dataset": {"name": "UCF-101", "split": "trainlist01"},
        "evaluation": {"metrics": {"video_hit@1": 0.65}},
    })
    ```
    """
    if not isinstance(model, (SportsNetVideoClassifier, SportsNetBackbone)):
        raise TypeError(
            "`model` must be a keras_sportsnet SportsNetVideoClassifier or SportsNetBackbone. "
            f"Received: model of type {type(model).__name__}"
        )
    directory = os.fspath(directory)
    if os.path.exists(directory) and not overwrite:
        raise FileExistsError(f"{directory} exists; pass overwrite=True to replace it.")
    metadata = dict(metadata or {})
    class_names = metadata.get("class_names")
    if class_names is not None and isinstance(model, SportsNetVideoClassifier):
        if len(class_names) != model.num_classes:
            raise ValueError(
                f"`metadata['class_names']` has {len(class_names)} names but the model has "
                f"{model.num_classes} classes."
            )
    parent = os.path.dirname(os.path.abspath(directory))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(directory)}.", suffix=".incomplete")
    try:
        portable = _uncompiled(model)
        with open(os.path.join(staging, CONFIG_FILE), "w", encoding="utf-8") as file:
            json.dump(keras.saving.serialize_keras_object(portable), file, indent=2)
        portable.save_weights(os.path.join(staging, WEIGHTS_FILE))
        full = _describe_model(model)
        full.update(metadata)
        full["files"] = {name: sha256_of(os.path.join(staging, name)) for name in (CONFIG_FILE, WEIGHTS_FILE)}
        evaluation = dict(full.get("evaluation") or {})
        evaluation["protocol"] = {**PAPER_EVALUATION, **evaluation.get("protocol", {})}
        full["evaluation"] = evaluation
        with open(os.path.join(staging, METADATA_FILE), "w", encoding="utf-8") as file:
            json.dump(full, file, indent=2)
        with open(os.path.join(staging, MODEL_CARD_FILE), "w", encoding="utf-8") as file:
            file.write(model_card(full))
        _fsync_folder(staging)
        if os.path.exists(directory):
            retired = f"{staging}.old"
            os.replace(directory, retired)
            os.replace(staging, directory)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _fsync_folder(folder):
    for name in os.listdir(folder):
        with open(os.path.join(folder, name), "rb") as file:
            os.fsync(file.fileno())


def _table1_name(backbone):
    for name, kwargs in ARCHITECTURES.items():
        if kwargs == {"fusion": backbone.fusion, "resolution": backbone.resolution}:
            return name
    return None


def _describe_model(model):
    """What a model says about itself, as metadata."""
    backbone = model.backbone if isinstance(model, SportsNetVideoClassifier) else model
    return {
        "format_version": FORMAT_VERSION,
        "architecture": {
            "table1_name": _table1_name(backbone),
            "class_name": type(model).__name__,
            "fusion": backbone.fusion,
            "resolution": backbone.resolution,
            "spec": backbone.spec,
            "pooling": backbone.pooling,
            "num_classes": getattr(model, "num_classes", None),
        },
        "clip_geometry": {**backbone.clip_geometry, "image_size": list(backbone.image_size)},
        "preprocessing": {
            "input": "raw RGB clips, values 0..255, shape (batch, frames, height, width, 3)",
            "inside_the_model": "subtract 117" + ("; context and fovea streams" if backbone.resolution != "full" else ""),
            "data_pipeline": "centre square crop, resize to 200 x 200, crop to the model's frame size "
            "(random crop + flip for training, centre crop for evaluation)",
        },
        "parameter_count": int(model.count_params()),
        "license": "apache-2.0",
        "versions": {
            "keras_sportsnet": __version__,
            "keras": keras.__version__,
            "backend": keras.backend.backend(),
        },
        "date_saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def model_card(metadata):
    """A Hub model card (``README.md``) from a preset's metadata.

    Example:
    ```python
    print(model_card(json.load(open("presets/slow/metadata.json"))))
    ```
    """
    architecture = metadata.get("architecture", {})
    dataset = metadata.get("dataset") or {}
    evaluation = metadata.get("evaluation") or {}
    tags = ["keras_sportsnet", "video-classification", "karpathy2014"]
    if architecture.get("fusion"):
        tags.append(f"{architecture['fusion']}-fusion".replace("single_frame-fusion", "single-frame"))
    lines = [
        "---",
        "library_name: keras",
        f"license: {metadata.get('license', 'apache-2.0')}",
        "pipeline_tag: video-classification",
        "tags:",
        *[f"- {tag}" for tag in tags],
        "---",
        "",
        f"# {metadata.get('name') or architecture.get('table1_name') or 'keras_sportsnet model'}",
        "",
        metadata.get("description") or "A keras_sportsnet video classifier (Karpathy et al., CVPR 2014).",
        "",
        "## Architecture",
        "",
        f"- Table 1 name: {architecture.get('table1_name') or 'n/a (custom)'}",
        f"- Fusion: `{architecture.get('fusion')}`, resolution: `{architecture.get('resolution')}`, "
        f"pooling: `{architecture.get('pooling') or 'flatten'}`",
        f"- Layer shorthand: `{architecture.get('spec')}`",
        f"- Clip: {_clip_words(metadata.get('clip_geometry', {}))}",
        f"- Parameters: {metadata.get('parameter_count', 0):,}",
        f"- Classes: {architecture.get('num_classes') or 'none (backbone only)'}",
        "",
        "## Training data",
        "",
    ]
    if dataset:
        lines += [f"- {key}: {value}" for key, value in dataset.items()]
    else:
        lines.append("Not stated by whoever saved this preset.")
    lines += ["", "## Evaluation", ""]
    protocol = evaluation.get("protocol", {})
    if protocol:
        lines.append(
            "Protocol: " + ", ".join(f"{key} = {value}" for key, value in protocol.items()) + "."
        )
        lines.append("")
    metrics = evaluation.get("metrics") or {}
    if metrics:
        lines += ["| metric | value |", "|---|---|", *[f"| {k} | {_number(v)} |" for k, v in metrics.items()]]
    else:
        lines.append("No metrics recorded.")
    training = metadata.get("training") or {}
    if training:
        lines += ["", "## Training recipe", "", *[f"- {key}: {value}" for key, value in training.items()]]
    who = [f"- {key.replace('_', ' ')}: {metadata[key]}" for key in ("trained_by", "hardware") if metadata.get(key)]
    if who:
        lines += ["", "## Provenance", "", *who]
    versions = metadata.get("versions", {})
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "import keras_sportsnet as ksn",
        "",
        'model = ksn.from_preset("hf://<org>/<this-repo>")        # or the registered preset name',
        "probabilities = model.predict(clips)   # clips: (batch, frames, height, width, 3), RGB 0..255",
        "```",
        "",
        f"Saved with keras_sportsnet {versions.get('keras_sportsnet', '?')}, keras {versions.get('keras', '?')} "
        f"({versions.get('backend', '?')} backend) on {metadata.get('date_saved', '?')}.",
        "",
        "Reference: A. Karpathy, G. Toderici, S. Shetty, T. Leung, R. Sukthankar, L. Fei-Fei. "
        "Large-scale Video Classification with Convolutional Neural Networks. CVPR 2014.",
        "",
    ]
    return "\n".join(lines)


def _clip_words(geometry):
    frames, stride = geometry.get("num_frames"), geometry.get("frame_stride", 1)
    size = geometry.get("image_size") or ["?", "?"]
    spacing = "consecutive" if stride == 1 else f"{stride} apart"
    return f"{frames} frame{'s' if frames != 1 else ''} ({spacing}), {size[0]} x {size[1]} RGB"


def _number(value):
    return f"{value:.4f}" if isinstance(value, float) else str(value)
