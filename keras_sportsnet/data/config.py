"""`PipelineConfig`: every setting of a clip pipeline, checked once and frozen.

The front doors (`video_dataset_from_directory`, `video_dataset_from_list`,
`shard_dataset`) build one `PipelineConfig` from their arguments and hand it
to the `VideoDataset`; nothing is forwarded twice. Defaults that depend on
the model come from it by duck typing (the data code never imports
`keras_sportsnet.models`): the clip geometry from ``model.clip_geometry`` (or
its preprocessor), ``resize_to`` from the preprocessor's settings
(`preprocessor_settings`).

Example:
```python
config = PipelineConfig(num_frames=10, image_size=170, resize_to=200, seed=0)
config.geometry.span                      # 10 frames of video per clip
config.replace(augmentation="centre")     # a changed copy; the config itself is frozen
```
"""

import dataclasses
import warnings

from keras_sportsnet.data.sampling import SHORT_VIDEO_POLICIES
from keras_sportsnet.data.sampling import ClipGeometry
from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_int
from keras_sportsnet.utils.checks import check_positive_int
from keras_sportsnet.utils.checks import check_resize  # noqa: F401: part of this module's API (defined there: light)
from keras_sportsnet.utils.checks import check_size
from keras_sportsnet.utils.checks import is_int

__all__ = [
    "AUGMENTATIONS",
    "DEFAULT_RESIZE",
    "LABEL_MODES",
    "ON_ERROR",
    "SAMPLING_MODES",
    "PipelineConfig",
    "check_resize",
    "check_shard",
    "PREPROCESSOR_SETTINGS",
    "model_preprocessing",
    "preprocessor_settings",
    "resolve_geometry",
]

LABEL_MODES = ("int", "categorical", "multi_hot", None)
"""``"int"`` (the first label), ``"categorical"`` (one-hot), ``"multi_hot"`` (every label) or None (no labels)."""

AUGMENTATIONS = ("paper", "centre", "deferred")
"""``"paper"``: random crop + flip; ``"centre"``: centre crop; ``"deferred"``: the resized frames, uncropped."""

SAMPLING_MODES = ("random", "uniform")
"""``"random"``: a random clip per draw; ``"uniform"``: evenly spaced clips (deterministic)."""

ON_ERROR = ("skip", "raise")
"""What a video that cannot be read does: skipped (reported) or the run stops with a `VideoError`."""

DEFAULT_RESIZE = 200
"""The paper's ``resize_to``: frames are cropped to their centre square and resized to 200 x 200."""


def check_shard(argument, shard):
    """``(num_shards, shard_index)`` from a pair, or None for None; a ValueError naming ``argument`` otherwise.

    Example:
    >>> check_shard("shard", (4, 1))
    (4, 1)
    """
    if shard is None:
        return None
    try:
        count, index = shard
        valid = is_int(count) and is_int(index) and count >= 1 and 0 <= index < count
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(
            f"`{argument}` must be (num_shards, shard_index) with 0 <= shard_index < num_shards. "
            f"Received: {argument}={shard!r}"
        )
    return int(count), int(index)


PREPROCESSOR_SETTINGS = ("num_frames", "frame_stride", "image_size", "resize_to", "clips_per_video", "views",
                         "aggregation")
"""The settings of a model's preprocessor that data and evaluation read (its constructor arguments)."""


def preprocessor_settings(model):
    """The settings of ``model.preprocessor`` (`PREPROCESSOR_SETTINGS`, JSON forms), or ``{}`` without one.

    The one reader of a model's preprocessor (data pipelines and evaluation
    use it; duck typing, no import of `keras_sportsnet.models`). A
    preprocessor that stores its constructor arguments as attributes (the
    keras-hub rule, as `keras_sportsnet.models.VideoPreprocessor` does) is
    read directly; any other object with a ``get_config()`` is read through
    it. Reading the attributes keeps TensorFlow unloaded on JAX and torch:
    Keras' ``Layer.get_config`` imports TensorFlow whenever it is installed.

    Args:
        model: a keras_sportsnet classifier, or anything with a ``preprocessor``.

    Returns:
        dict: the settings the preprocessor defines (tuples given as lists).

    Example:
    ```python
    preprocessor_settings(ksn.from_preset("slow_fusion_synthetic"))["resize_to"]   # 64
    ```
    """
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is None:
        return {}
    if all(hasattr(preprocessor, name) for name in PREPROCESSOR_SETTINGS):
        values = {name: getattr(preprocessor, name) for name in PREPROCESSOR_SETTINGS}
        return {name: list(value) if isinstance(value, tuple) else value for name, value in values.items()}
    get_config = getattr(preprocessor, "get_config", None)
    config = get_config() if callable(get_config) else None
    return dict(config) if isinstance(config, dict) else {}


