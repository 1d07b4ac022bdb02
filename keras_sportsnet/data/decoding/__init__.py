"""Frame-exact video decoding: probe a video, read clips of it by frame index.

A clip is a list of frame indices, and the decoder returns exactly those frames as uint8 RGB ``(T, H, W, 3)``, with
rotation metadata applied, whatever the container's timestamps say (variable frame rate, odd time bases, B-frames
packed into AVI chunks): the frames a sequential decode of the file gives at those indices, or a `VideoError`
naming the file and the damage.

The package has three parts:

- `base`: the `VideoDecoder` interface (file checks, index cache, frame-size budget, clip assembly), `VideoInfo`
  and the registry (`register_decoder`, `get_decoder`);
- `pyav`: the default backend, `PyAVDecoder` (FFmpeg through PyAV);
- `mpeg4`: the MPEG-4 Part 2 bitstream facts the backend needs for DivX/Xvid AVIs;

and this front door: `probe_video`, `read_clip`, `read_clips`.

Memory is bounded in frame size: ``short_side=`` scales each frame down while it is decoded (libswscale), so no
more than a frame or two is ever held at the stored resolution, and ``max_pixels=`` (default
`DEFAULT_MAX_PIXELS`, 4096x4096) refuses larger frames when the video is probed.
"""

from keras_sportsnet.data.decoding.base import BLACK_FRAME
from keras_sportsnet.data.decoding.base import DEFAULT_DECODER
from keras_sportsnet.data.decoding.base import DEFAULT_MAX_PIXELS
from keras_sportsnet.data.decoding.base import VideoDecoder
from keras_sportsnet.data.decoding.base import VideoInfo
from keras_sportsnet.data.decoding.base import file_signature
from keras_sportsnet.data.decoding.base import get_decoder
from keras_sportsnet.data.decoding.base import register_decoder
from keras_sportsnet.data.decoding.base import scaled_size
from keras_sportsnet.data.decoding.base import unregister_decoder
from keras_sportsnet.data.decoding.pyav import PyAVDecoder
from keras_sportsnet.data.errors import VideoError

__all__ = [
    "BLACK_FRAME",
    "DEFAULT_DECODER",
    "DEFAULT_MAX_PIXELS",
    "PyAVDecoder",
    "VideoDecoder",
    "VideoError",
    "VideoInfo",
    "file_signature",
    "get_decoder",
    "probe_video",
    "read_clip",
    "read_clips",
    "register_decoder",
    "scaled_size",
    "unregister_decoder",
]

register_decoder(DEFAULT_DECODER, PyAVDecoder)


def probe_video(path, *, max_pixels=DEFAULT_MAX_PIXELS, decoder=None):
    """Probes a video: exact frame count, fps, displayed size, duration, rotation, audio.

    Cheap and bounded (one demux pass and a few frames decoded), cached in-process until the file's size or
    modification time changes.

    Args:
        path: str or path-like.
        max_pixels: int. Budget of pixels per frame (width * height); a larger frame raises `VideoError` before
            anything is decoded at that size. Default `DEFAULT_MAX_PIXELS` (4096x4096: 4K passes).
        decoder: str or None. Registered decoder name (default ``"pyav"``).

    Returns:
        `VideoInfo`.

    Raises:
        VideoError: the file is missing, a folder, a FIFO or device, empty, not a video, audio-only, truncated,
            damaged, or its frames are over the ``max_pixels`` budget; the message names the file.

    Example:
    ```python
    info = ksn.data.probe_video("v_Biking_g01_c01.avi")
    print(info.num_frames, info.fps, info.height, info.width)
    ```
    """
    return get_decoder(decoder).probe(path, max_pixels=max_pixels)


def read_clip(path, frame_indices, *, short_side=None, max_pixels=DEFAULT_MAX_PIXELS, decoder=None):
    """Exactly the frames ``frame_indices`` of a video, uint8 RGB ``(T, H, W, 3)``.

    Args:
        path: str or path-like.
        frame_indices: sequence of ints in ``[0, num_frames)``, any order, repeats allowed; ``-1`` gives an
            all-black frame (padding).
        short_side: int or None. Every frame whose shorter side is longer than ``short_side`` is scaled down
            while it is decoded (aspect kept, shorter side ``short_side``), so no more than a frame or two is
            ever held at the stored resolution; smaller frames are returned as stored. Pipelines pass their
            ``resize_to``. None: frames as stored.
        max_pixels: int. Budget of pixels per frame (see `probe_video`).
        decoder: str or None. Registered decoder name (default ``"pyav"``).

    Returns:
        uint8 array ``(len(frame_indices), height, width, 3)`` as displayed (rotation metadata applied).

    Raises:
        VideoError: unreadable or damaged file, or an index >= the video's frame count (the message says how
            many frames it has).

    Example:
    ```python
    clip = ksn.data.read_clip("v_Biking_g01_c01.avi", range(40, 50))
    clip.shape  # (10, 240, 320, 3)
    small = ksn.data.read_clip("phone_4k.mp4", range(40, 50), short_side=200)
    small.shape  # (10, 200, 355, 3)
    ```
    """
    return get_decoder(decoder).read(path, frame_indices, short_side=short_side, max_pixels=max_pixels)


def read_clips(path, clips, *, short_side=None, max_pixels=DEFAULT_MAX_PIXELS, decoder=None):
    """Several clips of one video, decoded in ONE forward pass (evaluation).

    Much faster than one `read_clip` per clip on long-GOP files: the union of the frames is decoded in order,
    seeking only past stretches that contain a keyframe.

    Args:
        path: str or path-like.
        clips: sequence of frame-index sequences (see `read_clip`).
        short_side: int or None. See `read_clip`.
        max_pixels: int. See `probe_video`.
        decoder: str or None. Registered decoder name (default ``"pyav"``).

    Returns:
        list of uint8 arrays ``(len(clip), height, width, 3)``, one per clip.

    Example:
    ```python
    starts = range(0, 200, 10)
    clips = ksn.data.read_clips("video.mp4", [range(s, s + 10) for s in starts], short_side=200)
    ```
    """
    return get_decoder(decoder).read_many(path, clips, short_side=short_side, max_pixels=max_pixels)
