"""Write uint8 RGB frames to a video file with PyAV: small videos for examples, tests, benchmarks, the embedded dataset.

Example:
```python
from keras_sportsnet.data.encoding import write_video
write_video("clip.mp4", frames, fps=25, codec="h264", keyframe_interval=25)
```
"""

import fractions
import os

import numpy as np

from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_int
from keras_sportsnet.utils.files import atomic_write

__all__ = ["CODECS", "write_video"]

CODECS = {
    "h264": ("libx264", "yuv420p"),
    "vp9": ("libvpx-vp9", "yuv420p"),
    "mpeg4": ("mpeg4", "yuv420p"),
    "mjpeg": ("mjpeg", "yuvj420p"),
}
"""Codec name -> (FFmpeg encoder, pixel format) that `write_video` accepts."""

AAC_PRIMING = 1024
"""Samples of encoder delay an AAC stream starts with (its first packet's pts is -1024, as FFmpeg writes it)."""


def write_video(
    path,
    frames,
    fps=25,
    codec="h264",
    keyframe_interval=None,
    rotation=None,
    audio=False,
    bframes=None,
    *,
    audio_rate=16000,
):
    """Encodes uint8 RGB frames into a video file with PyAV, atomically.

    The file appears complete or not at all (written under a temporary name, then renamed). With ``audio=True``
    a silent AAC stream (Opus for ``.webm``) is interleaved with the video the way FFmpeg's command line does it,
    encoder priming included: in Matroska the video then starts ``1024 / audio_rate`` seconds after 0.

    Args:
        path: output path; the container follows the extension (.mp4, .avi, .webm, .mkv, .mov).
        frames: uint8 array ``(T, H, W, 3)`` (H and W even for 4:2:0 codecs such as h264).
        fps: int. Frame rate.
        codec: one of `CODECS` (``"h264"``, ``"vp9"``, ``"mpeg4"``, ``"mjpeg"``).
        keyframe_interval: int or None. GOP size (frames between keyframes).
        rotation: None or degrees (90, 180, 270) written as display-matrix side data: the stored picture is to
            be turned that many degrees clockwise for display (the convention of the "rotate" tag phones write).
        audio: bool. Add a silent audio stream.
        bframes: int or None. Maximum consecutive B-frames (None: codec default).
        audio_rate: int. Sample rate of the audio stream.

    Returns:
        ``path``.

    Example:
    ```python
    from keras_sportsnet.testing.videos import index_frames
    write_video("clip.mp4", index_frames(50, 64, 64), keyframe_interval=25)
    ```
    """
    import av

    check_choice("codec", codec, list(CODECS))
    fps = check_int("fps", fps, minimum=1)
    keyframe_interval = check_int("keyframe_interval", keyframe_interval, minimum=1, allow_none=True)
    bframes = check_int("bframes", bframes, minimum=0, allow_none=True)
    audio_rate = check_int("audio_rate", audio_rate, minimum=1000)
    if rotation not in (None, 0, 90, 180, 270):
        raise ValueError(f"`rotation` must be None, 0, 90, 180 or 270. Received: rotation={rotation!r}")
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise ValueError(
            "`frames` must be a non-empty uint8 array (T, H, W, 3). "
            f"Received: shape={frames.shape}, dtype={frames.dtype}"
        )
    codec_name, pix_fmt = CODECS[codec]
    webm = os.fspath(path).lower().endswith(".webm")

    def write(temporary):
        with av.open(temporary, mode="w") as container:
            stream = container.add_stream(codec_name, rate=fps)
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = pix_fmt
            if keyframe_interval:
                stream.codec_context.gop_size = keyframe_interval
            if bframes is not None:
                stream.codec_context.max_b_frames = bframes
            if codec == "h264":
                options = {"preset": "ultrafast", "crf": "18"}
                params = [] if bframes is None else [f"bframes={bframes}"]
                if keyframe_interval:
                    params.append(f"keyint={keyframe_interval}:min-keyint={keyframe_interval}:scenecut=0")
                if params:
                    options["x264-params"] = ":".join(params)
                stream.options = options
            elif codec == "vp9":
                stream.options = {"deadline": "realtime", "cpu-used": "8", "crf": "30", "b": "0"}
            elif codec == "mpeg4":
                stream.bit_rate = 4_000_000
            if rotation:
                # Display-matrix side data (the old "rotate" tag is ignored by FFmpeg >= 7): FFmpeg's matrix
                # angle is counter-clockwise, hence the sign.
                stream.set_display_rotation(-rotation)
            sound = _Silence(container, audio_rate, "libopus" if webm else "aac", len(frames) / fps) if audio else None
            for number, frame in enumerate(frames):
                video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
                video_frame.pts = number
                for packet in stream.encode(video_frame):
                    container.mux(packet)
                if sound is not None:
                    sound.until((number + 1) / fps)
            for packet in stream.encode():
                container.mux(packet)
            if sound is not None:
                sound.finish()

    atomic_write(path, write)
    return path


class _Silence:
    """A silent audio stream encoded alongside the video, in step with it (as FFmpeg interleaves)."""

    def __init__(self, container, rate, encoder, seconds):
        import av

        self.av = av
        self.container = container
        self.rate = 48000 if encoder == "libopus" else rate
        self.stream = container.add_stream(encoder, rate=self.rate)
        self.stream.layout = "mono"
        self.samples = int(round(seconds * self.rate))
        self.block = 960 if encoder == "libopus" else 1024
        self.offset = 0 if encoder == "libopus" else -AAC_PRIMING  # the encoder delay FFmpeg's CLI writes
        self.done = 0

    def until(self, seconds):
        while self.done < min(self.samples, int(seconds * self.rate)):
            count = min(self.block, self.samples - self.done)
            frame = self.av.AudioFrame.from_ndarray(np.zeros((1, count), np.float32), format="fltp", layout="mono")
            frame.sample_rate = self.rate
            frame.time_base = fractions.Fraction(1, self.rate)
            frame.pts = self.done + self.offset
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
            self.done += count

    def finish(self):
        self.until(self.samples / self.rate)
        for packet in self.stream.encode():
            self.container.mux(packet)
