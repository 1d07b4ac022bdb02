"""The files of a video-level evaluation: the ``.npz`` archive of `VideoScores` and its ``.npy`` working array.

An archive holds plain arrays (``logits``, ``labels``, optionally ``valid``)
and a ``header``: UTF-8 JSON in a uint8 array (format name and version, class
names, video ids, metadata), so it is read with ``allow_pickle=False`` and
nothing in it can run code. Every write is atomic (`keras_sportsnet.utils.files`).

`ScoresFiles` manages the pair an evaluation with ``scores_path`` writes: the
per-view scores as a memory-mapped ``.npy`` (filled under a temporary name,
renamed when complete) and the archive beside it; `clean` removes what an
interrupted run at the same path left behind.
"""

import io
import json
import os

import numpy as np

from keras_sportsnet.utils.files import TEMPORARY_MARK
from keras_sportsnet.utils.files import atomic_write
from keras_sportsnet.utils.files import check_writable

__all__ = ["FORMAT", "FORMAT_VERSION", "ScoresFiles", "read_archive", "shrink_rows", "write_archive"]

FORMAT = "keras_sportsnet.evaluation.VideoScores"
"""The ``format`` field of an archive's header."""

FORMAT_VERSION = 1
"""The archive version this package writes and reads."""

_MEMBERS = ("logits", "labels", "header")
_HEADER_KEYS = ("class_names", "video_ids", "metadata", "clip_level")


def write_archive(path, arrays, header):
    """Writes ``arrays`` and a JSON ``header`` to an ``.npz`` file, atomically.

    Args:
        path: str or path-like; written exactly there (no suffix added).
        arrays: dict of NumPy arrays (``logits``, ``labels``, ...).
        header: JSON-serialisable dict; ``format`` and ``format_version`` are added.

    Returns:
        The path, as str.

    Example:
    ```python
    write_archive("scores.npz", {"logits": logits, "labels": labels}, {"class_names": names, ...})
    ```
    """
    path = os.fspath(path)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, **header}
    members = {**arrays, "header": np.frombuffer(json.dumps(header, ensure_ascii=False).encode("utf-8"), np.uint8)}

    def write(temporary):
        with open(temporary, "wb") as file:
            np.savez(file, **members)

    atomic_write(path, write)
    return path


def read_archive(path):
    """Reads an archive written by `write_archive` (``np.load(..., allow_pickle=False)``).

    Args:
        path: str or path-like.

    Returns:
        ``(arrays, header)``: dict of the arrays (``header`` excluded) and the header dict.

    Raises:
        ValueError: the file is not a VideoScores archive (including any file
            that would need unpickling), naming the file and what is wrong.

    Example:
    ```python
    arrays, header = read_archive("scores.npz")
    ```
    """
    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not hasattr(archive, "files"):
            raise ValueError("it holds a single array, not an .npz archive")
        with archive:
            missing = [m for m in _MEMBERS if m not in archive.files]
            if missing:
                raise ValueError(f"members {missing} are missing (found {sorted(archive.files)})")
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as error:
        raise ValueError(f"`path` {path!r} is not a VideoScores file: {error}") from error
    raw = arrays.pop("header")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError(f"`path` {path!r} is not a VideoScores file: its header is not UTF-8 JSON bytes")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"`path` {path!r} is not a VideoScores file: unreadable header ({error})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"`path` {path!r} is not a VideoScores file: header format is not {FORMAT!r}")
    if header.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"`path` {path!r} has VideoScores format version {header.get('format_version')!r}; "
            f"this version reads {FORMAT_VERSION}"
        )
    missing = [key for key in _HEADER_KEYS if key not in header]
    if missing:
        raise ValueError(f"`path` {path!r} is not a VideoScores file: its header lacks {missing}")
    return arrays, header


