"""The paper's data augmentation as clip-consistent Keras preprocessing layers.

Karpathy et al. (Sec. 4.1) crop every frame to its centre region, resize it
to 200 x 200, then take a random 170 x 170 crop (178 for multires models) and
flip it horizontally with probability 0.5; the crop position and the flip are
the same for every frame of a clip. At test time a clip is seen through 4
crops/flips (`EvaluationViews`).

Every layer takes clips ``(batch, frames, height, width, channels)`` or one
clip ``(frames, height, width, channels)``, in any numeric dtype (uint8
decoded frames included), and returns the layer's compute dtype (float32 by
default; ``CenterCropResize(output_dtype="uint8")`` excepted) with values
still in ``[0, 255]``: the models subtract the pixel mean themselves. Random choices are drawn per clip, never per frame.

The layers are Keras `DataLayer`s (the base of Keras' own preprocessing
layers), so they run both

- inside ``tf.data`` on the CPU, whatever the Keras backend: in a TF graph
  they compute with TensorFlow ops even under JAX or PyTorch;
- as the first layers of a model on the accelerator (e.g. uint8 clips in,
  ``keras.Input(shape, dtype="uint8")``).

They are written with the backend's own ops (no Lambda layers), vectorized
over the batch: one gather crops every clip at its own offset, and frames are
resized as one ``(batch * frames, height, width, channels)`` image batch.
"""

import keras

from keras_sportsnet.transforms import functional
from keras_sportsnet.transforms.functional import EVALUATION_VIEWS
from keras_sportsnet.transforms.functional import PAPER_RESIZE
from keras_sportsnet.transforms.functional import average_views
from keras_sportsnet.utils.checks import check_size

try:  # Keras >= 3.11
    from keras.src.layers.preprocessing.data_layer import DataLayer as _DataLayer
except ImportError:  # pragma: no cover - older Keras 3
    from keras.src.layers.preprocessing.tf_data_layer import TFDataLayer as _DataLayer

__all__ = [
    "CenterCropResize",
    "centre_square_resize",
    "RandomClipCrop",
    "RandomClipFlip",
    "PaperAugmentation",
    "EvaluationViews",
    "EVALUATION_VIEWS",
    "PAPER_RESIZE",
    "average_views",
]


class _ClipLayer(_DataLayer):
    """Shared plumbing: input ranks, unbatched clips, output dtype and shape.

    Subclasses implement `_transform(clips, training)` on batched clips
    ``(B, T, H, W, C)`` (any dtype; the result is cast to the output dtype)
    and `_output_shape(batched_shape)`.
    """

    # EvaluationViews maps one clip to a batch of views: no squeeze.
    _squeeze_unbatched = True

    def _output_dtype(self):
        return self.compute_dtype

    def _check_input_shape(self, input_shape):
        if len(input_shape) not in (4, 5):
            raise ValueError(
                f"{type(self).__name__} expects clips of rank 5 (batch, frames, height, "
                "width, channels) or rank 4 (frames, height, width, channels). "
                f"Received: inputs.shape={tuple(input_shape)}"
            )

    def _check_crop_fits(self, input_shape, crop_size):
        height, width = input_shape[-3], input_shape[-2]
        if (height is not None and height < crop_size[0]) or (
            width is not None and width < crop_size[1]
        ):
            raise ValueError(
                f"{type(self).__name__}: frames must be at least crop_size={crop_size} "
                f"(height, width). Received: inputs.shape={tuple(input_shape)}"
            )

    def build(self, input_shape=None):
        # No shape-dependent state (the seed generators exist from __init__);
        # building marks the sublayers of the composite layers built too.
        for layer in self._layers:
            layer.build(input_shape)
        self.built = True

    def call(self, clips, training=True):
        # Checked here rather than in build(): under a foreign backend (JAX
        # layer in tf.data) Keras does not pass the input shape to build().
        self._check_input_shape(tuple(clips.shape))
        unbatched = len(clips.shape) == 4
        if unbatched:
            clips = self.backend.numpy.expand_dims(clips, 0)
        outputs = self._transform(clips, training)
        if unbatched and self._squeeze_unbatched:
            outputs = outputs[0]
        return self._cast_output(outputs)

    def _cast_output(self, outputs):
        return self.backend.cast(outputs, self._output_dtype())

    def compute_output_shape(self, input_shape):
        self._check_input_shape(input_shape)
        unbatched = len(input_shape) == 4
        if unbatched:
            input_shape = (1, *input_shape)
        output_shape = tuple(self._output_shape(tuple(input_shape)))
        return output_shape[1:] if unbatched and self._squeeze_unbatched else output_shape

    def compute_output_spec(self, inputs, training=True):
        return keras.KerasTensor(
            self.compute_output_shape(inputs.shape), dtype=self._output_dtype()
        )


