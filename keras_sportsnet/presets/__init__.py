"""Weights presets: folders of configs + weights + metadata + model card, in the package, on disk or on the Hub.

This package knows files, hashes, the Hub and the registry; it imports
nothing from `keras_sportsnet.models` (the model classes own ``from_preset``
and ``save_to_preset`` and read what it returns).

- `folder`: the preset folder format; read and check one, write one atomically.
- `card`: the model card (``README.md``).
- `hub`: download into the Hugging Face cache, publish (`upload_preset`).
- `registry`: the built-in presets as plain data; `list_presets`.
- `resolve`: ``weights=`` (name, ``hf://``, folder, weights file) -> a verified folder.
"""

from keras_sportsnet.presets.card import model_card
from keras_sportsnet.presets.errors import PresetError
from keras_sportsnet.presets.errors import UnverifiedPresetWarning
from keras_sportsnet.presets.folder import LocalPreset
from keras_sportsnet.presets.folder import read_preset
from keras_sportsnet.presets.hub import parse_hf_handle
from keras_sportsnet.presets.hub import upload_preset
from keras_sportsnet.presets.registry import PRESETS
from keras_sportsnet.presets.registry import PresetTable
from keras_sportsnet.presets.registry import list_presets
from keras_sportsnet.presets.registry import preset_registry_entry
from keras_sportsnet.presets.resolve import resolve_preset

__all__ = [
    "PRESETS",
    "LocalPreset",
    "PresetError",
    "PresetTable",
    "UnverifiedPresetWarning",
    "list_presets",
    "model_card",
    "parse_hf_handle",
    "preset_registry_entry",
    "read_preset",
    "resolve_preset",
    "upload_preset",
]
