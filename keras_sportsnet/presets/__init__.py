"""Weights presets: folders of config + weights + metadata + model card, on disk or on the Hub.

- `registry`: the built-in presets, as plain data (repository, pinned revision, sha256 per file).
- `store`: write a preset folder (`save_preset`), read and check one.
- `hub`: resolve ``weights=`` (registered name, ``hf://org/repo@rev``, folder, ``.weights.h5``),
  download and verify; publish (`upload_preset`); `list_presets`.
- `loader`: one loader for every model class (architecture reconciliation, transfer to a new head).
"""

from keras_sportsnet.presets.hub import PresetTable
from keras_sportsnet.presets.hub import list_presets
from keras_sportsnet.presets.hub import parse_hf_handle
from keras_sportsnet.presets.hub import preset_registry_entry
from keras_sportsnet.presets.hub import resolve_preset
from keras_sportsnet.presets.hub import upload_preset
from keras_sportsnet.presets.registry import PRESETS
from keras_sportsnet.presets.store import LocalPreset
from keras_sportsnet.presets.store import PresetError
from keras_sportsnet.presets.store import model_card
from keras_sportsnet.presets.store import read_preset
from keras_sportsnet.presets.store import save_preset
