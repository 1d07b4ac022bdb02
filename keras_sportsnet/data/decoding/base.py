"""The decoder interface: `VideoInfo`, `VideoDecoder`, file checks, the index cache and the registry.

A backend (`keras_sportsnet.data.decoding.pyav.PyAVDecoder` is the default) implements two hooks; everything a
caller relies on is implemented here once: the file checks (missing, folder, FIFO, device, empty, unreadable), the
per-video index cache, the frame-size budget (``max_pixels``), index validation, black frames, scaling to a short
side, rotation and clip assembly.
"""

import abc
import collections
import contextlib
import dataclasses
import os
import stat as stat_module
import threading

import numpy as np

from keras_sportsnet.data.errors import VideoError

__all__ = [
    "BLACK_FRAME",
    "DEFAULT_DECODER",
    "DEFAULT_MAX_PIXELS",
    "VideoDecoder",
    "VideoInfo",
    "check_max_pixels",
    "check_short_side",
    "describe",
    "file_signature",
    "frame_too_large",
    "get_decoder",
    "open_video_file",
    "register_decoder",
    "scaled_size",
    "unregister_decoder",
]

BLACK_FRAME = -1
"""Frame index that stands for an all-black frame (the clip samplers' padding)."""

DEFAULT_MAX_PIXELS = 4096 * 4096
"""Default budget of pixels per frame (width * height): 4K (3840x2160) and 4096x4096 pass, 8000x8000 does not.

A larger frame raises `VideoError` when the video is probed, before anything is decoded at that size; pass
``max_pixels=`` to `probe_video`, `read_clip` or `read_clips` to raise the budget.
"""

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


# ------------------------------------------------------------------ arguments
def check_max_pixels(max_pixels):
    """``int(max_pixels)`` if it is a positive int, else a ValueError naming the argument."""
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)) or max_pixels < 1:
        raise ValueError(
            "`max_pixels` must be a positive int (pixels per frame, width * height; "
            f"default {DEFAULT_MAX_PIXELS}). Received: max_pixels={max_pixels!r}"
        )
    return int(max_pixels)


def check_short_side(short_side):
    """``int(short_side)`` (or None) if it is None or a positive int, else a ValueError naming the argument."""
    if short_side is None:
        return None
    if isinstance(short_side, bool) or not isinstance(short_side, (int, np.integer)) or short_side < 1:
        raise ValueError(
            "`short_side` must be None (frames as stored) or a positive int (the length the shorter side of "
            f"larger frames is scaled down to, e.g. the pipeline's `resize_to`). Received: short_side={short_side!r}"
        )
    return int(short_side)


def scaled_size(width, height, short_side):
    """``(width, height)`` scaled so that the shorter side is ``short_side``, when it is longer (aspect kept).

    Frames whose shorter side is already ``short_side`` or less keep their size; so does everything when
    ``short_side`` is None.

    Example:
    >>> scaled_size(1920, 1080, 64)
    (114, 64)
    >>> scaled_size(176, 144, 200)
    (176, 144)
    """
    short = min(width, height)
    if short_side is None or short <= short_side:
        return int(width), int(height)
    if width <= height:
        return int(short_side), max(1, int(round(height * short_side / width)))
    return max(1, int(round(width * short_side / height))), int(short_side)


# ---------------------------------------------------------------- file checks
def _check_stat(path, info):
    if stat_module.S_ISDIR(info.st_mode):
        raise VideoError(path, "is a directory, not a video file")
    if stat_module.S_ISFIFO(info.st_mode):
        raise VideoError(path, "is a named pipe (FIFO), not a video file: only regular files are read")
    if stat_module.S_ISCHR(info.st_mode) or stat_module.S_ISBLK(info.st_mode):
        raise VideoError(path, "is a device, not a video file: only regular files are read")
    if stat_module.S_ISSOCK(info.st_mode):
        raise VideoError(path, "is a socket, not a video file: only regular files are read")
    if not stat_module.S_ISREG(info.st_mode):
        raise VideoError(path, "is not a regular file")
    if info.st_size == 0:
        raise VideoError(path, "empty file (0 bytes)")


