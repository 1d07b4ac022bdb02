"""Synthetic sports videos where motion matters: a CPU-sized stand-in for Sports-1M and UCF-101.

Every video is a small procedurally rendered "sports scene": a field (colour and
texture) with a few objects (balls, player blobs, sticks) that move. Classes are
defined by one of three cues, so that what each of the paper's models *can* see
is known by construction:

- ``"appearance"``: a single frame identifies the class (a unique field / object
  colour scheme); its motion is drawn from a mixture shared by all appearance
  classes of the set, so motion carries no information about it.
- ``"motion"``: the class shares its appearance distribution exactly (same
  colours, sizes, textures, drawn from the same random ranges) with the other
  classes of its motion group and differs from them only by how the objects move
  (direction, speed, bounce, periodic...; never left vs right, which the paper's
  random horizontal flip and flipped evaluation view would erase). Any single frame has the same
  distribution for all of them, object positions included: the scene lives on a
  torus (objects leaving on the right come back on the left) and every object
  starts at a uniformly random position, so at every time step its position is
  uniform whatever the motion. A single-frame model is at chance among them.
- ``"both"``: a 2x2 factorial group (two appearances x two motions): a class
  shares its appearance with one class and its motion with another, so neither
  cue alone separates it (a single frame gets half of the group right).

Nuisances (all optional, each from its own random stream so that switching one
on leaves the rest of the video unchanged): camera pan and zoom, static clutter,
global lighting changes, and label noise.

Each video is rendered from its own `numpy.random.Generator`, derived from
``(seed, class name, index)`` with `numpy.random.SeedSequence`, so a video does
not depend on which other videos are generated (subsets, partial or parallel
generation give bit-identical frames).

Example:
```python
from keras_sportsnet.datasets.synthetic_sports import synthetic_sports

data = synthetic_sports(20, num_frames=40, size=64, seed=0)
data.videos.shape          # (220, 40, 64, 64, 3) uint8
data.class_info["gym_rise"]   # 'motion'
videos = data.write("synthetic_sports/")   # <class>/<class>_<k>.mp4, a VideoList
```
"""

import dataclasses
import hashlib
import json
import logging
import os
import re
import typing
import zlib

import numpy as np

__all__ = [
    "CLASS_SETS",
    "CUES",
    "SyntheticClip",
    "SyntheticSports",
    "class_descriptions",
    "iter_videos",
    "load_data",
    "plot_classes",
    "render_video",
    "synthetic_sports",
    "write_synthetic_sports",
]

_LOG = logging.getLogger(__name__)

# --------------------------------------------------------------------------- scene families
#
# A family is an appearance distribution: the field (base colour, a pattern drawn
# in a second colour) and the objects (shape, colour, size ranges, count). All
# colours get a uniform per-channel jitter of +-`jitter` per video. Sizes are in
# world units (1.0 = the frame width at zoom 1).

_FAMILIES = {
    # ---- sports set
    "soccer": {
        "description": "green grass with mowing stripes, two red players, a white ball",
        "background": {"pattern": "stripes", "colour": (58, 138, 58), "pattern_colour": (84, 166, 74), "jitter": 12},
        "objects": (
            {"shape": "ellipse", "colour": (205, 40, 40), "jitter": 20, "size": ((0.035, 0.045), (0.06, 0.08)), "count": 2},
            {"shape": "disc", "colour": (245, 245, 245), "jitter": 8, "size": ((0.045, 0.06),), "count": 1},
        ),
    },
    "ice_hockey": {
        "description": "white ice with red lines, a brown stick, a black puck",
        "background": {"pattern": "lines", "colour": (218, 228, 238), "pattern_colour": (200, 60, 70), "jitter": 10},
        "objects": (
            {"shape": "bar", "colour": (120, 75, 35), "jitter": 15, "size": ((0.09, 0.11), (0.011, 0.015)), "count": 1},
            {"shape": "ellipse", "colour": (25, 25, 25), "jitter": 10, "size": ((0.03, 0.036), (0.018, 0.022)), "count": 1},
        ),
    },
    "tennis": {
        "description": "blue court with white lines, an orange player, a yellow-green ball",
        "background": {"pattern": "lines", "colour": (40, 85, 165), "pattern_colour": (236, 236, 236), "jitter": 12},
        "objects": (
            {"shape": "ellipse", "colour": (232, 112, 40), "jitter": 15, "size": ((0.035, 0.045), (0.06, 0.08)), "count": 1},
            {"shape": "disc", "colour": (205, 232, 60), "jitter": 12, "size": ((0.035, 0.045),), "count": 1},
        ),
    },
    "gym": {
        "description": "grey plank floor, a teal player, a purple ball",
        "background": {"pattern": "planks", "colour": (128, 125, 120), "pattern_colour": (92, 90, 86), "jitter": 12},
        "objects": (
            {"shape": "ellipse", "colour": (30, 122, 122), "jitter": 15, "size": ((0.035, 0.045), (0.06, 0.08)), "count": 1},
            {"shape": "disc", "colour": (142, 50, 182), "jitter": 15, "size": ((0.045, 0.06),), "count": 1},
        ),
    },
    "beach": {
        "description": "sand, a magenta player, a blue ball",
        "background": {"pattern": "noise", "colour": (222, 196, 140), "pattern_colour": (196, 166, 112), "jitter": 12},
        "objects": (
            {"shape": "ellipse", "colour": (190, 60, 140), "jitter": 15, "size": ((0.035, 0.045), (0.06, 0.08)), "count": 1},
            {"shape": "disc", "colour": (40, 110, 225), "jitter": 15, "size": ((0.045, 0.06),), "count": 1},
        ),
    },
    "clay": {
        "description": "terracotta court with white lines, a dark navy player, a yellow ball",
        "background": {"pattern": "lines", "colour": (182, 88, 48), "pattern_colour": (240, 235, 225), "jitter": 12},
        "objects": (
            {"shape": "ellipse", "colour": (40, 40, 64), "jitter": 12, "size": ((0.035, 0.045), (0.06, 0.08)), "count": 1},
            {"shape": "disc", "colour": (236, 226, 50), "jitter": 12, "size": ((0.035, 0.045),), "count": 1},
        ),
    },
    # ---- transfer set
    "rugby": {
        "description": "olive field with stripes, two navy players, a brown oval ball",
        "background": {"pattern": "stripes", "colour": (92, 112, 38), "pattern_colour": (114, 134, 52), "jitter": 12},
        "objects": (
            {"shape": "ellipse", "colour": (30, 35, 115), "jitter": 15, "size": ((0.035, 0.045), (0.06, 0.08)), "count": 2},
            {"shape": "ellipse", "colour": (125, 75, 30), "jitter": 12, "size": ((0.05, 0.06), (0.032, 0.04)), "count": 1},
        ),
    },
    "curling": {
        "description": "pale ice, a yellow broom, a red stone",
        "background": {"pattern": "noise", "colour": (232, 236, 246), "pattern_colour": (200, 212, 236), "jitter": 8},
        "objects": (
            {"shape": "bar", "colour": (230, 200, 40), "jitter": 15, "size": ((0.08, 0.1), (0.012, 0.016)), "count": 1},
            {"shape": "disc", "colour": (185, 30, 45), "jitter": 15, "size": ((0.05, 0.06),), "count": 1},
        ),
    },
    "track": {
        "description": "blue running track with white lane lines, two yellow runners",
        "background": {"pattern": "lines", "colour": (60, 70, 140), "pattern_colour": (236, 236, 236), "jitter": 12},
        "objects": (
            {"shape": "ellipse", "colour": (240, 220, 60), "jitter": 15, "size": ((0.035, 0.045), (0.06, 0.08)), "count": 2},
        ),
    },
    "pool": {
        "description": "turquoise water with ripples, a pink swimmer, a yellow ball",
        "background": {"pattern": "ripples", "colour": (40, 165, 190), "pattern_colour": (96, 204, 218), "jitter": 12},
        "objects": (
            {"shape": "ellipse", "colour": (236, 170, 140), "jitter": 15, "size": ((0.035, 0.045), (0.06, 0.08)), "count": 1},
            {"shape": "disc", "colour": (246, 214, 40), "jitter": 12, "size": ((0.04, 0.055),), "count": 1},
        ),
    },
}

