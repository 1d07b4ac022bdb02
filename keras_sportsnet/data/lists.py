"""Class lists and video lists: UCF-101 splits, Sports-1M partitions, CSV/TSV.

Every reader returns a `VideoList`: paths, labels (a tuple of label indices per
video: empty when unlabelled, several for Sports-1M's multi-label videos) and
the class names, ready for `keras_sportsnet.data.video_dataset_from_list`.
"""

import csv
import dataclasses
import hashlib
import json
import os
import re
from importlib import resources

import numpy as np

from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_int

__all__ = [
    "VideoList",
    "class_names",
    "ucf101_class_groups",
    "read_ucf101_split",
    "read_sports1m_partition",
    "read_video_list",
    "read_video_folder",
    "SPLIT_FRACTIONS",
    "video_split",
    "split_videos",
    "multi_hot",
    "missing_reason",
]

_CLASS_FILES = {"sports1m": "sports1m_labels.txt", "ucf101": "ucf101_classes.txt"}


@dataclasses.dataclass(frozen=True)
class VideoList:
    """Videos with their labels.

    Attributes:
        paths: tuple of str, one per video.
        labels: tuple of tuples of int (0-based class indices) per video; an
            empty tuple for an unlabelled video.
        class_names: tuple of str; ``class_names[i]`` is label ``i``.
        missing: tuple of str. Entries of the list whose file was not found
            (reported, never silently dropped).
    """

    paths: tuple
    labels: tuple
    class_names: tuple
    missing: tuple = ()

    def __len__(self):
        return len(self.paths)

    @property
    def multi_label(self):
        """True when some video has more than one label."""
        return any(len(l) > 1 for l in self.labels)


