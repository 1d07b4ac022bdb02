"""Layers the paper needs that Keras does not ship."""

import keras
from keras import ops

__all__ = ["FramewisePooling", "LocalResponseNormalization", "SelectFrames"]


def _channel_window_sum(x, radius):
    """Sum of ``x`` over a window of ``2 * radius + 1`` channels, zero padded."""
    if radius == 0:
        return x
    rank = len(x.shape)
    padded = ops.pad(x, [[0, 0]] * (rank - 1) + [[radius, radius]])
    channels = x.shape[-1]
    total = padded[..., 0:channels]
    for shift in range(1, 2 * radius + 1):
        total = total + padded[..., shift : shift + channels]
    return total


@keras.saving.register_keras_serializable(package="keras_sportsnet")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalization across channels, the paper's ``N``.

    For the activation ``a_c`` of channel ``c`` at one position::

        b_c = a_c / (k + alpha * sum_{c' = c - n//2}^{c + n//2} a_{c'}^2) ** beta

    with channels outside ``[0, C)`` counting as zero. This is the convention of
    Krizhevsky et al. (2012) and of `tf.nn.local_response_normalization`: ``alpha``
    multiplies the plain sum of squares. Caffe's ``LRN`` layer instead divides
    ``alpha`` by ``n``; to reproduce a Caffe model pass ``alpha=caffe_alpha / n``.
    The paper (Karpathy et al., 2014, Sec. 3.1) uses ``k=2, n=5, alpha=1e-4,
    beta=0.5`` (not AlexNet's ``beta=0.75``), which are the defaults.

    The gradient is written by hand (``keras.ops.custom_gradient``) instead of
    being derived through the window sums, which makes a training step of the
    paper's networks markedly faster on every backend.

    Works on inputs of any rank with channels last, e.g. ``(B, T, H, W, C)``.
    Float16 inputs are normalized in float32 (squares of raw-pixel-scale
    activations overflow float16) and cast back.

    Args:
        size: int, odd. ``n``, the number of channels in the window.
        bias: float. ``k``.
        alpha: float. Scale of the sum of squares (Krizhevsky convention).
        beta: float. Exponent.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:
    >>> layer = LocalResponseNormalization()
    >>> layer(np.ones((1, 4, 4, 8), "float32")).shape
    (1, 4, 4, 8)
    """

    def __init__(self, size=5, bias=2.0, alpha=1e-4, beta=0.5, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, int) or size < 1 or size % 2 == 0:
            raise ValueError(
                f"`size` must be a positive odd integer. Received: size={size!r}"
            )
        if bias <= 0 and beta != 0:
            raise ValueError(f"`bias` must be positive. Received: bias={bias!r}")
        self.size = size
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.supports_masking = True

    def call(self, inputs, training=None):
        dtype = inputs.dtype
        upcast = keras.backend.standardize_dtype(dtype) == "float16"
        x = ops.cast(inputs, "float32") if upcast else inputs
        fused = keras.backend.standardize_dtype(x.dtype) == "float32"  # TF's CPU kernel is float32-only
        if not training and fused and keras.backend.backend() == "tensorflow":
            # Inference on TensorFlow: its fused LRN kernel is one pass over memory instead of
            # seven, the largest single saving in a forward pass of the paper's networks on CPU
            # (benchmarks/bench_models.py). Same formula and convention; gradients, where asked
            # for, are TensorFlow's own.
            outputs = _tensorflow_lrn(x, self.size // 2, self.bias, self.alpha, self.beta)
        else:
            outputs = _lrn(x, self.size // 2, self.bias, self.alpha, self.beta)
        return ops.cast(outputs, dtype) if upcast else outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {"size": self.size, "bias": self.bias, "alpha": self.alpha, "beta": self.beta}
        )
        return config


def _tensorflow_lrn(x, radius, bias, alpha, beta):
    """`tf.nn.local_response_normalization` over the last axis of a tensor of any rank."""
    import tensorflow as tf

    shape = tf.shape(x)
    if x.shape.rank == 4:
        images = x
    elif x.shape.rank > 4:  # (B, T, H, W, C) -> (B * T, H, W, C)
        images = tf.reshape(x, tf.concat([[-1], shape[-3:]], 0))
    else:
        images = tf.reshape(x, [-1, 1, 1, shape[-1]])
    outputs = tf.nn.local_response_normalization(images, radius, bias, alpha, beta)
    return tf.reshape(outputs, shape)


def _inverse_power(scale, beta):
    if beta == 0.5:
        return ops.rsqrt(scale)
    return ops.power(scale, -beta)


def _lrn(x, radius, bias, alpha, beta):
    @ops.custom_gradient
    def forward(x):
        scale = bias + alpha * _channel_window_sum(x * x, radius)
        inverse = _inverse_power(scale, beta)  # scale ** -beta

        def backward(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            # d b_i / d a_j = delta_ij s_i^-beta
            #                 - 2 alpha beta a_i a_j s_i^(-beta-1) [j in window(i)]
            weighted = upstream * x * inverse / scale
            return upstream * inverse - (2.0 * alpha * beta) * x * _channel_window_sum(
                weighted, radius
            )

        return x * inverse, backward

    return forward(x)


@keras.saving.register_keras_serializable(package="keras_sportsnet")
class SelectFrames(keras.layers.Layer):
    """Picks frames of a ``(B, T, H, W, C)`` clip by index (a serializable Lambda).

    Args:
        indices: list of int. Frame indices along axis 1, in output order.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> SelectFrames([0, 15])(np.zeros((1, 16, 8, 8, 3))).shape
    (1, 2, 8, 8, 3)
    """

    def __init__(self, indices, **kwargs):
        super().__init__(**kwargs)
        indices = [int(i) for i in indices]
        if not indices or min(indices) < 0:
            raise ValueError(
                f"`indices` must be a non-empty list of frame indices >= 0. Received: indices={indices!r}"
            )
        self.indices = indices

    def build(self, input_shape):
        frames = input_shape[1]
        if frames is not None and max(self.indices) >= frames:
            raise ValueError(
                f"`indices` {self.indices} select frames past the clip's {frames} frames."
            )

    def call(self, inputs):
        if self.indices == list(range(self.indices[0], self.indices[-1] + 1)):
            return inputs[:, self.indices[0] : self.indices[-1] + 1]
        return ops.take(inputs, self.indices, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.indices), *input_shape[2:])

    def get_config(self):
        config = super().get_config()
        config.update({"indices": list(self.indices)})
        return config


@keras.saving.register_keras_serializable(package="keras_sportsnet")
class FramewisePooling(keras.layers.Layer):
    """2-D max or average pooling of every frame of ``(B, T, H, W, C)`` clips: a 3-D pooling of temporal extent 1.

    Computes exactly what ``MaxPooling3D((1, p, q), strides=(1, s, t))`` (or
    ``AveragePooling3D``) computes, as a 2-D pooling over the frames folded
    into the batch. Used by `keras_sportsnet.models.export_model` for LiteRT,
    whose builtin operators have 2-D pooling but no 3-D pooling (which would
    need the Flex delegate). Has no weights.

    Args:
        pool_size: ``(height, width)`` of the window.
        strides: ``(height, width)``; default ``pool_size``.
        padding: ``"valid"`` or ``"same"``.
        mode: ``"max"`` or ``"avg"``.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> FramewisePooling((2, 2))(np.zeros((1, 4, 8, 8, 3))).shape
    (1, 4, 4, 4, 3)
    """

    def __init__(self, pool_size, strides=None, padding="valid", mode="max", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = tuple(int(v) for v in pool_size)
        self.strides = tuple(int(v) for v in (strides or pool_size))
        if padding not in ("valid", "same") or mode not in ("max", "avg"):
            raise ValueError(
                f"`padding` must be 'valid' or 'same' and `mode` 'max' or 'avg'. Received: padding={padding!r}, "
                f"mode={mode!r}"
            )
        self.padding, self.mode = padding, mode

    def call(self, inputs):
        _, frames, height, width, channels = inputs.shape
        images = ops.reshape(inputs, (-1, height, width, channels))
        pool = ops.max_pool if self.mode == "max" else ops.average_pool
        pooled = pool(images, self.pool_size, strides=self.strides, padding=self.padding)
        return ops.reshape(pooled, (-1, frames, *pooled.shape[1:]))

    def compute_output_shape(self, input_shape):
        batch, frames, height, width, channels = input_shape

        def side(size, pool, stride):
            if size is None:
                return None
            if self.padding == "same":
                return -(-size // stride)
            return (size - pool) // stride + 1

        return (batch, frames, side(height, self.pool_size[0], self.strides[0]),
                side(width, self.pool_size[1], self.strides[1]), channels)

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": list(self.pool_size), "strides": list(self.strides), "padding": self.padding,
                       "mode": self.mode})
        return config
