"""Which frames of a video make a clip: seeded, frame-based clip sampling.

Pure Python plus NumPy's random generators; no TensorFlow. A sampler returns
`SampledClip`s, whose ``indices`` are exactly the frame indices a decoder
reads (``-1`` meaning a black frame, see ``"pad"``).

A clip is `ClipGeometry.num_frames` frames `ClipGeometry.frame_stride` apart,
so it covers ``span = (num_frames - 1) * frame_stride + 1`` frames of the
video: frames ``start, start + stride, ..., start + span - 1``. A clip
*fits* when ``0 <= start <= num_video_frames - span``; these are the *valid
starts*. When no start is valid (the video is shorter than the span), every
sampler uses ``start = 0`` and applies the short-video policy.

Short-video policies (`SHORT_VIDEO_POLICIES`), for indices ``i`` past the last
frame (``i >= num_video_frames``):

- ``"loop"``: ``i % num_video_frames`` (the video plays again from frame 0).
- ``"repeat_last"``: ``num_video_frames - 1`` (the last frame is held).
- ``"pad"``: ``-1``, a black frame.
- ``"skip"``: no clip. The sampler still returns one `SampledClip` per clip
  asked for, with ``indices == ()`` and ``policy == "skip"``
  (`SampledClip.skipped`); the caller drops these and counts them.

`SampledClip.policy` is None when the clip fit and the policy's name when it
was applied, so callers can count and report how often it happened.

Seeding: `random_clip` and `random_clips` take a seed or a NumPy generator;
the datasets derive them from one seed in `keras_sportsnet.data.random`
(`video_seed` for the clips of one video), so clips never depend on the
order videos are visited in, nor on the worker or shard that samples them.
"""

import dataclasses
from typing import NamedTuple

import numpy as np

from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_int
from keras_sportsnet.utils.checks import check_size
from keras_sportsnet.utils.checks import is_int

__all__ = [
    "SHORT_VIDEO_POLICIES",
    "ClipGeometry",
    "SampledClip",
    "clip_at",
    "random_clip",
    "random_clips",
    "uniform_clips",
]

SHORT_VIDEO_POLICIES = ("loop", "repeat_last", "pad", "skip")
"""What to do with clip frames past the end of a video (see the module doc)."""

PAD_INDEX = -1
"""The frame index meaning "a black frame" (policy ``"pad"``)."""


def _check_policy(policy):
    check_choice("policy", policy, SHORT_VIDEO_POLICIES)
    return policy


def _check_video_frames(num_video_frames):
    if is_int(num_video_frames) and num_video_frames < 1:
        raise ValueError(
            f"`num_video_frames` must be an int >= 1: the video has no frames. Received: num_video_frames={num_video_frames!r}"
        )
    return check_int("num_video_frames", num_video_frames, minimum=1)


@dataclasses.dataclass(frozen=True)
class ClipGeometry:
    """The frames and frame size a model reads.

    Args:
        num_frames: int >= 1. Frames per clip.
        frame_stride: int >= 1. Gap between consecutive clip frames in the
            video (15 for the paper's late fusion, else 1).
        image_size: None, an int, or ``(height, width)``. Frame size the model
            reads (stored as a ``(height, width)`` tuple); None if unknown.

    Example:
    ```python
    late = ClipGeometry(num_frames=2, frame_stride=15, image_size=170)
    late.span                           # 16 frames of video
    late.offsets                        # (0, 15)
    ClipGeometry.from_model(ksn.SlowFusion()).num_frames   # 10
    ```
    """

    num_frames: int
    frame_stride: int = 1
    image_size: tuple = None

    def __post_init__(self):
        object.__setattr__(self, "num_frames", check_int("num_frames", self.num_frames, minimum=1))
        object.__setattr__(self, "frame_stride", check_int("frame_stride", self.frame_stride, minimum=1))
        if self.image_size is not None:
            object.__setattr__(self, "image_size", check_size("image_size", self.image_size))

    @property
    def span(self):
        """Frames of video one clip covers: ``(num_frames - 1) * frame_stride + 1``."""
        return (self.num_frames - 1) * self.frame_stride + 1

    @property
    def offsets(self):
        """Frame offsets of the clip's frames from its start: ``0, s, 2s, ...``."""
        return tuple(range(0, self.span, self.frame_stride))

    @classmethod
    def from_model(cls, model):
        """The geometry of a keras_sportsnet model (its ``clip_geometry``).

        Args:
            model: a keras_sportsnet backbone, classifier or ensemble, or any
                object with a ``clip_geometry`` dict (``num_frames``,
                ``frame_stride``, ``image_size``).
        """
        geometry = getattr(model, "clip_geometry", None)
        if geometry is None:
            raise TypeError(
                "`model` must have a `clip_geometry` (keras_sportsnet backbones, "
                "classifiers and ensembles do). Received: "
                f"model={type(model).__name__} {getattr(model, 'name', '')!r}"
            )
        return cls(**dict(geometry))


