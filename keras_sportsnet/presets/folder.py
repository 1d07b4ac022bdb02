"""Preset folders on disk: their files, reading and checking them, writing them atomically.

A preset folder (format 2, keras-hub's layout) holds::

    config.json          the backbone's constructor arguments (the spec reads like the paper)
    model.weights.h5     the backbone's weights (Keras' weights-only HDF5: no code)
    task.json            the classifier's constructor arguments (classifier presets only)
    task.weights.h5      the classifier head's weights (classifier presets only)
    preprocessor.json    the `VideoPreprocessor`: frame size, resize_to, evaluation protocol
    metadata.json        what the weights are: architecture, classes, data, metrics, versions,
                         and the sha256 of every other file above ("files")
    README.md            the model card, generated from metadata.json

Backbone and head are separate so that a backbone, or a backbone with a new
head, loads without ever building the old head. Format 1 (until
keras_sportsnet 0.1: ``config.json`` the whole classifier, one weights file)
is still read.

This module knows files only: it never imports the model classes (the
models read the configs it returns).
"""

import os
import re
import stat
import warnings

from keras_sportsnet.presets.card import model_card
from keras_sportsnet.presets.errors import PresetError
from keras_sportsnet.presets.errors import UnverifiedPresetWarning
from keras_sportsnet.utils.files import atomic_folder
from keras_sportsnet.utils.files import read_json
from keras_sportsnet.utils.files import sha256_of
from keras_sportsnet.utils.files import write_json
from keras_sportsnet.utils.files import write_text

__all__ = [
    "CONFIG_FILE",
    "FORMAT_VERSION",
    "KNOWN_FILES",
    "METADATA_FILE",
    "MODEL_CARD_FILE",
    "PREPROCESSOR_FILE",
    "PRESET_FILES",
    "TASK_CONFIG_FILE",
    "TASK_WEIGHTS_FILE",
    "WEIGHTS_FILE",
    "LocalPreset",
    "check_file_name",
    "check_weights_file",
    "read_preset",
    "verify_files",
    "write_preset",
]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
TASK_CONFIG_FILE = "task.json"
TASK_WEIGHTS_FILE = "task.weights.h5"
PREPROCESSOR_FILE = "preprocessor.json"
METADATA_FILE = "metadata.json"
MODEL_CARD_FILE = "README.md"
PRESET_FILES = (CONFIG_FILE, METADATA_FILE, WEIGHTS_FILE)
"""The files every preset has (the model card is for people)."""
KNOWN_FILES = (CONFIG_FILE, WEIGHTS_FILE, TASK_CONFIG_FILE, TASK_WEIGHTS_FILE, PREPROCESSOR_FILE)
"""Every file a loader may read besides ``metadata.json``: the only names ``metadata.json`` may list."""
FORMAT_VERSION = 2
MAX_JSON_BYTES = 16 << 20
"""No preset JSON file is larger than this (class names included)."""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def check_file_name(name, source, where=METADATA_FILE):
    """``name`` if it is a plain file name a preset may have, else a PresetError.

    A plain name has no folder part (no ``/``, ``\\``, ``..``, drive or
    absolute path): metadata can never make a loader read a file outside the
    preset folder.

    Example:
    >>> check_file_name("model.weights.h5", "my_preset")
    'model.weights.h5'
    """
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or os.path.isabs(name)
        or os.path.basename(name) != name
    ):
        raise PresetError(
            f"Preset {source!r}: {where} lists the file {name!r}, which is not a plain file name inside the "
            "preset folder. Refused: a preset may only name its own files."
        )
    if name not in KNOWN_FILES:
        raise PresetError(
            f"Preset {source!r}: {where} lists the file {name!r}, which is not a preset file "
            f"(known: {', '.join(KNOWN_FILES)})."
        )
    return name


