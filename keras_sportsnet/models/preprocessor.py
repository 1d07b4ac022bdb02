"""`VideoPreprocessor`: everything between a decoded clip of any size and the model's input.

The role of keras-hub's ``ImageConverter``/``VideoConverter`` and of
torchvision's ``Weights.transforms``: the preprocessing a model was trained
with travels with it (``preprocessor.json`` in every preset, ``model.preprocessor``
on every classifier), so data pipelines, evaluation, prediction and the command
line all read it from the model instead of guessing.

A clip ``(batch, frames, height, width, 3)`` of any frame size and any numeric
dtype (uint8 straight from `keras_sportsnet.data.read_clip`) becomes float32
``(batch, frames, image_size[0], image_size[1], 3)``, values still 0..255 (the
model subtracts the pixel mean itself):

1. the centre square of every frame (side = the shorter side);
2. resized (bilinear, no antialiasing) to ``resize_to`` x ``resize_to``: the
   paper uses 200, the shipped synthetic presets 64;
3. the centre ``image_size`` crop (the paper: 170, or 178 for multires).

That is exactly view 0 of `keras_sportsnet.data.transforms.EvaluationViews`
and the ``training=False`` result of ``PaperAugmentation``. The preprocessor is
deterministic: training augmentation (random crops and flips) belongs to the
data pipeline, whose random choices are keyed by (seed, pass, step).

The rest of the paper's protocol rides along as configuration, read by
evaluation code through ``get_config()``: the clip geometry the sampler needs
(``num_frames``, ``frame_stride``), ``clips_per_video`` (20), ``views`` (4
crops/flips per clip) and ``aggregation`` (``"mean_probability"``).

The three ops below are small keras.ops functions (any backend, static or
dynamic frame sizes); they are the functional form of
``CenterCropResize``/``RandomClipCrop(training=False)``.
"""

import math

import keras
from keras import ops

from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_int
from keras_sportsnet.utils.checks import check_positive_int
from keras_sportsnet.utils.checks import check_size
from keras_sportsnet.utils.checks import is_int

__all__ = [
    "AGGREGATIONS",
    "PAPER_RESIZE",
    "VideoPreprocessor",
    "centre_crop",
    "centre_square",
    "default_resize_to",
    "resize_frames",
]

PAPER_RESIZE = 200
"""The paper resizes the centre region of every frame to 200 x 200 before cropping 170 (Sec. 4.1)."""
PAPER_CROP = 170
AGGREGATIONS = ("mean_probability",)
"""How clip/view predictions become one video prediction: the mean of the probabilities (the paper)."""
MAX_VIEWS = 4
"""`EvaluationViews` has four views: centre, centre flipped, top-left, bottom-right."""


def default_resize_to(image_size):
    """The paper's ``resize_to`` for a crop: 200, or the crop scaled by 200 / 170 when it is larger.

    Example:
    >>> default_resize_to((170, 170)), default_resize_to((256, 256))
    (200, 302)
    """
    largest = max(check_size("image_size", image_size))
    return PAPER_RESIZE if largest <= PAPER_RESIZE else math.ceil(largest * PAPER_RESIZE / PAPER_CROP)