def _as_geometry(geometry):
    """A `ClipGeometry` from a `ClipGeometry`, a mapping or a model."""
    if isinstance(geometry, ClipGeometry):
        return geometry
    if isinstance(geometry, dict):
        return ClipGeometry(**geometry)
    if hasattr(geometry, "clip_geometry"):
        return ClipGeometry.from_model(geometry)
    raise TypeError(
        "`geometry` must be a ClipGeometry, a dict of its fields or a model with a "
        f"`clip_geometry`. Received: geometry={geometry!r}"
    )


class SampledClip(NamedTuple):
    """One sampled clip.

    Attributes:
        indices: tuple of int. The video frames to read, in order; ``-1`` is a
            black frame (``"pad"``); ``()`` when the clip was skipped.
        start: int. The video frame the clip starts at.
        policy: None when the clip fit in the video, else the short-video
            policy that was applied (one of `SHORT_VIDEO_POLICIES`).
    """

    indices: tuple
    start: int
    policy: str = None

    @property
    def skipped(self):
        """True when policy ``"skip"`` dropped this clip (``indices == ()``)."""
        return self.policy == "skip"


def _clip(start, geometry, num_video_frames, policy):
    """`clip_at` on validated arguments."""
    indices = [start + offset for offset in geometry.offsets]
    if indices[-1] < num_video_frames:
        return SampledClip(tuple(indices), start, None)
    if policy == "skip":
        return SampledClip((), start, policy)
    if policy == "loop":
        indices = [i % num_video_frames for i in indices]
    elif policy == "repeat_last":
        indices = [min(i, num_video_frames - 1) for i in indices]
    else:  # "pad"
        indices = [i if i < num_video_frames else PAD_INDEX for i in indices]
    return SampledClip(tuple(indices), start, policy)


def _num_valid_starts(geometry, num_video_frames):
    """How many starts fit (0 when the video is shorter than the span)."""
    return max(num_video_frames - geometry.span + 1, 0)


def clip_at(start, geometry, num_video_frames, policy="loop"):
    """The clip starting at frame `start`.

    Args:
        start: int in ``[0, num_video_frames)``.
        geometry: `ClipGeometry` (or a model with a ``clip_geometry``).
        num_video_frames: int >= 1. Frames in the video.
        policy: one of `SHORT_VIDEO_POLICIES`, applied to indices past the
            end (whether the video is short or `start` is late).

    Returns:
        A `SampledClip`.

    Example:
    >>> clip_at(3, ClipGeometry(4), num_video_frames=5, policy="loop")
    SampledClip(indices=(3, 4, 0, 1), start=3, policy='loop')
    """
    geometry = _as_geometry(geometry)
    num_video_frames = _check_video_frames(num_video_frames)
    _check_policy(policy)
    if not is_int(start) or not 0 <= start < num_video_frames:
        raise ValueError(
            f"`start` must be an int in [0, {num_video_frames - 1}] (a frame of the "
            f"video). Received: start={start!r}"
        )
    return _clip(start, geometry, num_video_frames, policy)


def _as_generator(rng_or_seed, argument, allow_unseeded=True):
    """A `numpy.random.Generator` from a seed, seed list, SeedSequence or Generator."""
    if isinstance(rng_or_seed, np.random.SeedSequence):
        return np.random.default_rng(rng_or_seed)
    if allow_unseeded:
        if isinstance(rng_or_seed, np.random.Generator):
            return rng_or_seed
        if rng_or_seed is None:
            return np.random.default_rng()
    if is_int(rng_or_seed) and rng_or_seed >= 0:
        return np.random.default_rng(int(rng_or_seed))
    if (
        isinstance(rng_or_seed, (list, tuple))
        and rng_or_seed
        and all(is_int(v) and v >= 0 for v in rng_or_seed)
    ):
        return np.random.default_rng([int(v) for v in rng_or_seed])
    allowed = "an int >= 0, a list of ints >= 0, a numpy.random.SeedSequence"
    if allow_unseeded:
        allowed += ", a numpy.random.Generator or None"
    raise ValueError(f"`{argument}` must be {allowed}. Received: {argument}={rng_or_seed!r}")


