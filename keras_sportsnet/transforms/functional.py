"""The clip operations themselves: centre resize, crop, flip and the evaluation views.

Pure functions of their inputs (no state, no randomness: offsets and flips
are arguments), written with the Keras backend ops, so one implementation
serves every pipeline:

- the Keras layers of `keras_sportsnet.transforms.layers` (on the
  accelerator, any backend; random offsets from Keras seed generators);
- the ``tf.data`` pipelines of `keras_sportsnet.data` (offsets drawn from the
  explicit keys of `keras_sportsnet.data.random`);
- NumPy arrays, e.g. frames before they are written to shards.

Clips are ``(batch, frames, height, width, channels)``; the functions that
say so also take one clip ``(frames, height, width, channels)``. Inside a
``tf.data`` graph the functions compute with TensorFlow whatever the Keras
backend (as Keras' own preprocessing layers do); elsewhere with the Keras
backend in use. Pass ``backend`` (a Keras ``DynamicBackend``, as a
``DataLayer`` holds) to choose explicitly.

Example:
```python
from keras_sportsnet.transforms import functional as F
clips = F.centre_crop_resize(np.zeros((2, 10, 240, 320, 3), "uint8"), 200)  # (2, 10, 200, 200, 3)
clips = F.crop(clips, top=[0, 30], left=[15, 0], size=170)                   # one window per clip
clips = F.flip_left_right(clips, [True, False])
```
"""

import math
import numbers

import keras
from keras.src.utils.backend_utils import DynamicBackend
from keras.src.utils.backend_utils import in_tf_graph

from keras_sportsnet.utils.checks import check_size

__all__ = [
    "EVALUATION_VIEWS",
    "PAPER_RESIZE",
    "average_views",
    "centre_crop",
    "centre_crop_resize",
    "check_crop_and_resize",
    "crop",
    "crop_offsets",
    "default_resize_to",
    "evaluation_views",
    "flip_left_right",
    "paper_crop_flip",
]

PAPER_RESIZE = 200
"""The paper resizes the centre region of every frame to 200 x 200."""

EVALUATION_VIEWS = (
    ("center", False),
    ("center", True),
    ("top_left", False),
    ("bottom_right", False),
)
"""The evaluation views, in output order: (crop position, flipped)."""

CROP_POSITIONS = ("center", "top_left", "bottom_right")

PAPER_CROP = 170
"""The paper's crop of full-resolution models: 170 x 170 from the 200 x 200 frames."""


def _backend(backend=None, x=None):
    """The backend to compute with: TensorFlow inside a tf.data graph, else Keras' own.

    A tensor of another Keras backend traced inside a TensorFlow function (JAX
    under ``jax2tf``, as when a JAX model is exported to a SavedModel) keeps
    its own backend: TensorFlow ops cannot take a JAX tracer.
    """
    if backend is not None:
        return backend
    native = keras.backend.backend() != "tensorflow" and x is not None and keras.ops.is_tensor(x)
    return DynamicBackend("tensorflow" if in_tf_graph() and not native else None)


def _minimum(backend, a, b):
    """min of two sizes, each a Python int or (TF, dynamic) a scalar tensor."""
    if isinstance(a, int) and isinstance(b, int):
        return min(a, b)
    return backend.numpy.minimum(a, b)


def check_crop_and_resize(crop_size, resize_to):
    """Checked ``(crop_size, resize_to)`` as ``(height, width)`` pairs; the crop must fit in the resized frame.

    Args:
        crop_size: int or ``(height, width)``. The model's frame size.
        resize_to: int or ``(height, width)``. The frame size before cropping.

    Returns:
        ``((crop_height, crop_width), (resize_height, resize_width))``.

    Example:
    >>> check_crop_and_resize(170, 200)
    ((170, 170), (200, 200))
    """
    crop_pair, resize_pair = check_size("crop_size", crop_size), check_size("resize_to", resize_to)
    if any(c > r for c, r in zip(crop_pair, resize_pair)):
        raise ValueError(
            "`resize_to` must be at least `crop_size` (height, width): the crop is cut from the resized frame. "
            f"Received: crop_size={crop_size!r}, resize_to={resize_to!r}"
        )
    return crop_pair, resize_pair


