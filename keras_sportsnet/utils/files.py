"""Atomic writes, hashing and JSON reading: the one home of the package's file handling.

A file is written under a temporary name in its own folder, fsync'd, then
renamed onto its path, so a reader sees the old file or the new one, never a
part. Temporary files are created with ``os.open(..., 0o666)`` so the kernel
applies the process umask: they get the permissions a plain ``open`` gives,
without ever changing the umask (which would race with other threads).
Temporary names start with ``.`` and contain `TEMPORARY_MARK`, so that
`remove_stale_temporaries` can clear what a killed process left behind.

Example:
```python
from keras_sportsnet.utils.files import write_json, read_json
write_json("metrics.json", {"video_hit@1": 0.75})
read_json("metrics.json")
```
"""

import errno
import hashlib
import json
import os
import secrets
import shutil
import tempfile

__all__ = [
    "TEMPORARY_MARK",
    "atomic_folder",
    "atomic_write",
    "check_writable",
    "private_temp_dir",
    "read_json",
    "remove_stale_temporaries",
    "sha256_of",
    "write_json",
    "write_text",
]

TEMPORARY_MARK = ".incomplete"
"""Part of every temporary name this module makes (``.<name>.<random>.incomplete<ext>``)."""


def _temporary_name(path):
    base = os.path.basename(path)
    suffix = ".weights.h5" if base.endswith(".weights.h5") else os.path.splitext(base)[1]
    return os.path.join(os.path.dirname(path), f".{base}.{secrets.token_hex(4)}{TEMPORARY_MARK}{suffix}")


def _fsync_folder(folder):
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def atomic_write(path, write):
    """Calls ``write(temporary_path)`` then renames the result onto ``path`` (same folder, fsync'd).

    Args:
        path: str or path-like. Its folder is created if needed.
        write: callable taking the temporary path (which keeps ``path``'s
            extension, so writers that infer the format from it work). The
            temporary file exists (empty) when ``write`` is called.

    Raises:
        OSError: the folder cannot be written; the previous file, if any, is untouched.

    Example:
    ```python
    atomic_write("figure.png", lambda temporary: figure.savefig(temporary))
    ```
    """
    path = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    while True:
        temporary = _temporary_name(path)
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    os.close(descriptor)
    try:
        write(temporary)
        with open(temporary, "rb") as file:
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise
    _fsync_folder(os.path.dirname(path))


def write_text(path, text):
    """Writes ``text`` (UTF-8) to ``path`` atomically.

    Example:
    ```python
    write_text("videos.txt", "a.mp4\\nb.mp4\\n")
    ```
    """

    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(text)

    atomic_write(path, write)


def write_json(path, data, indent=1, sort_keys=False):
    """Writes ``data`` as JSON to ``path`` atomically.

    Example:
    ```python
    write_json("metrics.json", {"video_hit@1": 0.75})
    ```
    """
    write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n")