# --------------------------------------------------------------------------- motions
#
# Displacements in world units (the frame width) per frame; y points down.

_SLOW = (0.008, 0.014)  # ~0.5-0.9 px/frame at 64 px
_FAST = (0.025, 0.040)  # ~1.6-2.6 px/frame at 64 px

_MOTIONS = {
    "static": "objects stand still",
    "roll_slow": "constant slow speed, to the left or the right",
    "roll_fast": "constant fast speed, to the left or the right",
    "bounce": "vertical parabolic hops with floor contacts, no horizontal motion",
    "rally": "periodic horizontal back-and-forth (a sinusoid)",
    "lob": "one parabolic arc over the video (constant slow horizontal speed)",
    "rise": "constant slow speed upwards",
    "sink": "constant slow speed downwards",
    "orbit": "circular periodic motion, clockwise or counter-clockwise",
}

# The motion mixture of each set's appearance classes ("shared"): the same for all of them.
_SHARED = {
    "sports": ("static", "roll_slow", "roll_fast", "bounce", "rally", "lob"),
    "transfer": ("static", "rise", "sink", "orbit"),
}

# class name -> (family, motion, cue); names sorted, so that label order equals the
# sorted class folders that `keras_sportsnet.data.read_video_folder` infers.
_CLASSES = {
    "sports": {
        "beach_lob": ("beach", "lob", "both"),
        "beach_rally": ("beach", "rally", "both"),
        "clay_lob": ("clay", "lob", "both"),
        "clay_rally": ("clay", "rally", "both"),
        "gym_bounce": ("gym", "bounce", "motion"),
        "gym_rise": ("gym", "rise", "motion"),
        "gym_roll_fast": ("gym", "roll_fast", "motion"),
        "gym_sink": ("gym", "sink", "motion"),
        "ice_hockey": ("ice_hockey", "shared", "appearance"),
        "soccer": ("soccer", "shared", "appearance"),
        "tennis": ("tennis", "shared", "appearance"),
    },
    "transfer": {
        "curling": ("curling", "shared", "appearance"),
        "pool_down": ("pool", "sink", "motion"),
        "pool_orbit": ("pool", "orbit", "motion"),
        "pool_up": ("pool", "rise", "motion"),
        "rugby": ("rugby", "shared", "appearance"),
        "track": ("track", "shared", "appearance"),
    },
}

CLASS_SETS = tuple(_CLASSES)
CUES = ("appearance", "motion", "both")

_EXTENSIONS = {"h264": ".mp4", "mpeg4": ".mp4", "vp9": ".webm", "mjpeg": ".avi"}
_MANIFEST = "synthetic_sports_manifest.json"
_MANIFEST_FORMAT = "keras_sportsnet.synthetic_sports/1"


def class_descriptions(class_set="sports"):
    """What defines each class of a class set.

    Args:
        class_set: ``"sports"`` (11 classes, the Sports-1M role) or
            ``"transfer"`` (6 classes, the UCF-101 role; disjoint from "sports").

    Returns:
        dict ``{class name: {"cue", "scene", "motion", "description"}}`` in
        label order: ``cue`` is ``"appearance"``, ``"motion"`` or ``"both"``;
        ``scene`` the appearance family; ``motion`` the motion (``"shared"``:
        the set's common mixture); ``description`` a sentence.

    Example:
    >>> class_descriptions("transfer")["pool_up"]["cue"]
    'motion'
    """
    _check_choice("class_set", class_set, CLASS_SETS)
    result = {}
    for name, (family, motion, cue) in _CLASSES[class_set].items():
        if motion == "shared":
            moves = "a motion drawn from the mixture shared by the appearance classes (" + ", ".join(_SHARED[class_set]) + ")"
        else:
            moves = _MOTIONS[motion]
        result[name] = {
            "cue": cue,
            "scene": family,
            "motion": motion,
            "description": f"{_FAMILIES[family]['description']}; {moves}",
        }
    return result


# --------------------------------------------------------------------------- argument checks


