"""The built-in registry of published weights presets: plain data, no code.

Each entry maps a preset name to where its files live and what they hash to::

    "slow_fusion_example": {
        "hub": "org/repo",                    # Hugging Face Hub repository id
        "revision": "<40-hex commit or tag>",  # pinned: never a floating branch
        "files": {                            # sha256 of every file that is loaded
            "config.json": "<sha256>",
            "metadata.json": "<sha256>",
            "model.weights.h5": "<sha256>",
        },
        "summary": {                          # shown by `list_presets` without downloading
            "architecture": "Slow Fusion", "dataset": "...", "params": 123, "metrics": {...},
        },
    }

Presets shipped with the repository (in its ``weights/`` folder) are listed in
``shipped.json`` beside this file, with ``"path"`` (relative to the repository
root) instead of ``"hub"``/``"revision"``; `benchmarks/reproduce_paper.py
--save-presets weights/` rewrites both the folders and that file.

An entry is added only once its files exist where it points. No Sports-1M
weights exist for keras_sportsnet (the dataset cannot be obtained here), so no
entry claims to be one: the shipped presets were trained on the embedded
synthetic-sports dataset, and say so.
"""

import json
import os

SHIPPED_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shipped.json")
REPOSITORY_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HUB_PRESETS = {}
"""Presets published on the Hugging Face Hub: name -> entry with ``hub``, ``revision``, ``files``, ``summary``."""


def _shipped():
    if not os.path.exists(SHIPPED_FILE):
        return {}
    with open(SHIPPED_FILE, encoding="utf-8") as file:
        return json.load(file)


SHIPPED_PRESETS = _shipped()
"""Presets in the repository's ``weights/`` folder: name -> entry with ``path``, ``files``, ``summary``."""

PRESETS = {**SHIPPED_PRESETS, **HUB_PRESETS}
"""Preset name -> registry entry (see the module docstring)."""

SPORTS1M_RECIPE = (
    "No Sports-1M weights exist for keras_sportsnet: the dataset (about 1M YouTube videos) has to be "
    "downloaded and trained on with the paper's recipe (README, 'Pretrained weights' -> 'Sports-1M'), "
    "then published with keras_sportsnet.save_preset and keras_sportsnet.upload_preset."
)
