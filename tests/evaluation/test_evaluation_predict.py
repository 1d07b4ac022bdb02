"""predict_video (one call: top-k class names per video, failures included) and decode_predictions."""

import dataclasses
import json
import os
import warnings

import keras
import numpy as np
import pytest

import keras_sportsnet as ksn
from keras_sportsnet.testing.videos import index_frames
from keras_sportsnet.evaluation import VideoPrediction
from keras_sportsnet.evaluation import VideoScores
from keras_sportsnet.evaluation import decode_predictions
from keras_sportsnet.evaluation import predict_video
from conftest import write_class_videos

pytestmark = pytest.mark.tensorflow_free  # also runs in the venv without TensorFlow (tests/backends)

SPEC = "C(4,5,2)-N-P-FC(8)"
NAMES = ["dive", "row", "vault", "swim"]


class Named:
    """A model with class names and a preprocessor seen through duck typing (the contract's attributes)."""

    def __init__(self, model, class_names=NAMES, **config):
        self._model, self.class_names = model, class_names
        self.preprocessor = type("Preprocessor", (), {"get_config": lambda _: dict(config)})()

    def __getattr__(self, name):
        return getattr(self._model, name)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_class_videos(tmp_path_factory.mktemp("predict_videos"), ["a", "b"], 2,
                              lambda label, video: index_frames(24, 40, 56, seed=10 * label + video))


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(7)
    return Named(ksn.SlowFusion(spec=SPEC, input_shape=(10, 32, 32, 3), classes=4), clips_per_video=3, views=2)


def test_one_call_classifies_a_file_a_list_and_a_folder(folder, model):
    paths = list(ksn.data.read_video_folder(str(folder)).paths)
    predictions = predict_video(str(folder), model=model, top_k=3)
    assert [p.path for p in predictions] == paths  # every video of the folder and its sub-folders, sorted
    scores = ksn.evaluate_videos(model, paths, verbose=False)  # the same protocol: the preprocessor's
    assert scores.logits.shape == (4, 3, 2, 4)
    probabilities = scores.video_scores()
    for prediction, row in zip(predictions, probabilities):
        assert prediction.ok and prediction.error is None and len(prediction.top_k) == 3
        order = np.argsort(-row, kind="stable")[:3]
        assert [name for name, _ in prediction.top_k] == [NAMES[i] for i in order]
        np.testing.assert_allclose([p for _, p in prediction.top_k], row[order], rtol=1e-6)
        assert prediction.label == NAMES[order[0]] and prediction.probability == pytest.approx(row[order[0]])
    single = predict_video(paths[2], model=model, top_k=10)  # at most the model's 4 classes
    assert len(single) == 1 and len(single[0].top_k) == 4
    # Clips are keyed by the position in the list: the third video alone is seen through other clips.
    listed = predict_video([paths[0], paths[2]], model=model, top_k=4)
    assert listed[0].top_k[:3] == predictions[0].top_k
    assert sum(p for _, p in single[0].top_k) == pytest.approx(1.0, abs=1e-5)


def test_failures_are_results_or_one_error(folder, model, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 64)
    good = ksn.data.read_video_folder(str(folder)).paths[0]
    predictions = predict_video([good, str(broken)], model=model)
    assert predictions[0].ok and not predictions[1].ok and predictions[1].top_k == ()
    assert predictions[1].label is None and str(broken) in str(predictions[1])
    assert str(predictions[1]).startswith(f"{broken}: not classified: ")
    assert json.loads(json.dumps(predictions[1].to_dict()))["error"] == predictions[1].error
    with pytest.raises(ksn.data.VideoError, match="broken.mp4"):
        predict_video([good, str(broken)], model=model, on_error="raise")
    only_broken = predict_video(str(broken), model=model)  # nothing classified is still an answer per video
    assert len(only_broken) == 1 and not only_broken[0].ok


