"""Small synthetic videos, written with PyAV, for tests, examples and benchmarks.

Every frame carries its own index as a row of black/white bars (`frame_code`),
so a reader can check that it got exactly the frames it asked for, whatever
the codec did to the pixels.
"""

import fractions
import os

import numpy as np

__all__ = ["index_frames", "frame_code", "write_video", "CODECS"]

# container extension -> (codec, pixel format)
CODECS = {
    "h264": ("libx264", "yuv420p"),
    "vp9": ("libvpx-vp9", "yuv420p"),
    "mpeg4": ("mpeg4", "yuv420p"),
    "mjpeg": ("mjpeg", "yuvj420p"),
}
_BITS = 12


def index_frames(num_frames, height=64, width=64, seed=0):
    """uint8 frames ``(num_frames, height, width, 3)`` that encode their index.

    The top half holds `_BITS` vertical bars, white for a 1 bit of the frame
    index (least significant bit on the left); the bottom half is seeded
    colour noise blurred into blobs that drift with time, so that codecs see
    motion.

    Args:
        num_frames: int. Number of frames.
        height, width: int. Frame size (width >= 2 * 12 pixels).
        seed: int. Seed of the background.

    Example:
    >>> frames = index_frames(30, 48, 64)
    >>> frame_code(frames[17])
    17
    """
    if width < 2 * _BITS:
        raise ValueError(f"`width` must be at least {2 * _BITS}. Received: width={width}")
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 256, (height // 8 + 2, width // 8 + 2, 3), dtype=np.uint8)
    background = np.kron(background, np.ones((8, 8, 1), np.uint8))
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    bar = width // _BITS
    for index in range(num_frames):
        shift = index % 8
        frames[index] = background[shift : shift + height, shift : shift + width]
        top = frames[index, : height // 2]
        top[:] = 0
        for bit in range(_BITS):
            if (index >> bit) & 1:
                top[:, bit * bar : (bit + 1) * bar] = 255
    return frames


def frame_code(frame):
    """Reads back the index that `index_frames` drew into a frame (uint8 HxWx3)."""
    height, width = frame.shape[:2]
    bar = width // _BITS
    top = frame[: height // 2].astype(np.float32).mean(axis=(0, 2))
    bits = [top[b * bar + bar // 4 : (b + 1) * bar - bar // 4].mean() > 127 for b in range(_BITS)]
    return sum(1 << b for b, on in enumerate(bits) if on)


def write_video(path, frames, fps=25, codec="h264", keyframe_interval=None, rotation=None, audio=False, bframes=None):
    """Encodes uint8 RGB frames into a video file with PyAV.

    Args:
        path: output path; the container follows the extension (.mp4, .avi, .webm, .mkv).
        frames: uint8 array ``(T, H, W, 3)`` (H and W even for 4:2:0 codecs).
        fps: int. Frame rate.
        codec: one of `CODECS` (``"h264"``, ``"vp9"``, ``"mpeg4"``, ``"mjpeg"``).
        keyframe_interval: int or None. GOP size (frames between keyframes).
        rotation: None or degrees (90, 180, 270) written as display-matrix side data: the
            stored picture is to be turned that many degrees clockwise for display (the
            convention of the "rotate" tag phones write; read back as ``-frame.rotation``).
        audio: bool. Add a silent AAC/Opus audio stream.
        bframes: int or None. Maximum consecutive B-frames (None: codec default).

    Returns:
        ``path``.

    Example:
    ```python
    write_video("clip.mp4", index_frames(50, 64, 64), keyframe_interval=25)
    ```
    """
    import av

    if codec not in CODECS:
        raise ValueError(f"`codec` must be one of {list(CODECS)}. Received: codec={codec!r}")
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            f"`frames` must be uint8 (T, H, W, 3). Received: shape={frames.shape}, dtype={frames.dtype}"
        )
    codec_name, pix_fmt = CODECS[codec]
    tmp = f"{path}.tmp{os.getpid()}{os.path.splitext(path)[1]}"
    with av.open(tmp, mode="w") as container:
        stream = container.add_stream(codec_name, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        if keyframe_interval:
            stream.codec_context.gop_size = keyframe_interval
        if bframes is not None:
            stream.codec_context.max_b_frames = bframes
        if codec == "h264":
            options = {"preset": "ultrafast", "crf": "18"}
            if keyframe_interval:
                options["x264-params"] = f"keyint={keyframe_interval}:min-keyint={keyframe_interval}:scenecut=0"
            stream.options = options
        elif codec == "vp9":
            stream.options = {"deadline": "realtime", "cpu-used": "8", "crf": "30", "b": "0"}
        elif codec == "mpeg4":
            stream.bit_rate = 4_000_000
        if rotation:
            # Display-matrix side data (the old "rotate" tag is ignored by FFmpeg >= 7): the
            # picture is to be turned `rotation` degrees clockwise for display, as a phone's
            # "rotate=90" tag says; FFmpeg's matrix angle is counter-clockwise, hence the sign.
            stream.set_display_rotation(-rotation)
        audio_stream = None
        if audio:
            audio_stream = container.add_stream("aac", rate=16000)
        for frame in frames:
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if audio_stream is not None:
            samples = int(len(frames) / fps * 16000)
            silence = np.zeros((1, samples), np.float32)
            audio_frame = av.AudioFrame.from_ndarray(silence, format="fltp", layout="mono")
            audio_frame.sample_rate = 16000
            audio_frame.time_base = fractions.Fraction(1, 16000)
            audio_frame.pts = 0
            for packet in audio_stream.encode(audio_frame):
                container.mux(packet)
            for packet in audio_stream.encode():
                container.mux(packet)
    os.replace(tmp, path)
    return path
