"""The preprocessor travels with the model: raw clips in, class names out, VideoDatasets in fit/evaluate/predict.

Backend-agnostic except where marked: runs under TensorFlow here and under JAX
through `test_models_backends.py`.
"""

import keras
import numpy as np
import pytest

import keras_sportsnet as ksn
from keras_sportsnet.models.preprocessor import centre_crop
from keras_sportsnet.models.preprocessor import default_resize_to

pytestmark = pytest.mark.tensorflow_free  # also runs in the venv without TensorFlow (tests/backends)

SPEC = "C(4,5,2)-N-P-C(6,3,1)-P-FC(8)"


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def raw_clips(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def tiny(**kwargs):
    kwargs.setdefault("input_shape", (10, 32, 32, 3))
    return ksn.SlowFusion(spec=SPEC, classes=3, **kwargs)


# ------------------------------------------------------------- the layer
@pytest.mark.parametrize("size", [(240, 320), (64, 64), (100, 60), (32, 32)])
def test_preprocessor_is_view_0_of_the_evaluation_views(size):
    from keras_sportsnet.transforms import EvaluationViews

    clips = raw_clips((2, 3, *size, 3))
    preprocessor = ksn.VideoPreprocessor(num_frames=3, image_size=28, resize_to=40)
    out = numpy(preprocessor(clips))
    assert out.shape == (2, 3, 28, 28, 3) and out.dtype == np.float32
    views = numpy(EvaluationViews(crop_size=28, resize_to=40)(clips)).reshape(2, 4, 3, 28, 28, 3)
    np.testing.assert_allclose(out, views[:, 0], atol=1e-3)
    one = numpy(preprocessor(clips[0]))  # one clip, no batch axis
    np.testing.assert_allclose(one, out[0], atol=1e-4)
    np.testing.assert_array_equal(numpy(preprocessor(clips, training=True)), out)  # deterministic


def test_preprocessor_config_round_trips_and_checks_its_arguments():
    preprocessor = ksn.VideoPreprocessor(num_frames=10, frame_stride=2, image_size=(56, 60), resize_to=64, views=1)
    config = preprocessor.get_config()
    assert {k: config[k] for k in ("num_frames", "frame_stride", "image_size", "resize_to", "clips_per_video",
                                   "views", "aggregation")} == {
        "num_frames": 10, "frame_stride": 2, "image_size": [56, 60], "resize_to": 64, "clips_per_video": 20,
        "views": 1, "aggregation": "mean_probability"}
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(preprocessor))
    assert clone.get_config() == config
    assert ksn.VideoPreprocessor(num_frames=1, image_size=170).resize_to == 200  # the paper's
    assert default_resize_to((256, 256)) == 302
    with pytest.raises(ValueError, match=r"`resize_to` must be at least `image_size` \(56, 56\).*resize_to=40"):
        ksn.VideoPreprocessor(num_frames=1, image_size=56, resize_to=40)
    with pytest.raises(ValueError, match=r"`views` must be an int in \[1, 4\]"):
        ksn.VideoPreprocessor(num_frames=1, image_size=56, views=5)
    with pytest.raises(ValueError, match=r"`aggregation` must be one of \['mean_probability'\].*Did you mean"):
        ksn.VideoPreprocessor(num_frames=1, image_size=56, aggregation="mean_probabilty")
    with pytest.raises(TypeError):
        ksn.VideoPreprocessor(10, 56)  # keyword-only


# ------------------------------------------------------- on the classifier
def test_models_from_scratch_carry_a_default_preprocessor_and_class_names():
    model = tiny()
    config = model.preprocessor.get_config()
    assert (config["num_frames"], config["image_size"], config["resize_to"]) == (10, [32, 32], 200)
    assert model.class_names is None
    assert not any(layer is model.preprocessor for layer in model.layers)  # not part of the network's weights
    named = tiny(name="named")
    named.class_names = ["a", "b", "c"]
    assert ksn.SportsNetVideoClassifier.from_config(named.get_config()).class_names == ["a", "b", "c"]
    with pytest.raises(ValueError, match="`class_names` must have 3 entries"):
        ksn.SportsNetVideoClassifier(named.backbone, num_classes=3, class_names=["a", "b"])
    with pytest.raises(ValueError, match=r"`preprocessor` makes clips of 10 frames of \(40, 40\)"):
        ksn.SportsNetVideoClassifier(named.backbone, num_classes=3,
                                     preprocessor=ksn.VideoPreprocessor(num_frames=10, image_size=40))


