"""The PyAV (FFmpeg) backend: every frame it returns is the frame a sequential decode gives at that index.

How it stays exact:

1. **Index** (`probe`): one demux pass (no decoding but the first frame) records every packet in decoding order:
   its position in the file (its identity), timestamps and keyframe flag. From them it *predicts* which packet
   each frame in display order comes from: by presentation timestamps where the container stores real ones
   (MP4, MOV, Matroska, WebM, MPEG-TS), by replaying FFmpeg's MPEG-4 decoder on the VOP headers for DivX/Xvid
   AVIs (packed B-frames), in decoding order for codecs that do not reorder. It also checks what the container
   promises against what it holds (frame counts, durations, frames missing in constant-rate timestamps).
2. **Verified reads**: every packet handed to the decoder is tagged with its number, and FFmpeg carries the tag
   to the frame it becomes (``copy_opaque``). A read seeks to a keyframe, recognises its packet by position,
   and checks that every frame coming out is the predicted one (the keyframe must decode as an intra picture).
3. **Reconciling by counting**: on any disagreement (timestamps that lie, packets without frames, a seek that
   lands elsewhere) the index is rebuilt *exactly* by one sequential decode of the file, which is the
   reference by definition: the frame numbers are counted, and keyframe pictures are fingerprinted so that a
   later seek is accepted only if it reproduces them. The file keeps being read with seeks.
4. **Damage**: a file is called damaged only when frames cannot be decoded (the decoder fails or conceals
   errors), when the container lost or gained frames (counts, timestamps), or when FFmpeg drops a picture; the
   `VideoError` says what and where (frame number and time).

Probing also decodes a few frames at a few keyframes spread over the file (bounded cost), so that a file
`probe_video` accepts has shown its prediction to hold where it was tested.
"""

import contextlib
import dataclasses
import fractions
import hashlib

import numpy as np

from keras_sportsnet.data.decoding import jpeg
from keras_sportsnet.data.decoding import mpeg4
from keras_sportsnet.data.decoding.base import VideoDecoder
from keras_sportsnet.data.decoding.base import VideoInfo
from keras_sportsnet.data.decoding.base import describe
from keras_sportsnet.data.decoding.base import frame_too_large
from keras_sportsnet.data.decoding.base import open_video_file
from keras_sportsnet.data.errors import VideoError

__all__ = ["PyAVDecoder", "PyAVIndex"]

_UNKNOWN = np.iinfo(np.int64).min
"""Stands for a missing timestamp in the int64 arrays of an index."""

_TAIL = 16
"""Packets around a timestamp hole searched for unexplained bytes (at least any codec's reorder depth)."""

_REORDER = 8
"""Frames at the end where a cut leaves timestamp holes (frames decoded after the cut but shown before those)."""

SPOT_CHECKS = 3
"""Keyframes (spread over the file) at which `probe` decodes a couple of frames, besides the start."""


@dataclasses.dataclass(frozen=True)
class PyAVIndex:
    """What `PyAVDecoder` knows about one video.

    Attributes:
        info: `VideoInfo`.
        stored_size: ``(width, height)`` of the frames as stored (before rotation).
        mode: str. How frames were numbered: ``"timestamps"``, ``"mpeg4"``, ``"decoding order"`` (predicted) or
            ``"counted"`` (exact: one sequential decode).
        keys: int64 array, per packet in decoding order: its identity (file position), or None if packets
            cannot be recognised after a seek (then the file is read from the start only).
        seek_ts: int64 array, per packet: the timestamp to seek to (stream time base).
        time: float64 array, per packet: its presentation time in seconds (NaN if unknown), for messages.
        order: int64 array, per frame in display order: the packet it comes from.
        seek_frames: int64 array, ascending: frames (keyframe pictures) a read may seek to.
        fingerprints: dict ``{frame: digest}`` of keyframe pictures (exact indexes only), checked after seeks.
        max_pixels: int. The frame-size budget the decoder enforces while reading.
        first_packet: int. The first keyframe packet (packets before it cannot be decoded: a cut stream).
        timing: what the timestamp checks need (`_Timing`), or None (AVI: timestamps are synthesized).
    """

    info: VideoInfo
    stored_size: tuple
    mode: str
    keys: object
    seek_ts: np.ndarray
    time: np.ndarray
    order: np.ndarray
    seek_frames: np.ndarray
    fingerprints: object = None
    max_pixels: int = 0
    first_packet: int = 0
    timing: object = None

    @property
    def exact(self):
        """Whether the frame numbering was counted by a sequential decode (not predicted)."""
        return self.mode == "counted"

    @property
    def frame_of_packet(self):
        """int64 array, per packet: the frame it becomes (-1: none)."""
        table = np.full(self.seek_ts.size, -1, np.int64)
        known = self.order >= 0
        table[self.order[known]] = np.flatnonzero(known)
        return table

    def frame_time(self, number):
        """Presentation time in seconds of frame ``number`` (NaN if unknown)."""
        if 0 <= number < self.order.size and self.order[number] >= 0:
            return float(self.time[self.order[number]])
        return float("nan")


