import keras
import numpy as np
import pytest

from keras_sportsnet import LocalResponseNormalization
from keras_sportsnet import SelectFrames

pytestmark = pytest.mark.tensorflow_free  # also runs in the venv without TensorFlow (tests/backends)


def numpy_lrn(x, size=5, bias=2.0, alpha=1e-4, beta=0.5):
    """Krizhevsky et al. (2012), eq. in Sec. 3.3, written as a plain loop."""
    channels = x.shape[-1]
    out = np.empty_like(x, dtype="float64")
    for c in range(channels):
        lo, hi = max(0, c - size // 2), min(channels - 1, c + size // 2)
        total = np.sum(x[..., lo : hi + 1].astype("float64") ** 2, axis=-1)
        out[..., c] = x[..., c] / (bias + alpha * total) ** beta
    return out


@pytest.mark.parametrize("shape", [(2, 3, 4, 4, 7), (2, 5, 5, 16), (3, 1)])
def test_lrn_matches_numpy_reference_with_papers_constants(shape):
    x = np.random.default_rng(0).uniform(-100, 400, shape).astype("float32")
    y = keras.ops.convert_to_numpy(LocalResponseNormalization()(x))
    np.testing.assert_allclose(y, numpy_lrn(x), rtol=1e-5, atol=1e-5)


def test_lrn_alpha_is_not_divided_by_window_size():
    # One non-zero channel: Krizhevsky/TF give x / (k + alpha x^2)^beta, Caffe
    # would give x / (k + alpha/n x^2)^beta. The two differ by far more than
    # round-off at x = 300.
    x = np.zeros((1, 5), "float32")
    x[0, 2] = 300.0
    y = keras.ops.convert_to_numpy(LocalResponseNormalization()(x))
    np.testing.assert_allclose(y[0, 2], 300.0 / (2.0 + 1e-4 * 300.0**2) ** 0.5, rtol=1e-6)
    assert abs(y[0, 2] - 300.0 / (2.0 + 1e-4 / 5 * 300.0**2) ** 0.5) > 10


def test_lrn_other_constants_and_float16_do_not_overflow():
    x = np.random.default_rng(1).uniform(0, 600, (2, 6, 6, 9)).astype("float32")
    layer = LocalResponseNormalization(size=3, bias=1.0, alpha=2e-4, beta=0.75)
    y = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(y, numpy_lrn(x, 3, 1.0, 2e-4, 0.75), rtol=1e-5, atol=1e-6)
    half = LocalResponseNormalization(dtype="float16")
    y16 = keras.ops.convert_to_numpy(half(x.astype("float16")))
    assert np.isfinite(y16).all()
    np.testing.assert_allclose(y16, numpy_lrn(x.astype("float16")), rtol=2e-3, atol=1e-2)


def test_lrn_hand_written_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    x = rng.uniform(-50, 300, (1, 2, 2, 7))
    weights = rng.normal(size=x.shape)
    layer = LocalResponseNormalization(dtype="float64")

    def loss(v):
        return float(np.sum(numpy_lrn(v) * weights))

    analytic = backend_gradient(lambda v: keras.ops.sum(layer(v) * weights), x)
    numeric = np.zeros_like(x)
    eps = 1e-4
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        numeric[index] = (loss(x + step) - loss(x - step)) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def backend_gradient(fn, x):
    """d fn(x) / dx with the active Keras backend's autodiff."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        try:
            return np.asarray(jax.grad(fn)(jax.numpy.asarray(x)))
        finally:
            jax.config.update("jax_enable_x64", False)
    if backend == "tensorflow":
        import tensorflow as tf

        tensor = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(tensor)
            value = fn(tensor)
        return tape.gradient(value, tensor).numpy()
    pytest.skip(f"no gradient helper for backend {backend}")


@pytest.mark.parametrize("size", [0, 4, -1, 2.0])
def test_lrn_rejects_bad_window(size):
    with pytest.raises(ValueError, match=r"`size` must be a positive odd integer. Received: size="):
        LocalResponseNormalization(size=size)


def test_layers_round_trip_through_config():
    lrn = LocalResponseNormalization(size=3, alpha=1e-3, name="n")
    clone = LocalResponseNormalization.from_config(lrn.get_config())
    assert (clone.size, clone.alpha, clone.beta, clone.bias) == (3, 1e-3, 0.5, 2.0)
    select = SelectFrames([0, 15])
    assert SelectFrames.from_config(select.get_config()).indices == [0, 15]


def test_select_frames_picks_indices_and_checks_range():
    clip = np.arange(16, dtype="float32").reshape(1, 16, 1, 1, 1) * np.ones((1, 16, 2, 2, 3), "float32")
    picked = keras.ops.convert_to_numpy(SelectFrames([0, 15])(clip))
    assert picked.shape == (1, 2, 2, 2, 3)
    assert picked[0, :, 0, 0, 0].tolist() == [0.0, 15.0]
    contiguous = keras.ops.convert_to_numpy(SelectFrames([3, 4, 5])(clip))
    assert contiguous[0, :, 0, 0, 0].tolist() == [3.0, 4.0, 5.0]
    with pytest.raises(ValueError, match="past the clip's 4 frames"):
        SelectFrames([0, 4])(keras.Input((4, 2, 2, 3)))
    with pytest.raises(ValueError, match="`indices` must be a non-empty list"):
        SelectFrames([])


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the TensorFlow-only fast path (runs in the TF session)")
def test_tensorflow_inference_path_equals_the_portable_one_forward_and_backward():
    import tensorflow as tf

    from keras_sportsnet.layers import _lrn
    from keras_sportsnet.layers import _tensorflow_lrn

    x = tf.constant(np.random.default_rng(5).uniform(0, 60, (2, 3, 6, 6, 16)).astype("float32"))
    layer = LocalResponseNormalization()
    np.testing.assert_allclose(layer(x, training=False).numpy(), _lrn(x, 2, 2.0, 1e-4, 0.5).numpy(), rtol=1e-6)
    np.testing.assert_allclose(layer(x, training=True).numpy(), _lrn(x, 2, 2.0, 1e-4, 0.5).numpy(), rtol=1e-6)
    def gradient(function):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(function(x, 2, 2.0, 1e-4, 0.5) ** 2)
        return tape.gradient(loss, x).numpy()

    fused, portable = gradient(_tensorflow_lrn), gradient(_lrn)
    np.testing.assert_allclose(fused, portable, rtol=1e-4, atol=1e-6)
    for rank_shape in ((4, 16), (3, 5, 16), (2, 4, 4, 16)):
        v = tf.constant(np.random.default_rng(1).uniform(0, 9, rank_shape).astype("float32"))
        np.testing.assert_allclose(_tensorflow_lrn(v, 2, 2.0, 1e-4, 0.5).numpy(), _lrn(v, 2, 2.0, 1e-4, 0.5).numpy(), rtol=1e-6)