def multi_hot(labels, num_classes, dtype="float32"):
    """A ``(videos, num_classes)`` 0/1 table from label tuples (the package's one multi-hot builder).

    Args:
        labels: sequence of tuples (or lists) of int class indices, one per
            video; ``()`` is "no label" (an all-zero row). A plain int counts
            as a one-label tuple; a 1-D int array is one label per row.
        num_classes: int >= 1.
        dtype: NumPy dtype name of the table.

    Returns:
        A NumPy array ``(len(labels), num_classes)``.

    Raises:
        ValueError: a label outside ``[0, num_classes)``, naming the row.

    Example:
    >>> multi_hot([(0, 2), (), (1,)], 3).tolist()
    [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    if isinstance(labels, np.ndarray) and labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer):
        rows, cols = np.arange(len(labels)), labels.astype(np.int64)
    else:
        pairs = [(row, int(label)) for row, targets in enumerate(labels)
                 for label in ((targets,) if isinstance(targets, (int, np.integer)) else targets)]
        rows, cols = np.array(pairs, np.int64).reshape(-1, 2).T
    bad = np.flatnonzero((cols < 0) | (cols >= num_classes))
    if bad.size:
        raise ValueError(
            f"Label {cols[bad[0]]} of row {rows[bad[0]]} is outside the {num_classes} classes [0, {num_classes}).")
    table = np.zeros((len(labels), num_classes), dtype)
    table[rows, cols] = 1
    return table


def _package_file(name):
    return resources.files("keras_sportsnet.data").joinpath(f"classes/{name}")


def class_names(dataset):
    """The class names of a dataset, in label-index order.

    Args:
        dataset: ``"sports1m"`` (487 classes, label ``i`` = line ``i`` of the
            official ``labels.txt``) or ``"ucf101"`` (101 classes, official
            ``classInd.txt`` order; label ``i`` = official id ``i + 1``).

    Example:
    >>> class_names("ucf101")[:2]
    ('ApplyEyeMakeup', 'ApplyLipstick')
    """
    check_choice("dataset", dataset, tuple(_CLASS_FILES))
    text = _package_file(_CLASS_FILES[dataset]).read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line)


def ucf101_class_groups():
    """UCF-101 class -> one of its five action types (for Table 4-style mAP).

    The five types are named in the UCF-101 paper; the per-class assignment is
    a transcription from secondary sources (two public code files that agree
    class for class), not a machine-readable official table.
    """
    return json.loads(_package_file("ucf101_groups.json").read_text(encoding="utf-8"))


def read_ucf101_split(video_root, fold=1, subset="train", split_dir=None, check_files=True):
    """Reads an official UCF-101 split (``trainlist0k.txt`` / ``testlist0k.txt``).

    Class indices come from ``classInd.txt`` (1-based ids, returned 0-based);
    test lists carry no labels, so the class is taken from the folder name (as
    the official files intend; the file names of ``HandstandPushups`` differ in
    case, the folder does not).

    Args:
        video_root: folder holding ``<Class>/v_<Class>_gXX_cYY.avi``.
        fold: 1, 2 or 3.
        subset: ``"train"`` or ``"test"``.
        split_dir: folder with ``classInd.txt`` and the lists; defaults to the
            copy shipped with keras_sportsnet.
        check_files: bool. Report entries whose file is missing in `missing`
            (and leave them out of `paths`).

    Returns:
        A `VideoList`.

    Example:
    ```python
    train = ksn.data.read_ucf101_split("/data/UCF-101", fold=1, subset="train")
    ```
    """
    check_choice("fold", fold, (1, 2, 3))
    check_choice("subset", subset, ("train", "test"))
    listing = f"{subset}list0{fold}.txt"
    if split_dir is None:
        read = lambda name: _package_file(f"ucf101_splits/{name}").read_text(encoding="utf-8")  # noqa: E731
    else:
        read = lambda name: open(os.path.join(split_dir, name), encoding="utf-8").read()  # noqa: E731
    names = {}
    for number, line in enumerate(read("classInd.txt").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise ValueError(f"classInd.txt line {number}: expected '<id> <ClassName>', found {line!r}")
        names[parts[1]] = int(parts[0]) - 1
    ordered = tuple(sorted(names, key=names.get))
    entries = []
    for number, line in enumerate(read(listing).splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        relative = line.split()[0]
        folder = relative.replace("\\", "/").split("/")[0]
        if folder not in names:
            raise ValueError(f"{listing} line {number}: class folder {folder!r} is not in classInd.txt")
        entries.append((os.path.join(video_root, relative), (names[folder],)))
    return _collect(entries, ordered, check_files)


def read_sports1m_partition(path, video_root, class_list=None, extensions=(".mp4", ".webm", ".mkv", ".avi")):
    """Reads Sports-1M partition files (``URL <comma-separated labels>`` lines).

    Videos are matched to local files named after their YouTube id, anywhere
    under `video_root` (``<video_root>/<id>.mp4``, or nested such as
    ``<video_root>/<label>/<id>.mp4``; the first in sorted order wins when an
    id appears twice). Ids with no file are listed in `VideoList.missing`
    (their URLs): many Sports-1M videos are no longer on YouTube. About 5% of
    the videos have several labels.

    Args:
        path: a partition file (e.g. ``train_partition.txt``; ``.gz`` is read
            too) or a list of them, read in order (e.g. the train and test
            partitions, to split them 70/10/20 with `split_videos` as the
            paper did).
        video_root: folder of the downloaded videos.
        class_list: class names; defaults to the 487 Sports-1M classes.
        extensions: file extensions to look for.

    Returns:
        A `VideoList` (multi-label).

    Example:
    ```python
    videos = ksn.data.read_sports1m_partition(["train_partition.txt", "test_partition.txt"], "/data/sports1m")
    print(len(videos), "found,", len(videos.missing), "missing")
    train = ksn.data.split_videos(videos, "train")    # 70% of the videos, by YouTube id
    ```
    """
    import gzip

    names = tuple(class_list or class_names("sports1m"))
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    available = {}
    if os.path.isdir(video_root):
        for root, dirs, files in os.walk(video_root):
            dirs.sort()
            for name in sorted(files):
                stem, ext = os.path.splitext(name)
                if ext.lower() in extensions:
                    available.setdefault(stem, os.path.join(root, name))
    entries, missing = [], []
    for path in paths:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                parts = line.split()
                if len(parts) != 2:
                    raise ValueError(f"{path} line {number}: expected '<URL> <labels>', found {line!r}")
                url, raw = parts
                try:
                    labels = tuple(int(v) for v in raw.split(","))
                except ValueError:
                    raise ValueError(f"{path} line {number}: labels must be comma-separated integers, found {raw!r}") from None
                bad = [l for l in labels if not 0 <= l < len(names)]
                if bad:
                    raise ValueError(f"{path} line {number}: labels {bad} are outside [0, {len(names)})")
                video_id = _youtube_id(url)
                if video_id in available:
                    entries.append((available[video_id], labels))
                else:
                    missing.append(url)
    return VideoList(
        paths=tuple(p for p, _ in entries),
        labels=tuple(l for _, l in entries),
        class_names=names,
        missing=tuple(missing),
    )


SPLIT_FRACTIONS = (0.7, 0.1, 0.2)
"""The paper's Sports-1M split: 70% of the videos train, 10% validation, 20% test."""