class LocalPreset:
    """A preset folder on disk, its JSON files read and checked (weights are read by the models).

    Attributes:
        path: str. The folder.
        source: str. How the user named it (preset name, ``hf://`` handle or path).
        metadata: dict. ``metadata.json``.
        config: dict. ``config.json``: the serialized backbone (format 2) or
            the whole model (format 1).
        task_config: dict or None. ``task.json`` (format 2 classifier presets).
        preprocessor_config: dict or None. ``preprocessor.json``.
        format_version: int. 1 or 2.
    """

    def __init__(self, path, source, metadata, config, task_config=None, preprocessor_config=None):
        self.path, self.source, self.metadata = path, source, metadata
        self.config, self.task_config, self.preprocessor_config = config, task_config, preprocessor_config
        self.format_version = metadata.get("format_version", 1)

    def __repr__(self):
        return f"LocalPreset(source={self.source!r}, path={self.path!r}, format_version={self.format_version})"

    def file(self, name):
        """The path of one of the preset's files."""
        return os.path.join(self.path, name)

    @property
    def weights_path(self):
        return self.file(WEIGHTS_FILE)

    @property
    def task_weights_path(self):
        return self.file(TASK_WEIGHTS_FILE) if self.task_config is not None else None

    @property
    def has_head(self):
        """Whether the preset is a classifier (else a backbone alone)."""
        if self.format_version >= 2:
            return self.task_config is not None
        return self.config.get("class_name") == "SportsNetVideoClassifier"

    @property
    def classifier_config(self):
        """The serialized classifier (``task.json``, or format 1's ``config.json``), or None."""
        if not self.has_head:
            return None
        return self.task_config if self.format_version >= 2 else self.config

    @property
    def backbone_config(self):
        """The `SportsNetBackbone` constructor arguments (a dict; checked by the models, not here)."""
        serialized = self.config
        if self.format_version < 2 and self.has_head:
            serialized = _mapping(_mapping(self.config.get("config"), self, CONFIG_FILE, "config").get("backbone"),
                                  self, CONFIG_FILE, "config.backbone")
        return dict(_mapping(serialized.get("config"), self, CONFIG_FILE, "config"))

    @property
    def num_classes(self):
        classifier = self.classifier_config
        if classifier is None:
            return None
        return _mapping(classifier.get("config"), self, self.classifier_file, "config").get("num_classes")

    @property
    def classifier_file(self):
        return TASK_CONFIG_FILE if self.format_version >= 2 else CONFIG_FILE

    @property
    def class_names(self):
        """The class names the metadata records, or None."""
        names = self.metadata.get("class_names")
        return list(names) if isinstance(names, list) else None

    @property
    def files(self):
        """The files a load reads, besides ``metadata.json``."""
        names = [CONFIG_FILE, WEIGHTS_FILE]
        if self.format_version >= 2 and self.task_config is not None:
            names += [TASK_CONFIG_FILE, TASK_WEIGHTS_FILE]
        if self.preprocessor_config is not None:
            names.append(PREPROCESSOR_FILE)
        return names


def _mapping(value, preset, name, key):
    if not isinstance(value, dict):
        raise PresetError(
            f"Preset {preset.source!r}: {name} has no object at {key!r} (found {type(value).__name__}): "
            "the file is malformed."
        )
    return value