class ScoresFiles:
    """The two files of an evaluation run with ``scores_path``: ``<stem>.npy`` and ``<stem>.npz``.

    The ``.npz`` is the result (`VideoScores.load` reads it); the ``.npy`` is
    the memory-mapped per-view array behind the `VideoScores` the evaluation
    returns, so memory does not grow with the number of videos. The ``.npy``
    is filled under a temporary name (`keras_sportsnet.utils.files.atomic_write`)
    and renamed when complete, then the ``.npz`` is written atomically.

    Args:
        path: str or path-like: ``scores_path`` (its extension is replaced).

    Raises:
        ValueError: the folder cannot be written (checked before any work).

    Example:
    ```python
    files = ScoresFiles("runs/slow/test_scores.npz")
    files.clean()                            # leftovers of a killed run at this path
    ```
    """

    def __init__(self, path):
        stem = os.path.splitext(os.path.abspath(os.fspath(path)))[0]
        self.npy, self.npz = stem + ".npy", stem + ".npz"
        check_writable(self.npz, "scores_path")

    def clean(self):
        """Removes what an interrupted run at this path left: its temporary files, and a ``.npy`` without its ``.npz``.

        Only this path's files are touched (other temporary files in the
        folder may belong to a process still writing them).

        Returns:
            list of the paths removed.

        Example:
        ```python
        ScoresFiles("scores.npz").clean()
        ```
        """
        folder = os.path.dirname(self.npy)
        prefixes = tuple("." + os.path.basename(p) + "." for p in (self.npy, self.npz))
        stale = [os.path.join(folder, name) for name in sorted(os.listdir(folder))
                 if name.startswith(prefixes) and TEMPORARY_MARK in name]
        if os.path.isfile(self.npy) and not os.path.exists(self.npz):
            stale.append(self.npy)
        removed = []
        for path in stale:
            try:
                os.remove(path)
                removed.append(path)
            except OSError:
                pass
        return removed

    def fill(self, shape, run):
        """Creates the ``.npy`` (float32 ``shape``), lets ``run`` fill it, and keeps its first rows.

        Args:
            shape: tuple. ``(num_videos, clips, views, num_classes)``.
            run: callable taking the memory-mapped array; returns ``(rows,
                result)``: how many leading rows (videos) to keep, and
                anything to hand back.

        Returns:
            ``(array, result)``: the kept rows, memory-mapped read-only from
            the renamed ``.npy``, and what ``run`` returned.

        Example:
        ```python
        logits, result = files.fill((10, 20, 4, 487), lambda array: (10, fill_somehow(array)))
        ```
        """
        out = {}

        def write(temporary):
            array = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.float32, shape=tuple(shape))
            rows, out["result"] = run(array)
            array.flush()
            del array
            shrink_rows(temporary, rows)
            out["array"] = np.load(temporary, mmap_mode="r")

        atomic_write(self.npy, write)
        return out["array"], out["result"]


def shrink_rows(path, rows):
    """Keeps the first ``rows`` entries (along the first axis) of a C-order ``.npy`` file, in place.

    The header is rewritten at its own length (NumPy leaves room for the first
    axis to change) and the file truncated; a header that would not fit makes
    a compact copy instead.

    Args:
        path: str. A version 1.0 ``.npy`` file.
        rows: int. Rows to keep.

    Example:
    ```python
    shrink_rows("scores.npy", 6)
    ```
    """
    with open(path, "r+b") as file:
        version = np.lib.format.read_magic(file)
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(file) if version == (1, 0) else (None,) * 3
        offset = file.tell()
        if shape is not None and shape[0] == rows:
            return
        if shape is not None and not fortran:
            header = io.BytesIO()
            new_shape = (rows, *shape[1:])
            np.lib.format.write_array_header_1_0(
                header, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": new_shape})
            if len(header.getvalue()) == offset:
                file.seek(0)
                file.write(header.getvalue())
                file.truncate(offset + int(np.prod(new_shape)) * dtype.itemsize)
                return
    kept = np.load(path, mmap_mode="r")[:rows]
    compact = path + ".compact.npy"
    np.save(compact, np.ascontiguousarray(kept))
    del kept
    os.replace(compact, path)