def _check_choice(name, value, allowed):
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"`{name}` must be one of {list(allowed)}. Received: {name}={value!r}")


def _check_int(name, value, minimum, even=False):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum or (even and value % 2):
        kind = "an even int" if even else "an int"
        raise ValueError(f"`{name}` must be {kind} >= {minimum}. Received: {name}={value!r}")
    return int(value)


def _check_float(name, value, low, high=None):
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and np.isfinite(value) and value >= low and (high is None or value <= high)
    if not ok:
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"`{name}` must be a number {bounds}. Received: {name}={value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class _Config:
    num_videos_per_class: int
    class_set: str
    classes: tuple
    num_frames: int
    size: int
    seed: int
    camera_pan: float
    camera_zoom: float
    clutter: int
    lighting: float
    label_noise: float

    def to_dict(self):
        config = dataclasses.asdict(self)
        config["classes"] = list(self.classes)
        return config


def _resolve(
    num_videos_per_class, class_set, classes, num_frames, size, seed, camera_pan, camera_zoom, clutter, lighting, label_noise
):
    _check_choice("class_set", class_set, CLASS_SETS)
    names = tuple(_CLASSES[class_set])
    if classes is None:
        chosen = names
    else:
        if isinstance(classes, str) or not hasattr(classes, "__iter__"):
            raise ValueError(
                f"`classes` must be None or a list of class names of {class_set!r}. Received: classes={classes!r}"
            )
        classes = list(classes)
        unknown = [c for c in classes if c not in names]
        if unknown or not classes or len(set(classes)) != len(classes):
            raise ValueError(
                f"`classes` must be None or a non-empty list of distinct class names from {list(names)}. "
                f"Received: classes={classes!r}"
            )
        chosen = tuple(c for c in names if c in classes)  # label order stays sorted
    return _Config(
        num_videos_per_class=_check_int("num_videos_per_class", num_videos_per_class, 1),
        class_set=class_set,
        classes=chosen,
        num_frames=_check_int("num_frames", num_frames, 2),
        size=_check_int("size", size, 16, even=True),
        seed=_check_int("seed", seed, 0),
        camera_pan=_check_float("camera_pan", camera_pan, 0.0),
        camera_zoom=_check_float("camera_zoom", camera_zoom, 0.0),
        clutter=_check_int("clutter", clutter, 0),
        lighting=_check_float("lighting", lighting, 0.0, 1.0),
        label_noise=_check_float("label_noise", label_noise, 0.0, 1.0),
    )


# --------------------------------------------------------------------------- rendering


def _wrap(a):
    """Offsets on the unit torus, in [-0.5, 0.5)."""
    return a - np.floor(a + 0.5)


def _streams(seed, class_name, index):
    """Independent generators of one video: scene, camera, clutter, lighting, label."""
    entropy = [seed, zlib.crc32(class_name.encode("utf-8")), index]
    return [np.random.default_rng(s) for s in np.random.SeedSequence(entropy).spawn(5)]


def _colour(rng, base, jitter):
    return np.clip(np.asarray(base, np.float64) + rng.uniform(-jitter, jitter, 3), 0, 255).astype(np.float32)


def _soft_band(distance, half_width, scale):
    """Anti-aliased 1-D band: 1 inside ``|distance| < half_width`` (world units), 1-pixel soft edge."""
    return np.clip((half_width - np.abs(distance)) * scale + 0.5, 0.0, 1.0)


def _pattern(kind, rng, wx, wy, scale):
    """Field pattern in [0, 1], broadcastable to ``(Tc, S, S)``, from world coordinates ``(Tc, S)``."""
    if kind == "stripes":
        along_x = rng.random() < 0.5
        cycles = rng.integers(4, 8)
        phase = rng.random()
        coord = wx if along_x else wy
        p = 0.5 + 0.5 * np.tanh(4.0 * np.sin(2 * np.pi * (cycles * coord + phase)))
        return p[:, None, :] if along_x else p[:, :, None]
    if kind == "lines":
        xs = rng.random(rng.integers(1, 4))
        ys = rng.random(rng.integers(1, 3))
        half = rng.uniform(0.006, 0.009)
        px = np.max([_soft_band(_wrap(wx - a), half, scale) for a in xs], axis=0)
        py = np.max([_soft_band(_wrap(wy - a), half, scale) for a in ys], axis=0)
        return np.maximum(px[:, None, :], py[:, :, None])
    if kind in ("noise", "ripples"):
        low, high = (1, 4) if kind == "noise" else (3, 8)
        total = 0.0
        p = 0.0
        for _ in range(4):
            kx, ky = rng.integers(low, high, 2) * rng.choice([-1, 1], 2)
            amplitude = rng.uniform(0.5, 1.0)
            phase = rng.uniform(0, 2 * np.pi)
            a = 2 * np.pi * kx * wx + phase
            b = 2 * np.pi * ky * wy
            # sin(a + b), separable: no (Tc, S, S) trigonometry
            p = p + amplitude * (np.sin(a)[:, None, :] * np.cos(b)[:, :, None] + np.cos(a)[:, None, :] * np.sin(b)[:, :, None])
            total += amplitude
        return 0.5 + 0.5 * p / total
    if kind == "planks":
        count = int(rng.integers(8, 13))
        shades = rng.uniform(0.0, 0.45, count)
        half = rng.uniform(0.003, 0.005)
        plank = np.floor(np.mod(wy, 1.0) * count).astype(np.int64) % count
        seam = _soft_band(_wrap(wy * count) / count, half, scale)
        return np.maximum(shades[plank], seam)[:, :, None]
    raise AssertionError(kind)


def _draw_shape(rng, spec_shape, size_ranges):
    """Random size / angle of one shape: world-unit half sizes and an angle."""
    sizes = [rng.uniform(*r) for r in size_ranges]
    angle = rng.uniform(0, np.pi) if spec_shape == "bar" else 0.0
    return sizes, angle