@keras.saving.register_keras_serializable(package="keras_sportsnet")
class CenterCropResize(_ClipLayer):
    """Crops every frame to its largest centred region and resizes it.

    The region has the aspect ratio of `size` (the largest centred square
    for the paper's 200 x 200: 240 x 240 of a 320 x 240 frame), starting at
    ``((height - crop) // 2, (width - crop) // 2)``. Resizing is bilinear
    with half-pixel centres and no antialiasing (`keras.ops.image.resize`
    defaults), skipped when the region already has the target size. Works on
    frames of unknown size inside ``tf.data`` (one clip at a time).

    Args:
        size: int or ``(height, width)``. Output frame size (200 in the paper).
        output_dtype: None for the layer's compute dtype (float32 by default),
            or ``"uint8"`` to round and clip back to uint8, e.g. to keep
            ``tf.data`` buffers and host-to-device copies 4x smaller when the
            random crop and flip run on the accelerator.
        **kwargs: `name`, `dtype` as for `keras.layers.Layer`.

    Example:
    ```python
    layer = CenterCropResize(200)
    layer(np.zeros((2, 10, 240, 320, 3), "uint8")).shape   # (2, 10, 200, 200, 3)
    dataset = dataset.map(CenterCropResize(200, output_dtype="uint8"))
    ```
    """

    _OUTPUT_DTYPES = (None, "uint8")

    def __init__(self, size=PAPER_RESIZE, output_dtype=None, **kwargs):
        super().__init__(**kwargs)
        self.size = check_size("size", size)
        if output_dtype not in self._OUTPUT_DTYPES:
            raise ValueError(
                f"`output_dtype` must be one of {list(self._OUTPUT_DTYPES)}. "
                f"Received: output_dtype={output_dtype!r}"
            )
        self.output_dtype = output_dtype

    def _output_dtype(self):
        return self.output_dtype or self.compute_dtype

    def _transform(self, clips, training):
        return functional.centre_crop_resize(clips, self.size, dtype=self._output_dtype(), backend=self.backend)

    def _output_shape(self, input_shape):
        return (*input_shape[:2], *self.size, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "size": self.size, "output_dtype": self.output_dtype}


def centre_square_resize(clips, size=PAPER_RESIZE):
    """Functional `CenterCropResize`: the centre square of each frame, resized.

    For NumPy arrays (e.g. decoded frames before writing shards) and for
    tensors inside ``tf.data`` (any Keras backend; frame size may be unknown).
    uint8 input gives uint8 output (rounded), anything else float32.

    Args:
        clips: ``(frames, height, width, channels)`` or a batch of them.
        size: int or ``(height, width)``. Output frame size (200).

    Returns:
        A tensor of the backend in use (TensorFlow inside ``tf.data``);
        ``np.asarray`` turns an eager one into NumPy.

    Example:
    ```python
    frames = centre_square_resize(np.zeros((10, 240, 320, 3), "uint8"))  # uint8 (10, 200, 200, 3)
    dataset = dataset.map(lambda clip, label: (centre_square_resize(clip), label))
    ```
    """
    return functional.centre_crop_resize(clips, size)


def _random_offsets(layer, clips, size, seed):
    """One random top-left corner per clip (uniform over every position inside the frame)."""
    batch, _, height, width, _ = layer.backend.core.shape(clips)
    top = layer.backend.random.randint((batch,), 0, height - size[0] + 1, seed=seed)
    left = layer.backend.random.randint((batch,), 0, width - size[1] + 1, seed=seed)
    return top, left