def read_json(path, what="JSON file", expect=dict):
    """Reads a JSON file; every problem is a ValueError naming the file.

    Args:
        path: str or path-like.
        what: str. What the file is, for the message (e.g. "preset metadata").
        expect: type the top-level value must have (None: any).

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        ValueError: unreadable, not UTF-8, not JSON, or not of type ``expect``.

    Example:
    ```python
    state = read_json("runs/a/state.json", what="training state")
    ```
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as file:
            raw = file.read(64 << 20)
            if file.read(1):
                raise ValueError(f"{what} {path} is larger than 64 MiB: not a file this package wrote.")
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"{what} {path} does not exist", path) from None
    except IsADirectoryError:
        raise ValueError(f"{what} {path} is a folder, not a file.") from None
    except OSError as error:
        raise ValueError(f"{what} {path} cannot be read: {error.strerror or error}.") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"{what} {path} is not valid JSON ({type(error).__name__}: {str(error)[:200]}).") from None
    if expect is not None and not isinstance(data, expect):
        raise ValueError(f"{what} {path} must hold a JSON {_json_type(expect)}. Received: a {_json_type(type(data))}.")
    return data


def _json_type(cls):
    return {dict: "object", list: "array", str: "string", int: "number", float: "number"}.get(cls, cls.__name__)


def sha256_of(path, chunk_size=1 << 20):
    """Hex sha256 of a file, read in chunks.

    Example:
    ```python
    sha256_of("weights/slow_fusion_synthetic/model.weights.h5")
    ```
    """
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_folder(path, fill, overwrite=False):
    """Builds a folder in a staging folder beside ``path``, then moves it into place.

    Readers see no folder, the complete old one, or the complete new one. The
    staging folder is made with ``os.mkdir(..., 0o777)`` (so the umask gives
    it normal permissions, not ``mkdtemp``'s 0700).

    Args:
        path: str or path-like. The folder to create.
        fill: callable taking the staging folder's path; writes the files.
        overwrite: bool. Replace an existing folder (else FileExistsError).

    Example:
    ```python
    atomic_folder("preset/", lambda staging: write_json(os.path.join(staging, "a.json"), {}))
    ```
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(errno.EEXIST, f"{path} already exists (pass overwrite=True to replace it)", path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    while True:
        staging = _temporary_name(path)
        try:
            os.mkdir(staging, 0o777)
            break
        except FileExistsError:
            continue
    try:
        fill(staging)
        for name in os.listdir(staging):
            full = os.path.join(staging, name)
            if os.path.isfile(full):
                with open(full, "rb") as file:
                    os.fsync(file.fileno())
        _fsync_folder(staging)
        if os.path.exists(path):
            retired = _temporary_name(path)
            os.replace(path, retired)
            os.replace(staging, path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_folder(parent)


def remove_stale_temporaries(folder, recursive=False):
    """Deletes the temporary files and folders `atomic_write`/`atomic_folder` left in ``folder``.

    Only names this module makes (``.<name>.<hex>.incomplete...``) are
    touched; call it when a process (re)starts work in a folder it owns.

    Args:
        folder: str or path-like.
        recursive: bool. Also clean sub-folders.

    Returns:
        list of the paths removed.

    Example:
    ```python
    remove_stale_temporaries("runs/slow")
    ```
    """
    removed = []
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return removed
    for name in sorted(os.listdir(folder)):
        full = os.path.join(folder, name)
        if name.startswith(".") and TEMPORARY_MARK in name:
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full, ignore_errors=True)
            else:
                try:
                    os.remove(full)
                except OSError:
                    continue
            removed.append(full)
        elif recursive and os.path.isdir(full) and not os.path.islink(full):
            removed += remove_stale_temporaries(full, recursive=True)
    return removed


def check_writable(path, argument, folder=False):
    """Checks, before any work, that ``path`` can be written; else a ValueError naming ``argument``.

    Creates missing parent folders (as the later write would) and probes them
    with a temporary file that is removed at once.

    Args:
        path: str or path-like: the file (or, with ``folder=True``, the folder) to be written.
        argument: str. The argument or flag that gave it (e.g. ``"--json"``).
        folder: bool. ``path`` is a folder to write into.

    Example:
    ```python
    check_writable("out/scores.npz", "--scores")
    ```
    """
    path = os.path.abspath(os.fspath(path))
    target = path if folder else os.path.dirname(path)
    if not folder and os.path.isdir(path):
        raise ValueError(f"`{argument}` names a folder, not a file: {path}.")
    if folder and os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"`{argument}` must be a folder, but {path} is a file.")
    try:
        os.makedirs(target, exist_ok=True)
        probe = _temporary_name(os.path.join(target, "write-check"))
        descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.close(descriptor)
        os.remove(probe)
    except OSError as error:
        raise ValueError(
            f"`{argument}`: cannot write to {target} ({error.strerror or error}). Choose a writable location."
        ) from None


def private_temp_dir(prefix="keras_sportsnet_"):
    """A new folder only this user can open (``tempfile.mkdtemp``), for scratch files.

    Example:
    ```python
    scratch = private_temp_dir()
    ```
    """
    return tempfile.mkdtemp(prefix=prefix)