def default_resize_to(image_size):
    """The paper's ``resize_to`` for a crop: 200, or the crop scaled by 200 / 170 when it is larger.

    Example:
    >>> default_resize_to((170, 170)), default_resize_to((256, 256))
    (200, 302)
    """
    largest = max(check_size("image_size", image_size))
    return PAPER_RESIZE if largest <= PAPER_RESIZE else math.ceil(largest * PAPER_RESIZE / PAPER_CROP)


def crop_offsets(position, height, width, crop_height, crop_width):
    """Top-left corner of a named crop position (ints or scalar tensors).

    Args:
        position: ``"center"``, ``"top_left"`` or ``"bottom_right"``.
        height, width: frame size.
        crop_height, crop_width: crop size.

    Returns:
        ``(top, left)``; the centre crop starts at ``((height - crop) // 2, (width - crop) // 2)``.

    Example:
    >>> crop_offsets("center", 200, 200, 170, 170)
    (15, 15)
    """
    if position == "top_left":
        return 0, 0
    if position == "bottom_right":
        return height - crop_height, width - crop_width
    if position == "center":
        return (height - crop_height) // 2, (width - crop_width) // 2
    raise ValueError(f"`position` must be one of {list(CROP_POSITIONS)}. Received: position={position!r}")


def _batched(clips, backend):
    """``(clips as rank 5, whether the input was one clip)``; a ValueError for other ranks."""
    rank = len(clips.shape)
    if rank not in (4, 5):
        raise ValueError(
            "Clips must have rank 5 (batch, frames, height, width, channels) or rank 4 (frames, height, "
            f"width, channels). Received: clips.shape={tuple(clips.shape)}"
        )
    if rank == 4:
        return backend.numpy.expand_dims(clips, 0), True
    return clips, False


def _gather_clips(clips, rows, cols, backend):
    """Per-clip row/column selection in one gather (crops and flips).

    ``clips`` ``(B, T, H, W, C)``; ``rows`` int32 ``(B, h)`` and ``cols`` int32
    ``(B, w)``: the input rows and columns of each clip's output. Output pixel
    ``(b, t, i, j)`` is input pixel ``(b, t, rows[b, i], cols[b, j])``,
    gathered as a row of the ``(B * T * H * W, C)`` pixel matrix (faster than
    a flip + select or a map over the batch). ``B * T * H * W`` must stay
    below 2**31.
    """
    ops = backend.numpy
    batch, frames, height, width, channels = backend.core.shape(clips)
    in_frame = rows[:, :, None] * width + cols[:, None, :]  # (B, h, w)
    frame = ops.arange(batch, dtype="int32")[:, None] * frames + ops.arange(frames, dtype="int32")[None, :]
    index = frame[:, :, None, None] * (height * width) + in_frame[:, None, :, :]
    return ops.take(ops.reshape(clips, (-1, channels)), index, axis=0)


def _check_fits(clips, size):
    height, width = clips.shape[-3], clips.shape[-2]
    if (height is not None and height < size[0]) or (width is not None and width < size[1]):
        raise ValueError(
            f"Frames must be at least the crop size {size} (height, width). Received: clips.shape={tuple(clips.shape)}"
        )


def crop(clips, top, left, size, *, backend=None):
    """Crops every clip at its own ``(top, left)``, the same window for all its frames.

    Args:
        clips: ``(B, T, H, W, C)`` with ``top``/``left`` of shape ``(B,)``, or
            one clip ``(T, H, W, C)`` with scalar ``top``/``left``.
        top, left: int offsets of each clip's window (ints, arrays or tensors).
        size: int or ``(height, width)``. The window.
        backend: a Keras ``DynamicBackend`` or None (see the module doc).

    Returns:
        The cropped clips, same rank and dtype.

    Example:
    ```python
    crop(np.zeros((2, 4, 200, 200, 3)), top=[0, 30], left=[0, 30], size=170).shape  # (2, 4, 170, 170, 3)
    ```
    """
    backend = _backend(backend, clips)
    size = check_size("size", size)
    _check_fits(clips, size)
    if len(clips.shape) == 4:  # one clip: plain slicing (offsets are ints or TF scalars)
        return clips[:, top : top + size[0], left : left + size[1], :]
    clips, _ = _batched(clips, backend)
    ops = backend.numpy
    top = backend.cast(ops.reshape(backend.convert_to_tensor(top), (-1,)), "int32")
    left = backend.cast(ops.reshape(backend.convert_to_tensor(left), (-1,)), "int32")
    rows = top[:, None] + ops.arange(size[0], dtype="int32")[None, :]
    cols = left[:, None] + ops.arange(size[1], dtype="int32")[None, :]
    return _gather_clips(clips, rows, cols, backend)