class _Misaligned(Exception):
    """What the decoder gave disagrees with the index (``seek``: the seek point the pass started from, or None)."""

    def __init__(self, reason, seek=None, seeking_fails=False):
        super().__init__(reason)
        self.seek = seek
        self.seeking_fails = seeking_fails


@dataclasses.dataclass
class _Packets:
    """What the demux pass collects, per packet in decoding order."""

    keys: list = dataclasses.field(default_factory=list)
    sizes: list = dataclasses.field(default_factory=list)
    others: list = dataclasses.field(default_factory=list)  # (position, size) of other streams' packets
    pts: list = dataclasses.field(default_factory=list)
    dts: list = dataclasses.field(default_factory=list)
    keyframe: list = dataclasses.field(default_factory=list)
    discard: list = dataclasses.field(default_factory=list)
    vops: list = dataclasses.field(default_factory=list)  # MPEG-4 in AVI only: (VOPs, restarts the stream)

    def __len__(self):
        return len(self.keys)


class PyAVDecoder(VideoDecoder):
    """The default backend: PyAV (FFmpeg), frame-exact by verified counting (see the module docstring).

    Decoding runs on one thread per call (FFmpeg's slice and frame threads cost more CPU than they save on the
    few frames of a clip); parallelism comes from decoding several clips at once (PyAV releases the GIL). The
    container is open only for the duration of a call.

    Args:
        cache_size: int. Number of video indexes kept (LRU).

    Example:
    ```python
    decoder = ksn.data.decoding.PyAVDecoder()
    info = decoder.probe("clip.avi")
    clip = decoder.read("clip.avi", range(0, 32, 2), short_side=128)
    ```
    """

    def __init__(self, cache_size=4096):
        super().__init__(cache_size)
        import av  # imported here so that the package imports without PyAV
        import av.video.reformatter

        self._av = av
        self.errors = (av.FFmpegError, OSError, ValueError, RuntimeError, IndexError, TypeError, AttributeError)

    # ------------------------------------------------------------ container
    @contextlib.contextmanager
    def _open(self, path, max_pixels):
        """``(container, stream)``: opened safely (see `open_video_file`), set up for verified decoding."""
        with open_video_file(path) as name:
            try:
                container = self._av.open(name, mode="r", metadata_errors="ignore")
            except self.errors as error:
                raise VideoError(path, f"not a video file, or a damaged one: {describe(error)}") from error
        with container:
            if not container.streams.video:
                if container.streams.audio:
                    raise VideoError(path, "no video stream (an audio-only file)")
                raise VideoError(path, "no video stream")
            stream = container.streams.video[0]
            context = stream.codec_context
            if context is None:
                raise VideoError(
                    path,
                    "damaged or unsupported: the video stream's codec is unknown (its description in the container "
                    "is damaged, or names a codec FFmpeg cannot decode)",
                )
            width, height = context.width or 0, context.height or 0
            if width * height > max_pixels:  # refused before anything is decoded at that size
                raise frame_too_large(path, width, height, max_pixels)
            options = {"max_pixels": str(int(max_pixels))}  # FFmpeg refuses larger frames mid-stream too
            if context.name == "mjpeg":
                # A damaged JPEG otherwise decodes with whatever a recycled buffer held: a frame that depends on
                # the decoder's history. Refusing it makes the damage an error.
                options["err_detect"] = "explode"
            context.options = options
            context.thread_type = "NONE"
            context.copy_opaque = True  # each frame carries the number of the packet it came from
            yield container, stream

    # ------------------------------------------------------------- indexing
    def _build_index(self, path, signature, max_pixels):
        with self._open(path, max_pixels) as (container, stream):
            packets, first, declared_frames = self._demux(path, container, stream)
            codec = stream.codec_context.name
            width, height = first.width, first.height
            if width * height > max_pixels:
                raise frame_too_large(path, width, height, max_pixels)
            rotation = (-int(round((first.rotation or 0) / 90.0)) * 90) % 360
            avi = container.format.name == "avi"
            pts = np.array([_UNKNOWN if value is None else value for value in packets.pts], np.int64)
            dts = np.array([_UNKNOWN if value is None else value for value in packets.dts], np.int64)
            time_base = stream.time_base or fractions.Fraction(1, 1)
            stamps = dts if avi else np.where(pts != _UNKNOWN, pts, dts)
            seconds = np.where(stamps != _UNKNOWN, stamps * float(time_base), np.nan)
            keyframe = np.array(packets.keyframe, bool)
            discard = np.array(packets.discard, bool)
            if avi:
                _check_avi_count(path, declared_frames, dts, discard)
            mode, order, intra = self._predict(path, stream, packets, pts, keyframe, discard, avi)
            keys = np.array(packets.keys, np.int64) if _usable_keys(packets.keys) else None
            seek_ts = np.where(stamps != _UNKNOWN, stamps, 0)
            fps, duration = _rates(stream, container, seconds, order)
            timing = None
            if not avi:
                timing = _Timing(
                    pts=pts,
                    positions=np.array(packets.keys, np.int64),
                    sizes=np.array(packets.sizes, np.int64),
                    others=np.array(sorted(packets.others), np.int64).reshape(-1, 2),
                    time_base=time_base,
                    fps=fps,
                    declared_end=_declared_end(container, stream),
                    layout=_byte_layout(container),
                    others_start=_others_start(container, stream),
                )
                if mode != "counted":
                    timing.check(path, order)
            shown = (width, height) if rotation in (0, 180) else (height, width)
            info = VideoInfo(
                path=path,
                num_frames=int(order.size),
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
            index = PyAVIndex(
                info=info,
                stored_size=(width, height),
                mode=mode,
                keys=keys,
                seek_ts=seek_ts,
                time=seconds,
                order=order,
                seek_frames=_seek_frames(order, keyframe, intra, keys is not None and (stamps != _UNKNOWN).all()),
                max_pixels=max(int(max_pixels), width * height),
                first_packet=int(np.argmax(keyframe)) if keyframe.any() else 0,
                timing=timing,
            )
        if index.mode == "counted":
            return self._count(path, index)
        return self._spot_check(path, index)

    def _demux(self, path, container, stream):
        """One demux pass: ``(packets, first decoded frame, frames the container declares)``."""
        packets = _Packets()
        codec = stream.codec_context.name
        mpeg4_avi = container.format.name == "avi" and codec == "mpeg4"
        bits = mpeg4.time_increment_bits(bytes(stream.codec_context.extradata or b"")) if mpeg4_avi else None
        size = (stream.codec_context.width, stream.codec_context.height)
        huffman = None  # MJPEG: whether the frames carry their own Huffman tables (as the first one does)
        layout = _byte_layout(container)
        first = None
        try:
            for packet in container.demux(*([] if layout else [stream])):
                if packet.stream.index != stream.index:  # another stream: only where its bytes lie
                    if packet.size and packet.pos is not None and packet.pos >= 0:
                        packets.others.append((packet.pos, packet.size))
                    continue
                if packet.size == 0:  # PyAV's end-of-stream marker
                    continue
                if packet.is_corrupt:
                    raise VideoError(
                        path,
                        f"truncated or damaged: the data of packet {len(packets)} "
                        f"(at {_seconds(packet.pts, packet.time_base)}) is incomplete",
                    )
                packets.keys.append(packet.pos if packet.pos is not None else -1)
                packets.sizes.append(packet.size)
                packets.pts.append(packet.pts)
                packets.dts.append(packet.dts)
                packets.keyframe.append(bool(packet.is_keyframe))
                packets.discard.append(bool(packet.is_discard))
                data = bytes(packet) if mpeg4_avi or codec == "mjpeg" else None  # parsed now, not kept
                if mpeg4_avi:
                    bits = bits if bits is not None else mpeg4.time_increment_bits(data)
                    packets.vops.append((mpeg4.vops(data, bits), mpeg4.starts_with_headers(data)))
                if first is None:
                    packet.opaque = _tag(len(packets) - 1)
                    first = next(iter(packet.decode()), None)
                    size = (first.width, first.height) if first is not None else size
                if codec == "mjpeg":
                    huffman = jpeg.has_huffman_tables(data) if huffman is None else huffman
                    problem = jpeg.frame_problem(data, *size, huffman)
                    if problem:
                        when = _seconds(packet.pts if packet.pts is not None else packet.dts, packet.time_base)
                        frame = len(packets) - 1
                        raise VideoError(path, f"damaged: the JPEG image of frame {frame} (at {when}) {problem}")
            if first is None and len(packets):
                first = next(iter(stream.codec_context.decode(None)), None)
        except VideoError:
            raise
        except (EOFError, *self.errors) as error:
            raise VideoError(path, f"truncated or damaged after {len(packets)} packets: {describe(error)}") from error
        if not len(packets):
            raise VideoError(path, "the video stream has no frames")
        if first is None:
            raise VideoError(path, f"no frame of the {stream.codec_context.name} stream could be decoded")
        declared = stream.frames or 0
        if container.format.name.startswith("mov") and declared > len(packets):
            # MP4/MOV sample tables are exact, unlike AVI headers: fewer packets means a cut file.
            raise VideoError(path, f"truncated: the container declares {declared} frames but holds {len(packets)}")
        return packets, first, declared

    def _predict(self, path, stream, packets, pts, keyframe, discard, avi):
        """``(mode, order, intra)``: the predicted packet of each frame, and which frames are intra pictures."""
        count = len(packets)
        shown = ~discard
        if not keyframe.any():
            return "counted", np.zeros(0, np.int64), np.zeros(0, bool)
        first_key = int(np.argmax(keyframe))
        shown[:first_key] = False  # after a cut, frames before the first keyframe cannot be decoded
        reorders = bool(stream.codec_context.has_b_frames)
        if avi and stream.codec_context.name == "mpeg4":
            packed = any(len(found) > 1 for found, _ in packets.vops)
            order, intra, lost = mpeg4.display_order(packets.vops, packed, low_delay=not reorders)
            if lost:
                raise VideoError(
                    path,
                    f"damaged: a picture is lost at frame chunk {lost[0]} (at "
                    f"{_seconds(packets.dts[lost[0]], stream.time_base)}): a VOP is missing or damaged there, or a "
                    "packed DivX/Xvid stream was spliced there"
                    + (f", and {len(lost) - 1} more" if len(lost) > 1 else ""),
                )
            return "mpeg4", np.asarray(order, np.int64), np.asarray(intra, bool)
        if not avi and (pts != _UNKNOWN).all() and np.unique(pts).size == count:
            candidates = np.flatnonzero(shown & (pts >= pts[first_key]))
            order = candidates[np.argsort(pts[candidates], kind="stable")]
        elif not reorders:
            order = np.flatnonzero(shown)
        else:
            return "counted", np.zeros(0, np.int64), np.zeros(0, bool)
        return ("decoding order" if avi or (pts == _UNKNOWN).any() else "timestamps"), order, keyframe[order]

    def _spot_check(self, path, index):
        """Decodes a couple of frames at the start and at a few keyframes: a bounded test of the prediction."""
        numbers = {0, 1}
        if index.seek_frames.size:
            picks = np.linspace(0, index.seek_frames.size - 1, min(SPOT_CHECKS, index.seek_frames.size))
            for pick in np.unique(picks.round().astype(int)):
                numbers.update({int(index.seek_frames[pick]), int(index.seek_frames[pick]) + 1})
        numbers = sorted(n for n in numbers if n < index.info.num_frames)
        index, _ = self._read(path, index, numbers, (16, 16), probing=True)
        return index

    # ------------------------------------------------------------- counting
    def _count(self, path, index):
        """The exact index: one sequential decode of the whole file numbers every frame (the reference)."""
        order, intra, fingerprints = [], [], {}
        keyframe_packets = set()
        with self._open(path, index.max_pixels) as (container, stream):
            number = -1
            try:
                for packet in container.demux(stream):
                    if packet.size == 0:
                        continue
                    number += 1
                    if index.keys is not None and number < index.keys.size and packet.pos != index.keys[number]:
                        raise VideoError(path, "reading is not reproducible: the demuxer gave other packets")
                    if packet.is_keyframe:
                        keyframe_packets.add(number)
                    packet.opaque = _tag(number)
                    for frame in self._decode(path, index, packet, len(order)):
                        self._record(path, index, frame, order, intra, fingerprints, keyframe_packets)
                for frame in self._decode(path, index, None, len(order), stream):
                    self._record(path, index, frame, order, intra, fingerprints, keyframe_packets)
            except VideoError:
                raise
            except (EOFError, *self.errors) as error:
                raise VideoError(
                    path, f"damaged: decoding stops at frame {len(order)}{_at(index, len(order))}: {describe(error)}"
                ) from error
        if not order:
            raise VideoError(path, "damaged: no frame of the video stream can be decoded")
        order = np.asarray(order, np.int64)
        if np.unique(order).size != order.size or order.min() < 0 or order.max() >= index.seek_ts.size:
            seek_frames = np.zeros(0, np.int64)  # a packet gave two frames: read from the start only
        else:
            keyframe = np.zeros(index.seek_ts.size, bool)
            keyframe[sorted(keyframe_packets)] = True
            seek_frames = _seek_frames(order, keyframe, np.asarray(intra, bool), index.keys is not None)
        if index.timing is not None and order.min() >= 0:
            index.timing.check(path, order)
        info = dataclasses.replace(index.info, num_frames=int(order.size))
        counted = dataclasses.replace(
            index, info=info, mode="counted", order=order, seek_frames=seek_frames, fingerprints=fingerprints
        )
        if counted.info.fps > 0 and order.min() >= 0 and np.isfinite(counted.time[order]).all():
            span = float(np.nanmax(counted.time[order]) - np.nanmin(counted.time[order]))
            counted = dataclasses.replace(counted, info=dataclasses.replace(info, duration=span + 1.0 / info.fps))
        return counted

    def _decode(self, path, index, packet, frames_so_far, stream=None):
        """Frames of one packet (or the decoder's last frames if ``packet`` is None); damage is a `VideoError`."""
        try:
            if packet is None:
                return list(stream.codec_context.decode(None))
            return list(packet.decode())
        except (self._av.FFmpegError, EOFError) as error:
            if packet is not None and _number(packet) < index.first_packet:
                return []  # a packet before the first keyframe of a cut stream: not part of the video
            raise VideoError(
                path,
                f"damaged: frame {frames_so_far}{_at(index, frames_so_far)} cannot be decoded ({describe(error)})",
            ) from error

    def _record(self, path, index, frame, order, intra, fingerprints, keyframe_packets):
        number = len(order)
        if frame.is_corrupt:
            raise VideoError(
                path,
                f"damaged: frame {number}{_at(index, number)} cannot be decoded correctly (the decoder had to "
                "conceal errors in it)",
            )
        source = _number(frame)
        order.append(-1 if source is None else int(source))
        is_intra = _is_intra(frame)
        intra.append(is_intra)
        if source in keyframe_packets and is_intra:
            fingerprints[number] = _fingerprint(frame)

    # ------------------------------------------------------------- decoding
    def _decode_frames(self, path, index, numbers, size):
        _, frames = self._read(path, index, numbers, size)
        return frames

    def _read(self, path, index, numbers, size, probing=False):
        """``(index, {number: rgb frame})``; reconciles the index (and caches it) when decoding disagrees."""
        while True:  # each round counts the index once, or drops seek points, or ends
            frames = {}
            try:
                self._read_pass(path, index, numbers, size, frames)
                return index, frames
            except _Misaligned as reason:
                if not index.exact:
                    index = self._count(path, index)
                elif reason.seek is not None:  # this keyframe does not reproduce the sequential decode
                    keep = index.seek_frames != reason.seek
                    if reason.seeking_fails or keep.all():  # cannot seek (a damaged index): read from the start
                        keep[:] = False
                    index = dataclasses.replace(index, seek_frames=index.seek_frames[keep])
                else:
                    raise VideoError(path, f"damaged: {reason}") from None
                if not probing:
                    self._replace_index(path, index)
                if numbers and numbers[-1] >= index.info.num_frames:
                    raise VideoError(
                        path,
                        f"frame {numbers[-1]} asked for, but only {index.info.num_frames} frames can be decoded "
                        f"(the container promised more): damaged or truncated",
                    ) from None

    def _read_pass(self, path, index, numbers, size, frames):
        """Decodes ``numbers`` (ascending) into ``frames`` in one forward pass, seeking where it saves work."""
        with self._open(path, index.max_pixels) as (container, stream):
            reformatter = self._av.video.reformatter.VideoReformatter()  # one conversion context per pass
            run, anchor, position = None, None, 0  # position: number of the next frame ``run`` yields
            for target in numbers:
                point = int(np.searchsorted(index.seek_frames, target, side="right")) - 1
                start = int(index.seek_frames[point]) if point >= 0 else 0
                if run is None or start > position:  # seeking saves decoding frames
                    if run is not None:
                        self._drain(run, stream, anchor)
                    anchor = start if point >= 0 else None
                    run = self._frames(path, container, stream, index, anchor)
                for number, frame in run:
                    position = number + 1
                    if number == target:
                        frames[target] = self._to_rgb(frame, size, reformatter)
                        break
            if run is not None:
                self._drain(run, stream, anchor)

    def _drain(self, run, stream, anchor):
        """Ends a run: frames the decoder still holds (decoded, waiting to be shown) must not be corrupt either.

        A damaged reference shown after the frames asked for may have been used to decode them: the damage then
        counts, as it would in a sequential decode.
        """
        run.close()
        try:
            held = list(stream.codec_context.decode(None))
        except (EOFError, *self.errors):
            return  # the run already reached the end of the stream (and checked every frame)
        if any(frame.is_corrupt for frame in held):
            raise _Misaligned("a frame decoded along the way decodes with errors", anchor)

    def _frames(self, path, container, stream, index, anchor):
        """Yields ``(number, frame)`` from frame ``anchor`` (a seek point) or from the start (None) on, verified."""
        table = index.frame_of_packet
        lookup = None if index.keys is None else {int(key): number for number, key in enumerate(index.keys)}
        if anchor is None:
            found, expected, next_packet = True, 0, 0
            anchor_packet = None
        else:
            anchor_packet = int(index.order[anchor])
            found, expected, next_packet = False, anchor, None
            try:
                container.seek(int(index.seek_ts[anchor_packet]), stream=stream, backward=True, any_frame=False)
            except (EOFError, *self.errors) as error:
                raise _Misaligned(f"seeking to frame {anchor} failed ({describe(error)})", anchor, True) from error
        seek = anchor

        def check(frame):
            nonlocal found, expected
            source = _number(frame)
            number = int(table[source]) if source is not None and 0 <= source < table.size else -1
            if source is None and found and expected < index.order.size and index.order[expected] < 0:
                number = expected  # counted without a packet number (the exact pass saw the same)
            if not found:
                if source == anchor_packet:
                    if not _is_intra(frame):
                        raise _Misaligned(f"keyframe {anchor} does not decode as an intra picture", seek)
                    if index.fingerprints is not None and index.fingerprints.get(anchor) != _fingerprint(frame):
                        raise _Misaligned(f"keyframe {anchor} decodes differently after a seek", seek)
                    found = True
                elif number > anchor:
                    raise _Misaligned(f"after a seek, the decoder gave frame {number} before keyframe {anchor}", seek)
                else:
                    return None  # a frame before the keyframe sought (the seek landed earlier)
            if frame.is_corrupt:
                raise _Misaligned(f"frame {expected}{_at(index, expected)} decodes with errors", seek)
            if number != expected:
                raise _Misaligned(
                    f"the decoder gave frame {number if number >= 0 else '(unindexed)'} where frame {expected} "
                    f"was expected{_at(index, expected)}",
                    seek,
                )
            expected += 1
            return number

        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if lookup is not None:
                    number = lookup.get(packet.pos if packet.pos is not None else -1)
                    if number is None:
                        raise _Misaligned(
                            f"the demuxer gave a packet the index does not know (at byte {packet.pos})", seek
                        )
                else:
                    number = next_packet if next_packet is not None else -1
                if next_packet is None:
                    if number > anchor_packet:
                        raise _Misaligned(f"seeking to frame {anchor} landed after its keyframe", seek)
                elif number != next_packet:
                    raise _Misaligned(f"packet {next_packet} was skipped by the demuxer", seek)
                next_packet = number + 1
                packet.opaque = _tag(number)
                for frame in self._decode_verified(packet, seek):
                    checked = check(frame)
                    if checked is not None:
                        yield checked, frame
            for frame in self._decode_verified(None, seek, stream):
                checked = check(frame)
                if checked is not None:
                    yield checked, frame
        except (EOFError, *self.errors) as error:
            raise _Misaligned(f"reading failed after frame {expected - 1} ({describe(error)})", seek) from error
        raise _Misaligned(f"decoding ended after frame {expected - 1} of {index.info.num_frames}", seek)

    def _decode_verified(self, packet, seek, stream=None):
        try:
            if packet is None:
                return list(stream.codec_context.decode(None))
            return list(packet.decode())
        except (self._av.FFmpegError, EOFError) as error:
            raise _Misaligned(f"a packet does not decode ({describe(error)})", seek) from error

    @staticmethod
    def _to_rgb(frame, size, reformatter):
        """RGB ``(height, width, 3)`` of ``frame`` scaled to ``size`` by libswscale (the source frame is dropped)."""
        width, height = size  # also brings a mid-stream size change back to the first frame's
        return reformatter.reformat(
            frame, width=width, height=height, format="rgb24", interpolation="BILINEAR"
        ).to_ndarray()


# ------------------------------------------------------------------ helpers
def _tag(number):
    """The opaque value a packet carries to its frames: a fresh object per packet.

    PyAV keys opaque values by ``id()`` in one process-wide table and drops the key when a frame is freed, so a
    small int (one shared object) tagged in two threads at once would lose its entry: a fresh tuple cannot.
    """
    return (number,)


def _number(packet_or_frame):
    """The packet number a packet or decoded frame carries (`_tag`), or None."""
    tag = packet_or_frame.opaque
    return tag[0] if isinstance(tag, tuple) and tag else None


def _is_intra(frame):
    return bool(frame.key_frame) or str(frame.pict_type).rsplit(".", 1)[-1] in ("I", "1")


def _fingerprint(frame):
    """A digest of the visible pixels of a decoded picture (line padding left out)."""
    try:
        pixels = frame.to_ndarray()
    except (ValueError, NotImplementedError, TypeError):
        pixels = frame.to_ndarray(format="gray")
    return hashlib.blake2b(np.ascontiguousarray(pixels).tobytes(), digest_size=16).digest()


def _usable_keys(keys):
    return bool(keys) and min(keys) >= 0 and len(set(keys)) == len(keys)


def _seek_frames(order, keyframe, intra, seekable):
    """Frames a read may seek to: intra keyframe pictures after which only later packets are shown."""
    if not seekable or order.size < 2:
        return np.zeros(0, np.int64)
    later_min = np.minimum.accumulate(order[::-1])[::-1]  # smallest packet number shown from each frame on
    frames = np.arange(order.size)
    safe = keyframe[order] & intra & (later_min == order) & (frames > 0)
    return frames[safe].astype(np.int64)


def _seconds(stamp, time_base):
    if stamp is None or not time_base:
        return "an unknown time"
    return f"{float(stamp * time_base):.2f} s"


def _at(index, number):
    seconds = index.frame_time(number)
    return f" (at {seconds:.2f} s)" if np.isfinite(seconds) else ""


def _check_avi_count(path, declared, dts, discard):
    """AVI: the stream header's frame count against the chunks read (dropped-frame chunks included)."""
    if declared <= 0 or (dts == _UNKNOWN).any():
        return
    chunks = int(dts.max() - min(0, dts.min())) + 1
    if chunks != declared:
        what = "fewer" if chunks < declared else "more"
        raise VideoError(
            path,
            f"damaged: the AVI header declares {declared} frames but the file holds {chunks} ({what} frame chunks: "
            "chunks were lost, added or renamed, which would shift every later frame)",
        )


def _declared_end(container, stream):
    """Seconds at which the container says the video ends (absolute), or None where it does not say."""
    time_base = stream.time_base
    if stream.duration and time_base:
        start = stream.start_time if stream.start_time is not None else 0
        return float((start + stream.duration) * time_base)
    tag = next((value for key, value in stream.metadata.items() if key.upper() == "DURATION"), None)
    if tag:  # Matroska/WebM: the track's end time "HH:MM:SS.nnnnnnnnn"
        try:
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        except ValueError:
            return None
    return None


_GAP_ALLOWANCE = {"matroska": 96, "mov": 48}
"""Bytes between two packets that container headers explain (per layout); more is data the demuxer skipped."""


def _byte_layout(container):
    """``"matroska"`` or ``"mov"`` where packet positions tile the file (lost data shows as a byte gap), else None."""
    name = container.format.name
    if name.startswith("matroska"):
        return "matroska"
    if name.startswith("mov"):
        return "mov"
    return None


@dataclasses.dataclass(frozen=True)
class _Timing:
    """What the timestamp checks need, per video packet in decoding order (see `check`)."""

    pts: np.ndarray
    positions: np.ndarray
    sizes: np.ndarray
    others: np.ndarray
    time_base: object
    fps: float
    declared_end: object
    layout: object
    others_start: float = 0.0

    def check(self, path, order):
        """Raises `VideoError` where the frames ``order`` (packets in display order) show frames lost or repeated.

        - Repeated timestamps: two frames shown at the same time (a repeated block).
        - Holes: a step between consecutive frames over 1.5 times the usual one, in a constant-rate stream
          (Matroska, WebM, MPEG-TS: 90% of the steps equal), or, in Matroska, WebM, MP4 and MOV, where the file
          also has bytes no packet accounts for near the hole (data the demuxer skipped). MP4/MOV sample tables
          cannot lose a frame unnoticed, and phones write variable-rate MP4s with real drops: there a hole alone
          is not damage.
        - The container's declared end well after the last frame (frames missing at the end).
        - Frames missing at the start: the video starts late, after bytes no packet accounts for.
        """
        shown = self.pts[order]
        if shown.size < 3 or (shown == _UNKNOWN).any():
            return
        time_base = float(self.time_base)
        if self._head_lost(int(shown[0])):
            raise VideoError(
                path,
                f"damaged: frames are missing at the start: the first frame that can be read is at "
                f"{shown[0] * time_base:.2f} s, after data no packet accounts for (the other streams start at "
                f"{self.others_start:.2f} s)",
            )
        steps = np.diff(shown)
        repeated = np.flatnonzero(steps <= 0)
        if repeated.size:
            frame = int(repeated[0])
            raise VideoError(
                path,
                f"damaged: frames {frame} and {frame + 1} share a timestamp or are out of order "
                f"({shown[frame] * time_base:.3f} s, {shown[frame + 1] * time_base:.3f} s): data was repeated, or "
                "the timestamps are damaged",
            )
        step = float(np.median(steps))
        tolerance = 1 + step / 200
        holes = np.flatnonzero(steps > 1.5 * step + tolerance)
        regular = float(np.mean(np.abs(steps - step) <= tolerance))
        for hole in holes.tolist():
            constant_rate = regular >= 0.9 and self.layout != "mov"
            if not constant_rate and not (self.layout is not None and self._bytes_lost_near(order, hole)):
                continue
            missing = int(round(steps[hole] / step)) - 1
            where = f"after frame {hole} (at {shown[hole] * time_base:.2f} s)"
            if steps.size - hole <= _REORDER:
                raise VideoError(
                    path, f"truncated or damaged: frames are missing near the end, {where}, as when a file is cut"
                )
            raise VideoError(
                path,
                f"damaged: frames are missing {where}: the timestamps jump to {shown[hole + 1] * time_base:.2f} s, "
                f"about {missing} frame(s) later" + (f" ({holes.size} such gaps)" if holes.size > 1 else ""),
            )
        if self.declared_end and self.fps > 0:
            end = float(shown.max() * time_base) + 1.0 / self.fps
            if end < self.declared_end - max(1.5 / self.fps, 0.005 * self.declared_end):
                raise VideoError(
                    path,
                    f"truncated: the container says the video ends at {self.declared_end:.2f} s but its last frame "
                    f"ends at {end:.2f} s",
                )

    def _bytes_lost_near(self, order, hole):
        """Whether packets decoded near the frames around ``hole`` have unexplained bytes between them."""
        if (self.positions < 0).any():
            return True
        around = order[hole : hole + 2]
        low, high = max(0, int(around.min()) - _TAIL), min(self.positions.size - 1, int(around.max()) + _TAIL)
        chosen = np.sort(self.positions[low : high + 1])
        ends = {int(p): int(p + s) for p, s in zip(self.positions[low : high + 1], self.sizes[low : high + 1])}
        pairs = zip(chosen[:-1].tolist(), chosen[1:].tolist())
        return any(self._unexplained(ends[start], following) for start, following in pairs)

    def _unexplained(self, start, end):
        """Whether the bytes ``[start, end)`` hold more than other streams' packets and container headers."""
        allowance = _GAP_ALLOWANCE[self.layout]
        if end - start <= allowance:
            return False
        inside = (self.others[:, 0] >= start) & (self.others[:, 0] < end)
        return end - start > int(self.others[inside, 1].sum()) + allowance * (int(inside.sum()) + 1)

    def _head_lost(self, first_frame_pts):
        """Whether the video starts late after bytes no packet accounts for (its first frames were lost)."""
        if self.layout is None or not self.others.size or (self.positions < 0).any() or self.fps <= 0:
            return False
        late = first_frame_pts * float(self.time_base) - self.others_start > 1.5 / self.fps
        return bool(late) and self._unexplained(int(self.others[0, 0]), int(self.positions.min()))


def _others_start(container, stream):
    """Seconds at which the container's other streams start (the earliest), or the video's own start if none."""
    starts = [
        float(other.start_time * other.time_base)
        for other in container.streams
        if other.index != stream.index and other.start_time is not None and other.time_base
    ]
    if starts:
        return min(starts)
    return float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else 0.0


def _rates(stream, container, seconds, order):
    """``(fps, duration)`` of a stream, from its timestamps where possible."""
    num_frames = int(order.size)
    shown = seconds[order] if num_frames else seconds[:0]
    span = float(np.max(shown) - np.min(shown)) if num_frames > 1 and np.isfinite(shown).all() else None
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
