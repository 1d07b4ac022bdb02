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

An entry is added only once its files exist where it points. No Sports-1M
weights exist for keras_sportsnet (the dataset cannot be obtained here), so no
entry claims to be one.
"""

PRESETS = {}
"""Preset name -> registry entry (see the module docstring)."""

SPORTS1M_RECIPE = (
    "No Sports-1M weights exist for keras_sportsnet: the dataset (about 1M YouTube videos) has to be "
    "downloaded and trained on with the paper's recipe (README, 'Pretrained weights' -> 'Sports-1M'), "
    "then published with keras_sportsnet.save_preset and keras_sportsnet.upload_preset."
)