def _alpha(shape, sizes, angle, dx, dy, scale):
    """Coverage ``(N, S, S)`` of a shape centred at offsets ``dx`` (N, S) columns, ``dy`` (N, S) rows (world units)."""
    dx = (dx * scale).astype(np.float32)[:, None, :]
    dy = (dy * scale).astype(np.float32)[:, :, None]
    scale = np.asarray(scale, np.float32)[:, :, None]
    if shape == "disc":
        radius = sizes[0] * scale
        return np.clip(radius + 0.5 - np.sqrt(dx * dx + dy * dy), 0.0, 1.0)
    if shape == "ellipse":
        rx, ry = sizes[0] * scale, sizes[1] * scale
        q = np.sqrt((dx / rx) ** 2 + (dy / ry) ** 2)
        return np.clip((1.0 - q) * np.sqrt(rx * ry) + 0.5, 0.0, 1.0)
    if shape == "bar":
        c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
        u = dx * c + dy * s
        v = dy * c - dx * s
        length, width = sizes[0] * scale, sizes[1] * scale
        return np.clip(length + 0.5 - np.abs(u), 0.0, 1.0) * np.clip(width + 0.5 - np.abs(v), 0.0, 1.0)
    raise AssertionError(shape)


def _composite(image, alpha, colour):
    """``image = image * (1 - alpha) + alpha * colour`` in place (alpha broadcast over frames)."""
    image -= alpha[..., None] * (image - colour)


def _displacements(motion, rng, num_frames, count, class_set):
    """Per-object displacements ``dx, dy`` (count, T) in world units, and the motion used."""
    if motion == "shared":
        motion = _SHARED[class_set][rng.integers(len(_SHARED[class_set]))]
    t = np.arange(num_frames, dtype=np.float64)
    zeros = np.zeros((count, num_frames))
    if motion == "static":
        return zeros, zeros.copy(), motion
    if motion in ("roll_slow", "roll_fast"):
        speed = rng.uniform(*(_FAST if motion == "roll_fast" else _SLOW))
        sign = rng.choice([-1.0, 1.0])
        return np.broadcast_to(sign * speed * t, (count, num_frames)).copy(), zeros, motion
    if motion in ("rise", "sink"):
        speed = rng.uniform(*_SLOW)
        sign = -1.0 if motion == "rise" else 1.0
        return zeros, np.broadcast_to(sign * speed * t, (count, num_frames)).copy(), motion
    if motion == "bounce":
        period = rng.uniform(10, 16)
        height = rng.uniform(0.12, 0.22)
        phase = rng.random((count, 1))
        u = np.mod(t / period + phase, 1.0)
        return zeros, -4.0 * height * u * (1.0 - u), motion
    if motion == "rally":
        period = rng.uniform(12, 20)
        amplitude = rng.uniform(0.10, 0.18)
        phase = rng.uniform(0, 2 * np.pi, (count, 1))
        return amplitude * np.sin(2 * np.pi * t / period + phase), zeros, motion
    if motion == "lob":
        speed = rng.uniform(*_SLOW)
        sign = rng.choice([-1.0, 1.0])
        height = rng.uniform(0.25, 0.40)
        s = t / (num_frames - 1)
        dx = np.broadcast_to(sign * speed * t, (count, num_frames)).copy()
        return dx, np.broadcast_to(-4.0 * height * s * (1.0 - s), (count, num_frames)).copy(), motion
    if motion == "orbit":
        period = rng.uniform(16, 28)
        radius = rng.uniform(0.08, 0.14)
        sign = rng.choice([-1.0, 1.0])
        angle = sign * 2 * np.pi * t / period + rng.uniform(0, 2 * np.pi, (count, 1))
        return radius * np.cos(angle), radius * np.sin(angle), motion
    raise AssertionError(motion)


def _camera(rng, config):
    """Camera centre ``cx, cy`` and zoom ``z``, each ``(Tc,)`` (Tc = 1 for a still camera)."""
    direction, speed, zoom, zoom_in = rng.uniform(0, 2 * np.pi), rng.random(), rng.random(), rng.random() < 0.5
    if config.camera_pan == 0 and config.camera_zoom == 0:
        return np.zeros(1), np.zeros(1), np.ones(1)
    t = np.arange(config.num_frames, dtype=np.float64)
    s = t / (config.num_frames - 1)
    velocity = config.camera_pan * speed / (config.num_frames - 1)  # frame widths per frame
    centred = t - (config.num_frames - 1) / 2  # the middle frame is the still camera's view
    cx = np.cos(direction) * velocity * centred
    cy = np.sin(direction) * velocity * centred
    z = 1.0 + config.camera_zoom * zoom * (s if zoom_in else 1.0 - s)
    return cx, cy, z


def _lighting(rng, config):
    """Per-frame contrast and brightness ``(T,)`` (None when lighting is 0)."""
    b0, b1, c0, c1 = rng.uniform(-1, 1, 4)
    flicker, period, phase = rng.random() < 0.5, rng.uniform(8, 30), rng.uniform(0, 2 * np.pi)
    if config.lighting == 0:
        return None
    t = np.arange(config.num_frames, dtype=np.float64)
    profile = np.sin(2 * np.pi * t / period + phase) if flicker else 2 * t / (config.num_frames - 1) - 1
    contrast = 1.0 + config.lighting * (0.35 * c0 + 0.35 * c1 * profile)
    brightness = config.lighting * (35.0 * b0 + 35.0 * b1 * profile)
    return contrast.astype(np.float32), brightness.astype(np.float32)


