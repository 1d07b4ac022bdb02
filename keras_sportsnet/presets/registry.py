"""The built-in registry of presets: plain data, their listing, and the entries for new ones.

Each entry maps a preset name to where its files live and what they hash to::

    "slow_fusion_example": {
        "hub": "org/repo",                    # Hugging Face Hub repository id
        "revision": "<40-hex commit or tag>",  # pinned: never a floating branch
        "files": {                            # sha256 of every file that is loaded
            "config.json": "<sha256>", "metadata.json": "<sha256>", "model.weights.h5": "<sha256>", ...
        },
        "summary": {                          # shown by `list_presets` without downloading
            "architecture": "Slow Fusion", "dataset": "...", "params": 123, "metrics": {...},
        },
    }

Presets shipped inside the package (``keras_sportsnet/presets/shipped/<name>/``,
installed with pip) are listed in ``shipped.json`` beside this file, with
``"path"`` (relative to this folder) instead of ``"hub"``/``"revision"``;
`benchmarks/reproduce_paper.py --save-presets keras_sportsnet/presets/shipped`
rewrites both the folders and that file.

An entry is added only once its files exist where it points. No Sports-1M
weights exist for keras_sportsnet (the dataset cannot be obtained here), so no
entry claims to be one: the shipped presets were trained on the embedded
synthetic-sports dataset, and say so.
"""

import json
import os

from keras_sportsnet.presets.folder import METADATA_FILE
from keras_sportsnet.presets.folder import read_preset
from keras_sportsnet.utils import tables
from keras_sportsnet.utils.checks import closest
from keras_sportsnet.utils.files import sha256_of

__all__ = [
    "HUB_PRESETS",
    "PRESETS",
    "SHIPPED_FILE",
    "SHIPPED_PRESETS",
    "SHIPPED_ROOT",
    "SPORTS1M_RECIPE",
    "PresetTable",
    "list_presets",
    "preset_registry_entry",
    "shipped_registry_entry",
    "suggest_preset",
]

PRESETS_FOLDER = os.path.dirname(os.path.abspath(__file__))
SHIPPED_FILE = os.path.join(PRESETS_FOLDER, "shipped.json")
SHIPPED_ROOT = os.path.join(PRESETS_FOLDER, "shipped")
"""The shipped preset folders (package data: a pip-installed wheel has them)."""

HUB_PRESETS = {}
"""Presets published on the Hugging Face Hub: name -> entry with ``hub``, ``revision``, ``files``, ``summary``."""


def _shipped():
    if not os.path.exists(SHIPPED_FILE):
        return {}
    with open(SHIPPED_FILE, encoding="utf-8") as file:
        return json.load(file)


SHIPPED_PRESETS = _shipped()
"""Presets shipped in the package: name -> entry with ``path`` (relative to this folder), ``files``, ``summary``."""

PRESETS = {**SHIPPED_PRESETS, **HUB_PRESETS}
"""Preset name -> registry entry (see the module docstring)."""

SPORTS1M_RECIPE = (
    "No Sports-1M weights exist for keras_sportsnet: the dataset has to be downloaded and trained on with the "
    "paper's recipe, then published with keras_sportsnet.save_preset and keras_sportsnet.upload_preset."
)


def suggest_preset(name):
    """The registered preset name closest to ``name`` by spelling, or None.

    Example:
    >>> suggest_preset("slow_fusion_synthetc")
    'slow_fusion_synthetic'
    """
    return closest(name, sorted(PRESETS))


def _summary(preset):
    architecture = preset.metadata.get("architecture") or {}
    return {
        "architecture": architecture.get("table1_name") or architecture.get("fusion"),
        "spec": architecture.get("spec"),
        "dataset": (preset.metadata.get("dataset") or {}).get("name"),
        "params": preset.metadata.get("parameter_count"),
        "metrics": (preset.metadata.get("evaluation") or {}).get("metrics", {}),
    }


def preset_registry_entry(directory, handle, revision, summary=None):
    """The registry entry (plain data) for a preset folder published at ``handle`` and ``revision``.

    Example:
    ```python
    entry = preset_registry_entry("presets/slow", "hf://org/slow", commit)
    ```
    """
    from keras_sportsnet.presets.hub import parse_hf_handle

    repo, _ = parse_hf_handle(handle)
    preset = read_preset(directory)
    names = [METADATA_FILE, *preset.files]
    return {
        "hub": repo,
        "revision": revision,
        "files": {name: sha256_of(os.path.join(directory, name)) for name in names},
        "summary": summary or _summary(preset),
    }


def shipped_registry_entry(folder, summary=None):
    """The ``shipped.json`` entry of a preset folder inside `SHIPPED_ROOT`.

    Example:
    ```python
    entry = shipped_registry_entry("keras_sportsnet/presets/shipped/slow_fusion_synthetic")
    ```
    """
    folder = os.path.abspath(os.fspath(folder))
    if os.path.dirname(folder) != SHIPPED_ROOT:
        raise ValueError(f"A shipped preset lives in {SHIPPED_ROOT}/<name>. Received: {folder}")
    preset = read_preset(folder)
    names = [METADATA_FILE, *preset.files]
    return {
        "path": os.path.relpath(folder, PRESETS_FOLDER).replace(os.sep, "/"),
        "files": {name: sha256_of(os.path.join(folder, name)) for name in names},
        "summary": summary or _summary(preset),
    }


class PresetTable(list):
    """`list_presets`' result: a list of row dicts that prints as a table."""

    COLUMNS = ("name", "architecture", "spec", "dataset", "params", "metrics")

    def __str__(self):
        if not self:
            return "No presets are registered. " + SPORTS1M_RECIPE
        rows = [
            [
                str(row["name"]),
                str(row.get("architecture") or ""),
                str(row.get("spec") or ""),
                str(row.get("dataset") or ""),
                f"{row['params']:,}" if isinstance(row.get("params"), int) else "",
                ", ".join(
                    f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in (row.get("metrics") or {}).items()
                ),
            ]
            for row in self
        ]
        return tables.format_table(self.COLUMNS, rows)

    def _repr_pretty_(self, printer, cycle):  # IPython / Jupyter
        printer.text(str(self))


def list_presets():
    """The registered presets: name, architecture, spec, dataset, params, metrics.

    Reads only the registry (no download, no network).

    Returns:
        `PresetTable`: a list of dicts, one per preset, that prints as a table.

    Example:
    ```python
    print(ksn.list_presets())
    ```
    """
    return PresetTable(
        {"name": name, **{key: entry.get("summary", {}).get(key) for key in PresetTable.COLUMNS[1:]}}
        for name, entry in sorted(PRESETS.items())
    )

