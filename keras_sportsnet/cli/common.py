"""Helpers shared by the subcommands."""

import json
import os


def write_json_atomically(path, data):
    """Writes ``data`` as JSON to ``path`` through a temporary file and a rename."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)
