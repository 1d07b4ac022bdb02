"""Fuzzing of keras_sportsnet's video decoding contract.

Writes valid videos in four codecs (H.264 MP4 with B-frames, MPEG-4 Part 2 AVI with packed B-frames, MJPEG AVI,
VP9 WebM; plus H.264 MKV with AAC audio) whose frames show their own index (`keras_sportsnet.testing.videos`),
mutates them (byte flips, zeroed ranges, truncations, duplicated / renamed / dropped chunks, edited header fields:
container-aware for AVI, MP4 and Matroska), and checks every mutant against the contract of
`keras_sportsnet.data.read_clip`:

    for ANY file, read_clip(path, indices) returns exactly the frames a sequential decode of the file gives at
    those indices, whichever way it is read (one clip per call with seeks, many clips in one pass, everything
    from the start), or raises VideoError naming the file and the damage.

Each mutant is checked in a worker subprocess (a crash of FFmpeg is seen as the worker dying) under a time bound
(a hang is the worker not answering in time); both are failures. Outcomes:

- ``exact``: every read gave the reference frames: those of a sequential PyAV decode from the start (going on past
  packets that fail: `keras_sportsnet.testing.videos.reference_decode`), and no frame is a clean copy of another frame of the undamaged video (a shift). Past the
  first damage of that decode (an error, or a frame it flags as concealed), where it numbers frames differently
  from the reader (frames lost), a returned frame must be the one shown at that position in the undamaged video
  (a read that seeks past damage serves the intact frames in their places); where it numbers frames alike, a
  returned frame must be that decode's frame or the undamaged video's frame at that index;
- ``VideoError``: probing or reading raised `VideoError` naming the file;
- ``wrong``: a read returned frames other than the reference's, or frames of the original video at the wrong
  positions (a shift the reader did not notice: frames lost or duplicated without an error);
- ``other exception``, ``crash``, ``hang``: failures.

The script prints a table (mutants, exact, VideoError, wrong, other exception, crash, hang per source) and exits
1 if any mutant is wrong, raised another exception, crashed or hung.

Usage:
    python benchmarks/fuzz_decoding.py --mutants 320 --seed 0
    python benchmarks/fuzz_decoding.py --mutants 40 --seed 3 --keep /tmp/mutants   # keep the failing files
"""

import argparse
import collections
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

OUTCOMES = ("exact", "VideoError", "wrong", "other exception", "crash", "hang")
FAILURES = ("wrong", "other exception", "crash", "hang")
HEIGHT, WIDTH = 48, 64

# name -> (file name, frames, write_video keyword arguments, pack B-frames)
SOURCES = {
    "h264_mp4": ("h264.mp4", 60, dict(codec="h264", keyframe_interval=15, bframes=2), False),
    "mpeg4_packed_avi": ("mpeg4_packed.avi", 60, dict(codec="mpeg4", keyframe_interval=12, bframes=1), True),
    "mjpeg_avi": ("mjpeg.avi", 40, dict(codec="mjpeg"), False),
    "vp9_webm": ("vp9.webm", 50, dict(codec="vp9", keyframe_interval=10), False),
    "h264_aac_mkv": ("h264_aac.mkv", 60, dict(codec="h264", keyframe_interval=15, bframes=2, audio=True), False),
}


# ------------------------------------------------------------------ sources
def write_sources(folder):
    """Writes the valid source videos; returns ``{name: path}``."""
    from keras_sportsnet.data.encoding import write_video
    from keras_sportsnet.testing.videos import index_frames
    from keras_sportsnet.testing.videos import pack_bframes

    paths = {}
    for name, (file_name, num_frames, settings, packed) in SOURCES.items():
        path = os.path.join(folder, file_name)
        frames = index_frames(num_frames, HEIGHT, WIDTH, seed=len(paths))
        if packed:
            plain = write_video(os.path.join(folder, "plain_" + file_name), frames, **settings)
            pack_bframes(plain, path)
            os.remove(plain)
        else:
            write_video(path, frames, **settings)
        paths[name] = path
    return paths