def _os_error(path, error):
    if isinstance(error, FileNotFoundError):
        return VideoError(path, "file not found")
    if isinstance(error, PermissionError):
        return VideoError(path, "permission denied (the file is not readable)")
    if isinstance(error, IsADirectoryError):
        return VideoError(path, "is a directory, not a video file")
    return VideoError(path, f"cannot access the file ({error.strerror or error})")


def file_signature(path):
    """``(size, mtime_ns)`` of a readable, non-empty regular file, else `VideoError`.

    The checks every entry point runs before a backend sees a path: a missing file, a folder, a FIFO, a device,
    a socket or an empty file gets a plain message (``os.stat`` only: nothing is opened, so a FIFO cannot block).

    Args:
        path: str or path-like.

    Returns:
        ``(size_in_bytes, modification_time_ns)``.

    Example:
    ```python
    size, mtime_ns = file_signature("clip.mp4")
    ```
    """
    path = os.fspath(path)
    try:
        info = os.stat(path)
    except OSError as error:
        raise _os_error(path, error) from None
    _check_stat(path, info)
    if not os.access(path, os.R_OK):
        raise VideoError(path, "permission denied (the file is not readable)")
    return info.st_size, info.st_mtime_ns


_FD_FOLDER = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else None


@contextlib.contextmanager
def open_video_file(path):
    """Opens ``path`` safely and yields the name a backend should hand to its library.

    The file is opened with ``O_NONBLOCK`` (opening a FIFO never blocks) and the open descriptor is checked to
    be a non-empty regular file, so a path swapped for a FIFO or a device between `file_signature` and the open
    is refused instead of hanging. On Linux the yielded name is ``/proc/self/fd/<n>``: the library then opens
    exactly the inode that was checked. Elsewhere it is ``path`` (checked the same way just before).

    Args:
        path: str or path-like.

    Yields:
        str: the name to open.

    Example:
    ```python
    with open_video_file("clip.mp4") as name:
        container = av.open(name)
    ```
    """
    path = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        raise _os_error(path, error) from None
    try:
        _check_stat(path, os.fstat(descriptor))
        yield os.path.join(_FD_FOLDER, str(descriptor)) if _FD_FOLDER else path
    finally:
        os.close(descriptor)


