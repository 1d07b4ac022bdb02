"""The paper's clip augmentation layers: exactness, clip consistency, tf.data, models, JAX."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_sportsnet.transforms import EVALUATION_VIEWS
from keras_sportsnet.transforms import CenterCropResize
from keras_sportsnet.transforms import EvaluationViews
from keras_sportsnet.transforms import PaperAugmentation
from keras_sportsnet.transforms import RandomClipCrop
from keras_sportsnet.transforms import RandomClipFlip
from keras_sportsnet.transforms import average_views
from keras_sportsnet.transforms import centre_square_resize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def still_clips(batch, frames, height, width, seed=0):
    """uint8 clips whose frames are all the same image (one per clip)."""
    images = np.random.default_rng(seed).integers(0, 256, (batch, 1, height, width, 3), np.uint8)
    return np.repeat(images, frames, axis=1)


def coordinate_clips(batch, frames, height, width):
    """uint8 clips whose pixel (b, t, y, x) is (y, x, b * frames + t)."""
    y, x = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    clips = np.empty((batch, frames, height, width, 3), np.uint8)
    clips[..., 0], clips[..., 1] = y, x
    clips[..., 2] = np.arange(batch * frames).reshape(batch, frames, 1, 1)
    return clips


def numpy_bilinear(image, size):
    """Half-pixel-centre bilinear resize of ``(H, W, C)``, without antialiasing."""

    def axis_weights(n_in, n_out):
        source = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        low = np.floor(source).astype(int)
        high = np.minimum(low + 1, n_in - 1)
        return low, high, source - low

    y0, y1, wy = axis_weights(image.shape[0], size)
    x0, x1, wx = axis_weights(image.shape[1], size)
    image = image.astype(np.float64)
    rows = image[y0] * (1 - wy)[:, None, None] + image[y1] * wy[:, None, None]
    return rows[:, x0] * (1 - wx)[None, :, None] + rows[:, x1] * wx[None, :, None]


def numpy_(x):
    return keras.ops.convert_to_numpy(x)


def assert_frames_identical(clips):
    clips = numpy_(clips)
    np.testing.assert_array_equal(clips, np.broadcast_to(clips[:, :1], clips.shape))


LAYERS = {
    "center_crop_resize": (lambda seed: CenterCropResize(48), (48, 48)),
    "random_clip_crop": (lambda seed: RandomClipCrop((30, 40), seed=seed), (30, 40)),
    "random_clip_flip": (lambda seed: RandomClipFlip(seed=seed), (36, 52)),
    "paper_augmentation": (lambda seed: PaperAugmentation(30, resize_to=34, seed=seed), (30, 30)),
}


# === Shapes, dtypes, clip consistency, determinism (every layer) ===


@pytest.mark.parametrize("name", LAYERS)
def test_shapes_dtype_and_clip_consistency(name):
    make, (height, width) = LAYERS[name]
    layer = make(0)
    clips = still_clips(8, 5, 36, 52)
    for training in (True, False):
        out = layer(clips, training=training)
        assert tuple(out.shape) == (8, 5, height, width, 3) and out.dtype == "float32"
        assert_frames_identical(out)
    one = layer(clips[0])
    assert tuple(one.shape) == (5, height, width, 3)
    assert_frames_identical(one[None])
    assert layer.compute_output_shape((None, 5, 36, 52, 3)) == (None, 5, height, width, 3)
    assert layer.compute_output_shape((5, 36, 52, 3)) == (5, height, width, 3)


@pytest.mark.parametrize("name", [n for n in LAYERS if n != "center_crop_resize"])
def test_seeded_layers_are_deterministic_and_vary_per_call(name):
    make, _ = LAYERS[name]
    clips = still_clips(16, 2, 36, 52)
    first, again = make(7), make(7)
    a1, a2 = numpy_(first(clips)), numpy_(first(clips))
    np.testing.assert_array_equal(a1, numpy_(again(clips)))
    np.testing.assert_array_equal(a2, numpy_(again(clips)))
    assert not np.array_equal(a1, a2)  # the generator advances
    assert not np.array_equal(a1, numpy_(make(8)(clips)))


@pytest.mark.parametrize("name", LAYERS)
def test_get_config_round_trips(name):
    layer = LAYERS[name][0](3)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.get_config() == config


# === CenterCropResize ===


def test_center_crop_is_exact_for_landscape_and_portrait_frames():
    landscape = coordinate_clips(2, 3, 24, 32)
    np.testing.assert_array_equal(numpy_(CenterCropResize(24)(landscape)), landscape[:, :, :, 4:28])
    portrait = coordinate_clips(2, 3, 33, 24)
    np.testing.assert_array_equal(numpy_(CenterCropResize(24)(portrait)), portrait[:, :, 4:28])
    rect = CenterCropResize((12, 32))(landscape)  # the aspect ratio of `size`
    np.testing.assert_array_equal(numpy_(rect), landscape[:, :, 6:18])


def test_resize_320x240_to_200_uses_the_centre_240_square():
    clips = np.random.default_rng(1).integers(0, 256, (1, 2, 240, 320, 3), np.uint8)
    out = numpy_(CenterCropResize(200)(clips))
    assert out.shape == (1, 2, 200, 200, 3) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 255
    expected = numpy_bilinear(clips[0, 1, :, 40:280], 200)
    np.testing.assert_allclose(out[0, 1], expected, atol=1e-2)  # float32 coordinates
    as_uint8 = CenterCropResize(200, output_dtype="uint8")(clips)
    assert as_uint8.dtype == "uint8"
    np.testing.assert_array_equal(numpy_(as_uint8), np.round(out).astype(np.uint8))


def test_centre_square_resize_function_keeps_uint8():
    frames = np.random.default_rng(3).integers(0, 256, (4, 30, 40, 3), np.uint8)
    out = centre_square_resize(frames, 20)
    assert out.dtype == "uint8" and tuple(out.shape) == (4, 20, 20, 3)
    layer = CenterCropResize(20, output_dtype="uint8")
    np.testing.assert_array_equal(np.asarray(out), numpy_(layer(frames)))
    assert centre_square_resize(frames.astype("float32"), 20).dtype == "float32"


# === RandomClipCrop ===


def test_random_crop_is_one_window_per_clip_and_centre_at_inference():
    clips = coordinate_clips(64, 3, 40, 50)
    out = numpy_(RandomClipCrop((20, 30), seed=1)(clips)).astype(np.uint8)
    offsets = out[:, 0, 0, 0, :2].astype(int)  # (top, left) of each clip's crop
    for b, (top, left) in enumerate(offsets):
        np.testing.assert_array_equal(out[b], clips[b, :, top : top + 20, left : left + 30])
    assert offsets[:, 0].min() == 0 and offsets[:, 0].max() == 20
    assert offsets[:, 1].min() == 0 and offsets[:, 1].max() == 20
    assert len({tuple(o) for o in offsets}) > 32  # clips get their own crops
    centre = RandomClipCrop((20, 30))(clips, training=False)
    np.testing.assert_array_equal(numpy_(centre), clips[:, :, 10:30, 10:40])


# === RandomClipFlip ===


def test_flip_rate_is_one_half_whole_clips_and_noop_at_inference():
    clips = coordinate_clips(2000, 2, 2, 5)
    clips[..., 2] = np.arange(2000)[:, None, None, None] % 256
    out = numpy_(RandomClipFlip(seed=5)(clips))
    flipped = np.all(out == clips[:, :, :, ::-1], axis=(1, 2, 3, 4))
    kept = np.all(out == clips, axis=(1, 2, 3, 4))
    assert np.all(flipped ^ kept)  # every clip is mirrored whole, or untouched
    assert 900 < flipped.sum() < 1100  # Binomial(2000, 0.5): 1000 +- 22
    np.testing.assert_array_equal(numpy_(RandomClipFlip(seed=5)(clips, training=False)), clips)


# === PaperAugmentation ===


def test_paper_augmentation_for_model_and_inference_is_centre_crop():
    import keras_sportsnet as ksn

    spec = "C(4,3,2)-P-FC(8)"
    full = ksn.SportsNetBackbone(spec=spec, fusion="single_frame")
    multires = ksn.SportsNetBackbone(spec=spec, fusion="single_frame", resolution="multires")
    assert PaperAugmentation.for_model(full).crop_size == (170, 170)
    augment = PaperAugmentation.for_model(multires, seed=4)
    assert (augment.crop_size, augment.resize_to, augment.seed) == ((178, 178), (200, 200), 4)
    assert augment.generator is not None and not hasattr(augment, "flip")  # one seed generator, no derived seeds
    big = ksn.SportsNetBackbone(spec=spec, fusion="single_frame", image_size=220)
    assert PaperAugmentation.for_model(big).resize_to == (259, 259)
    with pytest.raises(TypeError, match="`model` must have a `clip_geometry`"):
        PaperAugmentation.for_model(object())

    clips = np.random.default_rng(2).integers(0, 256, (2, 3, 30, 40, 3), np.uint8)
    resized = numpy_(CenterCropResize(24)(clips))
    out = PaperAugmentation(20, resize_to=24)(clips, training=False)
    np.testing.assert_array_equal(numpy_(out), resized[:, :, 2:22, 2:22])


# === EvaluationViews ===


def test_evaluation_views_are_the_documented_four():
    assert EVALUATION_VIEWS == (
        ("center", False), ("center", True), ("top_left", False), ("bottom_right", False),
    )
    clips = coordinate_clips(3, 2, 30, 30)
    out = numpy_(EvaluationViews(crop_size=20, resize_to=30)(clips))  # no resize: exact
    assert out.shape == (12, 2, 20, 20, 3) and out.dtype == np.float32
    views = out.reshape(3, 4, 2, 20, 20, 3)
    centre = clips[:, :, 5:25, 5:25]
    np.testing.assert_array_equal(views[:, 0], centre)
    np.testing.assert_array_equal(views[:, 1], centre[:, :, :, ::-1])
    np.testing.assert_array_equal(views[:, 2], clips[:, :, :20, :20])
    np.testing.assert_array_equal(views[:, 3], clips[:, :, 10:, 10:])
    one = EvaluationViews(crop_size=20, resize_to=30)(clips[1])
    np.testing.assert_array_equal(numpy_(one), views[1])
    layer = EvaluationViews()
    assert layer.compute_output_shape((None, 10, 240, 320, 3)) == (None, 10, 170, 170, 3)
    assert layer.compute_output_shape((5, 10, 240, 320, 3)) == (20, 10, 170, 170, 3)
    assert layer.compute_output_shape((10, 240, 320, 3)) == (4, 10, 170, 170, 3)
    assert_frames_identical(layer(still_clips(2, 3, 240, 320)))


def test_average_views_inverts_the_flattening():
    predictions = np.arange(24, dtype="float32").reshape(12, 2)  # 3 clips x 4 views
    expected = predictions.reshape(3, 4, 2).mean(axis=1)
    np.testing.assert_allclose(numpy_(average_views(predictions)), expected)
    with pytest.raises(ValueError, match=r"multiple of num_views=4 rows. Received: predictions.shape=\(10, 2\)"):
        average_views(predictions[:10])
    with pytest.raises(ValueError, match="num_views=0"):
        average_views(predictions, 0)


# === Validation ===


def test_errors_name_argument_allowed_values_and_received():
    with pytest.raises(ValueError, match=r"`size` must be an int >= 1 or a pair \(height, width\).*size=0"):
        CenterCropResize(0)
    with pytest.raises(ValueError, match=r"`output_dtype` must be one of \[None, 'uint8'\]. Received: output_dtype='int8'"):
        CenterCropResize(200, output_dtype="int8")
    with pytest.raises(ValueError, match="`resize_to` must be at least `crop_size`.*crop_size=178, resize_to=170"):
        PaperAugmentation(178, resize_to=170)
    with pytest.raises(ValueError, match="`crop_size` must be .*crop_size=\\(1, 2, 3\\)"):
        EvaluationViews(crop_size=(1, 2, 3))
    with pytest.raises(ValueError, match=r"rank 5 .*or rank 4 .*Received: inputs.shape=\(2, 8, 8\)"):
        RandomClipFlip()(np.zeros((2, 8, 8), "uint8"))
    with pytest.raises(ValueError, match=r"at least crop_size=\(170, 170\).*inputs.shape=\(1, 2, 100, 200, 3\)"):
        RandomClipCrop(170)(np.zeros((1, 2, 100, 200, 3), "uint8"))


# === tf.data, models, saving ===


def test_inside_tf_data_batched_and_with_frames_of_unknown_size():
    clips = still_clips(6, 4, 48, 64)
    dataset = tf.data.Dataset.from_tensor_slices(clips).batch(4).map(PaperAugmentation(32, 40, seed=0))
    batches = list(dataset)
    assert [tuple(b.shape) for b in batches] == [(4, 4, 32, 32, 3), (2, 4, 32, 32, 3)]
    for batch in batches:
        assert batch.dtype == tf.float32
        assert_frames_identical(batch)

    def videos():  # different frame sizes, as decoded
        for height, width in [(48, 64), (64, 48), (50, 50)]:
            yield still_clips(1, 4, height, width)[0]

    spec = tf.TensorSpec((4, None, None, 3), tf.uint8)
    dataset = (
        tf.data.Dataset.from_generator(videos, output_signature=spec)
        .map(CenterCropResize(40, output_dtype="uint8"))
        .batch(3)
        .map(RandomClipCrop(32, seed=0))
        .map(RandomClipFlip(seed=1))
    )
    (batch,) = list(dataset)
    assert tuple(batch.shape) == (3, 4, 32, 32, 3)
    assert_frames_identical(batch)
    views = tf.data.Dataset.from_tensor_slices(clips).batch(3).map(EvaluationViews(32, 40))
    assert [tuple(v.shape) for v in views] == [(12, 4, 32, 32, 3)] * 2


def _tiny_model(augmentation, frames=2, height=24, width=32):
    return keras.Sequential(
        [
            keras.Input((frames, height, width, 3), dtype="uint8"),
            augmentation,
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.Conv3D(4, (1, 3, 3), strides=(1, 2, 2)),
            keras.layers.GlobalAveragePooling3D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def test_as_model_layers_train_predict_and_save_load(tmp_path):
    model = _tiny_model(PaperAugmentation(16, resize_to=20, seed=0))
    assert model.inputs[0].dtype == "uint8" and model.outputs[0].shape == (None, 3)
    assert model.layers[0].output.shape == (None, 2, 16, 16, 3)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    clips = still_clips(8, 2, 24, 32)
    history = model.fit(clips, np.zeros(8, "int32"), batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    expected = model.predict(clips, verbose=0)  # training=False: centre crop, no flip

    path = os.path.join(tmp_path, "augmented.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded.layers[0], PaperAugmentation)
    assert loaded.layers[0].get_config() == model.layers[0].get_config()
    np.testing.assert_allclose(loaded.predict(clips, verbose=0), expected, rtol=1e-5, atol=1e-6)

    views = _tiny_model(EvaluationViews(16, resize_to=20))
    assert views.outputs[0].shape == (None, 3)
    assert views.predict(clips, verbose=0).shape == (32, 3)
    path = os.path.join(tmp_path, "views.keras")
    views.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(clips, verbose=0), views.predict(clips, verbose=0), rtol=1e-5)


JAX_SCRIPT = """
import numpy as np, keras, tensorflow as tf
from keras_sportsnet.transforms import (
    CenterCropResize, EvaluationViews, PaperAugmentation, RandomClipFlip, average_views,
    centre_square_resize)