def _minimum(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return min(a, b)
    return ops.minimum(a, b)


def centre_square(clips):
    """The centre square of every frame of ``(B, T, H, W, C)`` clips (side = the shorter side).

    Example:
    ```python
    centre_square(np.zeros((1, 4, 240, 320, 3))).shape      # (1, 4, 240, 240, 3)
    ```
    """
    height, width = _spatial_shape(clips)
    side = _minimum(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return clips[:, :, top : top + side, left : left + side, :]


def centre_crop(clips, size):
    """The centre ``size`` crop of every frame of ``(B, T, H, W, C)`` clips (no resizing).

    Args:
        clips: a tensor or array of rank 5 whose frames are at least ``size``.
        size: int or ``(height, width)``.

    Example:
    ```python
    centre_crop(np.zeros((1, 4, 64, 64, 3)), 56).shape       # (1, 4, 56, 56, 3)
    ```
    """
    crop_height, crop_width = check_size("size", size)
    height, width = _spatial_shape(clips)
    top, left = (height - crop_height) // 2, (width - crop_width) // 2
    return clips[:, :, top : top + crop_height, left : left + crop_width, :]


def resize_frames(clips, size):
    """Every frame of ``(B, T, H, W, C)`` clips resized to ``size`` (bilinear, no antialiasing), float32.

    Example:
    ```python
    resize_frames(np.zeros((1, 4, 240, 240, 3)), 200).shape   # (1, 4, 200, 200, 3)
    ```
    """
    size = check_size("size", size)
    clips = ops.cast(clips, "float32")
    height, width = _spatial_shape(clips)
    if isinstance(height, int) and isinstance(width, int) and (height, width) == size:
        return clips
    shape = ops.shape(clips)
    frames, channels = shape[1], shape[4]
    images = ops.reshape(clips, (-1, height, width, channels))
    images = ops.image.resize(images, size, interpolation="bilinear", antialias=False, data_format="channels_last")
    return ops.reshape(images, (-1, frames, size[0], size[1], channels))


def _spatial_shape(clips):
    """``(height, width)`` as Python ints where static, else scalar tensors."""
    static = tuple(clips.shape)
    if static[2] is not None and static[3] is not None:
        return int(static[2]), int(static[3])
    dynamic = ops.shape(clips)
    return dynamic[2], dynamic[3]


@keras.saving.register_keras_serializable(package="keras_sportsnet")
class VideoPreprocessor(keras.layers.Layer):
    """From decoded clips of any frame size to a model's input, plus the paper's evaluation protocol.

    ``preprocessor(clips)``: ``(batch, frames, H, W, 3)`` of any H, W and any
    numeric dtype -> float32 ``(batch, frames, image_size[0], image_size[1], 3)``
    (centre square, resized to ``resize_to``, centre crop). A single clip
    ``(frames, H, W, 3)`` gives ``(frames, h, w, 3)``. Deterministic: the same
    with ``training=True`` (augmentation is the data pipeline's).

    Every keras_sportsnet classifier has one (``model.preprocessor``): saved as
    ``preprocessor.json`` in its presets, derived from the clip geometry (with
    ``resize_to=200``) when the model is built from scratch. Datasets,
    `keras_sportsnet.evaluate_videos`, `keras_sportsnet.predict_video` and the
    command line take their defaults from it.

    Args:
        num_frames: int. Frames per clip the model reads.
        frame_stride: int. Gap between the clip's frames in the video (1: consecutive).
        image_size: int or ``(height, width)``. The model's frame size.
        resize_to: int or ``(height, width)``. Size of the centre square before
            the crop (the paper: 200; the shipped synthetic presets: 64); at
            least ``image_size``. Default: 200, or more for crops over 200.
        clips_per_video: int. Clips sampled per video for a video-level prediction (20).
        views: int in [1, 4]. Crops/flips per clip (`EvaluationViews`; 4 in the paper).
        aggregation: str. How clip and view predictions are combined (``"mean_probability"``).
        **kwargs: `name`, `dtype` as for `keras.layers.Layer` (float32 by default).

    Example:
    ```python
    preprocessor = ksn.VideoPreprocessor(num_frames=10, image_size=170)
    clip = ksn.data.read_clip("video.mp4", range(10))          # uint8 (10, 240, 320, 3)
    preprocessor(clip[None]).shape                            # (1, 10, 170, 170, 3), float32
    model = ksn.from_preset("slow_fusion_synthetic")
    model.preprocessor.get_config()["resize_to"]             # 64: what the preset was trained with
    ```
    """

    def __init__(
        self,
        *,
        num_frames,
        frame_stride=1,
        image_size,
        resize_to=None,
        clips_per_video=20,
        views=MAX_VIEWS,
        aggregation="mean_probability",
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        # === Validation ===
        self.num_frames = check_positive_int("num_frames", num_frames)
        self.frame_stride = check_positive_int("frame_stride", frame_stride)
        self.image_size = check_size("image_size", image_size)
        if resize_to is None:
            resize_to = default_resize_to(self.image_size)
        resize_pair = check_size("resize_to", resize_to)
        if resize_pair[0] < self.image_size[0] or resize_pair[1] < self.image_size[1]:
            raise ValueError(
                f"`resize_to` must be at least `image_size` {self.image_size} (the crop is cut from the resized "
                f"square). Received: resize_to={resize_to!r}"
            )
        self.clips_per_video = check_positive_int("clips_per_video", clips_per_video)
        self.views = check_int("views", views, minimum=1, maximum=MAX_VIEWS)
        check_choice("aggregation", aggregation, AGGREGATIONS)
        # === Config ===
        self.resize_to = int(resize_to) if is_int(resize_to) else resize_pair
        self.aggregation = aggregation

    @classmethod
    def for_geometry(cls, clip_geometry, **kwargs):
        """A preprocessor for a model's ``clip_geometry`` (``num_frames``, ``frame_stride``, ``image_size``).

        Args:
            clip_geometry: dict, e.g. ``model.clip_geometry``.
            **kwargs: the other constructor arguments (``resize_to``, ``clips_per_video``...).

        Example:
        ```python
        preprocessor = VideoPreprocessor.for_geometry(backbone.clip_geometry, resize_to=64)
        ```
        """
        geometry = dict(clip_geometry)
        return cls(
            num_frames=geometry["num_frames"],
            frame_stride=geometry.get("frame_stride", 1),
            image_size=geometry["image_size"],
            **kwargs,
        )

    @property
    def resize_size(self):
        """``resize_to`` as ``(height, width)``."""
        return check_size("resize_to", self.resize_to)

    @property
    def clip_geometry(self):
        """``{"num_frames", "frame_stride", "image_size"}``: the clips this preprocessor makes."""
        return {"num_frames": self.num_frames, "frame_stride": self.frame_stride, "image_size": self.image_size}

    def needs_preprocessing(self, clips):
        """Whether ``clips`` are raw: their frames are not ``image_size`` (any dtype).

        Clips whose frames already are ``image_size`` (what the data pipelines
        and `keras_sportsnet.evaluate_videos` give, float or uint8) are taken
        as preprocessed. For clips of unknown (dynamic) frame size it returns
        False: the classifiers then decide at run time.

        Example:
        ```python
        preprocessor.needs_preprocessing(np.zeros((1, 10, 240, 320, 3), "uint8"))   # True
        ```
        """
        shape = tuple(clips.shape)
        if len(shape) < 4 or shape[-3] is None or shape[-2] is None:
            return False
        return (int(shape[-3]), int(shape[-2])) != self.image_size

    def call(self, clips, training=None):
        unbatched = len(clips.shape) == 4
        if unbatched:
            clips = ops.expand_dims(clips, 0)
        if len(clips.shape) != 5:
            raise ValueError(
                "VideoPreprocessor expects clips (batch, frames, height, width, channels) or one clip "
                f"(frames, height, width, channels). Received: clips.shape={tuple(clips.shape)}"
            )
        height, width = _spatial_shape(clips)
        if isinstance(height, int) and isinstance(width, int) and min(height, width) < 1:
            raise ValueError(f"Clips have empty frames. Received: clips.shape={tuple(clips.shape)}")
        x = ops.cast(clips, "float32")
        x = resize_frames(centre_square(x), self.resize_size)
        x = centre_crop(x, self.image_size)
        x = ops.cast(x, self.compute_dtype)
        return ops.squeeze(x, 0) if unbatched else x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-3], *self.image_size, input_shape[-1])

    def compute_output_spec(self, clips, training=None):
        return keras.KerasTensor(self.compute_output_shape(tuple(clips.shape)), dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_frames": self.num_frames,
                "frame_stride": self.frame_stride,
                "image_size": list(self.image_size),
                "resize_to": self.resize_to if is_int(self.resize_to) else list(self.resize_to),
                "clips_per_video": self.clips_per_video,
                "views": self.views,
                "aggregation": self.aggregation,
            }
        )
        return config