# ---------------------------------------------------------------- structure
def riff_chunks(data):
    """``[(offset, fourcc, size)]`` of the chunks of an AVI (recursing into LIST chunks)."""
    chunks = []

    def walk(start, end):
        position = start
        while position + 8 <= end:
            fourcc = data[position : position + 4]
            size = struct.unpack("<I", data[position + 4 : position + 8])[0]
            chunks.append((position, fourcc, size))
            if fourcc in (b"RIFF", b"LIST") and size >= 4:
                walk(position + 12, min(end, position + 8 + size))
            position += 8 + size + (size & 1)

    walk(0, len(data))
    return chunks


_MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"mvex", b"moof", b"traf"}


def mp4_boxes(data):
    """``[(offset, type, size)]`` of the boxes of an MP4 (recursing into container boxes and stsd entries)."""
    boxes = []

    def walk(start, end):
        position = start
        while position + 8 <= end:
            size, kind = struct.unpack(">I4s", data[position : position + 8])
            if size < 8 or position + size > end:
                break
            boxes.append((position, kind, size))
            if kind in _MP4_CONTAINERS:
                walk(position + 8, position + size)
            elif kind == b"stsd":
                walk(position + 16, position + size)
            elif kind in (b"avc1", b"mp4v", b"hev1", b"hvc1"):
                walk(position + 86, position + size)
            position += size

    walk(0, len(data))
    return boxes


def _vint(data, position):
    """``(value, length)`` of an EBML variable-size integer (value with the marker bit removed)."""
    first = data[position]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8 or position + length > len(data):
        raise ValueError("bad vint")
    value = first & (0xFF >> length)
    for byte in data[position + 1 : position + length]:
        value = (value << 8) | byte
    return value, length


_EBML_MASTERS = {0x18538067, 0x1F43B675, 0x1654AE6B, 0xAE, 0xE0, 0xA0}  # Segment, Cluster, Tracks, TrackEntry, Video, BlockGroup


def ebml_elements(data):
    """``[(offset, id, id_length, header_length, size)]`` of the elements of a Matroska/WebM file."""
    elements = []

    def walk(start, end):
        position = start
        while position < end:
            try:
                identifier, id_length = _vint(data, position)
                identifier |= 1 << (7 * id_length)  # IDs keep their marker bit
                size, size_length = _vint(data, position + id_length)
            except (ValueError, IndexError):
                return
            header = id_length + size_length
            if size == (1 << (7 * size_length)) - 1:  # unknown size
                size = end - position - header
            elements.append((position, identifier, id_length, header, size))
            if identifier in _EBML_MASTERS:
                walk(position + header, min(end, position + header + size))
            position += header + size

    walk(0, len(data))
    return elements


# ---------------------------------------------------------------- mutations
def _flip(data, rng):
    data = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        position = int(rng.integers(0, len(data)))
        data[position] ^= int(rng.integers(1, 256))
    return bytes(data), "byte flips"


def _zero(data, rng):
    length = int(rng.integers(4, 400))
    start = int(rng.integers(0, max(1, len(data) - length)))
    return data[:start] + bytes(length) + data[start + length :], f"{length} zeroed bytes at {start}"


