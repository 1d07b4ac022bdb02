"""Training state on disk: written atomically at epoch boundaries, restored exactly.

A run folder holds::

    state.json                    the commit point: last completed epoch, global step, history,
                                  learning-rate schedule state, best value, recipe, seed
    checkpoints/epoch-000007.npz  every variable of the model and the optimizer (weights, momentum,
                                  iteration count, learning rate, dropout RNG states), by position,
                                  with their paths and shapes in the file (no pickle)
    best.weights.h5 + best.json   the weights of the best epoch by the monitored metric
    history.csv                   one row per completed epoch (rewritten from state.json)

The arrays of epoch ``e`` are written first (temporary name, fsync, rename),
then ``state.json`` is replaced to point at them, then older checkpoints are
removed. A process killed at any instant leaves either the previous complete
state or the new one, never a mix. Only the chief process writes
(``is_chief``), every process can restore.
"""

import csv
import io
import json
import os

import numpy as np

from keras_sportsnet.utils.files import atomic_write
from keras_sportsnet.utils.files import write_json

__all__ = ["STATE_FILE", "RunState", "atomic_write", "save_variables", "restore_variables", "load_state"]

STATE_FILE = "state.json"
CHECKPOINT_DIR = "checkpoints"
BEST_WEIGHTS = "best.weights.h5"
BEST_INFO = "best.json"
HISTORY_FILE = "history.csv"


def _variables(model):
    optimizer = getattr(model, "optimizer", None)
    return list(model.variables) + (list(optimizer.variables) if optimizer is not None else [])


def save_variables(model, path):
    """Every model and optimizer variable, in order, with paths and shapes, as an ``.npz``."""
    variables = _variables(model)
    # `Variable.numpy()` reads a mirrored (tf.distribute) or replicated (JAX, several processes) variable's
    # local copy, with no collective: only the chief calls this.
    arrays = {f"v{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(variables)}
    index = json.dumps([[v.path, list(v.shape)] for v in variables])
    arrays["index"] = np.frombuffer(index.encode(), np.uint8)

    def write(temporary):
        with open(temporary, "wb") as file:
            np.savez(file, **arrays)

    atomic_write(path, write)


def restore_variables(model, path):
    """Assigns the variables saved by `save_variables`; the model and optimizer must match exactly."""
    with np.load(path, allow_pickle=False) as saved:
        index = json.loads(bytes(saved["index"]).decode())
        variables = _variables(model)
        found = [[v.path, list(v.shape)] for v in variables]
        if [shape for _, shape in index] != [shape for _, shape in found]:
            raise ValueError(
                f"Checkpoint {path} does not fit this model and optimizer: it holds {len(index)} variables, "
                f"the model {len(found)}; first difference: "
                f"{next(((a, b) for a, b in zip(index, found) if a[1] != b[1]), (index[len(found):] or found[len(index):])[:1])}."
            )
        for i, variable in enumerate(variables):
            variable.assign(saved[f"v{i:05d}"])


class RunState(dict):
    """The contents of ``state.json`` (a dict with a few helpers)."""

    @property
    def epoch(self):
        return int(self.get("epoch", 0))


def load_state(run_dir):
    """The `RunState` of a run folder, or None if no epoch was completed there."""
    path = os.path.join(run_dir, STATE_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as file:
        return RunState(json.load(file))


def write_state(run_dir, state):
    write_json(os.path.join(run_dir, STATE_FILE), state)


def write_history_csv(run_dir, history):
    """``history.csv`` from the state's per-epoch logs (rewritten whole, atomically)."""
    rows = history or []
    columns = ["epoch"] + sorted({key for row in rows for key in row if key != "epoch"})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)

    def write(temporary):
        with open(temporary, "w", encoding="utf-8", newline="") as file:
            file.write(buffer.getvalue())

    atomic_write(os.path.join(run_dir, HISTORY_FILE), write)


def checkpoint_path(run_dir, epoch):
    return os.path.join(run_dir, CHECKPOINT_DIR, f"epoch-{epoch:06d}.npz")


def remove_older_checkpoints(run_dir, keep_epoch):
    folder = os.path.join(run_dir, CHECKPOINT_DIR)
    for name in os.listdir(folder):
        if name.startswith("epoch-") and name.endswith(".npz") and name != os.path.basename(checkpoint_path(run_dir, keep_epoch)):
            os.remove(os.path.join(folder, name))
        elif ".incomplete" in name:
            os.remove(os.path.join(folder, name))