# ------------------------------------------------------------------ interface
class VideoDecoder(abc.ABC):
    """Interface of a frame-exact video decoder backend.

    The public methods (`probe`, `read`, `read_many`) are implemented here
    once: file checks, the per-video index cache, the frame-size budget,
    index validation, black frames (``-1``), rotation and clip assembly. A
    backend implements two hooks:

    - ``_build_index(path, signature, max_pixels)``: one pass over the file
      (bounded cost), returning an object with an ``info`` attribute (a
      `VideoInfo`) plus whatever the backend needs to seek later. It refuses
      (`VideoError`) a frame larger than ``max_pixels`` before decoding at
      that size. Cached per ``(path, size, mtime)``.
    - ``_decode_frames(path, index, numbers, size)``: a dict
      ``{number: frame}`` for the sorted, distinct, in-range frame numbers
      asked for; frames are uint8 ``(height, width, 3)`` RGB as *stored*
      (before rotation), scaled to ``size = (width, height)`` while decoding
      (never more than a frame or two held at the stored size).

    and lists its library's exception types in ``errors``: any of them that
    escapes a hook becomes a `VideoError` naming the file, and so does a
    `MemoryError`.

    Args:
        cache_size: int. Number of video indexes kept (LRU).

    Example:
    ```python
    class MyDecoder(ksn.data.decoding.VideoDecoder):
        errors = (RuntimeError,)
        def _build_index(self, path, signature, max_pixels): ...
        def _decode_frames(self, path, index, numbers, size): ...

    ksn.data.decoding.register_decoder("mine", MyDecoder)
    clip = ksn.data.decoding.get_decoder("mine").read("video.mp4", [0, 2, 4])
    ```
    """

    errors = ()

    def __init__(self, cache_size=4096):
        self.cache_size = int(cache_size)
        self._cache = collections.OrderedDict()
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- public
    def probe(self, path, *, max_pixels=DEFAULT_MAX_PIXELS):
        """`VideoInfo` of a video (cached; the file is indexed at most once per version).

        Args:
            path: str or path-like.
            max_pixels: int. Budget of pixels per frame; a larger frame is a `VideoError`.

        Returns:
            `VideoInfo`.

        Example:
        ```python
        info = ksn.data.decoding.get_decoder().probe("clip.mp4")
        ```
        """
        return self._index(path, check_max_pixels(max_pixels)).info

    def read(self, path, frame_indices, *, short_side=None, max_pixels=DEFAULT_MAX_PIXELS):
        """Frames ``frame_indices`` of a video, as uint8 RGB ``(T, H, W, 3)``.

        Args:
            path: str or path-like.
            frame_indices: sequence of ints in ``[0, num_frames)`` in any order,
                repeats allowed; ``-1`` gives an all-black frame.
            short_side: int or None. Frames whose shorter side is longer are
                scaled down while they are decoded (aspect kept, shorter side
                ``short_side``); None keeps the stored size.
            max_pixels: int. Budget of pixels per frame; a larger frame is a `VideoError`.

        Returns:
            uint8 array ``(len(frame_indices), height, width, 3)``, as displayed
            (rotation applied).

        Example:
        ```python
        clip = ksn.data.decoding.get_decoder().read("clip.mp4", [10, 11, 12, -1], short_side=128)
        ```
        """
        return self.read_many(path, [frame_indices], short_side=short_side, max_pixels=max_pixels)[0]

    def read_many(self, path, clips, *, short_side=None, max_pixels=DEFAULT_MAX_PIXELS):
        """Several clips of one video, decoded in one forward pass.

        The union of the frames asked for is decoded in increasing order; the
        decoder seeks forward only where a keyframe lies between the frame it
        is at and the next frame needed (decoding through is cheaper
        otherwise). Memory holds only the frames asked for (at the scaled size).

        Args:
            path: str or path-like.
            clips: sequence of sequences of frame indices (see `read`).
            short_side: int or None (see `read`).
            max_pixels: int (see `read`).

        Returns:
            list of uint8 arrays ``(len(clip), height, width, 3)``.

        Example:
        ```python
        clips = ksn.data.decoding.get_decoder().read_many("clip.mp4", [[0, 1], [50, 51]])
        ```
        """
        path = os.fspath(path)
        short_side = check_short_side(short_side)
        index = self._index(path, check_max_pixels(max_pixels))
        info = index.info
        clips = [_validate_indices(path, clip, info.num_frames) for clip in clips]
        stored = (info.width, info.height) if info.rotation in (0, 180) else (info.height, info.width)
        size = scaled_size(*stored, short_side)
        wanted = np.unique(np.concatenate([clip[clip >= 0] for clip in clips] or [np.zeros(0, np.int64)]))
        frames = {}
        if wanted.size:
            frames = self._call(path, "decoding failed", self._decode_frames, path, index, wanted.tolist(), size)
            missing = [number for number in wanted.tolist() if number not in frames]
            if missing:  # a backend contract violation, but say which file
                raise VideoError(path, f"decoder {type(self).__name__} returned no frame {missing[0]}")
            frames = {number: _rotate(frame, info.rotation) for number, frame in frames.items()}
        shown = size if info.rotation in (0, 180) else size[::-1]
        black = np.zeros((shown[1], shown[0], 3), np.uint8)
        return [
            np.stack([frames[i] if i >= 0 else black for i in clip.tolist()])
            if clip.size
            else np.zeros((0, *black.shape), np.uint8)
            for clip in clips
        ]

    def cache_clear(self):
        """Forgets every cached video index."""
        with self._lock:
            self._cache.clear()

    # ----------------------------------------------------------------- hooks
    @abc.abstractmethod
    def _build_index(self, path, signature, max_pixels):
        """One bounded pass over ``path``; returns an object with an ``info`` `VideoInfo`."""

    @abc.abstractmethod
    def _decode_frames(self, path, index, numbers, size):
        """``{number: uint8 (height, width, 3) stored frame scaled to size=(width, height)}``."""

    # -------------------------------------------------------------- internal
    def _index(self, path, max_pixels=DEFAULT_MAX_PIXELS):
        path = os.fspath(path)
        signature = file_signature(path)
        key = (os.path.abspath(path), *signature)
        with self._lock:
            index = self._cache.get(key)
            if index is not None:
                self._cache.move_to_end(key)
        if index is None:
            index = self._call(path, "cannot read the video", self._build_index, path, signature, max_pixels)
            self._remember(key, index)
        info = index.info
        if info.width * info.height > max_pixels:
            raise frame_too_large(path, info.width, info.height, max_pixels)
        if info.path != path:
            index = dataclasses.replace(index, info=dataclasses.replace(info, path=path))
        return index

    def _remember(self, key, index):
        with self._lock:
            self._cache[key] = index
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _replace_index(self, path, index):
        """Caches a revised index for ``path`` (e.g. after reconciling it with a sequential decode)."""
        signature = (index.info.size, index.info.mtime_ns)
        self._remember((os.path.abspath(path), *signature), index)

    def _call(self, path, problem, function, *args):
        try:
            return function(*args)
        except VideoError:
            raise
        except MemoryError:
            raise VideoError(path, f"{problem}: out of memory (try a smaller `max_pixels` or `short_side`)") from None
        except (EOFError, *self.errors) as error:
            raise VideoError(path, f"{problem}: {describe(error)}") from error


