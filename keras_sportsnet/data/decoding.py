"""Frame-exact video decoding: probe a video, read clips of it by frame index.

A clip is a list of frame indices, and the decoder returns exactly those
frames as uint8 RGB ``(T, H, W, 3)``, with rotation metadata applied, whatever
the container's timestamps say (variable frame rate, odd time bases, B-frames
packed into AVI chunks). The rule that makes this exact on every file measured
(see ``shared/docs/decoding.md``): seek to a keyframe, then *count* decoded
frames from it; timestamps only locate the keyframe and check the count.

Each video is indexed once by a demux-only pass (keyframe positions and their
timestamps, exact frame count; only the first frame is decoded, for its size
and rotation), and the index is cached in-process (LRU keyed by path, size and
modification time). Reading never decodes more than the stretch from the
nearest usable keyframe to the last frame asked for, and keeps only the frames
asked for in memory.

`VideoDecoder` is the backend interface; `PyAVDecoder` (the default) is the
only backend so far. Every unusable input raises `VideoError` naming the file
and the problem.
"""

import abc
import collections
import dataclasses
import os
import stat as stat_module
import threading
import warnings

import numpy as np

from keras_sportsnet.data.errors import VideoError

__all__ = [
    "BLACK_FRAME",
    "PyAVDecoder",
    "VideoDecoder",
    "VideoInfo",
    "get_decoder",
    "probe_video",
    "read_clip",
    "read_clips",
    "register_decoder",
]

BLACK_FRAME = -1
"""Frame index that stands for an all-black frame (the clip samplers' padding)."""

MAX_PIXELS = 1 << 26
"""Largest frame (width * height) accepted; larger streams raise `VideoError`."""

