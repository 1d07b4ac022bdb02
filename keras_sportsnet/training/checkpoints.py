"""Training state on disk: written atomically at epoch boundaries, restored exactly, repaired on start.

A run folder holds::

    state.json                    the commit point: last completed epoch, history, learning-rate
                                  schedule state, best value and epoch, the best weights' file and
                                  sha256, recipe, steps per epoch (and why the run stopped, if it did)
    checkpoints/epoch-000007.npz  every variable of the model and the optimizer (weights, momentum,
                                  iteration count, learning rate, dropout RNG states), by position,
                                  with their paths and shapes in the file (no pickle)
    checkpoints/best-epoch-000005.weights.h5
                                  the best epoch's weights, as committed by state.json
    best.weights.h5 + best.json   the same weights published under a fixed name (a hard link to the
                                  committed file where the file system allows it, else a copy), and
                                  their record: epoch, monitored value, sha256
    history.csv                   one row per completed epoch (rewritten from state.json)

At the end of epoch ``e`` the arrays (and, if ``e`` is the best epoch so far,
its weights) are written first, each under a temporary name that is renamed
into place; then ``state.json`` is replaced to point at them (the commit);
then ``best.weights.h5``/``best.json`` are published from the state and files
no state names are removed. A process killed at any instant leaves either the
previous state or the new one, never a mix; what a kill leaves half done after
the commit (an unpublished best model, leftover temporaries, checkpoints no
state names) `tidy_run_folder` finishes or removes when the run starts again.
Before each large write the free space is checked, so a full disk is a clear
`OSError` that leaves the previous files usable. Only the chief process writes
(``is_chief``); every process can restore.
"""

import csv
import errno
import io
import json
import os
import shutil

import numpy as np

from keras_sportsnet.utils.files import atomic_write
from keras_sportsnet.utils.files import read_json
from keras_sportsnet.utils.files import remove_stale_temporaries
from keras_sportsnet.utils.files import sha256_of
from keras_sportsnet.utils.files import write_json

__all__ = [
    "BEST_INFO",
    "BEST_WEIGHTS",
    "CHECKPOINT_DIR",
    "HISTORY_FILE",
    "STATE_FILE",
    "RunState",
    "best_weights_path",
    "checkpoint_path",
    "ensure_free_space",
    "free_bytes",
    "load_state",
    "publish_best",
    "remove_uncommitted",
    "restore_variables",
    "save_best_weights",
    "save_variables",
    "tidy_run_folder",
    "write_history_csv",
    "write_state",
]

STATE_FILE = "state.json"
CHECKPOINT_DIR = "checkpoints"
BEST_WEIGHTS = "best.weights.h5"
BEST_INFO = "best.json"
HISTORY_FILE = "history.csv"
FREE_SPACE_MARGIN = 0.1
"""Extra fraction of a file's estimated size that must be free before it is written (plus 256 KiB)."""


def _variables(model):
    optimizer = getattr(model, "optimizer", None)
    return list(model.variables) + (list(optimizer.variables) if optimizer is not None else [])


def _nbytes(variables):
    return sum(int(np.prod(v.shape, dtype=np.int64)) * np.dtype(v.dtype).itemsize for v in variables)


def free_bytes(folder):
    """Bytes free for this user in the file system that holds ``folder`` (`shutil.disk_usage`).

    Example:
    ```python
    free_bytes("runs/slow") // 2**20   # MiB
    ```
    """
    return shutil.disk_usage(folder).free


def ensure_free_space(folder, size, what):
    """Raises a clear `OSError` (ENOSPC) unless ``size`` bytes plus a margin are free in ``folder``.

    Writing a checkpoint into a full disk fails in the middle (h5py has been
    seen to crash the process); checking first makes it an error that names
    the file and the numbers, while the previous files stay as they were.

    Args:
        folder: str. Where the file goes (must exist).
        size: int. Estimated size of the file in bytes.
        what: str. The file, for the message (e.g. ``"runs/a/best.weights.h5"``).

    Example:
    ```python
    ensure_free_space("runs/slow", 300 * 2**20, "runs/slow/best.weights.h5")
    ```
    """
    needed = int(size * (1 + FREE_SPACE_MARGIN)) + (256 << 10)
    free = free_bytes(folder)
    if free < needed:
        raise OSError(
            errno.ENOSPC,
            f"Not enough free disk space to write {what}: it needs about {needed / 2**20:.1f} MiB and "
            f"{free / 2**20:.1f} MiB are free in {folder}. Nothing was overwritten: the run folder still holds the "
            "last completed epoch. Free some space (or use a run_dir on a larger disk) and run the same command "
            "again to resume.",
        )