def _render(config, class_name, index):
    """uint8 frames ``(T, S, S, 3)`` of video `index` of `class_name`, and its label stream."""
    family_name, motion, _ = _CLASSES[config.class_set][class_name]
    family = _FAMILIES[family_name]
    scene, camera_rng, clutter_rng, light_rng, label_rng = _streams(config.seed, class_name, index)
    T, S = config.num_frames, config.size

    cx, cy, z = _camera(camera_rng, config)
    grid = (np.arange(S, dtype=np.float64) + 0.5) / S - 0.5
    wx = cx[:, None] + grid[None, :] / z[:, None]  # (Tc, S): world x of each pixel column
    wy = cy[:, None] + grid[None, :] / z[:, None]  # (Tc, S): world y of each pixel row
    scale = (S * z)[:, None]  # pixels per world unit, (Tc, 1)

    # Field: base colour + pattern in a second colour (jittered together, so the two stay related).
    bg = family["background"]
    shift = scene.uniform(-bg["jitter"], bg["jitter"], 3)
    base = np.clip(np.asarray(bg["colour"]) + shift, 0, 255).astype(np.float32)
    second = np.clip(np.asarray(bg["pattern_colour"]) + shift, 0, 255).astype(np.float32)
    p = _pattern(bg["pattern"], scene, wx, wy, scale).astype(np.float32)
    field = np.empty((wx.shape[0], S, S, 3), np.float32)
    field[:] = base + p[..., None] * (second - base)

    # Clutter: static distractors in world coordinates, under the objects (own stream).
    for _ in range(config.clutter):
        shape = ("disc", "ellipse", "bar")[clutter_rng.integers(3)]
        colour = clutter_rng.uniform(0, 255, 3).astype(np.float32)
        sizes = [clutter_rng.uniform(0.02, 0.05), clutter_rng.uniform(0.012, 0.04)]
        angle = clutter_rng.uniform(0, np.pi)
        x0, y0 = clutter_rng.random(2)
        _composite(field, _alpha(shape, sizes, angle, _wrap(wx - x0), _wrap(wy - y0), scale), colour)

    # Objects: appearance first, then motion, then start positions (uniform on the torus:
    # at every frame each object's position is uniform, whatever the motion).
    instances = []
    for spec in family["objects"]:
        for _ in range(spec["count"]):
            colour = _colour(scene, spec["colour"], spec["jitter"])
            sizes, angle = _draw_shape(scene, spec["shape"], spec["size"])
            instances.append((spec["shape"], colour, sizes, angle))
    dxs, dys, _ = _displacements(motion, scene, T, len(instances), config.class_set)
    starts = scene.random((len(instances), 2))

    image = np.empty((T, S, S, 3), np.float32)
    image[:] = field  # broadcast a still field over time
    for (shape, colour, sizes, angle), dx, dy, (x0, y0) in zip(instances, dxs, dys, starts):
        ox = (x0 + dx)[:, None]
        oy = (y0 + dy)[:, None]
        _composite(image, _alpha(shape, sizes, angle, _wrap(wx - ox), _wrap(wy - oy), scale), colour)

    light = _lighting(light_rng, config)
    if light is not None:
        contrast, brightness = light
        image -= 128.0
        image *= contrast[:, None, None, None]
        image += (128.0 + brightness)[:, None, None, None]
    np.rint(image, out=image)
    np.clip(image, 0, 255, out=image)
    return image.astype(np.uint8), label_rng


def _noisy_label(label_rng, true_label, num_classes, label_noise):
    flip, offset = label_rng.random(), label_rng.integers(1 << 30)
    if num_classes > 1 and flip < label_noise:
        return int((true_label + 1 + offset % (num_classes - 1)) % num_classes)
    return true_label


# --------------------------------------------------------------------------- public generation API


class SyntheticClip(typing.NamedTuple):
    """One generated video (what `iter_videos` yields).

    Attributes:
        frames: uint8 array ``(num_frames, size, size, 3)``.
        label: int. The (possibly noisy) label, an index into the class names.
        true_label: int. The class the video was rendered from.
        class_name: str. Name of the true class.
        index: int. Index of the video within its true class.
        position: int. Index in the whole dataset (class-major:
            ``true_label * num_videos_per_class + index``).
    """

    frames: np.ndarray
    label: int
    true_label: int
    class_name: str
    index: int
    position: int


def render_video(
    class_name,
    index,
    *,
    class_set="sports",
    num_frames=40,
    size=64,
    seed=0,
    camera_pan=0.0,
    camera_zoom=0.0,
    clutter=0,
    lighting=0.0,
):
    """Renders one video: the same frames `synthetic_sports` gives for it.

    Args:
        class_name: str. A class of `class_set` (see `class_descriptions`).
        index: int >= 0. Index of the video within its class.
        class_set, num_frames, size, seed, camera_pan, camera_zoom, clutter, lighting:
            as in `synthetic_sports`.

    Returns:
        uint8 array ``(num_frames, size, size, 3)``.

    Example:
    ```python
    frames = render_video("gym_bounce", 3, num_frames=40, size=64)
    ```
    """
    config = _resolve(1, class_set, None, num_frames, size, seed, camera_pan, camera_zoom, clutter, lighting, 0.0)
    _check_choice("class_name", class_name, config.classes)
    return _render(config, class_name, _check_int("index", index, 0))[0]


def iter_videos(
    num_videos_per_class=50,
    *,
    class_set="sports",
    classes=None,
    num_frames=40,
    size=64,
    seed=0,
    camera_pan=0.0,
    camera_zoom=0.0,
    clutter=0,
    lighting=0.0,
    label_noise=0.0,
    positions=None,
):
    """Generates the videos of `synthetic_sports` one at a time (constant memory).

    Same arguments, same frames and labels as `synthetic_sports`, in the same
    class-major order; `positions` picks a subset (e.g. ``range(w, N, workers)``
    for worker ``w`` of a parallel job): every video is rendered from its own
    seed, so a subset gives exactly the videos of the full dataset.

    Args:
        num_videos_per_class, class_set, classes, num_frames, size, seed, camera_pan, camera_zoom, clutter, lighting, label_noise:
            as in `synthetic_sports`.
        positions: None (all videos) or an iterable of dataset indices in
            ``[0, num_classes * num_videos_per_class)``, yielded in that order.

    Returns:
        An iterator of `SyntheticClip`.

    Example:
    ```python
    for clip in iter_videos(1000, size=64):
        train_step(clip.frames, clip.label)
    ```
    """
    config = _resolve(
        num_videos_per_class, class_set, classes, num_frames, size, seed, camera_pan, camera_zoom, clutter, lighting, label_noise
    )
    return _iterate(config, positions)


def _iterate(config, positions=None):
    n, names = config.num_videos_per_class, config.classes
    total = n * len(names)
    if positions is None:
        positions = range(total)
    else:
        positions = list(positions)
        bad = [p for p in positions if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or not 0 <= p < total]
        if bad:
            raise ValueError(f"`positions` must be ints in [0, {total}). Received: positions containing {bad[:5]!r}")
    for position in positions:
        true_label, index = divmod(int(position), n)
        frames, label_rng = _render(config, names[true_label], index)
        label = _noisy_label(label_rng, true_label, len(names), config.label_noise)
        yield SyntheticClip(frames, label, true_label, names[true_label], index, int(position))