def test_raw_uint8_clips_of_any_size_go_through_the_preprocessor_everywhere():
    model = tiny()
    model.preprocessor = ksn.VideoPreprocessor(num_frames=10, image_size=32, resize_to=40)
    clips = raw_clips((3, 10, 48, 64, 3))
    expected = numpy(model(numpy(model.preprocessor(clips))))
    np.testing.assert_allclose(numpy(model(clips)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(clips, batch_size=2, verbose=0), expected, rtol=1e-5, atol=1e-6)
    symbolic = keras.Input((10, 48, 64, 3), dtype="uint8")
    wrapper = keras.Model(symbolic, model(symbolic))
    np.testing.assert_allclose(wrapper.predict(clips, verbose=0), expected, rtol=1e-5, atol=1e-6)
    model.compile("sgd", "sparse_categorical_crossentropy")
    assert np.isfinite(model.evaluate(clips, np.zeros(3), verbose=0))
    model.fit(clips, np.zeros(3), epochs=1, batch_size=2, verbose=0)
    # Float clips of the model's frame size are taken as preprocessed: untouched.
    ready = np.random.default_rng(1).uniform(0, 255, (2, 10, 32, 32, 3)).astype("float32")
    network = keras.Model(model.inputs, model.outputs)  # the bare graph, no preprocessing step
    np.testing.assert_allclose(numpy(model(ready)), numpy(network(ready)), rtol=1e-6)
    assert not model.preprocessor.needs_preprocessing(ready)
    cut = ready.round().astype("uint8")  # uint8 views of the model's size (what evaluate_videos feeds): as they are
    np.testing.assert_allclose(numpy(model(cut)), numpy(network(cut.astype("float32"))), rtol=1e-6)
    with pytest.raises(ValueError, match=r"reads clips of 10 frames.*Received: clips.shape=\(2, 4, 32, 32, 3\)"):
        model(ready[:, :4])


def test_a_decoded_video_is_one_predict_call(tmp_path):
    from keras_sportsnet.data import read_clip
    from keras_sportsnet.data.encoding import write_video
    from keras_sportsnet.testing.videos import index_frames

    path = str(tmp_path / "clip.mp4")
    write_video(path, index_frames(12, height=72, width=96))
    clip = read_clip(path, list(range(10)))  # uint8 (10, 72, 96, 3), as decoded
    model = tiny()
    probabilities = model.predict(clip[None], verbose=0)
    assert probabilities.shape == (1, 3) and np.isclose(probabilities.sum(), 1.0, atol=1e-5)
    np.testing.assert_allclose(probabilities, numpy(model(model.preprocessor(clip[None]))), rtol=1e-5, atol=1e-6)


def test_keras_file_keeps_preprocessor_and_class_names(tmp_path):
    model = tiny()
    model.preprocessor = ksn.VideoPreprocessor(num_frames=10, image_size=32, resize_to=48, views=2)
    model.class_names = ["x", "y", "z"]
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.class_names == ["x", "y", "z"] and loaded.preprocessor.get_config() == model.preprocessor.get_config()
    clips = raw_clips((1, 10, 50, 70, 3))
    np.testing.assert_allclose(numpy(loaded(clips)), numpy(model(clips)), rtol=1e-5, atol=1e-6)
    again = ksn.SlowFusion(weights=path)  # `weights=` takes a .keras file (safe mode)
    assert again.class_names == ["x", "y", "z"] and again.preprocessor.resize_to == 48
    np.testing.assert_allclose(numpy(again(clips)), numpy(model(clips)), rtol=1e-5, atol=1e-6)
    features = ksn.SlowFusion(weights=path, include_top=False)
    assert isinstance(features, ksn.SportsNetBackbone)
    with pytest.raises(ksn.PresetError, match=r"holds a 'slow' fusion model, but a 'early' fusion model"):
        ksn.EarlyFusion(weights=path)


# ---------------------------------------------------------------- ensemble
def test_cnn_average_of_two_same_named_models_renames_them(tmp_path):
    first, second = tiny(), tiny()
    assert first.name == second.name == "slow_fusion"
    ensemble = ksn.CNNAverage([first, second])
    assert [m.name for m in ensemble.members] == ["slow_fusion", "slow_fusion_2"]
    clips = raw_clips((2, 10, 40, 40, 3))
    ready = numpy(ensemble.preprocessor(clips))
    expected = (numpy(first(ready)) + numpy(second(ready))) / 2
    np.testing.assert_allclose(numpy(ensemble(clips)), expected, rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "ensemble.keras")
    ensemble.save(path)
    np.testing.assert_allclose(numpy(keras.saving.load_model(path)(clips)), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="distinct models"):
        ksn.CNNAverage([first, first])


# ------------------------------------------------------- VideoDataset duck
class FakeVideoDataset:
    """The contract's VideoDataset surface: passes of batches keyed by pass index, a model check."""

    def __init__(self, steps=2, batch=2, classes=3, geometry=(10, 32, 32)):
        self.steps_per_pass, self.batch, self.classes, self.geometry = steps, batch, classes, geometry
        self.checked, self.started = [], []

    def __len__(self):
        return self.steps_per_pass

    def check_model(self, model):
        self.checked.append(model.name)
        if model.num_classes != self.classes:
            raise ValueError(f"the model has {model.num_classes} classes, the data {self.classes}")

    def _batch(self, step):
        pass_index, _ = divmod(step, self.steps_per_pass)
        clips = np.full((self.batch, *self.geometry, 3), float(pass_index), "float32")
        return clips, np.full((self.batch,), pass_index % self.classes, "int32")

    def as_tf_dataset(self, start_step=0):
        import tensorflow as tf

        self.started.append(start_step)
        steps = tf.data.Dataset.range(start_step, 10**9)
        return steps.map(lambda s: tf.numpy_function(lambda v: self._batch(int(v)), [s], (tf.float32, tf.int32)))\
            .map(lambda x, y: (tf.ensure_shape(x, (self.batch, *self.geometry, 3)), tf.ensure_shape(y, (self.batch,))))

    def one_pass(self, index):
        return self.as_tf_dataset(index * self.steps_per_pass).take(self.steps_per_pass)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the fake dataset is tf.data")
def test_fit_evaluate_predict_accept_a_video_dataset():
    model = tiny()
    model.compile("sgd", "sparse_categorical_crossentropy")
    train, val = FakeVideoDataset(steps=3), FakeVideoDataset(steps=2)
    history = model.fit(train, validation_data=val, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and "val_loss" in history.history
    assert train.checked == [model.name] and val.checked == [model.name]
    assert train.started == [0] and val.started == [0]
    model.fit(train, epochs=3, initial_epoch=2, verbose=0)  # resume: epoch 2 is pass 2
    assert train.started[-1] == 6
    assert np.isfinite(model.evaluate(FakeVideoDataset(), verbose=0))
    assert model.predict(FakeVideoDataset(steps=2, batch=2), verbose=0).shape == (4, 3)
    with pytest.raises(ValueError, match="the model has 3 classes, the data 5"):
        model.fit(FakeVideoDataset(classes=5), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="`y` must be None"):
        model.fit(train, np.zeros(2), epochs=1, verbose=0)


def test_centre_crop_needs_no_resize():
    frames = np.arange(2 * 1 * 6 * 6 * 1).reshape(2, 1, 6, 6, 1)
    np.testing.assert_array_equal(numpy(centre_crop(frames, 2)), frames[:, :, 2:4, 2:4, :])
