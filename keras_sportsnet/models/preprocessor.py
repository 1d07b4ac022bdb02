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

That is exactly view 0 of `keras_sportsnet.transforms.EvaluationViews`
and the ``training=False`` result of ``PaperAugmentation``. The preprocessor is
deterministic: training augmentation (random crops and flips) belongs to the
data pipeline, whose random choices are keyed by (seed, pass, step).

The rest of the paper's protocol rides along as configuration, read by
evaluation code through ``get_config()``: the clip geometry the sampler needs
(``num_frames``, ``frame_stride``), ``clips_per_video`` (20), ``views`` (4
crops/flips per clip) and ``aggregation`` (``"mean_probability"``).

The ops are those of `keras_sportsnet.transforms.functional` (any backend,
static or dynamic frame sizes): the one implementation the augmentation
layers and the data pipelines use too.
"""

import keras
from keras import ops

from keras_sportsnet.transforms import functional
from keras_sportsnet.transforms.functional import PAPER_RESIZE
from keras_sportsnet.transforms.functional import centre_crop
from keras_sportsnet.transforms.functional import default_resize_to
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
    "default_resize_to",
]

AGGREGATIONS = ("mean_probability",)
"""How clip/view predictions become one video prediction: the mean of the probabilities (the paper)."""
MAX_VIEWS = 4
"""`EvaluationViews` has four views: centre, centre flipped, top-left, bottom-right."""


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
        height, width = tuple(clips.shape)[2:4]
        if height is not None and width is not None and min(height, width) < 1:
            raise ValueError(f"Clips have empty frames. Received: clips.shape={tuple(clips.shape)}")
        x = functional.centre_crop_resize(clips, self.resize_size, dtype="float32")
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