assert keras.backend.backend() == "jax", keras.backend.backend()

def still(batch, frames, height, width):
    images = np.random.default_rng(0).integers(0, 256, (batch, 1, height, width, 3), np.uint8)
    return np.repeat(images, frames, axis=1)

def identical(x):
    x = np.asarray(x)
    assert np.array_equal(x, np.broadcast_to(x[:, :1], x.shape))

clips = still(8, 2, 24, 32)
# As model layers (jitted train and predict steps).
model = keras.Sequential([
    keras.Input((2, 24, 32, 3), dtype="uint8"), PaperAugmentation(16, resize_to=20, seed=0),
    keras.layers.Conv3D(4, (1, 3, 3)), keras.layers.GlobalAveragePooling3D(), keras.layers.Dense(3)])
model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
loss = model.fit(clips, np.zeros(8, "int32"), batch_size=4, verbose=0).history["loss"][0]
assert np.isfinite(loss), loss
assert model.predict(clips, verbose=0).shape == (8, 3)
augment = PaperAugmentation(16, resize_to=20, seed=3)
out = augment(clips)
assert out.shape == (8, 2, 16, 16, 3) and "jax" in type(out).__module__, type(out)
identical(out)
a, b = RandomClipFlip(seed=1)(clips), RandomClipFlip(seed=1)(clips)
assert np.array_equal(np.asarray(a), np.asarray(b))
assert np.asarray(EvaluationViews(16, 20)(clips)).shape == (32, 2, 16, 16, 3)
assert np.asarray(average_views(np.ones((32, 3)))).shape == (8, 3)