DEFAULT_DECODER = "pyav"


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What `probe_video` knows about a video.

    Attributes:
        path: str. The file.
        num_frames: int. Exact number of frames, counted (never the
            container's claim).
        fps: float. Average frame rate (0.0 if the file gives no way to know).
        height, width: int. Frame size as displayed, i.e. after rotation.
        duration: float. Seconds, from the frame timestamps where known.
        rotation: int. 0, 90, 180 or 270: degrees the stored picture is turned
            clockwise for display (the convention of the ``rotate`` tag phones
            write). Decoded frames already have it applied.
        has_audio: bool. Whether the file has an audio stream.
        codec: str. FFmpeg name of the video codec (``"h264"``, ``"mpeg4"`` ...).
        size: int. File size in bytes (cache validation).
        mtime_ns: int. File modification time in ns (cache validation).

    Example:
    ```python
    info = ksn.data.probe_video("v_Biking_g01_c01.avi")
    info.num_frames, info.fps, (info.height, info.width)
    ```
    """

    path: str
    num_frames: int
    fps: float
    height: int
    width: int
    duration: float
    rotation: int = 0
    has_audio: bool = False
    codec: str = ""
    size: int = 0
    mtime_ns: int = 0

    @property
    def frame_shape(self):
        """``(height, width, 3)`` of a decoded frame."""
        return (self.height, self.width, 3)

    def to_dict(self):
        """A JSON-ready dict (`from_dict` inverts it)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, config):
        """Rebuilds a `VideoInfo` from `to_dict`'s output (unknown keys ignored)."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in config.items() if key in names})


def file_signature(path):
    """``(size, mtime_ns)`` of a readable, non-empty regular file, else `VideoError`.

    The checks every entry point runs before handing a path to a backend, so
    that missing files, directories and empty files get a plain message.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise VideoError(path, "file not found") from None
    except PermissionError:
        raise VideoError(path, "permission denied") from None
    except OSError as error:
        raise VideoError(path, f"cannot access the file ({error.strerror or error})") from None
    if stat_module.S_ISDIR(info.st_mode):
        raise VideoError(path, "is a directory, not a video file")
    if not stat_module.S_ISREG(info.st_mode):
        raise VideoError(path, "is not a regular file")
    if info.st_size == 0:
        raise VideoError(path, "empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise VideoError(path, "permission denied (the file is not readable)")
    return info.st_size, info.st_mtime_ns


class VideoDecoder(abc.ABC):
    """Interface of a frame-exact video decoder backend.

    The public methods (`probe`, `read`, `read_many`) are implemented here
    once: file checks, the per-video index cache, index validation, black
    frames (``-1``), rotation and clip assembly. A backend implements two
    hooks:

    - ``_build_index(path, signature)``: one cheap pass over the file,
      returning an object with an ``info`` attribute (a `VideoInfo`) plus
      whatever the backend needs to seek later. Cached per
      ``(path, size, mtime)``.
    - ``_decode_frames(path, index, numbers)``: a dict ``{number: frame}``
      for the sorted, distinct, in-range frame numbers asked for; frames are
      uint8 ``(H, W, 3)`` RGB as *stored* (before rotation).

    and lists its library's exception types in ``errors``: any of them that
    escapes a hook becomes a `VideoError` naming the file.

    Args:
        cache_size: int. Number of video indexes kept (LRU).

    Example:
    ```python
    class MyDecoder(ksn.data.decoding.VideoDecoder):
        errors = (RuntimeError,)
        def _build_index(self, path, signature): ...
        def _decode_frames(self, path, index, numbers): ...

    ksn.data.decoding.register_decoder("mine", MyDecoder)
    clip = ksn.data.decoding.get_decoder("mine").read("video.mp4", [0, 2, 4])
    ```
    """

    errors = ()

    def __init__(self, cache_size=1024):
        self.cache_size = int(cache_size)
        self._cache = collections.OrderedDict()
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- public
    def probe(self, path):
        """`VideoInfo` of a video (cached; the file is opened at most once per version).

        Args:
            path: str or path-like.

        Returns:
            `VideoInfo`.

        Example:
        ```python
        info = ksn.data.decoding.get_decoder().probe("clip.mp4")
        ```
        """
        return self._index(path).info

    def read(self, path, frame_indices):
        """Frames ``frame_indices`` of a video, as uint8 RGB ``(T, H, W, 3)``.

        Args:
            path: str or path-like.
            frame_indices: sequence of ints in ``[0, num_frames)`` in any order,
                repeats allowed; ``-1`` gives an all-black frame.

        Returns:
            uint8 array ``(len(frame_indices), height, width, 3)``, as displayed
            (rotation applied).

        Example:
        ```python
        clip = ksn.data.decoding.get_decoder().read("clip.mp4", [10, 11, 12, -1])
        ```
        """
        return self.read_many(path, [frame_indices])[0]

    def read_many(self, path, clips):
        """Several clips of one video, decoded in one forward pass.

        The union of the frames asked for is decoded in increasing order; the
        decoder seeks forward only where a keyframe lies between the frame it
        is at and the next frame needed (decoding through is cheaper
        otherwise). Memory holds only the frames asked for.

        Args:
            path: str or path-like.
            clips: sequence of sequences of frame indices (see `read`).

        Returns:
            list of uint8 arrays ``(len(clip), height, width, 3)``.

        Example:
        ```python
        clips = ksn.data.decoding.get_decoder().read_many("clip.mp4", [[0, 1], [50, 51]])
        ```
        """
        path = os.fspath(path)
        index = self._index(path)
        info = index.info
        clips = [_validate_indices(path, clip, info.num_frames) for clip in clips]
        wanted = np.unique(np.concatenate([clip[clip >= 0] for clip in clips] or [np.zeros(0, np.int64)]))
        frames = {}
        if wanted.size:
            frames = self._call(path, "decoding failed", self._decode_frames, path, index, wanted.tolist())
            missing = [number for number in wanted.tolist() if number not in frames]
            if missing:  # a backend contract violation, but say which file
                raise VideoError(path, f"decoder {type(self).__name__} returned no frame {missing[0]}")
            frames = {number: _rotate(frame, info.rotation) for number, frame in frames.items()}
        black = np.zeros(info.frame_shape, np.uint8)
        return [
            np.stack([frames[i] if i >= 0 else black for i in clip.tolist()])
            if clip.size
            else np.zeros((0, *info.frame_shape), np.uint8)
            for clip in clips
        ]

    def cache_clear(self):
        """Forgets every cached video index."""
        with self._lock:
            self._cache.clear()

    # ----------------------------------------------------------------- hooks
    @abc.abstractmethod
    def _build_index(self, path, signature):
        """One cheap pass over ``path``; returns an object with an ``info`` `VideoInfo`."""

    @abc.abstractmethod
    def _decode_frames(self, path, index, numbers):
        """``{number: uint8 (H, W, 3) stored frame}`` for sorted distinct ``numbers``."""

    # -------------------------------------------------------------- internal
    def _index(self, path):
        path = os.fspath(path)
        signature = file_signature(path)
        key = (os.path.abspath(path), *signature)
        with self._lock:
            index = self._cache.get(key)
            if index is not None:
                self._cache.move_to_end(key)
        if index is None:
            index = self._call(path, "cannot read the video", self._build_index, path, signature)
            self._remember(key, index)
        if index.info.path != path:
            index = dataclasses.replace(index, info=dataclasses.replace(index.info, path=path))
        return index

    def _remember(self, key, index):
        with self._lock:
            self._cache[key] = index
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _replace_index(self, path, index):
        """Caches a revised index for ``path`` (e.g. after finding seeking unsafe)."""
        signature = (index.info.size, index.info.mtime_ns)
        self._remember((os.path.abspath(path), *signature), index)

    def _call(self, path, problem, function, *args):
        try:
            return function(*args)
        except VideoError:
            raise
        except MemoryError:
            raise VideoError(path, f"{problem}: out of memory") from None
        except (EOFError, *self.errors) as error:
            raise VideoError(path, f"{problem}: {_describe(error)}") from error


def _describe(error):
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return f"{text} ({type(error).__name__})"


def _validate_indices(path, clip, num_frames):
    indices = np.asarray(clip)
    if indices.size == 0:
        return np.zeros(0, np.int64)
    if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(
            "Frame indices must be a flat sequence of integers. "
            f"Received: shape={indices.shape}, dtype={indices.dtype} for {path}"
        )
    indices = indices.astype(np.int64)
    if indices.min() < BLACK_FRAME:
        raise ValueError(
            f"Frame indices must be >= 0, or {BLACK_FRAME} for a black frame. "
            f"Received: {int(indices.min())} for {path}"
        )
    if indices.max() >= num_frames:
        raise VideoError(
            path,
            f"frame {int(indices.max())} asked for, but the video has {num_frames} frames "
            f"(valid indices 0..{num_frames - 1}): too short",
        )
    return indices


def _rotate(image, rotation):
    """Turns a stored frame ``rotation`` degrees clockwise (np.rot90 turns counter-clockwise)."""
    turns = (rotation // 90) % 4
    return np.rot90(image, -turns) if turns else image


# ---------------------------------------------------------------------- PyAV
_VOP_START = b"\x00\x00\x01\xb6"  # MPEG-4 Part 2 video object plane start code
_B_VOP = 2  # vop_coding_type of a B-VOP


def _mpeg4_vop_types(data):
    """Coding types (0=I, 1=P, 2=B, 3=S) of the VOPs in one MPEG-4 Part 2 packet."""
    types = []
    position = data.find(_VOP_START)
    while position >= 0 and position + 4 < len(data):
        types.append(data[position + 4] >> 6)
        position = data.find(_VOP_START, position + 4)
    return types


@dataclasses.dataclass(frozen=True)
class _PyAVIndex:
    """What `PyAVDecoder` knows about one video after its demux pass.

    Attributes:
        info: VideoInfo.
        stored_size: (width, height) of the frames as stored (before rotation).
        seek_numbers: int64 array, ascending: frame numbers of keyframes that
            are safe seek targets (frame 0 is always reached by decoding from
            the start and is not listed).
        seek_pts: int64 array: the pts of those keyframes (stream time base).
        frame_pts: int64 array of every frame's pts in display order, or None
            where decoded frames cannot be checked against the container's
            timestamps (synthesized AVI timestamps, packed B-frames).
    """

    info: VideoInfo
    stored_size: tuple
    seek_numbers: np.ndarray
    seek_pts: np.ndarray
    frame_pts: object = None


class _Misaligned(Exception):
    """Decoded frames after a seek do not line up with the index."""


class PyAVDecoder(VideoDecoder):
    """The default backend: PyAV (FFmpeg), frame-exact by counting from keyframes.

    Indexing demuxes the file once without decoding (except the first frame,
    for its size and rotation). The frame number of each keyframe comes from
    its rank among the presentation timestamps when the container stores real
    ones, or from its position in decoding order otherwise (AVI), corrected
    for the B-frames that MPEG-4 Part 2 streams pack next to it. After a seek,
    the keyframe is recognised by its timestamp, and frames are counted from
    it; where the container's timestamps are real, every decoded frame's
    timestamp is also checked. Any disagreement makes the reader start again
    from the first frame and read that file sequentially from then on
    (sequential decoding is exact by definition), with a `RuntimeWarning`.

    The container is open only for the duration of a call; decoder threading
    stays at PyAV's default (``thread_type="AUTO"`` was measured slower).

    Args:
        cache_size: int. Number of video indexes kept (LRU).

    Example:
    ```python
    decoder = ksn.data.decoding.PyAVDecoder()
    info = decoder.probe("clip.avi")
    clip = decoder.read("clip.avi", range(0, 32, 2))
    ```
    """

    def __init__(self, cache_size=1024):
        super().__init__(cache_size)
        import av  # imported here so that the module imports without PyAV
        import av.video.reformatter

        self._av = av
        self.errors = (av.FFmpegError, OSError, ValueError, RuntimeError, IndexError)

    # -------------------------------------------------------------- indexing
    def _open(self, path):
        try:
            return self._av.open(path, mode="r", metadata_errors="ignore")
        except self.errors as error:
            raise VideoError(path, f"not a video file, or a damaged one: {_describe(error)}") from error

    @staticmethod
    def _video_stream(path, container):
        if not container.streams.video:
            if container.streams.audio:
                raise VideoError(path, "no video stream (an audio-only file)")
            raise VideoError(path, "no video stream")
        return container.streams.video[0]

    def _build_index(self, path, signature):
        with self._open(path) as container:
            stream = self._video_stream(path, container)
            codec = stream.codec_context.name
            mpeg4 = codec == "mpeg4"
            pts, keyframes, vop_types = [], [], []
            discarded = empty = 0
            first = None
            try:
                for packet in container.demux(stream):
                    if packet.size == 0:  # PyAV's end-of-stream marker (no pts), AVI drop chunk
                        empty += packet.dts is not None
                        continue
                    if packet.is_discard:  # edit-list padding: never shown
                        discarded += 1
                        continue
                    if packet.is_corrupt:
                        raise VideoError(
                            path,
                            f"truncated or damaged: the data of frame {len(pts)} is incomplete "
                            f"(the container declares {stream.frames or 'an unknown number of'} frames)",
                        )
                    if packet.is_keyframe:
                        keyframes.append(len(pts))
                    pts.append(packet.pts)
                    if mpeg4:
                        vop_types.append(_mpeg4_vop_types(bytes(packet)))
                    if first is None:
                        first = next(iter(packet.decode()), None)
                if first is None and pts:
                    first = next(iter(stream.codec_context.decode(None)), None)
            except VideoError:
                raise
            except (EOFError, *self.errors) as error:
                raise VideoError(
                    path, f"truncated or damaged after {len(pts)} frames: {_describe(error)}"
                ) from error
            num_frames = len(pts)
            declared = stream.frames or 0
            if num_frames == 0:
                raise VideoError(path, "the video stream has no frames")
            if first is None:
                raise VideoError(path, f"no frame of the {codec} stream could be decoded")
            if container.format.name.startswith("mov") and declared > num_frames + discarded:
                # MP4/MOV sample tables are exact, unlike AVI headers: fewer packets means a cut file.
                raise VideoError(
                    path, f"truncated: the container declares {declared} frames but holds {num_frames}"
                )
            fps, duration = _rates(stream, container, pts, num_frames)
            _check_complete(path, container, stream, pts, fps, duration)
            if vop_types and len(vop_types[-1]) > 1:
                raise VideoError(path, "truncated: the last chunk holds a packed B-frame but its N-VOP chunk is missing")
            if (
                container.format.name == "avi"
                and not mpeg4
                and stream.codec_context.has_b_frames
                and declared > num_frames + empty
            ):
                # AVI timestamps say nothing of display order: a cut stream with B-frames may have
                # holes before its last frames that nothing else would reveal.
                raise VideoError(
                    path,
                    f"truncated: the AVI header declares {declared} frames but the file holds {num_frames}, "
                    "and its B-frames make the last ones unreliable",
                )
            width, height = first.width, first.height
            if width * height > MAX_PIXELS:
                raise VideoError(path, f"frame size {width}x{height} is too large (over {MAX_PIXELS} pixels)")
            rotation = (-int(round((first.rotation or 0) / 90.0)) * 90) % 360
            seek_numbers, seek_pts, frame_pts = _seek_points(pts, keyframes, vop_types, stream.codec_context)
            shown = (width, height) if rotation in (0, 180) else (height, width)
            info = VideoInfo(
                path=path,
                num_frames=num_frames,
                fps=fps,
                height=shown[1],
                width=shown[0],
                duration=duration,
                rotation=rotation,
                has_audio=bool(container.streams.audio),
                codec=codec,
                size=signature[0],
                mtime_ns=signature[1],
            )
        return _PyAVIndex(info, (width, height), seek_numbers, seek_pts, frame_pts)

    # -------------------------------------------------------------- decoding
    def _decode_frames(self, path, index, numbers):
        frames = {}
        if index.seek_numbers.size:
            try:
                self._read_pass(path, index, numbers, frames, seek=True)
                return frames
            except _Misaligned as reason:
                warnings.warn(
                    f"{path}: {reason}; reading this file sequentially from now on.",
                    RuntimeWarning,
                    stacklevel=4,
                )
                index = dataclasses.replace(
                    index, seek_numbers=np.zeros(0, np.int64), seek_pts=np.zeros(0, np.int64)
                )
                self._replace_index(path, index)
                frames.clear()
        try:
            self._read_pass(path, index, numbers, frames, seek=False)
        except _Misaligned as reason:
            raise VideoError(path, f"damaged stream: {reason}") from None
        return frames

    def _read_pass(self, path, index, numbers, frames, seek):
        """Decodes ``numbers`` (ascending) into ``frames`` in one forward pass."""
        with self._open(path) as container:
            stream = self._video_stream(path, container)
            # One thread per clip: FFmpeg's slice/frame threads cost more CPU than they save on the
            # few frames of a clip (measured in benchmarks/bench_pipeline.py); parallelism comes from
            # decoding several clips at once (tf.data, threads: PyAV releases the GIL).
            stream.thread_type = "NONE"
            reformatter = self._av.video.reformatter.VideoReformatter()  # one conversion context per pass
            run, position = None, 0  # position: number of the next frame ``run`` yields
            for target in numbers:
                point = -1  # -1: the start of the file
                if seek:
                    point = int(np.searchsorted(index.seek_numbers, target, side="right")) - 1
                start = int(index.seek_numbers[point]) if point >= 0 else 0
                if run is None or start > position + 1:  # seeking saves decoding frames
                    run = self._run(container, stream, index, point, run is not None)
                for number, frame in run:
                    position = number + 1
                    if number == target:
                        frames[target] = self._to_rgb(frame, index, reformatter)
                        break
                else:
                    raise VideoError(
                        path,
                        f"truncated or damaged: decoding stopped after frame {position - 1}, "
                        f"before frame {target} (the index counted {index.info.num_frames} frames)",
                    )

    def _run(self, container, stream, index, point, started):
        """Yields ``(number, frame)`` from seek point ``point`` (-1: the start) on."""
        if point < 0:
            if started:  # only a fresh container starts at frame 0 for sure
                raise _Misaligned("asked to rewind")
            number, anchor_pts = -1, None
        else:
            number, anchor_pts = None, int(index.seek_pts[point])
            try:
                container.seek(anchor_pts, stream=stream, backward=True, any_frame=False)
            except self.errors as error:
                raise _Misaligned(f"seeking failed ({_describe(error)})") from error
        for frame in self._decoded(container, stream):
            if number is None:  # not yet at the keyframe sought (the seek may land on an earlier one)
                overshot = index.frame_pts is not None and frame.pts is not None and frame.pts > anchor_pts
                if frame.pts is None or overshot:  # (unverified timestamps may be out of order)
                    raise _Misaligned(f"after a seek, keyframe {index.seek_numbers[point]} was not found")
                if frame.pts != anchor_pts:
                    continue
                number = int(index.seek_numbers[point])
            else:
                number += 1
            if index.frame_pts is not None and number < index.frame_pts.size and frame.pts is not None:
                if frame.pts != index.frame_pts[number]:
                    raise _Misaligned(
                        f"frame {number} has timestamp {frame.pts}, expected {index.frame_pts[number]}"
                    )
            yield number, frame
        if number is None:
            raise _Misaligned(f"after a seek, keyframe {index.seek_numbers[point]} was not found")

    @staticmethod
    def _decoded(container, stream):
        for packet in container.demux(stream):
            if packet.size and not packet.is_discard:
                yield from packet.decode()
        yield from stream.codec_context.decode(None)

    @staticmethod
    def _to_rgb(frame, index, reformatter):
        width, height = index.stored_size  # a mid-stream size change is scaled back to the first frame's
        return reformatter.reformat(frame, width=width, height=height, format="rgb24").to_ndarray()


def _seek_points(pts, keyframes, vop_types, codec_context):
    """``(seek_numbers, seek_pts, frame_pts)`` from one demux pass (see `_PyAVIndex`).

    Args:
        pts: per packet in decoding order, its pts (None where unknown).
        keyframes: positions (decoding order) of the keyframe packets.
        vop_types: for MPEG-4 Part 2, per packet, the coding types of its VOPs;
            else empty.
        codec_context: the stream's decoder after decoding the first frame.
    """
    empty = np.zeros(0, np.int64)
    if not keyframes or any(value is None for value in pts):
        return empty, empty, None  # no way to recognise a keyframe after a seek
    pts = np.asarray(pts, np.int64)
    order = np.sort(pts)
    if np.any(np.diff(order) <= 0):
        return empty, empty, None  # repeated timestamps
    keyframes = np.asarray(keyframes, np.int64)
    key_pts = pts[keyframes]
    if np.any(np.diff(pts) < 0):
        # Real presentation timestamps (the container reorders): number = rank.
        numbers = np.searchsorted(order, key_pts)
        # Safe only if no frame decoded before the keyframe is shown after it.
        earlier_max = np.concatenate([[np.iinfo(np.int64).min], np.maximum.accumulate(pts)[:-1]])
        safe = earlier_max[keyframes] < key_pts
        frame_pts = order
    else:
        # Timestamps in decoding order: real if the decoder does not reorder,
        # synthesized (AVI) otherwise; frames shown before a keyframe but
        # decoded after it (leading B-frames) are only known for MPEG-4 Part 2.
        numbers = keyframes + _mpeg4_leading_frames(keyframes, vop_types)
        safe = np.ones(keyframes.size, bool)
        frame_pts = order if not codec_context.has_b_frames else None
    safe &= (numbers > 0) & (numbers < pts.size)
    numbers, key_pts = numbers[safe], key_pts[safe]
    numbers, unique = np.unique(numbers, return_index=True)
    return numbers.astype(np.int64), key_pts[unique].astype(np.int64), frame_pts


def _mpeg4_leading_frames(keyframes, vop_types):
    """Per keyframe: B-VOPs decoded after its I-VOP but shown before it.

    In a packed stream (DivX/Xvid ``packed bitstream``: a reference VOP and the
    next B-VOP share one AVI chunk, an empty N-VOP chunk follows) they sit in
    the keyframe's own chunk; otherwise they are the B-VOP packets right after it.
    """
    if not vop_types:
        return np.zeros(len(keyframes), np.int64)
    packed = any(len(types) > 1 for types in vop_types)
    leading = []
    for position in keyframes.tolist():
        count = vop_types[position][1:].count(_B_VOP)
        if not packed:
            following = position + 1
            while following < len(vop_types) and vop_types[following][:1] == [_B_VOP]:
                count, following = count + 1, following + 1
        leading.append(count)
    return np.asarray(leading, np.int64)


def _declared_duration(container, stream):
    """Seconds of video the container's header promises, or None where it cannot be trusted."""
    if container.format.name == "avi":
        return None  # AVI headers are often wrong (measured); a cut AVI shows as an incomplete chunk
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = next((value for key, value in stream.metadata.items() if key.upper() == "DURATION"), None)
    if tag:  # Matroska/WebM: "HH:MM:SS.nnnnnnnnn"
        try:
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        except ValueError:
            return None
    if len(container.streams) == 1 and container.duration:
        return container.duration / 1e6
    return None


def _check_complete(path, container, stream, pts, fps, duration):
    """Raises `VideoError` for a file cut short (a stream that ends without an incomplete packet).

    Two signs: the frames cover clearly less time than the header declares;
    or, in a constant-rate stream with B-frames, display-order timestamps
    with holes near the end (frames decoded after the cut but shown before
    the last frames present), which would shift every later frame.
    """
    declared = _declared_duration(container, stream)
    if declared and fps > 0 and duration < declared - max(1.5 / fps, 0.005 * declared):
        raise VideoError(
            path, f"truncated: the header declares {declared:.2f} s of video but the frames cover {duration:.2f} s"
        )
    if any(value is None for value in pts) or len(pts) <= 2 * _TAIL:
        return
    steps = np.diff(np.sort(np.asarray(pts, np.int64)))
    body, tail = steps[:-_TAIL], steps[-_TAIL:]
    if np.all(body == body[0]) and body[0] > 0 and np.any(tail > 1.5 * body[0]):
        raise VideoError(path, "truncated: frames are missing near the end (the file was cut mid-stream)")


_TAIL = 16  # display-order frames a cut can leave holes in (>= any codec's reorder depth)


def _rates(stream, container, pts, num_frames):
    """``(fps, duration)`` of a stream, from its timestamps where possible."""
    span = None
    if stream.time_base and num_frames > 1 and all(value is not None for value in pts):
        span = float((max(pts) - min(pts)) * stream.time_base)
    rate = stream.average_rate or stream.guessed_rate
    fps = float(rate) if rate else 0.0
    if fps <= 0 and span:
        fps = (num_frames - 1) / span
    if fps <= 0 and container.duration:
        fps = num_frames / (container.duration / 1e6)
    if span is not None and fps > 0:
        duration = span + 1.0 / fps
    elif fps > 0:
        duration = num_frames / fps
    else:
        duration = float(container.duration or 0) / 1e6
    return fps, duration


# ------------------------------------------------------------------ registry
_DECODER_CLASSES = {"pyav": PyAVDecoder}
_DECODERS = {}
_REGISTRY_LOCK = threading.Lock()


def register_decoder(name, cls):
    """Registers a `VideoDecoder` subclass under ``name`` for `get_decoder`.

    Args:
        name: str. The backend's name (e.g. ``"opencv"``).
        cls: a subclass of `VideoDecoder`, constructible without arguments.

    Example:
    ```python
    ksn.data.decoding.register_decoder("opencv", OpenCVDecoder)
    ```
    """
    if not (isinstance(cls, type) and issubclass(cls, VideoDecoder)):
        raise TypeError(f"`cls` must be a subclass of VideoDecoder. Received: cls={cls!r}")
    with _REGISTRY_LOCK:
        _DECODER_CLASSES[name] = cls
        _DECODERS.pop(name, None)


def get_decoder(name=None):
    """The shared instance of a registered decoder (default: ``"pyav"``).

    Args:
        name: str or None. A name given to `register_decoder`, or None for the default.

    Returns:
        `VideoDecoder`.

    Example:
    ```python
    decoder = ksn.data.decoding.get_decoder()
    decoder.read("clip.mp4", [0, 1, 2])
    ```
    """
    name = DEFAULT_DECODER if name is None else name
    with _REGISTRY_LOCK:
        if name not in _DECODER_CLASSES:
            raise ValueError(f"Unknown decoder {name!r}. Registered: {sorted(_DECODER_CLASSES)}")
        if name not in _DECODERS:
            _DECODERS[name] = _DECODER_CLASSES[name]()
        return _DECODERS[name]


def probe_video(path, decoder=None):
    """Probes a video: exact frame count, fps, displayed size, duration, rotation, audio.

    Cheap (one demux pass, no decoding beyond the first frame) and cached
    in-process until the file's size or modification time changes.

    Args:
        path: str or path-like.
        decoder: str or None. Registered decoder name (default ``"pyav"``).

    Returns:
        `VideoInfo`.

    Raises:
        VideoError: the file is missing, empty, not a video, audio-only,
            truncated or otherwise unreadable; the message names the file.

    Example:
    ```python
    info = ksn.data.probe_video("v_Biking_g01_c01.avi")
    print(info.num_frames, info.fps, info.height, info.width)
    ```
    """
    return get_decoder(decoder).probe(path)


def read_clip(path, frame_indices, decoder=None):
    """Exactly the frames ``frame_indices`` of a video, uint8 RGB ``(T, H, W, 3)``.

    Args:
        path: str or path-like.
        frame_indices: sequence of ints in ``[0, num_frames)``, any order,
            repeats allowed; ``-1`` gives an all-black frame (padding).
        decoder: str or None. Registered decoder name (default ``"pyav"``).

    Returns:
        uint8 array ``(len(frame_indices), height, width, 3)`` as displayed
        (rotation metadata applied).

    Raises:
        VideoError: unreadable file, or an index >= the video's frame count
            (the message says how many frames it has).

    Example:
    ```python
    clip = ksn.data.read_clip("v_Biking_g01_c01.avi", range(40, 50))
    clip.shape  # (10, 240, 320, 3)
    ```
    """
    return get_decoder(decoder).read(path, frame_indices)


def read_clips(path, clips, decoder=None):
    """Several clips of one video, decoded in ONE forward pass (evaluation).

    Much faster than one `read_clip` per clip on long-GOP files: the union of
    the frames is decoded in order, seeking only past stretches that contain
    a keyframe.

    Args:
        path: str or path-like.
        clips: sequence of frame-index sequences (see `read_clip`).
        decoder: str or None. Registered decoder name (default ``"pyav"``).

    Returns:
        list of uint8 arrays ``(len(clip), height, width, 3)``, one per clip.

    Example:
    ```python
    starts = range(0, 200, 10)
    clips = ksn.data.read_clips("video.mp4", [range(s, s + 10) for s in starts])
    ```
    """
    return get_decoder(decoder).read_many(path, clips)