def _check_fractions(fractions):
    try:
        values = tuple(float(v) for v in fractions)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or min(values) < 0 or abs(sum(values) - 1) > 1e-6:
        raise ValueError(
            "`fractions` must be three non-negative numbers (train, validation, test) summing to 1, "
            f"such as (0.7, 0.1, 0.2). Received: fractions={fractions!r}"
        )
    return values


def video_split(video_id, *, fractions=SPLIT_FRACTIONS, seed=0):
    """The part of a by-video split a video belongs to: ``"train"``, ``"validation"`` or ``"test"``.

    A pure function of ``(seed, video_id)``: a SHA-256 of both gives a number
    in [0, 1) that falls in the train, validation or test range. Every video
    keeps its part whatever other videos are listed, so adding downloads (or
    losing some) never moves a video between parts, and every host computes
    the same split without coordination. Clips of one video never straddle
    parts (the paper splits Sports-1M by video).

    Args:
        video_id: str. The video's id (for Sports-1M, its YouTube id).
        fractions: ``(train, validation, test)``, summing to 1; the paper's
            ``(0.7, 0.1, 0.2)`` by default.
        seed: int. Another seed gives another split.

    Returns:
        ``"train"``, ``"validation"`` or ``"test"``.

    Example:
    >>> video_split("UDqivjS-lpI") in ("train", "validation", "test")
    True
    """
    train, validation, _ = _check_fractions(fractions)
    check_int("seed", seed)
    digest = hashlib.sha256(f"{seed}\0{video_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < train:
        return "train"
    return "validation" if u < train + validation else "test"


def _video_id(entry):
    """A video's id: the YouTube id of a URL, else the file name without its extension."""
    if "youtube.com/" in entry or "youtu.be/" in entry:
        return _youtube_id(entry)
    return os.path.splitext(os.path.basename(entry))[0]


def split_videos(videos, subset, *, fractions=SPLIT_FRACTIONS, seed=0, video_id=None):
    """The videos of one part of a by-video split (`video_split`), missing ones included.

    Args:
        videos: a `VideoList`.
        subset: ``"train"``, ``"validation"`` or ``"test"``.
        fractions: ``(train, validation, test)`` summing to 1 (the paper's
            70/10/20 by default).
        seed: int. The split's seed.
        video_id: callable ``path -> id`` or None: the file name without its
            extension (for Sports-1M files named ``<YouTube id>.mp4``, the
            YouTube id; missing entries, which are URLs, use the URL's id).

    Returns:
        A `VideoList` of the videos in `subset`, with the `missing` entries of
        that subset.

    Example:
    ```python
    videos = ksn.data.read_sports1m_partition("train_partition.txt", "/data/sports1m")
    parts = {s: ksn.data.split_videos(videos, s, seed=0) for s in ("train", "validation", "test")}
    ```
    """
    check_choice("subset", subset, ("train", "validation", "test"))
    fractions = _check_fractions(fractions)
    key = video_id or _video_id
    keep = [i for i, p in enumerate(videos.paths) if video_split(key(p), fractions=fractions, seed=seed) == subset]
    return VideoList(
        paths=tuple(videos.paths[i] for i in keep),
        labels=tuple(videos.labels[i] for i in keep),
        class_names=videos.class_names,
        missing=tuple(m for m in videos.missing if video_split(_video_id(m), fractions=fractions, seed=seed) == subset),
    )


def _youtube_id(url):
    match = re.search(r"(?:v=|youtu\.be/|/embed/)([A-Za-z0-9_-]{6,})", url)
    return match.group(1) if match else url.rstrip("/").rsplit("/", 1)[-1]


def read_video_list(path, class_list=None, video_root=None, check_files=True):
    """Reads a CSV or TSV list: ``path[,label[,label...]]`` per line.

    Labels may be class indices or class names; a line with a path only is an
    unlabelled video (for inference). A first line whose label column is
    ``label``/``labels`` is a header and skipped. Relative paths are resolved
    against `video_root` (default: the list's folder).

    Args:
        path: the list file (``.tsv`` is tab-separated, anything else comma).
        class_list: class names; required when labels are names unless they
            are inferred (sorted unique names of the file).
        video_root: folder for relative paths.
        check_files: bool. Move entries whose file is missing to `missing`.

    Returns:
        A `VideoList`.

    Example:
    ```python
    videos = ksn.data.read_video_list("train.csv", class_list=ksn.data.class_names("ucf101"))
    ```
    """
    delimiter = "\t" if str(path).lower().endswith(".tsv") else ","
    root = video_root if video_root is not None else os.path.dirname(os.path.abspath(path))
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for number, row in enumerate(csv.reader(f, delimiter=delimiter), 1):
            row = [cell.strip() for cell in row]
            if not row or not row[0] or row[0].startswith("#"):
                continue
            if number == 1 and len(row) > 1 and row[1].lower() in ("label", "labels"):
                continue
            rows.append((number, row[0], [c for c in row[1:] if c]))
    raw_labels = [l for _, _, labels in rows for l in labels]
    if class_list is None:
        if all(l.isdigit() for l in raw_labels):
            top = max((int(l) for l in raw_labels), default=-1)
            class_list = tuple(str(i) for i in range(top + 1))
        else:
            class_list = tuple(sorted(set(raw_labels)))
    names = tuple(class_list)
    index = {name: i for i, name in enumerate(names)}
    entries = []
    for number, video, labels in rows:
        resolved = []
        for label in labels:
            if label in index:
                resolved.append(index[label])
            elif label.isdigit() and int(label) < len(names):
                resolved.append(int(label))
            else:
                raise ValueError(
                    f"{path} line {number}: label {label!r} is neither a class name nor an index in [0, {len(names)})"
                )
        entries.append((video if os.path.isabs(video) else os.path.join(root, video), tuple(resolved)))
    return _collect(entries, names, check_files)


def read_video_folder(directory, labels="inferred", class_names=None, follow_links=False):
    """The videos of a folder tree, labelled by their class sub-folder.

    The semantics of `keras.utils.image_dataset_from_directory`: with
    ``labels="inferred"`` each top-level sub-folder is a class (sorted, hidden
    ones skipped, videos found recursively by extension); ``class_names``
    picks and orders the sub-folders; ``labels=None`` lists every video
    unlabelled; a list of ints labels the videos in sorted path order.

    Args:
        directory: str. The folder.
        labels: ``"inferred"``, None, or a list of int labels.
        class_names: list of sub-folder names, in label order (``"inferred"`` only).
        follow_links: bool. Follow symbolic links to folders.

    Returns:
        A `VideoList`.

    Example:
    ```python
    videos = ksn.data.read_video_folder("my_videos/")   # my_videos/<class>/<video>.mp4
    videos.class_names, len(videos)
    ```
    """
    from keras_sportsnet.data.scan import VIDEO_EXTENSIONS

    if not os.path.exists(directory):
        raise ValueError(f"`directory` {directory!r} does not exist. Received: directory={directory!r}")
    if not os.path.isdir(directory):
        raise ValueError(f"`directory` {directory!r} is not a folder (it is a file). Received: directory={directory!r}")
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple)):
        raise ValueError(f"`labels` must be 'inferred', None or a list of ints. Received: labels={labels!r}")
    if class_names is not None and labels != "inferred":
        raise ValueError("`class_names` can only be given with `labels='inferred'`.")

    def walk(folder):
        found = []
        for root, dirs, files in os.walk(folder, followlinks=follow_links):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found += [
                os.path.join(root, f)
                for f in files
                if f.lower().endswith(VIDEO_EXTENSIONS) and not f.startswith(".")
            ]
        return sorted(found)

    if labels == "inferred":
        folders = sorted(
            entry.name
            for entry in os.scandir(directory)
            if entry.is_dir(follow_symlinks=follow_links) and not entry.name.startswith(".")
        )
        if class_names is not None:
            unknown = [c for c in class_names if c not in folders]
            if unknown:
                raise ValueError(f"`class_names` {unknown} are not sub-folders of {directory!r}: {folders}")
            folders = list(class_names)
        entries = [(path, (label,)) for label, folder in enumerate(folders) for path in walk(os.path.join(directory, folder))]
        if not entries:
            _explain_no_labelled_videos(directory, folders, walk)
        return _collect(entries, folders, check_files=False)
    paths = walk(directory)
    if labels is None:
        return _collect([(p, ()) for p in paths], (), check_files=False)
    if len(labels) != len(paths):
        raise ValueError(f"`labels` has {len(labels)} entries but {directory!r} holds {len(paths)} videos.")
    names = [str(l) for l in range(max(int(l) for l in labels) + 1)] if labels else []
    return _collect([(p, (int(l),)) for p, l in zip(paths, labels)], names, check_files=False)


