"""Test videos whose frames show their own index, so that a reader can check it got exactly the frames it asked for.

`index_frames` draws each frame's index as a row of black and white bars over moving colour noise; `frame_code`
reads it back, whatever a codec or a downscale did to the pixels. `pack_bframes` turns an MPEG-4 AVI into the
DivX/Xvid "packed bitstream" form found in UCF-101 and HMDB-51.

Example:
```python
from keras_sportsnet.data.encoding import write_video
from keras_sportsnet.testing.videos import frame_code, index_frames

write_video("clip.mp4", index_frames(50, 48, 64))
clip = ksn.data.read_clip("clip.mp4", [7, 8])
assert [frame_code(frame) for frame in clip] == [7, 8]
```
"""

import dataclasses
import hashlib

import numpy as np

__all__ = ["BITS", "ReferenceDecode", "digest", "frame_code", "index_frames", "pack_bframes", "reference_decode"]

BITS = 12
"""Bars drawn per frame: indices up to ``2**12 - 1`` are readable."""


def _bar_edges(width):
    return [bit * width // BITS for bit in range(BITS + 1)]


def index_frames(num_frames, height=64, width=64, seed=0):
    """uint8 frames ``(num_frames, height, width, 3)`` that show their own index.

    The top half holds `BITS` vertical bars spread over the full width, white for a 1 bit of the frame index
    (least significant bit on the left); the bottom half is seeded colour noise blurred into blobs that drift with
    time, so that codecs see motion.

    Args:
        num_frames: int. Number of frames.
        height, width: int. Frame size (width >= 2 * 12 pixels).
        seed: int. Seed of the background.

    Returns:
        uint8 array.

    Example:
    >>> frames = index_frames(30, 48, 64)
    >>> frame_code(frames[17])
    17
    """
    if width < 2 * BITS:
        raise ValueError(f"`width` must be at least {2 * BITS}. Received: width={width}")
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 256, (height // 8 + 2, width // 8 + 2, 3), dtype=np.uint8)
    background = np.kron(background, np.ones((8, 8, 1), np.uint8))
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    edges = _bar_edges(width)
    for index in range(num_frames):
        shift = index % 8
        frames[index] = background[shift : shift + height, shift : shift + width]
        top = frames[index, : height // 2]
        top[:] = 0
        for bit in range(BITS):
            if (index >> bit) & 1:
                top[:, edges[bit] : edges[bit + 1]] = 255
    return frames


def frame_code(frame):
    """The index `index_frames` drew into a frame (uint8 ``(height, width, 3)``, any size it was scaled to).

    Args:
        frame: uint8 array ``(height, width, 3)``.

    Returns:
        int.

    Example:
    >>> frame_code(index_frames(6, 48, 64)[5])
    5
    """
    height, width = frame.shape[:2]
    top = np.asarray(frame[: height // 2], np.float32).mean(axis=(0, 2))
    edges = np.arange(BITS + 1) * width / BITS
    code = 0
    for bit in range(BITS):
        left, right = edges[bit], edges[bit + 1]
        margin = (right - left) / 4
        middle = top[int(np.ceil(left + margin)) : max(int(np.ceil(left + margin)) + 1, int(right - margin))]
        if middle.mean() > 127:
            code |= 1 << bit
    return code


_VOP = b"\x00\x00\x01\xb6"


def pack_bframes(source, destination):
    """Rewrites an MPEG-4 AVI with 1 B-frame per reference into DivX/Xvid "packed bitstream" form.

    Each reference VOP shares its AVI chunk with the B-VOP that follows it in decoding order, and a not-coded
    N-VOP chunk takes the B-VOP's place, as in the Xvid/DivX AVIs of UCF-101 and HMDB-51. FFmpeg's decoder only
    unpacks such chunks when the DivX user data ends in "p", which is added before each keyframe.

    Args:
        source: path of an MPEG-4 Part 2 AVI written with at most one consecutive B-frame
            (``write_video(..., codec="mpeg4", bframes=1)``).
        destination: path of the packed AVI to write.

    Returns:
        ``destination``.

    Example:
    ```python
    write_video("plain.avi", index_frames(80, 48, 64), codec="mpeg4", keyframe_interval=12, bframes=1)
    pack_bframes("plain.avi", "packed.avi")
    ```
    """
    import av

    with av.open(source) as container:
        stream = container.streams.video[0]
        packets = [(bytes(packet), packet.is_keyframe) for packet in container.demux(stream) if packet.size]

    def vop_type(data):
        return data[data.find(_VOP) + 4] >> 6

    # N-VOP: P type, modulo_time_base 0, marker, 5-bit time increment (25 fps), marker, vop_coded 0, stuffing.
    nvop = _VOP + int("0101" + "00000" + "1" + "0" + "01111", 2).to_bytes(2, "big")
    chunks, position = [], 0
    while position < len(packets):
        data, key = packets[position]
        if key:
            start = data.find(_VOP)
            data = data[:start] + b"\x00\x00\x01\xb2DivX503b1393p" + data[start:]
        follower = packets[position + 1][0] if position + 1 < len(packets) else None
        if vop_type(data) != 2 and follower is not None and vop_type(follower) == 2:
            chunks += [(data + follower, key), (nvop, False)]
            position += 2
        else:
            chunks.append((data, key))
            position += 1
    with av.open(source) as container, av.open(destination, "w") as output:
        stream = container.streams.video[0]
        out_stream = output.add_stream_from_template(stream)
        for number, (data, key) in enumerate(chunks):
            packet = av.Packet(data)
            packet.pts = packet.dts = number
            packet.time_base, packet.stream, packet.is_keyframe = stream.time_base, out_stream, key
            output.mux(packet)
    return destination


@dataclasses.dataclass
class ReferenceDecode:
    """What a plain sequential decode of a file gives: the reference `read_clip` is exact against.

    Attributes:
        frames: list of uint8 RGB arrays ``(height, width, 3)`` (empty when ``keep_frames=False``).
        digests: list of bytes: a digest of each frame's RGB pixels, in order.
        damage: ``(frame, reason)`` of the first packet that fails to decode or the first frame the decoder flags
            as corrupt (it concealed errors), or None for an intact decode.
    """

    frames: list
    digests: list
    damage: object = None

    @property
    def intact(self):
        """Frames before the first damage (all of them for an intact decode)."""
        return len(self.digests) if self.damage is None else self.damage[0]


def reference_decode(path, keep_frames=True):
    """Decodes every frame of ``path`` from the start with PyAV, going on past packets that fail.

    This is the reference of the decoding contract (`keras_sportsnet.data.read_clip` returns exactly these frames
    at the indices asked for, or raises `VideoError`), written independently of the library's decoder: one thread,
    no seeking, every frame converted to RGB.

    Args:
        path: str. A video file.
        keep_frames: bool. Keep the frames (else only their digests: long videos at full resolution).

    Returns:
        `ReferenceDecode`.

    Example:
    ```python
    reference = reference_decode("clip.avi", keep_frames=False)
    clip = ksn.data.read_clip("clip.avi", [5, 6])
    assert [digest(frame) for frame in clip] == reference.digests[5:7]
    ```
    """
    import av

    result = ReferenceDecode([], [])

    def damage(reason):
        if result.damage is None:
            result.damage = (len(result.digests), reason)

    try:
        with av.open(path, metadata_errors="ignore") as container:
            if not container.streams.video or container.streams.video[0].codec_context is None:
                damage("no decodable video stream")
                return result
            stream = container.streams.video[0]
            stream.thread_type = "NONE"
            for packet in container.demux(stream):  # the last, empty packet flushes the decoder
                try:
                    decoded = packet.decode()
                except (av.FFmpegError, EOFError) as error:
                    damage(f"{type(error).__name__}: {error}")
                    continue
                for frame in decoded:
                    if frame.is_corrupt:
                        damage("a frame the decoder flags as corrupt")
                    rgb = frame.to_ndarray(format="rgb24")
                    result.digests.append(digest(rgb))
                    if keep_frames:
                        result.frames.append(rgb)
    except Exception as error:  # noqa: BLE001 - whatever stops the reference decode is where it stops
        damage(f"{type(error).__name__}: {error}")
    return result


def digest(frame):
    """A digest of a uint8 frame's pixels and shape (equal digests: equal frames)."""
    frame = np.ascontiguousarray(frame)
    return hashlib.blake2b(repr(frame.shape).encode() + frame.tobytes(), digest_size=16).digest()
