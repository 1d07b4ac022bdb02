"""Atomic file writes shared by the package: checkpoints, figures, reports, JSON outputs.

A file is written under a temporary name in its own folder, fsync'd, given the
permissions a plain ``open`` would give, then renamed onto its path: readers
see the old file or the new one, never a part.
"""

import json
import os
import tempfile

__all__ = ["atomic_write", "write_json"]


def atomic_write(path, write):
    """Calls ``write(temporary_path)`` then renames the result onto ``path`` (same folder, fsync'd).

    Args:
        path: str or path-like. Its folder is created if needed.
        write: callable taking the temporary path (which keeps ``path``'s
            extension, so writers that infer the format from it work).

    Example:
    ```python
    atomic_write("figure.png", lambda temporary: figure.savefig(temporary))
    ```
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    base = os.path.basename(path)
    suffix = ".weights.h5" if base.endswith(".weights.h5") else os.path.splitext(base)[1]
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{base}.", suffix=f".incomplete{suffix}")
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb") as file:
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; give the permissions open() would
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def write_json(path, data, indent=1):
    """Writes ``data`` as JSON to ``path`` atomically.

    Example:
    ```python
    write_json("metrics.json", {"video_hit@1": 0.75})
    ```
    """
    text = json.dumps(data, indent=indent)

    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(text)

    atomic_write(path, write)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
