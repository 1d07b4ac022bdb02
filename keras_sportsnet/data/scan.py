"""Scan a video collection: probe every file in parallel, report the bad ones.

`scan_videos` walks a folder (or takes a list of files), probes each video with the default decoder in a thread
pool (PyAV releases the GIL), and returns a `ScanReport` of the good videos (`VideoInfo`) and of every unreadable,
empty, truncated, damaged, non-video or too-short file with the reason. Probing is the same decodability test
datasets and evaluation apply later (`probe_video`: the file's index, plus a few frames decoded at keyframes
spread over the file, each checked against the index), so a file `scan_videos` calls good does not fail later for
a reason the scan could have seen at that cost. A JSON manifest, written atomically, lets the next scan skip files
whose size and modification time have not changed.
"""

import concurrent.futures
import dataclasses
import json
import os
import sys
import warnings

from keras_sportsnet.data.decoding import DEFAULT_DECODER
from keras_sportsnet.data.decoding import DEFAULT_MAX_PIXELS
from keras_sportsnet.data.decoding import VideoInfo
from keras_sportsnet.data.decoding import file_signature
from keras_sportsnet.data.decoding import get_decoder
from keras_sportsnet.data.errors import VideoError
from keras_sportsnet.utils.checks import check_int
from keras_sportsnet.utils.files import read_json
from keras_sportsnet.utils.files import write_json
from keras_sportsnet.utils.progress import Progress

__all__ = ["MANIFEST_VERSION", "ScanReport", "VIDEO_EXTENSIONS", "scan_videos", "usable_videos"]

VIDEO_EXTENSIONS = (
    ".3gp", ".asf", ".avi", ".flv", ".m2ts", ".m4v", ".mkv", ".mov", ".mp4",
    ".mpeg", ".mpg", ".mts", ".ogv", ".ts", ".vob", ".webm", ".wmv",
)  # fmt: skip
"""File extensions `scan_videos` picks up in a folder by default."""

MANIFEST_VERSION = 2
"""Version of the manifest format and of the probe's checks (version 1 manifests are rebuilt quietly)."""