@dataclasses.dataclass(frozen=True, eq=False)
class SyntheticSports:
    """A generated synthetic-sports dataset, held in memory.

    Attributes:
        videos: uint8 array ``(N, num_frames, size, size, 3)``, class-major
            (video ``k`` is video ``k % n`` of class ``k // n``).
        labels: int64 array ``(N,)``, the labels to train on (label noise applied).
        true_labels: int64 array ``(N,)``, the classes the videos were rendered from.
        indices: int64 array ``(N,)``, each video's index within its true class.
        class_names: list of str, label order (sorted: the order in which
            `keras_sportsnet.data.read_video_folder` labels the written folders).
        class_info: dict ``{class name: cue}``, cue one of ``"appearance"``,
            ``"motion"``, ``"both"``; usable as ``groups`` of
            `keras_sportsnet.evaluation` group mAP as it is.
        config: dict, the generation arguments.
    """

    videos: np.ndarray
    labels: np.ndarray
    true_labels: np.ndarray
    indices: np.ndarray
    class_names: list
    class_info: dict
    config: dict

    def __len__(self):
        return len(self.labels)

    @property
    def class_groups(self):
        """``{cue: [class names]}`` for the cues present (the other form of group-mAP groups)."""
        groups = {}
        for name in self.class_names:
            groups.setdefault(self.class_info[name], []).append(name)
        return {cue: groups[cue] for cue in CUES if cue in groups}

    def write(self, directory, codec="h264", fps=25, keyframe_interval=None):
        """Encodes the videos into ``directory/<label class>/<label class>_<k>.<ext>``.

        Re-running is cheap and safe: every file is written to a hidden temporary
        file and moved into place with `os.replace`; a file is skipped when the
        manifest (``directory/synthetic_sports_manifest.json``) records the same
        content hash (frames + encoding settings) and the file on disk still has
        the recorded SHA-256. Files this writer recorded earlier that are no
        longer part of the dataset are removed, so `read_video_folder` sees
        exactly this dataset. With label noise a video goes to the folder of
        its (noisy) label; ``k`` is its dataset index.

        Args:
            directory: str. Output folder (created).
            codec: ``"h264"`` (.mp4), ``"mpeg4"`` (.mp4), ``"vp9"`` (.webm)
                or ``"mjpeg"`` (.avi). Lossy: decoded frames are close to,
                not equal to, `videos`.
            fps: int >= 1. Frame rate.
            keyframe_interval: None or int >= 1. GOP size.

        Returns:
            A `keras_sportsnet.data.VideoList` in dataset order
            (``paths[k]`` holds ``videos[k]``, labelled ``labels[k]``).

        Example:
        ```python
        videos = synthetic_sports(10).write("/tmp/synthetic_sports")
        dataset = ksn.data.video_dataset_from_list(videos, ...)
        ```
        """
        clips = (
            SyntheticClip(
                self.videos[k],
                int(self.labels[k]),
                int(self.true_labels[k]),
                self.class_names[int(self.true_labels[k])],
                int(self.indices[k]),
                k,
            )
            for k in range(len(self))
        )
        return _write(directory, clips, self.class_names, self.config, codec, fps, keyframe_interval)


def synthetic_sports(
    num_videos_per_class=50,
    *,
    class_set="sports",
    classes=None,
    num_frames=40,
    size=64,
    seed=0,
    camera_pan=0.0,
    camera_zoom=0.0,
    clutter=0,
    lighting=0.0,
    label_noise=0.0,
):
    """Procedurally generated sports videos whose classes need appearance, motion or both.

    ``class_set="sports"`` (the Sports-1M role, 11 classes):

    ================  ==========  =============================================
    class             cue         what defines it
    ================  ==========  =============================================
    ice_hockey        appearance  white ice, red lines, stick and black puck
    soccer            appearance  striped grass, red players, white ball
    tennis            appearance  blue court, white lines, yellow-green ball
    gym_rise          motion      gym scene; slow constant upward motion
    gym_roll_fast     motion      gym scene; fast constant horizontal motion, either way
    gym_sink          motion      gym scene; slow constant downward motion
    gym_bounce        motion      gym scene; vertical hops with floor contacts
    beach_rally       both        sand; periodic back-and-forth
    beach_lob         both        sand; one parabolic arc
    clay_rally        both        clay court; periodic back-and-forth
    clay_lob          both        clay court; one parabolic arc
    ================  ==========  =============================================

    ``class_set="transfer"`` (the UCF-101 role, 6 classes, disjoint scenes and
    motions): ``curling``, ``rugby``, ``track`` (appearance), ``pool_up``,
    ``pool_down``, ``pool_orbit`` (motion). Appearance classes move with a
    mixture of the set's motions shared by all of them; within a motion group
    every single frame has the same distribution (see the module docstring).

    Args:
        num_videos_per_class: int >= 1. Videos rendered per class.
        class_set: ``"sports"`` or ``"transfer"``.
        classes: None (all classes of the set) or a list of its class names to
            generate (label order stays sorted); each video is the same as in
            the full set.
        num_frames: int >= 2. Frames per video (object speeds are per frame).
        size: even int >= 16. Frame height and width in pixels.
        seed: int >= 0. Same arguments and seed -> bit-identical arrays.
        camera_pan: float >= 0. Largest camera travel over a video, in frame
            widths (direction and amount random per video); 0: still camera.
        camera_zoom: float >= 0. Largest zoom change over a video (0.5: up to
            1.5x), zooming in or out, random per video; 0: no zoom.
        clutter: int >= 0. Static distractor shapes (random colours) per video.
        lighting: float in [0, 1]. Strength of global brightness / contrast
            changes (a ramp or a flicker, random per video); 0: none.
        label_noise: float in [0, 1]. Probability that a video's label is
            replaced by another class, uniformly (seeded; `true_labels` keeps
            the truth).

    Returns:
        A `SyntheticSports` (``videos``, ``labels``, ``true_labels``,
        ``class_names``, ``class_info``, ``class_groups``, ``write()``).

    Example:
    ```python
    data = synthetic_sports(100, size=64, num_frames=40, seed=0)
    x, y = data.videos, data.labels            # (1100, 40, 64, 64, 3) uint8, (1100,)
    data.class_groups["motion"]                # ['gym_bounce', 'gym_roll_fast', ...]
    noisy = synthetic_sports(100, camera_pan=0.3, clutter=3, lighting=0.5, label_noise=0.1)
    ```
    """
    config = _resolve(
        num_videos_per_class, class_set, classes, num_frames, size, seed, camera_pan, camera_zoom, clutter, lighting, label_noise
    )
    total = config.num_videos_per_class * len(config.classes)
    videos = np.empty((total, config.num_frames, config.size, config.size, 3), np.uint8)
    labels = np.empty(total, np.int64)
    true_labels = np.empty(total, np.int64)
    indices = np.empty(total, np.int64)
    for clip in _iterate(config):
        k = clip.position
        videos[k], labels[k], true_labels[k], indices[k] = clip.frames, clip.label, clip.true_label, clip.index
    cues = {name: _CLASSES[class_set][name][2] for name in config.classes}
    return SyntheticSports(videos, labels, true_labels, indices, list(config.classes), cues, config.to_dict())