def centre_crop(clips, size, *, backend=None):
    """The centre ``size`` window of every frame, at ``((H - h) // 2, (W - w) // 2)``.

    Args:
        clips: ``(B, T, H, W, C)`` or ``(T, H, W, C)``.
        size: int or ``(height, width)``.
        backend: a Keras ``DynamicBackend`` or None.

    Example:
    ```python
    centre_crop(np.zeros((4, 200, 200, 3)), 170).shape   # (4, 170, 170, 3)
    ```
    """
    backend = _backend(backend, clips)
    size = check_size("size", size)
    _check_fits(clips, size)
    shape = backend.core.shape(clips)
    top, left = crop_offsets("center", shape[-3], shape[-2], *size)
    return clips[..., top : top + size[0], left : left + size[1], :]


def flip_left_right(clips, flips, *, backend=None):
    """Mirrors the clips whose flag is true, all frames of a clip together.

    Args:
        clips: ``(B, T, H, W, C)`` with ``flips`` of shape ``(B,)``, or one
            clip ``(T, H, W, C)`` with a scalar flag.
        flips: bools (or 0/1) per clip.
        backend: a Keras ``DynamicBackend`` or None.

    Example:
    ```python
    flipped = flip_left_right(clips, [True, False])   # the first clip mirrored
    ```
    """
    backend = _backend(backend, clips)
    ops = backend.numpy
    if len(clips.shape) == 4:
        flag = backend.cast(backend.convert_to_tensor(flips), "bool")
        return backend.core.cond(flag, lambda: ops.flip(clips, axis=2), lambda: clips)
    clips, _ = _batched(clips, backend)
    batch, _, height, width, _ = backend.core.shape(clips)
    flags = backend.cast(ops.reshape(backend.convert_to_tensor(flips), (-1, 1)), "bool")
    columns = ops.arange(width, dtype="int32")[None, :]
    cols = ops.where(flags, width - 1 - columns, columns)  # (B, W)
    rows = ops.broadcast_to(ops.arange(height, dtype="int32")[None, :], (batch, height))
    return _gather_clips(clips, rows, cols, backend)


def paper_crop_flip(clip, draws, crop_size, *, training=True, backend=None):
    """The paper's crop and flip of one clip from three random draws (the ``tf.data`` path).

    Training: the window's top is ``draws[0] % (H - h + 1)``, its left
    ``draws[1] % (W - w + 1)``, and the clip is mirrored when ``draws[2]`` is
    odd; the draws are non-negative ints (`keras_sportsnet.data.random`
    derives them from the seed). Not training: the centre crop.

    Args:
        clip: ``(T, H, W, C)``.
        draws: three non-negative ints (array or tensor).
        crop_size: int or ``(height, width)``.
        training: bool.
        backend: a Keras ``DynamicBackend`` or None.

    Example:
    ```python
    paper_crop_flip(np.zeros((4, 200, 200, 3), "uint8"), np.array([7, 40, 1]), 170).shape  # (4, 170, 170, 3)
    ```
    """
    backend = _backend(backend, clip)
    size = check_size("crop_size", crop_size)
    if not training:
        return centre_crop(clip, size, backend=backend)
    shape = backend.core.shape(clip)
    top = draws[0] % (shape[1] - size[0] + 1)
    left = draws[1] % (shape[2] - size[1] + 1)
    cropped = crop(clip, top, left, size, backend=backend)
    return flip_left_right(cropped, draws[2] % 2 == 1, backend=backend)