def test_arguments_are_checked(folder, model):
    with pytest.raises(ValueError, match="`top_k` must be an int >= 1. Received: top_k=0"):
        predict_video(str(folder), model=model, top_k=0)
    with pytest.raises(ValueError, match=r"`on_error` must be one of \['skip', 'raise'\]. Received: on_error='skp'"
                                         r". Did you mean 'skip'\?"):
        predict_video(str(folder), model=model, on_error="skp")
    with pytest.raises(TypeError, match="`model` must be a keras_sportsnet model or a preset name"):
        predict_video(str(folder), model=3)
    with pytest.raises(ValueError, match="does not exist"):
        predict_video("no/such/video.mp4", model=model)
    video = ksn.data.read_video_folder(str(folder)).paths[0]
    with pytest.warns(UserWarning, match=r"`resize_to=40` disagrees with the model's preprocessor \(resize_to=200"):
        predict_video(video, model=Named(model._model, resize_to=200), resize_to=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # fewer clips or views: the protocol's speed trade-off, no warning
        predict_video(video, model=model, views=4, clips_per_video=1)


def test_the_result_reads_well_and_is_frozen():
    prediction = VideoPrediction("clip.mp4", top_k=(("gym_roll_fast", 0.98757), ("gym_sink", 0.0101)))
    assert str(prediction) == "clip.mp4\n  1. gym_roll_fast  0.988\n  2. gym_sink       0.010"
    assert prediction.to_dict() == {"video": "clip.mp4", "error": None, "top": [
        {"class": "gym_roll_fast", "probability": 0.98757}, {"class": "gym_sink", "probability": 0.0101}]}
    with pytest.raises(dataclasses.FrozenInstanceError):
        prediction.path = "other.mp4"


def test_decode_predictions_names_the_top_classes_of_raw_outputs(model):
    probabilities = np.array([[0.1, 0.6, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]])
    decoded = decode_predictions(probabilities, NAMES, top=2)
    assert decoded == [[("row", 0.6), ("vault", 0.2)], [("dive", 0.25), ("row", 0.25)]]  # ties: lower index first
    assert decode_predictions(probabilities[0], model, top=1) == [[("row", 0.6)]]  # names from model.class_names
    assert decode_predictions(probabilities[:1], top=9)[0][0] == ("1", 0.6)  # no names: indices; top clipped
    clip = np.random.default_rng(0).uniform(0, 255, (2, 10, 32, 32, 3)).astype("float32")
    raw = model.predict(clip, verbose=0)
    assert [name for name, _ in decode_predictions(raw, model)[1]][0] == NAMES[int(np.argmax(raw[1]))]
    scores = VideoScores(np.log(np.full((1, 1, 1, 4), 0.25, "float32")), [()], class_names=NAMES)
    assert decode_predictions(scores, top=1) == [[("dive", pytest.approx(0.25))]]
    with pytest.raises(ValueError, match="`class_names` has 3 names but the predictions have 4 classes"):
        decode_predictions(probabilities, NAMES[:3])
    with pytest.raises(ValueError, match=r"`probabilities` must have shape \(N, num_classes\)"):
        decode_predictions(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        decode_predictions([[np.nan, 1.0]])
    with pytest.raises(ValueError, match="`top` must be an int >= 1"):
        decode_predictions(probabilities, top=0)


@pytest.fixture(scope="module")
def demo_video(tmp_path_factory):
    """The README's demo video, rendered as ``keras-sportsnet predict --demo`` renders it."""
    from keras_sportsnet.datasets.synthetic_sports import synthetic_sports

    data = synthetic_sports(1, classes=["gym_roll_fast"], num_frames=40, size=64, seed=2026)
    return data.write(str(tmp_path_factory.mktemp("demo"))).paths[0]


def test_the_shipped_preset_scores_the_demo_video_as_the_command_line_does(demo_video, tmp_path):
    from keras_sportsnet.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the preprocessor's protocol, no disagreeing argument
        prediction = predict_video(demo_video, model="slow_fusion_synthetic")[0]
        model = ksn.from_preset("slow_fusion_synthetic")
        scores = ksn.evaluate_videos(model, [demo_video], verbose=False)
    assert scores.metadata["protocol"]["resize_to"] == 64 and scores.logits.shape[1:3] == (20, 4)
    assert prediction.label == "gym_roll_fast" and prediction.probability == pytest.approx(0.988, abs=5e-4)
    assert scores.video_scores()[0].max() == pytest.approx(prediction.probability, abs=1e-9)
    out = tmp_path / "cli.json"
    assert main(["predict", demo_video, "--json", str(out), "--quiet"]) == 0
    top = json.loads(out.read_text())[0]["top"][0]
    assert top["class"] == "gym_roll_fast" and top["probability"] == pytest.approx(prediction.probability, abs=1e-9)
    # The old default (resize_to=200, not what the preset was trained with) scored 0.444: now a warning.
    with pytest.warns(UserWarning, match=r"`resize_to=200` disagrees .* \(resize_to=64"):
        assert predict_video(demo_video, model=model, resize_to=200)[0].probability < 0.6


@pytest.mark.slow
def test_the_real_video_corpus_gives_one_answer_per_file(real_videos, model):
    from keras_sportsnet.evaluation import EvaluationProtocol
    from keras_sportsnet.evaluation.runner import decode_video

    names = sorted(real_videos)
    paths = [real_videos[name] for name in names]
    predictions = predict_video(paths, model=model, clips_per_video=2, views=1)
    assert [p.path for p in predictions] == paths
    protocol = EvaluationProtocol.for_model(model, clips_per_video=2, views=1)
    for index, (name, prediction) in enumerate(zip(names, predictions)):
        try:  # the answer is the decoder's: classified when its clips decode, else the decoder's reason
            decode_video(paths[index], index, protocol)
            assert prediction.ok and len(prediction.top_k) == 4, (name, prediction.error)
        except ksn.data.VideoError as error:
            assert prediction.error == error.problem, name
    assert sum(p.ok for p in predictions) >= len(names) - 2  # at most the two Megamind files fail


@pytest.mark.slow
def test_predict_video_on_jax_loads_no_tensorflow_even_when_it_is_installed(tmp_path):
    """Issue 16: ``import keras_sportsnet.data`` and `predict_video` on JAX leave TensorFlow unloaded (3-9 s, noise).

    TensorFlow is installed here, so Keras would import it on first use of its serializer (``Layer.get_config``
    checks for TF types whenever TF can be imported): the preprocessor's settings are read without it.
    """
    import subprocess
    import sys
    import textwrap

    from keras_sportsnet.data.encoding import write_video

    video = str(tmp_path / "tiny.mp4")
    write_video(video, index_frames(24, 48, 64, seed=1))
    script = textwrap.dedent(f"""
        import sys
        import keras_sportsnet as ksn
        import keras_sportsnet.data
        loaded = ["tensorflow" in sys.modules]
        prediction = ksn.predict_video({video!r}, model="slow_fusion_synthetic")[0]
        loaded.append("tensorflow" in sys.modules)
        print(prediction.error, len(prediction.top_k), *loaded)
    """)
    root = os.path.dirname(os.path.dirname(ksn.__file__))
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-4:] == ["None", "5", "False", "False"], done.stdout


def test_preprocessor_settings_are_read_from_attributes_and_equal_get_config():
    """The one reader (data.config.preprocessor_settings): a real preprocessor's attributes, a stand-in's config."""
    from keras_sportsnet.data.config import PREPROCESSOR_SETTINGS
    from keras_sportsnet.data.config import preprocessor_settings

    model = ksn.SlowFusion(spec=SPEC, input_shape=(10, 32, 32, 3), classes=3)
    config = model.preprocessor.get_config()
    assert preprocessor_settings(model) == {name: config[name] for name in PREPROCESSOR_SETTINGS}
    stand_in = type("Model", (), {"preprocessor": type("P", (), {"get_config": lambda self: {"resize_to": 64}})()})()
    assert preprocessor_settings(stand_in) == {"resize_to": 64} and preprocessor_settings(object()) == {}