def _explain_no_labelled_videos(directory, folders, walk):
    """The ValueError for a folder that gives no labelled video: flat, empty, or class folders without videos."""
    from keras_sportsnet.data.scan import VIDEO_EXTENSIONS

    layout = f"videos go in one sub-folder per class: {os.path.join(directory, '<class>', '<video>')}"
    loose = [
        entry.name for entry in sorted(os.scandir(directory), key=lambda e: e.name)
        if entry.is_file() and entry.name.lower().endswith(VIDEO_EXTENSIONS) and not entry.name.startswith(".")
    ]
    if loose:
        raise ValueError(
            f"{directory} holds {len(loose)} video(s) ({', '.join(loose[:3])}{', ...' if len(loose) > 3 else ''}) "
            f"but no class sub-folders: {layout} (e.g. {os.path.join(directory, 'tennis', loose[0])}). "
            "For unlabelled videos pass labels=None."
        )
    if folders:
        raise ValueError(
            f"{directory} has {len(folders)} class sub-folder(s) ({', '.join(folders[:5])}"
            f"{', ...' if len(folders) > 5 else ''}) but none holds a video file (extensions: "
            f"{', '.join(VIDEO_EXTENSIONS)}): {layout}."
        )
    raise ValueError(f"{directory} is empty (no video files): {layout}.")


def missing_reason(path):
    """Why a listed path is in `VideoList.missing`: a directory, not a regular file, or not there at all.

    Example:
    >>> missing_reason("/no/such/video.mp4")
    'file not found (the list names it, but it does not exist)'
    """
    if os.path.isdir(path):
        return "is a directory, not a video file (the list names it)"
    if os.path.exists(path):
        return "is not a regular file, not a video file (the list names it)"
    return "file not found (the list names it, but it does not exist)"


def _collect(entries, names, check_files):
    missing = tuple(p for p, _ in entries if check_files and not os.path.isfile(p))
    gone = set(missing)
    kept = [(p, l) for p, l in entries if p not in gone]
    return VideoList(
        paths=tuple(p for p, _ in kept),
        labels=tuple(l for _, l in kept),
        class_names=tuple(names),
        missing=missing,
    )