def load_data(train_videos_per_class=50, test_videos_per_class=10, *, class_set="sports", num_frames=40, size=64,
              seed=0, **nuisances):
    """The dataset as arrays, the way `keras.datasets.mnist.load_data()` gives them.

    Renders ``train_videos_per_class + test_videos_per_class`` videos per
    class (`synthetic_sports`) and splits every class by video index: the
    first ``train_videos_per_class`` train, the rest test. Every video is the
    one `synthetic_sports` renders at that index, so the two parts never share
    a video and no other seed is involved.

    Args:
        train_videos_per_class: int >= 1.
        test_videos_per_class: int >= 1.
        class_set: ``"sports"`` (11 classes) or ``"transfer"`` (6).
        num_frames: int >= 2. Frames per video.
        size: even int >= 16. Frame height and width.
        seed: int >= 0.
        **nuisances: ``camera_pan``, ``camera_zoom``, ``clutter``,
            ``lighting``, ``label_noise``, ``classes`` (see `synthetic_sports`).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 videos
        ``(N, num_frames, size, size, 3)`` and int64 labels ``(N,)``, label
        ``i`` being ``class_descriptions(class_set)``' sorted class ``i``.

    Example:
    ```python
    (x_train, y_train), (x_test, y_test) = ksn.datasets.synthetic_sports.load_data(20, 5, size=32, num_frames=16)
    x_train.shape     # (220, 16, 32, 32, 3)
    ```
    """
    from keras_sportsnet.utils.checks import check_positive_int

    train = check_positive_int("train_videos_per_class", train_videos_per_class)
    test = check_positive_int("test_videos_per_class", test_videos_per_class)
    data = synthetic_sports(train + test, class_set=class_set, num_frames=num_frames, size=size, seed=seed,
                            **nuisances)
    training = data.indices < train
    return (data.videos[training], data.labels[training]), (data.videos[~training], data.labels[~training])


def write_synthetic_sports(directory, num_videos_per_class=50, *, codec="h264", fps=25, keyframe_interval=None, **kwargs):
    """Renders and writes a synthetic-sports dataset one video at a time (constant memory).

    The files, manifest and skipping rules of `SyntheticSports.write`; the
    videos of ``synthetic_sports(num_videos_per_class, **kwargs)``. A video
    whose file is already up to date is still rendered (to hash it: cheap),
    but not encoded again.

    Args:
        directory: str. Output folder.
        num_videos_per_class: int >= 1.
        codec, fps, keyframe_interval: as in `SyntheticSports.write`.
        **kwargs: the keyword arguments of `synthetic_sports` (class_set,
            classes, num_frames, size, seed, camera_pan, camera_zoom, clutter,
            lighting, label_noise).

    Returns:
        A `keras_sportsnet.data.VideoList` in dataset order.

    Example:
    ```python
    videos = write_synthetic_sports("/data/synthetic_sports", 1000, size=64, num_frames=40)
    ```
    """
    defaults = {
        "class_set": "sports",
        "classes": None,
        "num_frames": 40,
        "size": 64,
        "seed": 0,
        "camera_pan": 0.0,
        "camera_zoom": 0.0,
        "clutter": 0,
        "lighting": 0.0,
        "label_noise": 0.0,
    }
    unknown = sorted(set(kwargs) - set(defaults))
    if unknown:
        raise ValueError(f"Unknown keyword arguments {unknown}; allowed: {list(defaults)}.")
    defaults.update(kwargs)
    config = _resolve(num_videos_per_class, **defaults)
    return _write(directory, _iterate(config), list(config.classes), config.to_dict(), codec, fps, keyframe_interval)


# --------------------------------------------------------------------------- writing


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unchanged(path, entry):
    """The file exists with the size and SHA-256 a manifest entry recorded."""
    try:
        return os.path.getsize(path) == entry.get("size") and _sha256_file(path) == entry.get("sha256")
    except OSError:
        return False


def _content_key(frames, codec, fps, keyframe_interval):
    digest = hashlib.sha256()
    digest.update(json.dumps([_MANIFEST_FORMAT, list(frames.shape), codec, fps, keyframe_interval]).encode())
    digest.update(np.ascontiguousarray(frames).tobytes())
    return digest.hexdigest()


def _load_manifest(path):
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
        if manifest.get("format") == _MANIFEST_FORMAT and isinstance(manifest.get("files"), dict):
            return manifest["files"]
    except (OSError, ValueError):
        pass
    return {}


def _save_manifest(path, files, class_names, config, encoding):
    manifest = {
        "format": _MANIFEST_FORMAT,
        "class_names": list(class_names),
        "config": config,
        "encoding": encoding,
        "files": files,
    }
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=0, sort_keys=True)
    os.replace(tmp, path)


_TEMP = re.compile(r"^\..+\.tmp(\d+)")