def _regular_file(path, source, name):
    """Refuses what is not a regular file (folders, FIFOs, devices): opening those can hang or never end."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    except OSError as error:
        raise PresetError(f"Preset {source!r}: cannot read {name} ({error.strerror or error}).") from None
    if not stat.S_ISREG(mode):
        raise PresetError(f"Preset {source!r}: {name} ({path}) is not a regular file.")
    return True


def _read_document(path, source, name):
    if os.path.getsize(path) > MAX_JSON_BYTES:
        raise PresetError(
            f"Preset {source!r}: {name} is {os.path.getsize(path):,} bytes, more than any preset file "
            f"({MAX_JSON_BYTES:,}): refused."
        )
    try:
        return read_json(path, what=f"preset file {name}")
    except (OSError, ValueError) as error:
        raise PresetError(f"Preset {source!r}: {error}") from None


def read_preset(path, source=None):
    """Reads and checks a preset folder's JSON files (not its weights).

    Args:
        path: the folder.
        source: how the user named it, for error messages (default: the path).

    Returns:
        `LocalPreset`.

    Raises:
        PresetError: a file is missing, unreadable, not JSON, malformed, of
            an unknown format version, or ``metadata.json`` lists names that
            are not plain preset file names.

    Example:
    ```python
    preset = read_preset("presets/slow")
    preset.metadata["evaluation"]["metrics"]
    ```
    """
    path = os.fspath(path)
    source = source or path
    if not os.path.isdir(path):
        raise PresetError(f"Preset {source!r}: the folder {path} does not exist.")
    missing = [name for name in PRESET_FILES if not _regular_file(os.path.join(path, name), source, name)]
    if missing:
        raise PresetError(f"Preset {source!r} ({path}) is incomplete: missing {', '.join(missing)}.")
    metadata = _read_document(os.path.join(path, METADATA_FILE), source, METADATA_FILE)
    version = metadata.get("format_version", 1)
    if version not in (1, FORMAT_VERSION):
        raise PresetError(
            f"Preset {source!r}: {METADATA_FILE} says format_version={version!r}; this keras_sportsnet reads "
            f"formats 1 and {FORMAT_VERSION} (a newer keras_sportsnet wrote it? pip install -U keras-sportsnet)."
        )
    files = metadata.get("files")
    if files is not None:
        if not isinstance(files, dict):
            raise PresetError(f"Preset {source!r}: {METADATA_FILE} 'files' must map file names to sha256 hex strings.")
        for name, digest in files.items():
            check_file_name(name, source)
            if not isinstance(digest, str) or not _SHA256.match(digest):
                raise PresetError(
                    f"Preset {source!r}: {METADATA_FILE} records {digest!r} as the sha256 of {name!r}; "
                    "a sha256 is 64 lower-case hex digits."
                )
    names = metadata.get("class_names")
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        raise PresetError(f"Preset {source!r}: {METADATA_FILE} 'class_names' must be a list of str.")
    config = _read_document(os.path.join(path, CONFIG_FILE), source, CONFIG_FILE)
    documents = {}
    if version >= 2:
        task = _regular_file(os.path.join(path, TASK_CONFIG_FILE), source, TASK_CONFIG_FILE)
        task_weights = _regular_file(os.path.join(path, TASK_WEIGHTS_FILE), source, TASK_WEIGHTS_FILE)
        if task != task_weights:
            present, absent = (TASK_CONFIG_FILE, TASK_WEIGHTS_FILE) if task else (TASK_WEIGHTS_FILE, TASK_CONFIG_FILE)
            raise PresetError(f"Preset {source!r} ({path}) is incomplete: it has {present} but no {absent}.")
        if task:
            documents["task_config"] = _read_document(os.path.join(path, TASK_CONFIG_FILE), source, TASK_CONFIG_FILE)
    if _regular_file(os.path.join(path, PREPROCESSOR_FILE), source, PREPROCESSOR_FILE):
        documents["preprocessor_config"] = _read_document(
            os.path.join(path, PREPROCESSOR_FILE), source, PREPROCESSOR_FILE
        )
    return LocalPreset(path, source, metadata, config, **documents)


def verify_files(preset, hashes=None, *, registry=None):
    """Checks every file a load reads against its sha256; warns about files without one.

    Args:
        preset: `LocalPreset`.
        hashes: dict name -> sha256, or None for the ones ``metadata.json`` records.
        registry: str or None. Where ``hashes`` come from when they are a
            registry's (then every file must have one, ``metadata.json`` included).

    Raises:
        PresetError: a file does not match.

    Warns:
        UnverifiedPresetWarning: files without a recorded sha256 (none with a registry).

    Example:
    ```python
    verify_files(read_preset("presets/slow"))
    ```
    """
    recorded = dict(preset.metadata.get("files") or {}) if hashes is None else dict(hashes)
    wanted = list(preset.files) + ([METADATA_FILE] if registry else [])
    unverified = []
    for name in wanted:
        expected = recorded.get(name)
        if expected is None:
            if registry:
                raise PresetError(f"Preset {preset.source!r}: {registry} records no sha256 for {name}.")
            unverified.append(name)
            continue
        found = sha256_of(preset.file(name))
        if found != expected:
            where = registry or f"its {METADATA_FILE}"
            raise PresetError(
                f"Preset {preset.source!r}: {name} does not match the sha256 {where} records "
                f"(expected {expected}, found {found}): the file is corrupt or was changed."
            )
    if unverified:
        warnings.warn(
            f"Preset {preset.source!r} is unverified: its {METADATA_FILE} records no sha256 for "
            f"{', '.join(unverified)}, so corruption or changes cannot be detected. Re-save it with "
            "keras_sportsnet (save_preset records them).",
            UnverifiedPresetWarning,
            stacklevel=3,
        )
    return not unverified


def check_weights_file(path, source, max_values):
    """Checks that a ``.weights.h5`` file opens and holds no more than ``max_values`` numbers.

    Guards memory before Keras reads it: a truncated file, or one declaring
    huge arrays, is a PresetError naming the file, never a raw OSError or an
    exhausted machine.

    Args:
        path: str.
        source: str. The preset, for messages.
        max_values: int. At most this many array elements in the file.

    Example:
    ```python
    check_weights_file("presets/slow/model.weights.h5", "presets/slow", model.count_params())
    ```
    """
    import h5py

    name = os.path.basename(path)
    if not _regular_file(path, source, name):
        raise PresetError(f"Preset {source!r}: {name} does not exist ({path}).")
    sizes = []
    try:
        with h5py.File(path, "r") as file:
            file.visititems(lambda _, item: sizes.append(item.size) if isinstance(item, h5py.Dataset) else None)
    except Exception as error:  # h5py reports damage as OSError, KeyError, ValueError, RuntimeError...
        raise PresetError(
            f"Preset {source!r}: {name} ({path}) is not a readable weights file "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'damaged'}). "
            "It is truncated or corrupt: download or copy it again."
        ) from None
    total = sum(int(size or 0) for size in sizes)
    if total > max_values:
        raise PresetError(
            f"Preset {source!r}: {name} declares {total:,} values, more than the model it is for has "
            f"({max_values:,}): refused."
        )


def write_preset(directory, *, documents, weights, metadata, overwrite=False):
    """Writes a preset folder atomically: JSON documents, weights files, metadata with hashes, model card.

    Args:
        directory: the folder to create.
        documents: dict file name -> JSON-serializable data (``config.json``, ...).
        weights: dict file name -> callable writing that file at the path it is given.
        metadata: dict. ``files`` (sha256 of every other file) and ``format_version`` are added.
        overwrite: bool. Replace an existing folder.

    Returns:
        str. The folder.

    Example:
    ```python
    write_preset("presets/x", documents={"config.json": config}, weights={"model.weights.h5": model.save_weights},
                 metadata={"description": "..."})
    ```
    """
    directory = os.fspath(directory)
    for name in (*documents, *weights):
        check_file_name(name, directory, where="write_preset")

    def fill(staging):
        for name, data in documents.items():
            write_json(os.path.join(staging, name), data, indent=2)
        for name, write in weights.items():
            write(os.path.join(staging, name))
        full = dict(metadata)
        full["format_version"] = FORMAT_VERSION
        full["files"] = {name: sha256_of(os.path.join(staging, name)) for name in sorted((*documents, *weights))}
        write_json(os.path.join(staging, METADATA_FILE), full, indent=2)
        write_text(os.path.join(staging, MODEL_CARD_FILE), model_card(full))

    try:
        atomic_folder(directory, fill, overwrite=overwrite)
    except FileExistsError:
        raise FileExistsError(f"{directory} exists; pass overwrite=True to replace it.") from None
    return directory