def _truncate(data, rng):
    cut = int(rng.integers(len(data) // 20, len(data) - 1))
    return data[:cut], f"truncated to {cut} of {len(data)} bytes"


def _generic_duplicate(data, rng):
    length = int(rng.integers(16, 2000))
    start = int(rng.integers(0, max(1, len(data) - length)))
    return data[: start + length] + data[start : start + length] + data[start + length :], f"{length} bytes duplicated"


def _avi_mutation(data, rng):
    chunks = riff_chunks(data)
    frames = [c for c in chunks if c[1][2:] in (b"dc", b"db")]
    kind = rng.choice(["duplicate", "rename", "drop", "resize", "header", "index"])
    if kind in ("duplicate", "rename", "drop", "resize") and frames:
        offset, fourcc, size = frames[int(rng.integers(0, len(frames)))]
        whole = 8 + size + (size & 1)
        if kind == "duplicate":
            return data[: offset + whole] + data[offset : offset + whole] + data[offset + whole :], "AVI chunk duplicated"
        if kind == "rename":
            return data[:offset] + b"JUNK" + data[offset + 4 :], "AVI chunk renamed JUNK"
        if kind == "drop":
            return data[:offset] + data[offset + whole :], "AVI chunk dropped"
        new_size = max(0, size + int(rng.integers(-64, 65)))
        return data[: offset + 4] + struct.pack("<I", new_size) + data[offset + 8 :], f"AVI chunk size {size} -> {new_size}"
    if kind == "index":
        index = [c for c in chunks if c[1] == b"idx1"]
        if index and index[0][2] >= 16:
            offset, _, size = index[0]
            entry = offset + 8 + 16 * int(rng.integers(0, size // 16))
            field = int(rng.choice([4, 8, 12]))  # flags, offset, size
            value = int(rng.integers(0, 1 << 16))
            return data[: entry + field] + struct.pack("<I", value) + data[entry + field + 4 :], "AVI idx1 entry edited"
    # header fields: avih (frames, width, height), strh (scale, rate, length), strf (width, height)
    fields = []
    for offset, fourcc, size in chunks:
        if fourcc == b"avih":
            fields += [(offset + 8 + 16, "avih dwTotalFrames"), (offset + 8 + 32, "avih dwWidth"), (offset + 8 + 36, "avih dwHeight")]
        elif fourcc == b"strh":
            fields += [(offset + 8 + 20, "strh dwScale"), (offset + 8 + 24, "strh dwRate"), (offset + 8 + 32, "strh dwLength")]
        elif fourcc == b"strf":
            fields += [(offset + 8 + 4, "strf biWidth"), (offset + 8 + 8, "strf biHeight")]
    if not fields:
        return _flip(data, rng)
    offset, name = fields[int(rng.integers(0, len(fields)))]
    value = int(rng.choice([0, 1, 2, 7, 30, 1000, 65535, 1 << 24, 0xFFFFFFFF]))
    return data[:offset] + struct.pack("<I", value) + data[offset + 4 :], f"{name} = {value}"


def _mp4_mutation(data, rng):
    boxes = mp4_boxes(data)
    kind = rng.choice(["rename", "header", "duplicate"])
    if kind == "rename":
        candidates = [b for b in boxes if b[1] in (b"stsd", b"stts", b"stsz", b"stco", b"stss", b"ctts", b"stsc", b"avcC", b"avc1", b"mdat", b"trak", b"edts", b"elst")]
        offset, box, _ = candidates[int(rng.integers(0, len(candidates)))]
        position = offset + 4 + int(rng.integers(0, 4))
        return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :], f"MP4 box {box.decode()} renamed"
    if kind == "duplicate":
        candidates = [b for b in boxes if b[1] in (b"trak", b"stsd", b"avcC", b"stts")]
        offset, box, size = candidates[int(rng.integers(0, len(candidates)))]
        return data[: offset + size] + data[offset : offset + size] + data[offset + size :], f"MP4 box {box.decode()} duplicated (parent sizes unchanged)"
    fields = []
    for offset, box, size in boxes:
        if box == b"mvhd":
            fields += [(offset + 20, "mvhd timescale"), (offset + 24, "mvhd duration")]
        elif box == b"mdhd":
            fields += [(offset + 20, "mdhd timescale"), (offset + 24, "mdhd duration")]
        elif box == b"tkhd":
            fields += [(offset + 84, "tkhd width"), (offset + 88, "tkhd height")]
        elif box in (b"stts", b"stsz", b"stss", b"ctts", b"stco") and size > 20:
            entries = (size - 16) // 4
            fields += [(offset + 12, f"{box.decode()} entry count")]
            fields += [(offset + 16 + 4 * int(rng.integers(0, entries)), f"{box.decode()} entry")]
        elif box == b"avc1":
            fields.append((offset + 32, "avc1 width/height"))
    offset, name = fields[int(rng.integers(0, len(fields)))]
    value = int(rng.choice([0, 1, 2, 3, 100, 1000, 65535, 1 << 24, 0x7FFFFFFF, 0xFFFFFFFF]))
    return data[:offset] + struct.pack(">I", value) + data[offset + 4 :], f"{name} = {value}"


_BLOCKS = (0xA3, 0xA1)  # SimpleBlock, Block


def _mkv_mutation(data, rng):
    elements = ebml_elements(data)
    kind = rng.choice(["duplicate", "rename", "drop", "header", "resize"])
    blocks = [e for e in elements if e[1] in _BLOCKS]
    if kind in ("duplicate", "rename", "drop", "resize") and blocks:
        offset, identifier, id_length, header, size = blocks[int(rng.integers(0, len(blocks)))]
        whole = header + size
        if kind == "duplicate":
            return data[: offset + whole] + data[offset : offset + whole] + data[offset + whole :], "Matroska block duplicated"
        if kind == "drop":
            return data[:offset] + data[offset + whole :], "Matroska block dropped"
        if kind == "rename":
            return data[:offset] + b"\xec" + data[offset + 1 :], "Matroska block renamed Void"
        position = offset + id_length
        return data[:position] + bytes([data[position] ^ int(rng.integers(1, 8))]) + data[position + 1 :], "Matroska block size edited"
    clusters = [e for e in elements if e[1] == 0x1F43B675]
    if kind == "drop" and len(clusters) > 1:
        offset, _, _, header, size = clusters[int(rng.integers(1, len(clusters)))]
        return data[:offset] + data[offset + header + size :], "Matroska cluster dropped"
    fields = [e for e in elements if e[1] in (0x23E383, 0x2AD7B1, 0xB0, 0xBA, 0x4489, 0xE7, 0x86, 0x83)]
    if not fields:
        return _flip(data, rng)
    offset, identifier, id_length, header, size = fields[int(rng.integers(0, len(fields)))]
    start = offset + header
    value = bytes(int(rng.integers(0, 256)) for _ in range(size))
    return data[:start] + value + data[start + size :], f"Matroska element {identifier:#x} edited"


def mutate(data, extension, rng):
    """One mutant of ``data``: ``(bytes, description)``."""
    generic = [_flip, _zero, _truncate, _generic_duplicate]
    specific = {".avi": _avi_mutation, ".mp4": _mp4_mutation, ".mkv": _mkv_mutation, ".webm": _mkv_mutation}
    choices = generic + [specific[extension]] * 3
    function = choices[int(rng.integers(0, len(choices)))]
    try:
        mutant, description = function(data, rng)
    except (ValueError, IndexError, struct.error):
        mutant, description = _flip(data, rng)
    if mutant == data:
        mutant, description = _flip(data, rng)
    return mutant, description


def make_mutants(sources, folder, count, seed):
    """``[(path, source_name, description)]``: ``count`` mutants spread evenly over the sources."""
    mutants = []
    names = sorted(sources)
    for number in range(count):
        name = names[number % len(names)]
        rng = np.random.default_rng([seed, number])
        with open(sources[name], "rb") as file:
            data = file.read()
        extension = os.path.splitext(sources[name])[1]
        mutant, description = mutate(data, extension, rng)
        path = os.path.join(folder, f"{number:04d}_{name}{extension}")
        with open(path, "wb") as file:
            file.write(mutant)
        mutants.append((path, name, description))
    return mutants


# ------------------------------------------------------------------- checks
def _best_match(frame, originals):
    """Index of the undamaged frame closest to ``frame`` (mean absolute difference), or -1."""
    if frame.shape != originals[0].shape:
        return -1
    errors = [float(np.abs(frame.astype(np.int16) - original.astype(np.int16)).mean()) for original in originals]
    return int(np.argmin(errors))


def _shift(clip, originals, run=3):
    """``(position, original)`` where a frame sequence starts holding, cleanly, the frames of other positions.

    A frame lost or repeated at the container level (a dropped, duplicated or renamed chunk) offsets every later
    frame: a run of ``run`` consecutive frames that are clean copies of the undamaged video's frames ``k``
    positions away. A lone frame that looks like another (a decoder shown damaged data, e.g. VP9's
    "show existing frame" bit flipped) is damage the reference decode shares, not a shift.
    """
    offsets = []
    for position, frame in enumerate(clip):
        offset = None
        if frame.shape == originals[0].shape:
            errors = [float(np.abs(frame.astype(np.int16) - original.astype(np.int16)).mean()) for original in originals]
            best = int(np.argmin(errors))
            if errors[best] < 6.0 and (position >= len(errors) or errors[best] < 0.5 * errors[position]):
                offset = best - position
        offsets.append(offset)
    for start in range(len(offsets) - run + 1):
        window = offsets[start : start + run]
        if window[0] and all(offset == window[0] for offset in window):
            return start, start + window[0]
    return None


def check_mutant(path, original, seed):
    """The outcome of one mutant: ``{"outcome": ..., "detail": ...}`` (run inside a worker)."""
    from keras_sportsnet.data import VideoError
    from keras_sportsnet.data import probe_video
    from keras_sportsnet.data import read_clip
    from keras_sportsnet.data import read_clips

    from keras_sportsnet.testing.videos import reference_decode

    decoded = reference_decode(path)
    reference = decoded.frames
    intact, damage = decoded.intact, decoded.damage[1] if decoded.damage else None
    originals = reference_decode(original).frames
    rng = np.random.default_rng(seed)
    try:
        info = probe_video(path)
        count = info.num_frames
        reads = [("one clip per call", [[int(i)] + [int(i) + 1] * (int(i) + 1 < count)]) for i in rng.choice(count, min(count, 6), replace=False)]
        starts = sorted(int(s) for s in rng.choice(count, min(count, 5), replace=False))
        reads.append(("many clips in one pass", [list(range(s, min(count, s + 4))) for s in starts]))
        reads.append(("sequential", [list(range(count))]))
        for how, clips in reads:
            got = read_clips(path, clips) if len(clips) > 1 else [read_clip(path, clips[0])]
            for clip, indices in zip(got, clips):
                for frame, index in zip(clip, indices):
                    if index < intact:
                        if frame.shape != reference[index].shape or not np.array_equal(frame, reference[index]):
                            return {"outcome": "wrong", "detail": f"{how}: frame {index} differs from the sequential decode"}
                    elif len(reference) == count:
                        # Past damage the reader does not see (it seeks past it), frames must still be those of a
                        # sequential decode that goes on past the damage, where that decode numbers frames alike,
                        # or the intact frame itself (FFmpeg's output after damage can depend on its history).
                        intact_frame = index < len(originals) and np.array_equal(frame, originals[index])
                        if not intact_frame and (frame.shape != reference[index].shape or not np.array_equal(frame, reference[index])):
                            return {"outcome": "wrong", "detail": f"{how}: frame {index} differs from the sequential decode (damaged from frame {intact}: {damage})"}
                    elif _best_match(frame, originals) != index:
                        # Where that decode numbers frames differently (frames lost to the damage), the right frame
                        # is the one shown at that position in the undamaged video.
                        return {"outcome": "wrong", "detail": f"{how}: frame {index} is not frame {index} of the video (a sequential decode is damaged from frame {intact}: {damage})"}
                shifted = _shift(clip, originals) if how == "sequential" and len(originals) else None
                if shifted:
                    return {"outcome": "wrong", "detail": f"{how}: from position {shifted[0]} on, the frames are those of positions {shifted[1]}... of the video (frames lost or repeated, unnoticed)"}
        return {"outcome": "exact", "detail": f"{count} frames"}
    except VideoError as error:
        if error.path != path:
            return {"outcome": "other exception", "detail": f"VideoError naming {error.path!r}, not the file: {error}"}
        return {"outcome": "VideoError", "detail": error.problem}
    except Exception as error:  # noqa: BLE001 - the point is to see them
        return {"outcome": "other exception", "detail": f"{type(error).__name__}: {error}"}


def worker():
    """Reads JSON requests from stdin, answers one JSON line per request on stdout."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import warnings

    warnings.simplefilter("ignore")
    answer = sys.stdout
    sys.stdout = sys.stderr  # nothing but answers on the pipe
    answer.write(json.dumps({"ready": True}) + "\n")
    answer.flush()
    for line in sys.stdin:
        request = json.loads(line)
        result = check_mutant(request["path"], request["original"], request["seed"])
        answer.write(json.dumps(result) + "\n")
        answer.flush()


class Worker:
    """A worker subprocess; `check` returns the outcome, "crash" if it died, "hang" if it overran the bound."""

    def __init__(self, startup_timeout=300):
        self.startup_timeout = startup_timeout
        self.process = None

    def _start(self):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "numpy"))
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        if self._read(self.startup_timeout) is None:
            raise RuntimeError("the fuzzing worker did not start")

    def _read(self, timeout):
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.process.stdout.readline()
        return json.loads(line) if line else {"outcome": "crash", "detail": f"worker exited with {self.process.wait()}"}

    def check(self, path, original, seed, timeout):
        if self.process is None or self.process.poll() is not None:
            self._start()
        self.process.stdin.write(json.dumps({"path": path, "original": original, "seed": seed}) + "\n")
        self.process.stdin.flush()
        result = self._read(timeout)
        if result is None:
            self.close()
            return {"outcome": "hang", "detail": f"no answer within {timeout} s"}
        if result.get("outcome") == "crash":
            self.close()
        return result

    def close(self):
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            self.process = None


def run(count, seed, timeout=60, keep=None, verbose=True, details=None):
    """Fuzzes ``count`` mutants; returns ``(table_rows, failures)``; ``details`` (a list) gets every outcome."""
    folder = tempfile.mkdtemp(prefix="ksn_fuzz_")
    worker_process = Worker()
    try:
        sources = write_sources(folder)
        mutants = make_mutants(sources, folder, count, seed)
        counts = collections.defaultdict(collections.Counter)
        failures = []
        started = time.monotonic()
        for number, (path, name, description) in enumerate(mutants):
            result = worker_process.check(path, sources[name], seed * 100003 + number, timeout)
            counts[name][result["outcome"]] += 1
            if details is not None:
                details.append((os.path.basename(path), description, result["outcome"], result["detail"]))
            if result["outcome"] in FAILURES:
                failures.append((os.path.basename(path), description, result["outcome"], result["detail"]))
                if keep:
                    os.makedirs(keep, exist_ok=True)
                    shutil.copy(path, keep)
            if verbose and (number + 1) % 20 == 0:
                print(f"fuzzing: {number + 1}/{len(mutants)} mutants, {len(failures)} failures "
                      f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
        rows = []
        for name in sorted(counts):
            rows.append([name, sum(counts[name].values())] + [counts[name][outcome] for outcome in OUTCOMES])
        rows.append(["all", sum(row[1] for row in rows)] + [sum(row[2 + i] for row in rows) for i in range(len(OUTCOMES))])
        return rows, failures
    finally:
        worker_process.close()
        shutil.rmtree(folder, ignore_errors=True)


def format_rows(rows):
    from keras_sportsnet.utils.tables import format_table

    return format_table(["source", "mutants", *OUTCOMES], rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutants", type=int, default=320, help="number of mutants (default 320)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutations and read patterns")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one mutant may take before it is a hang")
    parser.add_argument("--keep", default=None, help="folder to copy failing mutants into")
    parser.add_argument("--json", default=None, help="write the table, failures and every outcome as JSON here")
    parser.add_argument("--all", action="store_true", help="print every mutant's outcome, not only the failures")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker()
        return 0
    started = time.monotonic()
    details = []
    rows, failures = run(args.mutants, args.seed, args.timeout, args.keep, details=details)
    if args.all:
        for name, description, outcome, detail in details:
            print(f"{outcome}: {name} ({description}): {detail}")
    print(format_rows(rows))
    print(f"{args.mutants} mutants in {time.monotonic() - started:.0f} s (seed {args.seed})")
    for name, description, outcome, detail in failures:
        print(f"FAIL {outcome}: {name} ({description}): {detail}")
    if args.json:
        from keras_sportsnet.utils.files import write_json

        write_json(args.json, {"rows": rows, "failures": failures, "outcomes": details, "seed": args.seed})
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