def centre_crop_resize(clips, size=PAPER_RESIZE, *, dtype=None, backend=None):
    """Crops every frame to its largest centred region of ``size``'s aspect, then resizes it to ``size``.

    For the paper's square 200 x 200 that is the centre square (240 x 240 of
    a 320 x 240 frame). Resizing is bilinear with half-pixel centres and no
    antialiasing (`keras.ops.image.resize` defaults), skipped when the region
    already has the target size. Frames may be of unknown size (inside
    ``tf.data``).

    Args:
        clips: ``(B, T, H, W, C)`` or ``(T, H, W, C)``, any numeric dtype.
        size: int or ``(height, width)``.
        dtype: output dtype: None keeps uint8 as uint8 (rounded and clipped)
            and gives float32 for anything else; or a dtype name.
        backend: a Keras ``DynamicBackend`` or None.

    Example:
    ```python
    centre_crop_resize(np.zeros((10, 240, 320, 3), "uint8"), 200).shape   # (10, 200, 200, 3) uint8
    ```
    """
    backend = _backend(backend, clips)
    size = check_size("size", size)
    input_dtype = keras.backend.standardize_dtype(clips.dtype)
    dtype = dtype or ("uint8" if input_dtype == "uint8" else "float32")
    clips, unbatched = _batched(clips, backend)
    _, frames, height, width, channels = backend.core.shape(clips)
    target_height, target_width = size
    crop_height = _minimum(backend, height, (width * target_height) // target_width)
    crop_width = _minimum(backend, width, (height * target_width) // target_height)
    top, left = crop_offsets("center", height, width, crop_height, crop_width)
    clips = clips[:, :, top : top + crop_height, left : left + crop_width, :]
    compute = "float32" if dtype == "uint8" else dtype
    clips = backend.cast(clips, compute)
    if not (isinstance(crop_height, int) and isinstance(crop_width, int) and (crop_height, crop_width) == size):
        images = backend.numpy.reshape(clips, (-1, crop_height, crop_width, channels))
        images = backend.image.resize(
            images, size, interpolation="bilinear", antialias=False, data_format="channels_last"
        )
        clips = backend.numpy.reshape(images, (-1, frames, *size, channels))
    if dtype == "uint8":
        clips = backend.numpy.clip(backend.numpy.round(clips), 0, 255)
    clips = backend.cast(clips, dtype)
    return clips[0] if unbatched else clips


def evaluation_views(clips, crop_size, *, backend=None):
    """The 4 deterministic views of each clip (`EVALUATION_VIEWS`), flattened into the batch.

    Views, in order: centre crop; centre crop flipped left-right; top-left
    corner crop; bottom-right corner crop. Row ``4 * b + v`` of the output is
    view ``v`` of clip ``b``; one clip ``(T, H, W, C)`` gives
    ``(4, T, h, w, C)``. Resize the frames first (`centre_crop_resize`).

    Args:
        clips: ``(B, T, H, W, C)`` or ``(T, H, W, C)``.
        crop_size: int or ``(height, width)``.
        backend: a Keras ``DynamicBackend`` or None.

    Example:
    ```python
    evaluation_views(np.zeros((2, 4, 200, 200, 3)), 170).shape   # (8, 4, 170, 170, 3)
    ```
    """
    backend = _backend(backend, clips)
    crop_height, crop_width = check_size("crop_size", crop_size)
    _check_fits(clips, (crop_height, crop_width))
    clips, _ = _batched(clips, backend)
    _, frames, height, width, channels = backend.core.shape(clips)
    views = []
    for position, flipped in EVALUATION_VIEWS:
        top, left = crop_offsets(position, height, width, crop_height, crop_width)
        view = clips[:, :, top : top + crop_height, left : left + crop_width, :]
        views.append(backend.numpy.flip(view, axis=3) if flipped else view)
    views = backend.numpy.stack(views, axis=1)
    return backend.numpy.reshape(views, (-1, frames, crop_height, crop_width, channels))


def average_views(predictions, num_views=len(EVALUATION_VIEWS)):
    """Averages per-view predictions back to one per clip (the inverse of `evaluation_views`' flattening).

    Args:
        predictions: array or tensor ``(batch * num_views, ...)``, the views
            of a clip adjacent.
        num_views: int. Views per clip (4).

    Returns:
        ``(batch, ...)``: the mean over each clip's views (a backend tensor;
        `keras.ops.convert_to_numpy` for NumPy).

    Example:
    ```python
    clip_probabilities = average_views(model.predict(evaluation_views(clips, 170)))
    ```
    """
    if isinstance(num_views, bool) or not isinstance(num_views, numbers.Integral) or num_views < 1:
        raise ValueError(f"`num_views` must be an int >= 1. Received: num_views={num_views!r}")
    predictions = keras.ops.convert_to_tensor(predictions)
    rows = predictions.shape[0]
    if rows is not None and rows % num_views:
        raise ValueError(
            f"`predictions` must have a multiple of num_views={num_views} rows. "
            f"Received: predictions.shape={tuple(predictions.shape)}"
        )
    grouped = keras.ops.reshape(predictions, (-1, num_views, *predictions.shape[1:]))
    return keras.ops.mean(grouped, axis=1)