def random_clip(num_video_frames, geometry, rng_or_seed=None, policy="loop"):
    """One random clip, for training (the paper samples a random clip per video).

    The start is uniform over the valid starts ``0 .. num_video_frames - span``;
    a video shorter than the span gives ``start = 0`` and `policy`.

    Args:
        num_video_frames: int >= 1. Frames in the video.
        geometry: `ClipGeometry` (or a model with a ``clip_geometry``).
        rng_or_seed: int seed, list of ints,
            `numpy.random.SeedSequence`, `numpy.random.Generator` (advanced in
            place), or None for fresh entropy (not reproducible).
        policy: one of `SHORT_VIDEO_POLICIES`.

    Returns:
        A `SampledClip`.

    Example:
    ```python
    geometry = ClipGeometry.from_model(model)
    clip = random_clip(300, geometry, [seed, video_index])
    frames = read_clip(path, clip.indices)
    ```
    """
    geometry = _as_geometry(geometry)
    num_video_frames = _check_video_frames(num_video_frames)
    _check_policy(policy)
    rng = _as_generator(rng_or_seed, "rng_or_seed")
    valid = _num_valid_starts(geometry, num_video_frames)
    start = int(rng.integers(valid)) if valid else 0
    return _clip(start, geometry, num_video_frames, policy)


def uniform_clips(num_video_frames, geometry, num_clips=1, policy="loop"):
    """`num_clips` evenly spaced clips (deterministic).

    With ``m`` valid starts, clip ``i`` starts at ``((2 i + 1) m) // (2 num_clips)``,
    the middle of the ``i``-th of `num_clips` equal parts of the valid starts;
    one clip is the centre clip. Starts repeat when ``num_clips > m``.

    Args:
        num_video_frames: int >= 1. Frames in the video.
        geometry: `ClipGeometry` (or a model with a ``clip_geometry``).
        num_clips: int >= 1.
        policy: one of `SHORT_VIDEO_POLICIES`.

    Returns:
        A list of `num_clips` `SampledClip`, sorted by start.

    Example:
    >>> [c.start for c in uniform_clips(100, ClipGeometry(10), num_clips=3)]
    [15, 45, 75]
    """
    geometry = _as_geometry(geometry)
    num_video_frames = _check_video_frames(num_video_frames)
    num_clips = check_int("num_clips", num_clips, minimum=1)
    _check_policy(policy)
    valid = _num_valid_starts(geometry, num_video_frames)
    starts = [((2 * i + 1) * valid) // (2 * num_clips) for i in range(num_clips)]
    return [_clip(start, geometry, num_video_frames, policy) for start in starts]


def random_clips(num_video_frames, geometry, num_clips=20, seed=0, policy="loop"):
    """`num_clips` random clips of one video, for video-level evaluation.

    The paper evaluates a video on 20 random clips. Starts are uniform over
    the valid starts, distinct while there are at least `num_clips` of them
    (sampling without replacement), else drawn with replacement. The same
    arguments always give the same clips.

    Args:
        num_video_frames: int >= 1. Frames in the video.
        geometry: `ClipGeometry` (or a model with a ``clip_geometry``).
        num_clips: int >= 1. Clips per video (20 in the paper).
        seed: int >= 0, list of ints >= 0 (e.g. ``[seed, video_index]`` for a
            different set per video) or `numpy.random.SeedSequence`; never
            None, evaluation clips must be reproducible.
        policy: one of `SHORT_VIDEO_POLICIES`.

    Returns:
        A list of `num_clips` `SampledClip`, sorted by start.

    Example:
    ```python
    clips = random_clips(num_frames, geometry, 20, seed=[seed, video_index])
    ```
    """
    geometry = _as_geometry(geometry)
    num_video_frames = _check_video_frames(num_video_frames)
    num_clips = check_int("num_clips", num_clips, minimum=1)
    _check_policy(policy)
    rng = _as_generator(seed, "seed", allow_unseeded=False)
    valid = _num_valid_starts(geometry, num_video_frames)
    if valid:
        starts = sorted(int(s) for s in rng.choice(valid, num_clips, replace=valid < num_clips))
    else:
        starts = [0] * num_clips
    return [_clip(start, geometry, num_video_frames, policy) for start in starts]