def _random_flips(layer, clips, seed):
    """One coin per clip: True (p = 0.5) means mirrored."""
    batch = layer.backend.core.shape(clips)[0]
    return layer.backend.random.uniform((batch,), seed=seed) < 0.5


@keras.saving.register_keras_serializable(package="keras_sportsnet")
class RandomClipCrop(_ClipLayer):
    """A random ``size`` crop per clip, the same for all its frames.

    Training: the crop's top-left corner is uniform over every position
    inside the frame, drawn independently for each clip of the batch.
    Inference (``training=False``): the centre crop, at
    ``((height - size) // 2, (width - size) // 2)``.

    Args:
        size: int or ``(height, width)``. Crop size (170, or 178 for
            multires models).
        seed: int or None. Seed of the layer's `keras.random.SeedGenerator`.
        **kwargs: `name`, `dtype` as for `keras.layers.Layer`.

    Example:
    ```python
    crop = RandomClipCrop(170, seed=1)
    crop(clips).shape                    # (B, T, 170, 170, 3) from (B, T, 200, 200, 3)
    crop(clips, training=False)          # centre crops
    ```
    """

    def __init__(self, size, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.size = check_size("size", size)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def _transform(self, clips, training):
        self._check_crop_fits(tuple(clips.shape), self.size)
        if not training:
            return functional.centre_crop(clips, self.size, backend=self.backend)
        top, left = _random_offsets(self, clips, self.size, self._get_seed_generator(self.backend._backend))
        return functional.crop(clips, top, left, self.size, backend=self.backend)

    def _output_shape(self, input_shape):
        self._check_crop_fits(input_shape, self.size)
        return (*input_shape[:2], *self.size, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "size": self.size, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_sportsnet")
class RandomClipFlip(_ClipLayer):
    """Flips a clip left-right with probability 0.5, all its frames together.

    Each clip of the batch is flipped or not independently; no-op at
    inference (``training=False``).

    Args:
        seed: int or None. Seed of the layer's `keras.random.SeedGenerator`.
        **kwargs: `name`, `dtype` as for `keras.layers.Layer`.

    Example:
    ```python
    flip = RandomClipFlip(seed=2)
    flipped = flip(clips)                # same shape; ~half the clips mirrored
    ```
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def _transform(self, clips, training):
        if not training:
            return clips
        flips = _random_flips(self, clips, self._get_seed_generator(self.backend._backend))
        return functional.flip_left_right(clips, flips, backend=self.backend)

    def _output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_sportsnet")
class PaperAugmentation(_ClipLayer):
    """The paper's training augmentation: centre-resize, random crop, random flip.

    `CenterCropResize(resize_to)` -> `RandomClipCrop(crop_size)` ->
    `RandomClipFlip`, every choice shared by all frames of a clip. With
    ``training=False`` the result is the centre crop, unflipped.

    Args:
        crop_size: int or ``(height, width)``. The model's frame size: 170,
            or 178 for multires/fovea/context models (see `for_model`).
        resize_to: int or ``(height, width)``. Size of the centre region
            before cropping (200 in the paper); at least `crop_size`.
        seed: int or None. Seed of the layer's one `keras.random.SeedGenerator`: the crop
            offsets, then the flips, are drawn from it in turn.
        **kwargs: `name`, `dtype` as for `keras.layers.Layer`.

    Example:
    ```python
    augment = PaperAugmentation.for_model(model, seed=0)
    dataset = dataset.batch(32).map(augment)                  # in tf.data, or
    inputs = keras.Input((10, 240, 320, 3), dtype="uint8")     # on the accelerator
    outputs = model(augment(inputs))
    ```
    """

    def __init__(self, crop_size=170, resize_to=PAPER_RESIZE, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.crop_size, self.resize_to = functional.check_crop_and_resize(crop_size, resize_to)
        self.seed = seed
        sub = {"dtype": self.dtype_policy}
        self.resize = CenterCropResize(self.resize_to, name="center_crop_resize", **sub)
        self.generator = keras.random.SeedGenerator(seed)

    @classmethod
    def for_model(cls, model, seed=None, resize_to=None):
        """The augmentation for a model's ``clip_geometry`` ``image_size``.

        Args:
            model: a keras_sportsnet model (anything with a ``clip_geometry``).
            seed: int or None.
            resize_to: int, ``(height, width)`` or None: the model's
                preprocessor's ``resize_to`` when it has one, else
                `keras_sportsnet.transforms.functional.default_resize_to`
                (200, the paper's, when the frames fit in it).
        """
        geometry = getattr(model, "clip_geometry", None)
        if geometry is None:
            raise TypeError(
                "`model` must have a `clip_geometry` (keras_sportsnet backbones, classifiers and ensembles do). "
                f"Received: model={type(model).__name__} {getattr(model, 'name', '')!r}"
            )
        image_size = geometry.get("image_size")
        if image_size is None:
            raise ValueError(
                "`model.clip_geometry` must give an `image_size` to pick the crop "
                f"size. Received: clip_geometry={model.clip_geometry!r}"
            )
        if resize_to is None:
            preprocessor = getattr(model, "preprocessor", None)
            if preprocessor is not None and hasattr(preprocessor, "get_config"):
                resize_to = preprocessor.get_config().get("resize_to")
        if resize_to is None:
            resize_to = functional.default_resize_to(image_size)
        return cls(crop_size=check_size("image_size", image_size), resize_to=resize_to, seed=seed)

    def _transform(self, clips, training):
        clips = self.resize(clips)
        self._check_crop_fits(tuple(clips.shape), self.crop_size)
        if not training:
            return functional.centre_crop(clips, self.crop_size, backend=self.backend)
        seed = self._get_seed_generator(self.backend._backend)  # one generator: the crop, then the flip
        top, left = _random_offsets(self, clips, self.crop_size, seed)
        clips = functional.crop(clips, top, left, self.crop_size, backend=self.backend)
        return functional.flip_left_right(clips, _random_flips(self, clips, seed), backend=self.backend)

    def _output_shape(self, input_shape):
        return (*input_shape[:2], *self.crop_size, input_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "crop_size": self.crop_size,
            "resize_to": self.resize_to,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="keras_sportsnet")
class EvaluationViews(_ClipLayer):
    """The 4 deterministic crops/flips of each clip for video-level evaluation.

    The paper propagates every test clip 4 times "with different crops and
    flips" and averages the predictions. After `CenterCropResize(resize_to)`
    the views are, in this order (`EVALUATION_VIEWS`):

    0. centre crop; 1. centre crop, flipped left-right;
    2. top-left corner crop; 3. bottom-right corner crop.

    Output: the views flattened into the batch, ``(batch * 4, frames, crop,
    crop, channels)``, view-major within each clip (row ``4 * b + v`` is
    view ``v`` of clip ``b``), so the model reads them directly; one clip
    ``(frames, h, w, c)`` gives ``(4, frames, crop, crop, channels)``.
    `average_views` averages the model's predictions back per clip.

    Args:
        crop_size: int or ``(height, width)``. The model's frame size.
        resize_to: int or ``(height, width)``; at least `crop_size`.
        **kwargs: `name`, `dtype` as for `keras.layers.Layer`.

    Example:
    ```python
    views = EvaluationViews(crop_size=170)
    probabilities = model.predict(views(clips))          # (B * 4, classes)
    clip_probabilities = average_views(probabilities)    # (B, classes)
    ```
    """

    _squeeze_unbatched = False

    def __init__(self, crop_size=170, resize_to=PAPER_RESIZE, **kwargs):
        super().__init__(**kwargs)
        self.crop_size, self.resize_to = functional.check_crop_and_resize(crop_size, resize_to)
        self.resize = CenterCropResize(
            self.resize_to, name="center_crop_resize", dtype=self.dtype_policy
        )

    @property
    def num_views(self):
        """Views per clip (4)."""
        return len(EVALUATION_VIEWS)

    def _transform(self, clips, training):
        return functional.evaluation_views(self.resize(clips), self.crop_size, backend=self.backend)

    def _output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] * self.num_views
        return (batch, input_shape[1], *self.crop_size, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "crop_size": self.crop_size, "resize_to": self.resize_to}