# Inside tf.data: TensorFlow ops, whatever the backend.
dataset = tf.data.Dataset.from_tensor_slices(clips).map(CenterCropResize(20)).batch(4).map(augment)
for batch in dataset:
    assert isinstance(batch, tf.Tensor) and tuple(batch.shape) == (4, 2, 16, 16, 3)
    identical(batch.numpy())
resized = tf.data.Dataset.from_tensor_slices(clips).map(lambda c: centre_square_resize(c, 20))
assert [(r.dtype, tuple(r.shape)) for r in resized][0] == (tf.uint8, (2, 20, 20, 3))
views = tf.data.Dataset.from_tensor_slices(clips).batch(4).map(EvaluationViews(16, 20))
assert [tuple(v.shape) for v in views] == [(16, 2, 16, 16, 3)] * 2
flip = RandomClipFlip(seed=2)
labelled = tf.data.Dataset.from_tensor_slices((clips, np.zeros(8, "int32"))).batch(4)
model.fit(labelled.map(lambda x, y: (tf.cast(flip(x), tf.uint8), y)), verbose=0)
print("ok")
"""


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="drives JAX from the TF run")
def test_layers_work_under_jax_in_models_and_in_tf_data(tmp_path):
    script = os.path.join(tmp_path, "jax_transforms.py")
    with open(script, "w") as f:
        f.write(JAX_SCRIPT)
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run(
        [sys.executable, script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
