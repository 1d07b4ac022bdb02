"""What a user wrote as ``weights=``/``preset``, turned into a verified preset folder or a weights file.

- a registered name: a shipped preset (inside the package) or a Hub preset
  downloaded at its pinned revision, every file checked against the
  registry's sha256;
- ``hf://org/repo`` or ``hf://org/repo@revision``: downloaded, checked
  against the sha256 its own ``metadata.json`` records;
- a local preset folder: checked the same way;
- a local ``.weights.h5`` or ``.keras`` file: returned as a path (the models
  load it).

A misspelt name gets "did you mean"; a path that does not exist says so.
"""

import os

from keras_sportsnet.presets.errors import PresetError
from keras_sportsnet.presets.folder import read_preset
from keras_sportsnet.presets.folder import verify_files
from keras_sportsnet.presets.hub import download_preset
from keras_sportsnet.presets.hub import parse_hf_handle
from keras_sportsnet.presets.registry import PRESETS
from keras_sportsnet.presets.registry import PRESETS_FOLDER
from keras_sportsnet.presets.registry import SHIPPED_FILE
from keras_sportsnet.presets.registry import SPORTS1M_RECIPE
from keras_sportsnet.presets.registry import suggest_preset

__all__ = ["WEIGHTS_FILE_SUFFIXES", "resolve_preset"]

WEIGHTS_FILE_SUFFIXES = (".weights.h5", ".keras")


def _looks_like_path(text):
    return (
        os.sep in text
        or "/" in text
        or (os.altsep is not None and os.altsep in text)
        or text.startswith((".", "~"))
        or text.endswith((*WEIGHTS_FILE_SUFFIXES, ".h5", ".json"))
    )


def _unknown(argument, value):
    if not isinstance(value, (str, os.PathLike)):
        return ValueError(
            f"`{argument}` must be None, a preset name, 'hf://org/repo[@revision]', a preset folder or a "
            f".weights.h5/.keras file. Received: {argument}={value!r}"
        )
    text = os.fspath(value)
    if _looks_like_path(text):
        return ValueError(
            f"`{argument}`: {text!r} does not exist"
            + (f" (resolved to {os.path.abspath(os.path.expanduser(text))})" if not os.path.isabs(text) else "")
            + ". Give an existing preset folder or .weights.h5/.keras file, or a registered preset name."
        )
    suggestion = suggest_preset(text)
    if suggestion is not None:
        return ValueError(
            f"`{argument}`: {text!r} is not a registered preset. Did you mean {suggestion!r}? "
            f"(keras_sportsnet.list_presets() lists them.)"
        )
    registered = ", ".join(sorted(PRESETS)) or "none are registered"
    return ValueError(
        f"`{argument}`: {text!r} is not a registered preset, and no folder or file of that name exists. "
        f"Registered presets: {registered} (keras_sportsnet.list_presets()). {SPORTS1M_RECIPE}"
    )


def _shipped_folder(name, entry):
    folder = os.path.normpath(os.path.join(PRESETS_FOLDER, entry["path"]))
    if not os.path.isdir(folder):
        raise PresetError(
            f"Preset {name!r} ships inside the package ({folder}), but this installation does not have it. "
            "Reinstall keras_sportsnet (pip install --force-reinstall keras-sportsnet), or retrain it: "
            "python benchmarks/reproduce_paper.py --save-presets keras_sportsnet/presets/shipped"
        )
    return folder


def resolve_preset(weights, argument="weights"):
    """A verified `LocalPreset`, or the path of a ``.weights.h5``/``.keras`` file, for ``weights=``.

    Args:
        weights: a registered preset name, an ``hf://`` handle, a preset
            folder, or a ``.weights.h5``/``.keras`` path.
        argument: str. The argument's name, for messages.

    Returns:
        `keras_sportsnet.presets.folder.LocalPreset`, or a str path.

    Raises:
        ValueError: ``weights`` names nothing that exists ("did you mean"
            for a misspelt preset name; "does not exist" for a path).
        PresetError: a download failed, a file is missing, malformed or
            does not match its sha256.

    Warns:
        UnverifiedPresetWarning: a folder or Hub preset records no sha256 for some files.

    Example:
    ```python
    preset = resolve_preset("hf://my-org/slow-fusion-ucf101@v1")
    preset.path, preset.metadata["evaluation"]
    ```
    """
    if not isinstance(weights, (str, os.PathLike)):
        raise _unknown(argument, weights)
    text = os.fspath(weights)
    if text in PRESETS:
        entry = PRESETS[text]
        if "path" in entry:
            folder = _shipped_folder(text, entry)
            registry = f"the registry ({os.path.relpath(SHIPPED_FILE, os.path.dirname(PRESETS_FOLDER))})"
        else:
            folder = download_preset(text, entry["hub"], entry["revision"], entry["files"])
            registry = "the registry"
        preset = read_preset(folder, source=text)
        verify_files(preset, entry["files"], registry=registry)
        return preset
    if text.startswith("hf://"):
        repo, revision = parse_hf_handle(text)
        preset = read_preset(download_preset(text, repo, revision), source=text)
        verify_files(preset)
        return preset
    path = os.path.expanduser(text)
    if os.path.isdir(path):
        preset = read_preset(path, source=text)
        verify_files(preset)
        return preset
    if path.endswith(WEIGHTS_FILE_SUFFIXES) and os.path.isfile(path):
        return path
    if os.path.exists(path):
        raise ValueError(
            f"`{argument}`: {text!r} is neither a preset folder nor a .weights.h5/.keras file."
        )
    raise _unknown(argument, weights)