def _remove_stale_temps(folder):
    """Hidden temporaries left by a killed writer (never those of a live process)."""
    for entry in os.scandir(folder):
        match = _TEMP.match(entry.name)
        if not match or not entry.is_file():
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
            continue  # still running (or not ours to judge)
        except ProcessLookupError:
            pass
        except OSError:
            continue
        try:
            os.remove(entry.path)
        except OSError:
            pass


def _write(directory, clips, class_names, config, codec, fps, keyframe_interval):
    from keras_sportsnet.data.lists import VideoList
    from keras_sportsnet.data.encoding import write_video

    _check_choice("codec", codec, tuple(_EXTENSIONS))
    fps = _check_int("fps", fps, 1)
    if keyframe_interval is not None:
        keyframe_interval = _check_int("keyframe_interval", keyframe_interval, 1)
    if not isinstance(directory, (str, os.PathLike)):
        raise ValueError(f"`directory` must be a path. Received: directory={directory!r}")
    directory = os.fspath(directory)
    ext = _EXTENSIONS[codec]
    encoding = {"codec": codec, "fps": fps, "keyframe_interval": keyframe_interval}
    for name in class_names:
        os.makedirs(os.path.join(directory, name), exist_ok=True)
        _remove_stale_temps(os.path.join(directory, name))
    manifest_path = os.path.join(directory, _MANIFEST)
    previous = _load_manifest(manifest_path)
    files, paths, labels = {}, [], []
    written = skipped = 0
    for clip in clips:
        name = class_names[clip.label]
        relative = f"{name}/{name}_{clip.position:05d}{ext}"
        path = os.path.join(directory, name, f"{name}_{clip.position:05d}{ext}")
        key = _content_key(clip.frames, codec, fps, keyframe_interval)
        old = previous.get(relative)
        if old and old.get("key") == key and _unchanged(path, old):
            entry = old
            skipped += 1
        else:
            tmp = os.path.join(directory, name, f".{name}_{clip.position:05d}{ext}.tmp{os.getpid()}{ext}")
            try:
                write_video(tmp, clip.frames, fps=fps, codec=codec, keyframe_interval=keyframe_interval)
                entry = {"key": key, "sha256": _sha256_file(tmp), "size": os.path.getsize(tmp)}
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
            written += 1
            if written % 64 == 0:  # progress survives a kill (unlisted files are just rewritten)
                _save_manifest(manifest_path, {**previous, **files, relative: entry}, class_names, config, encoding)
        entry = {**entry, "label": clip.label, "true_label": clip.true_label, "class": clip.class_name, "index": clip.index}
        files[relative] = entry
        paths.append(path)
        labels.append((clip.label,))
    # Files this writer recorded before that are not part of this dataset (and unchanged since).
    removed = 0
    for relative, old in previous.items():
        if relative in files:
            continue
        path = os.path.join(directory, *relative.split("/"))
        if _unchanged(path, old):
            try:
                os.remove(path)
                removed += 1
                os.rmdir(os.path.dirname(path))  # a class folder left empty would still count as a class
            except OSError:
                pass
    _save_manifest(manifest_path, files, class_names, config, encoding)
    _LOG.info("synthetic_sports: %d written, %d up to date, %d stale removed in %s", written, skipped, removed, directory)
    return VideoList(paths=tuple(paths), labels=tuple(labels), class_names=tuple(class_names))


# --------------------------------------------------------------------------- picture


def plot_classes(path=None, *, class_set="sports", num_frames_shown=5, num_frames=40, size=64, seed=0, index=0, **nuisances):
    """One row per class: a few frames over time and a motion trail.

    The last column ("trail") shows, at every pixel, the frame that differs most
    from the video's temporal median: the objects' whole path in one picture.

    Args:
        path: None, or a ``.png``/``.svg``/``.pdf`` file to save the figure to.
        class_set: ``"sports"`` or ``"transfer"``.
        num_frames_shown: int >= 1. Frames per row, evenly spaced in time.
        num_frames, size, seed: as in `synthetic_sports`.
        index: int >= 0. Which video of each class to show.
        **nuisances: camera_pan, camera_zoom, clutter, lighting (as in
            `synthetic_sports`).

    Returns:
        A `matplotlib.figure.Figure` (rendered with the Agg backend; pyplot's
        global state is not touched).

    Example:
    ```python
    plot_classes("docs/synthetic_sports_classes.png")
    ```
    """
    from keras_sportsnet.visualization.figures import finish, new_figure

    allowed = ("camera_pan", "camera_zoom", "clutter", "lighting")
    unknown = sorted(set(nuisances) - set(allowed))
    if unknown:
        raise ValueError(f"Unknown keyword arguments {unknown}; allowed: {list(allowed)}.")
    shown = _check_int("num_frames_shown", num_frames_shown, 1)
    descriptions = class_descriptions(class_set)
    times = np.unique(np.linspace(0, _check_int("num_frames", num_frames, 2) - 1, shown).round().astype(int))
    columns = len(times) + 1
    figure = new_figure(1.1 * columns + 2.2, 1.1 * len(descriptions) + 0.4, dpi=80)
    axes = figure.subplots(len(descriptions), columns, squeeze=False)
    for row, (name, info) in enumerate(descriptions.items()):
        frames = render_video(name, index, class_set=class_set, num_frames=num_frames, size=size, seed=seed, **nuisances)
        signed = frames.astype(np.int16)
        deviation = np.abs(signed - np.median(signed, axis=0)).sum(axis=-1)
        strongest = np.argmax(deviation, axis=0)
        trail = np.take_along_axis(frames, strongest[None, ..., None].repeat(3, axis=-1), axis=0)[0]
        for column, image in enumerate([frames[t] for t in times] + [trail]):
            ax = axes[row, column]
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title("trail" if column == len(times) else f"t={times[column]}", fontsize=8)
        axes[row, 0].set_ylabel(f"{name}\n({info['cue']})", rotation=0, ha="right", va="center", fontsize=8)
    figure.subplots_adjust(left=0.2, right=0.99, top=0.96, bottom=0.01, wspace=0.05, hspace=0.08)
    return finish(figure, path)
