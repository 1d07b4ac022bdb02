"""The PyAV (FFmpeg) backend: frame-exact by counting decoded frames from keyframes."""

import contextlib
import dataclasses
import warnings

import numpy as np

from keras_sportsnet.data.decoding.base import VideoDecoder
from keras_sportsnet.data.decoding.base import VideoInfo
from keras_sportsnet.data.decoding.base import describe
from keras_sportsnet.data.decoding.base import frame_too_large
from keras_sportsnet.data.decoding.base import open_video_file
from keras_sportsnet.data.decoding.mpeg4 import B_VOP
from keras_sportsnet.data.decoding.mpeg4 import vop_types
from keras_sportsnet.data.errors import VideoError

__all__ = ["PyAVDecoder"]

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
    max_pixels: int = 0


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
    @contextlib.contextmanager
    def _open(self, path, max_pixels=None):
        """The container, opened safely (see `open_video_file`); the decoder refuses frames over ``max_pixels``."""
        with open_video_file(path) as name:
            try:
                container = self._av.open(name, mode="r", metadata_errors="ignore")
            except self.errors as error:
                raise VideoError(path, f"not a video file, or a damaged one: {describe(error)}") from error
        with container:
            if max_pixels is not None and container.streams.video:
                container.streams.video[0].codec_context.options = {"max_pixels": str(int(max_pixels))}
            yield container

    @staticmethod
    def _video_stream(path, container):
        if not container.streams.video:
            if container.streams.audio:
                raise VideoError(path, "no video stream (an audio-only file)")
            raise VideoError(path, "no video stream")
        return container.streams.video[0]

    def _build_index(self, path, signature, max_pixels):
        with self._open(path, max_pixels) as container:
            stream = self._video_stream(path, container)
            codec = stream.codec_context.name
            mpeg4 = codec == "mpeg4"
            declared_size = (stream.codec_context.width or 0, stream.codec_context.height or 0)
            if declared_size[0] * declared_size[1] > max_pixels:  # refused before decoding anything
                raise frame_too_large(path, *declared_size, max_pixels)
            pts, keyframes, vops = [], [], []
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
                        vops.append(vop_types(bytes(packet)))
                    if first is None:
                        first = next(iter(packet.decode()), None)
                if first is None and pts:
                    first = next(iter(stream.codec_context.decode(None)), None)
            except VideoError:
                raise
            except (EOFError, *self.errors) as error:
                raise VideoError(
                    path, f"truncated or damaged after {len(pts)} frames: {describe(error)}"
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
            if vops and len(vops[-1]) > 1:
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
            if width * height > max_pixels:
                raise frame_too_large(path, width, height, max_pixels)
            rotation = (-int(round((first.rotation or 0) / 90.0)) * 90) % 360
            seek_numbers, seek_pts, frame_pts = _seek_points(pts, keyframes, vops, stream.codec_context)
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
        return _PyAVIndex(info, (width, height), seek_numbers, seek_pts, frame_pts, max(max_pixels, width * height))

    # -------------------------------------------------------------- decoding
    def _decode_frames(self, path, index, numbers, size):
        frames = {}
        if index.seek_numbers.size:
            try:
                self._read_pass(path, index, numbers, frames, size, seek=True)
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
            self._read_pass(path, index, numbers, frames, size, seek=False)
        except _Misaligned as reason:
            raise VideoError(path, f"damaged stream: {reason}") from None
        return frames

    def _read_pass(self, path, index, numbers, frames, size, seek):
        """Decodes ``numbers`` (ascending) into ``frames`` in one forward pass."""
        with self._open(path, index.max_pixels) as container:
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
                        frames[target] = self._to_rgb(frame, size, reformatter)
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
                raise _Misaligned(f"seeking failed ({describe(error)})") from error
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
    def _to_rgb(frame, size, reformatter):
        """RGB ``(height, width, 3)`` of ``frame`` scaled to ``size`` by libswscale (the source frame is dropped)."""
        width, height = size  # also brings a mid-stream size change back to the first frame's
        return reformatter.reformat(
            frame, width=width, height=height, format="rgb24", interpolation="BILINEAR"
        ).to_ndarray()


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
        count = vop_types[position][1:].count(B_VOP)
        if not packed:
            following = position + 1
            while following < len(vop_types) and vop_types[following][:1] == [B_VOP]:
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