def frame_too_large(path, width, height, max_pixels):
    """The `VideoError` for a frame over the ``max_pixels`` budget (names the argument that raises it)."""
    return VideoError(
        path,
        f"frame size {width}x{height} ({width * height} pixels) is too large for the budget "
        f"max_pixels={max_pixels}; pass max_pixels={width * height} (or more; --max-pixels {width * height} on the "
        f"command line) to read this video",
    )


def describe(error):
    """``"<message> (<ExceptionType>)"`` for an exception from a decoding library."""
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
    return np.ascontiguousarray(np.rot90(image, -turns)) if turns else image


# ------------------------------------------------------------------- registry
_DECODER_CLASSES = {}
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
    if not isinstance(name, str) or not name:
        raise ValueError(f"`name` must be a non-empty str. Received: name={name!r}")
    with _REGISTRY_LOCK:
        _DECODER_CLASSES[name] = cls
        _DECODERS.pop(name, None)


def unregister_decoder(name):
    """Removes a decoder registered with `register_decoder` (the default ``"pyav"`` cannot be removed).

    Example:
    ```python
    ksn.data.decoding.unregister_decoder("opencv")
    ```
    """
    if name == DEFAULT_DECODER:
        raise ValueError(f"The default decoder {DEFAULT_DECODER!r} cannot be unregistered.")
    with _REGISTRY_LOCK:
        _DECODER_CLASSES.pop(name, None)
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
            from keras_sportsnet.utils.checks import did_you_mean

            raise ValueError(
                f"Unknown decoder {name!r}. Registered: {sorted(_DECODER_CLASSES)}."
                + did_you_mean(name, sorted(_DECODER_CLASSES))
            )
        if name not in _DECODERS:
            _DECODERS[name] = _DECODER_CLASSES[name]()
        return _DECODERS[name]