def save_variables(model, path):
    """Every model and optimizer variable, in order, with paths and shapes, as an ``.npz``.

    Example:
    ```python
    save_variables(model, "runs/a/checkpoints/epoch-000003.npz")
    ```
    """
    variables = _variables(model)
    # `Variable.numpy()` reads a mirrored (tf.distribute) or replicated (JAX, several processes) variable's
    # local copy, with no collective: only the chief calls this.
    arrays = {f"v{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(variables)}
    index = json.dumps([[v.path, list(v.shape)] for v in variables])
    arrays["index"] = np.frombuffer(index.encode(), np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    ensure_free_space(folder, sum(a.nbytes for a in arrays.values()), path)

    def write(temporary):
        with open(temporary, "wb") as file:
            np.savez(file, **arrays)

    atomic_write(path, write)


def restore_variables(model, path):
    """Assigns the variables saved by `save_variables`; the model and optimizer must match exactly.

    Example:
    ```python
    restore_variables(model, "runs/a/checkpoints/epoch-000003.npz")
    ```
    """
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


def best_weights_path(run_dir, epoch):
    """``run_dir/checkpoints/best-epoch-000007.weights.h5``: epoch 7's weights, committed as the best."""
    return os.path.join(run_dir, CHECKPOINT_DIR, f"best-epoch-{epoch:06d}.weights.h5")


def save_best_weights(model, run_dir, epoch, save=None):
    """Writes the model's weights as the best of epoch ``epoch`` (not yet committed); returns their record.

    Args:
        model: the Keras model.
        run_dir: str.
        epoch: int. The completed epoch (1-based).
        save: callable ``save(path)`` or None (``model.save_weights``).

    Returns:
        dict ``{"epoch", "file" (relative to run_dir), "sha256"}``, for ``state.json``.

    Example:
    ```python
    record = save_best_weights(model, "runs/a", 3)
    ```
    """
    path = best_weights_path(run_dir, epoch)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # Keras' .weights.h5 holds the optimizer's variables too, and a few KiB of HDF5 headers per variable.
    variables = _variables(model)
    ensure_free_space(os.path.dirname(path), _nbytes(variables) + 4096 * len(variables) + (64 << 10), path)
    atomic_write(path, save or model.save_weights)
    return {"epoch": int(epoch), "file": os.path.relpath(path, run_dir), "sha256": sha256_of(path)}


def publish_best(run_dir, state):
    """Makes ``best.weights.h5`` and ``best.json`` match the best model that ``state`` commits.

    Does nothing when they already match. ``best.weights.h5`` becomes a hard
    link to the committed file (a copy where links are not possible); both
    are replaced atomically.

    Args:
        run_dir: str.
        state: `RunState` (or dict) as written to ``state.json``.

    Returns:
        list of str: what was (re)written.

    Example:
    ```python
    publish_best("runs/a", load_state("runs/a"))
    ```
    """
    record = state.get("best_weights")
    if not record:
        return []
    source = os.path.join(run_dir, record["file"])
    target = os.path.join(run_dir, BEST_WEIGHTS)
    written = []
    if not os.path.exists(source):
        raise ValueError(
            f"{os.path.join(run_dir, STATE_FILE)} names {record['file']} as the best weights, but that file is "
            "missing: the run folder was changed by hand. Use a new run_dir, or delete state.json to start over."
        )
    if not _same_file(source, target, record.get("sha256")):

        def link(temporary):
            os.remove(temporary)
            try:
                os.link(source, temporary)
            except OSError:  # no hard links here (some network or object-store file systems): copy
                ensure_free_space(run_dir, os.path.getsize(source), target)
                shutil.copyfile(source, temporary)

        atomic_write(target, link)
        written.append(BEST_WEIGHTS)
    info = {"epoch": record["epoch"], state.get("monitor", "monitor"): state.get("best"), "sha256": record.get("sha256")}
    info_path = os.path.join(run_dir, BEST_INFO)
    try:
        current = read_json(info_path, what="best-model record")
    except (FileNotFoundError, ValueError):
        current = None
    if current != info:
        write_json(info_path, info)
        written.append(BEST_INFO)
    return written


def _same_file(source, target, sha256):
    if not os.path.exists(target):
        return False
    try:
        if os.path.samefile(source, target):
            return True
    except OSError:
        return False
    return sha256 is not None and sha256_of(target) == sha256


def remove_uncommitted(run_dir, state):
    """Deletes checkpoints and best-weight files in ``run_dir/checkpoints`` that ``state`` does not name.

    Returns:
        list of the removed names.

    Example:
    ```python
    remove_uncommitted("runs/a", load_state("runs/a"))
    ```
    """
    folder = os.path.join(run_dir, CHECKPOINT_DIR)
    if not os.path.isdir(folder):
        return []
    keep = set()
    if state and state.get("epoch"):
        keep.add(os.path.basename(checkpoint_path(run_dir, int(state["epoch"]))))
    if state and state.get("best_weights"):
        keep.add(os.path.basename(state["best_weights"]["file"]))
    removed = []
    for name in sorted(os.listdir(folder)):
        ours = (name.startswith("epoch-") and name.endswith(".npz")) or (
            name.startswith("best-epoch-") and name.endswith(".weights.h5"))
        if ours and name not in keep:
            os.remove(os.path.join(folder, name))
            removed.append(name)
    return removed


def tidy_run_folder(run_dir, state):
    """Finishes or undoes what a killed run left, before training (re)starts: the chief calls it.

    Removes leftover temporary files (of `keras_sportsnet.utils.files`) and
    checkpoints no state names, and republishes ``best.weights.h5`` and
    ``best.json`` when they disagree with the state (a kill after the commit,
    before the publication). Run folders of earlier versions, whose state has
    no best-weights record, get a ``best.json`` that names the state's best
    epoch.

    Args:
        run_dir: str.
        state: `RunState` or None.

    Returns:
        list of str describing each repair (empty when the folder was consistent).

    Example:
    ```python
    for repair in tidy_run_folder("runs/a", load_state("runs/a")):
        print(repair)
    ```
    """
    repairs = [f"removed the leftover temporary {os.path.relpath(path, run_dir)}"
               for path in remove_stale_temporaries(run_dir, recursive=True)]
    if not state:
        repairs += [f"removed {CHECKPOINT_DIR}/{name} (written after the last commit)"
                    for name in remove_uncommitted(run_dir, None)]
        return repairs
    repairs += [f"removed {CHECKPOINT_DIR}/{name} (written after the last commit)"
                for name in remove_uncommitted(run_dir, state)]
    if state.get("best_weights"):
        repairs += [f"republished {name} (epoch {state['best_epoch']}, as state.json commits)"
                    for name in publish_best(run_dir, state)]
    elif state.get("best_epoch") is not None and os.path.exists(os.path.join(run_dir, BEST_WEIGHTS)):
        info_path = os.path.join(run_dir, BEST_INFO)
        try:
            current = read_json(info_path, what="best-model record")
        except (FileNotFoundError, ValueError):
            current = None
        if not current or current.get("epoch") != state["best_epoch"]:
            write_json(info_path, {"epoch": state["best_epoch"], state.get("monitor", "monitor"): state.get("best")})
            repairs.append(f"rewrote {BEST_INFO} (it did not name epoch {state['best_epoch']}, the state's best)")
    return repairs


class RunState(dict):
    """The contents of ``state.json`` (a dict with a few helpers).

    Example:
    ```python
    state = load_state("runs/a") or RunState()
    state.epoch    # 0 for a new run
    ```
    """

    @property
    def epoch(self):
        """The last completed (committed) epoch, 0 if none."""
        return int(self.get("epoch", 0))


def load_state(run_dir):
    """The `RunState` of a run folder, or None if no epoch was completed there.

    Raises:
        ValueError: ``state.json`` exists but is not a state this package wrote (names the file).

    Example:
    ```python
    state = load_state("runs/a")
    ```
    """
    path = os.path.join(run_dir, STATE_FILE)
    if not os.path.exists(path):
        return None
    return RunState(read_json(path, what="training state"))


def write_state(run_dir, state):
    """Replaces ``run_dir/state.json`` atomically (the commit point of an epoch).

    Example:
    ```python
    write_state("runs/a", {"epoch": 3, "history": [...]})
    ```
    """
    write_json(os.path.join(run_dir, STATE_FILE), state)


def write_history_csv(run_dir, history):
    """``history.csv`` from the state's per-epoch logs (rewritten whole, atomically).

    Example:
    ```python
    write_history_csv("runs/a", load_state("runs/a")["history"])
    ```
    """
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
    """``run_dir/checkpoints/epoch-000007.npz``: the variables after epoch 7."""
    return os.path.join(run_dir, CHECKPOINT_DIR, f"epoch-{epoch:06d}.npz")