def model_preprocessing(model):
    """What a model says about its input: ``{num_frames, frame_stride, image_size, resize_to}`` (each may be None).

    Reads ``model.clip_geometry`` and the preprocessor's settings
    (`preprocessor_settings`) by duck typing: any object with these works.

    Args:
        model: a keras_sportsnet model, or any object with a ``clip_geometry``
            dict and/or a ``preprocessor`` with ``get_config()``.

    Example:
    ```python
    model_preprocessing(ksn.from_preset("slow_fusion_synthetic"))["resize_to"]   # 64
    ```
    """
    found = {"num_frames": None, "frame_stride": None, "image_size": None, "resize_to": None}
    config = preprocessor_settings(model)
    for name in found:
        if config.get(name) is not None:
            found[name] = config[name]
    geometry = getattr(model, "clip_geometry", None)
    if geometry is not None:
        for name in ("num_frames", "frame_stride", "image_size"):
            if geometry.get(name) is not None:
                found[name] = geometry[name]
    return found


def resolve_geometry(model=None, num_frames=None, frame_stride=None, image_size=None, resize_to=None):
    """The clip geometry and ``resize_to`` from a model or explicit arguments.

    With ``model``: its ``clip_geometry`` (explicit ``num_frames`` /
    ``frame_stride`` / ``image_size`` are refused: the model decides them) and
    its preprocessor's ``resize_to``; an explicit ``resize_to`` that disagrees
    with the preprocessor's wins with a `UserWarning` naming both values.
    Without: ``num_frames`` and ``image_size`` are required, ``resize_to``
    defaults to `DEFAULT_RESIZE`.

    Returns:
        ``(ClipGeometry, resize_to)``; ``resize_to`` is checked against the crop.

    Example:
    ```python
    geometry, resize_to = resolve_geometry(num_frames=10, image_size=170)   # resize_to 200
    ```
    """
    if model is not None:
        if any(v is not None for v in (num_frames, frame_stride, image_size)):
            raise ValueError(
                "Pass either `model` (its clip geometry is used) or `num_frames`/`frame_stride`/`image_size`, not "
                f"both. Received: num_frames={num_frames!r}, frame_stride={frame_stride!r}, image_size={image_size!r}"
            )
        found = model_preprocessing(model)
        if found["num_frames"] is None or found["image_size"] is None:
            raise TypeError(
                "`model` must have a `clip_geometry` or a `preprocessor` that gives num_frames and image_size "
                f"(keras_sportsnet models do). Received: model={type(model).__name__} {getattr(model, 'name', '')!r}"
            )
        geometry = ClipGeometry(num_frames=found["num_frames"], frame_stride=found["frame_stride"] or 1,
                                image_size=found["image_size"])
        preferred = found["resize_to"]
        if resize_to is None:
            resize_to = preferred if preferred is not None else DEFAULT_RESIZE
        elif preferred is not None and check_resize(geometry.image_size, resize_to) != preferred:
            warnings.warn(
                f"`resize_to={resize_to!r}` differs from the model's preprocessor (resize_to={preferred!r}): the clips "
                f"will be cut from {resize_to} x {resize_to} frames, not the {preferred} x {preferred} the model was "
                "trained on. Leave resize_to out to use the model's.",
                UserWarning,
                stacklevel=3,
            )
    else:
        if num_frames is None or image_size is None:
            raise ValueError(
                "Pass `model=` or both `num_frames` and `image_size` to say which clips to make. "
                f"Received: num_frames={num_frames!r}, image_size={image_size!r}"
            )
        geometry = ClipGeometry(num_frames=num_frames, frame_stride=frame_stride or 1,
                                image_size=check_size("image_size", image_size))
        resize_to = DEFAULT_RESIZE if resize_to is None else resize_to
    return geometry, check_resize(geometry.image_size, resize_to)


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Every setting of a clip pipeline, checked when made; frozen.

    Args:
        num_frames: int >= 1. Frames per clip.
        frame_stride: int >= 1. Video frames between clip frames.
        image_size: int or ``(height, width)``: the crop the model reads.
        resize_to: int. Frames are cropped to their centre square and resized
            to ``resize_to x resize_to`` first; at least ``image_size``.
        augmentation: one of `AUGMENTATIONS`.
        sampling_mode: one of `SAMPLING_MODES`.
        clips_per_video: int >= 1. Clips of every video per pass.
        short_video_policy: one of `keras_sportsnet.data.SHORT_VIDEO_POLICIES`.
        on_error: one of `ON_ERROR`.
        label_mode: one of `LABEL_MODES`.
        batch_size: int >= 1, or None for single clips.
        drop_remainder: bool. Drop the smaller last batch of every pass
            (equal batches, e.g. for several devices).
        shuffle: bool. Shuffle the order of every pass.
        seed: int >= 0. The seed of every random choice (`keras_sportsnet.data.random`).
        num_parallel_calls: int >= 1 or None (AUTOTUNE): clips decoded at once.

    Example:
    ```python
    config = PipelineConfig(num_frames=10, image_size=170, seed=0)
    validation = config.replace(augmentation="centre", sampling_mode="uniform", shuffle=False)
    ```
    """

    num_frames: int
    image_size: tuple
    frame_stride: int = 1
    resize_to: int = DEFAULT_RESIZE
    augmentation: str = "paper"
    sampling_mode: str = "random"
    clips_per_video: int = 1
    short_video_policy: str = "loop"
    on_error: str = "skip"
    label_mode: str = "int"
    batch_size: int = 32
    drop_remainder: bool = False
    shuffle: bool = True
    seed: int = 0
    num_parallel_calls: int = None

    def __post_init__(self):
        geometry = ClipGeometry(num_frames=self.num_frames, frame_stride=self.frame_stride,
                                image_size=check_size("image_size", self.image_size))
        set_field = object.__setattr__
        set_field(self, "num_frames", geometry.num_frames)
        set_field(self, "frame_stride", geometry.frame_stride)
        set_field(self, "image_size", geometry.image_size)
        set_field(self, "resize_to", check_resize(geometry.image_size, self.resize_to))
        check_choice("augmentation", self.augmentation, AUGMENTATIONS)
        check_choice("sampling_mode", self.sampling_mode, SAMPLING_MODES)
        check_choice("short_video_policy", self.short_video_policy, SHORT_VIDEO_POLICIES)
        check_choice("on_error", self.on_error, ON_ERROR)
        check_choice("label_mode", self.label_mode, LABEL_MODES)
        set_field(self, "clips_per_video", check_positive_int("clips_per_video", self.clips_per_video))
        set_field(self, "batch_size", check_positive_int("batch_size", self.batch_size, allow_none=True))
        for name in ("shuffle", "drop_remainder"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"`{name}` must be True or False. Received: {name}={getattr(self, name)!r}")
        set_field(self, "seed", check_int("seed", self.seed, minimum=0))
        set_field(self, "num_parallel_calls",
                  check_positive_int("num_parallel_calls", self.num_parallel_calls, allow_none=True))

    @property
    def geometry(self):
        """The `ClipGeometry` (num_frames, frame_stride, image_size)."""
        return ClipGeometry(num_frames=self.num_frames, frame_stride=self.frame_stride, image_size=self.image_size)

    def replace(self, **changes):
        """A copy with some fields changed (checked again).

        Example:
        ```python
        config.replace(batch_size=8)
        ```
        """
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """The fields as a JSON-ready dict (``image_size`` as a list).

        Example:
        ```python
        PipelineConfig.from_dict(config.to_dict()) == config   # True
        ```
        """
        fields = dataclasses.asdict(self)
        fields["image_size"] = list(self.image_size)
        return fields

    @classmethod
    def from_dict(cls, fields):
        """The config from `to_dict`'s dict.

        Example:
        ```python
        config = PipelineConfig.from_dict(json.load(open("pipeline.json")))
        ```
        """
        return cls(**{**fields, "image_size": tuple(fields["image_size"])})