@dataclasses.dataclass
class ScanReport:
    """Result of `scan_videos`.

    Attributes:
        good: list of `VideoInfo`, in path order.
        bad: list of ``(path, reason)``, in path order.
        reused: int. How many results came from the manifest instead of a probe.

    Example:
    ```python
    report = ksn.data.scan_videos("UCF-101/")
    print(report)  # summary, then every bad file with its reason
    paths = [info.path for info in report.good]
    ```
    """

    good: list = dataclasses.field(default_factory=list)
    bad: list = dataclasses.field(default_factory=list)
    reused: int = 0

    @property
    def total(self):
        """Number of files scanned."""
        return len(self.good) + len(self.bad)

    def __str__(self):
        lines = [
            f"Scanned {self.total} files: {len(self.good)} good, {len(self.bad)} bad"
            + (f" ({self.reused} results reused from the manifest)." if self.reused else ".")
        ]
        if self.bad:
            lines.append("Bad files:")
            lines.extend(f"  {path}: {reason}" for path, reason in self.bad)
        return "\n".join(lines)

    def to_json(self):
        """The report as a JSON string (`from_json` inverts it)."""
        return json.dumps(
            {
                "good": [info.to_dict() for info in self.good],
                "bad": [[path, reason] for path, reason in self.bad],
                "reused": self.reused,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text):
        """Rebuilds a report from `to_json`'s output."""
        config = json.loads(text)
        return cls(
            good=[VideoInfo.from_dict(info) for info in config["good"]],
            bad=[(path, reason) for path, reason in config["bad"]],
            reused=int(config.get("reused", 0)),
        )


def scan_videos(
    directory_or_paths,
    *,
    extensions=None,
    follow_links=False,
    min_frames=1,
    num_workers=None,
    manifest=None,
    verbose=True,
    max_pixels=DEFAULT_MAX_PIXELS,
):
    """Probes every video of a folder tree (or list) and reports the bad ones.

    Args:
        directory_or_paths: a folder (scanned recursively), a file, or a list of those. Listed files are probed
            whatever their extension; files found in folders must have one of ``extensions``.
        extensions: iterable of extensions (``".mp4"``, case-insensitive), or None for `VIDEO_EXTENSIONS`.
        follow_links: bool. Descend into symbolic links to folders.
        min_frames: int. Videos with fewer frames are reported as too short.
        num_workers: int or None. Probing threads (None: ``min(8, 2 * cpus)``).
        manifest: path of a JSON manifest or None. Results for files whose size and modification time are
            unchanged are taken from it; it is then rewritten atomically. An unreadable manifest is ignored with
            a warning and rebuilt.
        verbose: bool. Progress line and summary on stderr.
        max_pixels: int. Frame-size budget of the probe (see `probe_video`): larger videos are reported bad.

    Returns:
        `ScanReport`: ``good`` (list of `VideoInfo`) and ``bad`` (list of ``(path, reason)``), both sorted by
        path; deterministic.

    Raises:
        FileNotFoundError: ``directory_or_paths`` is a single path that does not exist, or a list holds a missing
            path that looks like a folder (no extension, or a trailing separator); the message names it. A missing
            file with an extension in a list is reported as bad instead.

    Example:
    ```python
    report = ksn.data.scan_videos("UCF-101/", manifest="ucf101_manifest.json", min_frames=16)
    print(report)
    ```
    """
    min_frames = check_int("min_frames", min_frames, minimum=0)
    paths = _list_videos(directory_or_paths, extensions, follow_links)
    return _scan(paths, min_frames, num_workers, manifest, verbose, max_pixels)


def _scan(paths, min_frames, num_workers, manifest, verbose, max_pixels):
    """Probes exactly ``paths`` (sorted, distinct); the shared step of `scan_videos` and `usable_videos`."""
    known = _load_manifest(manifest, max_pixels) if manifest is not None else {}
    results = {}  # path -> ("info", VideoInfo) | ("error", reason)
    signatures = {}
    reused = 0
    to_probe = []
    for path in paths:
        signatures[path] = _signature(path)
        entry = known.get(os.path.abspath(path))
        if entry is not None and signatures[path] is not None and entry["signature"] == signatures[path]:
            info = entry["info"]
            results[path] = ("info", dataclasses.replace(info, path=path)) if info else ("error", entry["error"])
            reused += 1
        else:
            to_probe.append(path)

    workers = num_workers or min(8, 2 * (os.cpu_count() or 1))
    bad = 0
    with Progress("scanning", total=len(to_probe), unit="files", enabled=verbose) as progress:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
            for path, result in zip(to_probe, pool.map(lambda path: _probe(path, max_pixels), to_probe)):
                results[path] = result
                bad += result[0] == "error"
                progress.update(extra=f"{bad} bad")

    report = ScanReport(reused=reused)
    for path in paths:
        kind, value = results[path]
        if kind == "error":
            report.bad.append((path, value))
        elif value.num_frames < min_frames:
            report.bad.append((path, f"too short: {value.num_frames} frames, fewer than min_frames={min_frames}"))
        else:
            report.good.append(value)
    if manifest is not None:
        _write_manifest(manifest, paths, results, signatures, max_pixels)
    if verbose:
        print(str(report).splitlines()[0], file=sys.stderr)
    return report


def _list_videos(directory_or_paths, extensions, follow_links):
    """Sorted, distinct paths to probe."""
    single = isinstance(directory_or_paths, (str, bytes, os.PathLike))
    if single:
        directory_or_paths = [directory_or_paths]
    extensions = tuple(ext.lower() for ext in (VIDEO_EXTENSIONS if extensions is None else extensions))
    extensions = tuple(ext if ext.startswith(".") else f".{ext}" for ext in extensions)
    paths = set()
    for item in directory_or_paths:
        item = os.fsdecode(item)
        if not os.path.lexists(item) and (single or item.endswith(("/", os.sep)) or not os.path.splitext(item)[1]):
            raise FileNotFoundError(f"Cannot scan {item}: it does not exist (expected a folder of videos or a video file)")
        if not os.path.isdir(item):
            paths.add(item)  # a listed file is probed whatever its name; missing ones are reported
            continue
        for root, dirs, files in os.walk(item, followlinks=follow_links):
            dirs.sort()
            paths.update(os.path.join(root, name) for name in files if name.lower().endswith(extensions))
    return sorted(paths)


def _signature(path):
    try:
        return list(file_signature(path))
    except VideoError:
        return None


def _probe(path, max_pixels):
    try:
        return ("info", get_decoder().probe(path, max_pixels=max_pixels))
    except VideoError as error:
        return ("error", error.problem)
    except Exception as error:  # noqa: BLE001 - one odd file must not stop a scan of thousands
        return ("error", f"unexpected {type(error).__name__}: {error}")


def _load_manifest(path, max_pixels):
    """``{abspath: {"signature": [size, mtime_ns], "info": VideoInfo | None, "error": str | None}}``."""
    if not os.path.exists(path):
        return {}
    try:
        config = read_json(path, what="scan manifest")
        if (
            config.get("version") != MANIFEST_VERSION
            or config.get("decoder") != DEFAULT_DECODER
            or config.get("max_pixels") != max_pixels
        ):
            return {}  # written by another version or with another budget: rebuild quietly
        entries = {}
        for entry in config["entries"]:
            info = VideoInfo.from_dict(entry["info"]) if entry.get("info") else None
            entries[entry["abspath"]] = {
                "signature": [int(value) for value in entry["signature"]],
                "info": info,
                "error": None if info else str(entry["error"]),
            }
        return entries
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        warnings.warn(f"Ignoring unreadable scan manifest {path} ({error}); rebuilding it.", stacklevel=4)
        return {}


def _write_manifest(path, paths, results, signatures, max_pixels):
    entries = []
    for video in paths:
        kind, value = results[video]
        if signatures[video] is None:
            continue  # nothing to validate a reuse against (missing file...)
        entries.append(
            {
                "abspath": os.path.abspath(video),
                "signature": signatures[video],
                "info": value.to_dict() if kind == "info" else None,
                "error": value if kind == "error" else None,
            }
        )
    config = {"version": MANIFEST_VERSION, "decoder": DEFAULT_DECODER, "max_pixels": max_pixels, "entries": entries}
    write_json(path, config)


def usable_videos(paths, span, short_video_policy="loop", manifest=None, verbose=True):
    """Probes ``paths`` once and sorts them into usable videos and problems.

    The shared first step of datasets and evaluation: every listed path is probed as a video (a folder, FIFO or
    device in the list is a problem, never walked or opened), with the same decodability test as
    `scan_videos`; unreadable ones, and with ``short_video_policy="skip"`` those shorter than ``span`` frames,
    become problems with their reason. Every path ends up either usable or in ``problems``.

    Args:
        paths: sequence of video paths.
        span: int. Frames of video one clip covers.
        short_video_policy: the sampling policy; only ``"skip"`` rejects videos.
        manifest: scan manifest path or None.
        verbose: bool.

    Returns:
        ``(keep, frame_counts, problems, report)``: indices into ``paths`` of the usable videos, their frame
        counts, ``{path: reason}`` for the others, and the `ScanReport`.

    Example:
    ```python
    keep, counts, problems, _ = usable_videos(videos.paths, geometry.span)
    ```
    """
    listed = sorted({os.fsdecode(path) for path in paths})
    report = _scan(listed, 1, None, manifest, verbose, DEFAULT_MAX_PIXELS)
    infos = {os.path.abspath(info.path): info for info in report.good}
    problems = dict(report.bad)
    keep, counts = [], []
    for index, path in enumerate(paths):
        info = infos.get(os.path.abspath(path))
        if info is None:
            problems.setdefault(path, "not probed")
            continue
        if short_video_policy == "skip" and info.num_frames < span:
            problems[path] = f"too short: {info.num_frames} frames, a clip spans {span} (short_video_policy='skip')"
            continue
        keep.append(index)
        counts.append(info.num_frames)
    return keep, counts, problems, report
