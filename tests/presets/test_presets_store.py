"""Presets: save, load (folder, registry, hf:// from a hand-built Hub cache), verify, transfer, upload."""

import json
import os

import huggingface_hub
import huggingface_hub.constants
import keras
import numpy as np
import pytest

import keras_sportsnet as ksn
from keras_sportsnet.presets import PRESETS
from keras_sportsnet.presets import PresetError
from keras_sportsnet.presets import hub
from keras_sportsnet.presets import preset_registry_entry
from keras_sportsnet.presets import read_preset

pytestmark = pytest.mark.tensorflow_free  # also runs in the venv without TensorFlow (tests/backends)

SPEC = "C(4,5,2)-N-P-C(6,3,1)-P-FC(8)"
SHAPE = (10, 32, 32, 3)
CLASSES = ("archery", "bowling", "curling")


def clips(batch=2, frames=10, seed=0):
    # Pixels near the model's mean (117): random tiny models do not saturate their softmax, so
    # predictions of differently initialised models differ clearly.
    return np.random.default_rng(seed).uniform(107, 127, (batch, frames, 32, 32, 3)).astype("float32")


def test_differently_initialised_models_predict_differently():
    keras.utils.set_random_seed(1)
    a = predict(ksn.SlowFusion(spec=SPEC, input_shape=SHAPE, classes=3), clips())
    keras.utils.set_random_seed(2)
    b = predict(ksn.SlowFusion(spec=SPEC, input_shape=SHAPE, classes=3), clips())
    assert np.abs(a - b).max() > 1e-3  # so the equality checks below can fail


def predict(model, x):
    return keras.ops.convert_to_numpy(model(x))


@pytest.fixture(scope="module")
def slow_preset(tmp_path_factory):
    keras.utils.set_random_seed(7)
    model = ksn.SlowFusion(spec=SPEC, input_shape=SHAPE, classes=3, name="slow_tiny")
    folder = str(tmp_path_factory.mktemp("presets") / "slow_tiny")
    ksn.save_preset(model, folder, metadata={
        "name": "Slow fusion (tiny, test)",
        "description": "Random weights, for the test suite.",
        "class_names": list(CLASSES),
        "dataset": {"name": "none", "description": "not trained"},
        "evaluation": {"metrics": {"video_hit@1": 0.5}},
        "training": {"epochs": 0},
        "trained_by": "the test suite",
    })
    return folder, predict(model, clips())


# --------------------------------------------------------------- the folder
def test_preset_folder_holds_config_weights_metadata_and_model_card(slow_preset):
    folder, _ = slow_preset
    assert sorted(os.listdir(folder)) == ["README.md", "config.json", "metadata.json", "model.weights.h5",
                                          "preprocessor.json", "task.json", "task.weights.h5"]
    assert not [n for n in os.listdir(os.path.dirname(folder)) if n.startswith(".")]  # no staging left
    config = json.load(open(os.path.join(folder, "config.json")))
    assert config["class_name"] == "SportsNetBackbone"  # keras-hub's layout: the backbone, then the task
    assert config["config"]["spec"] == SPEC  # reads like the paper
    task = json.load(open(os.path.join(folder, "task.json")))
    assert task["class_name"] == "SportsNetVideoClassifier" and task["config"]["class_names"] == list(CLASSES)
    assert "compile_config" not in task and "compile_config" not in config
    preprocessor = json.load(open(os.path.join(folder, "preprocessor.json")))
    assert preprocessor["class_name"] == "VideoPreprocessor" and preprocessor["config"]["resize_to"] == 200
    metadata = json.load(open(os.path.join(folder, "metadata.json")))
    assert metadata["format_version"] == 2
    assert metadata["architecture"]["table1_name"] == "Slow Fusion"
    assert metadata["clip_geometry"] == {"num_frames": 10, "frame_stride": 1, "image_size": [32, 32]}
    assert metadata["evaluation"]["protocol"] == {"clips_per_video": 20, "views": 4, "aggregation": "mean_probability",
                                                  "resize_to": 200}
    assert metadata["evaluation"]["metrics"] == {"video_hit@1": 0.5}
    assert metadata["class_names"] == list(CLASSES) and metadata["versions"]["keras"] == keras.__version__
    assert metadata["parameter_count"] == ksn.SlowFusion(spec=SPEC, input_shape=SHAPE, classes=3).count_params()
    assert set(metadata["files"]) == {"config.json", "model.weights.h5", "task.json", "task.weights.h5",
                                      "preprocessor.json"}
    assert "resize to 200 x 200" not in json.dumps(metadata)  # no self-contradicting prose
    card = open(os.path.join(folder, "README.md")).read()
    assert card.startswith("---\nlibrary_name: keras-sportsnet\nlicense: apache-2.0\npipeline_tag: video-classification\n")
    assert 'ksn.from_preset("hf://<org>/<repo>@<commit>")' in card and "import keras_sportsnet as ksn" in card
    assert "`keras.saving.load_model` does not read preset folders" in card and "`import keras_sportsnet` first" in card
    assert "- slow-fusion" in card and f"`{SPEC}`" in card and "| video_hit@1 | 0.5000 |" in card
    assert "the test suite" in card


def test_save_preset_refuses_to_overwrite_and_checks_class_names(slow_preset, tmp_path):
    folder, _ = slow_preset
    model = ksn.SlowFusion(spec=SPEC, input_shape=SHAPE, classes=3)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        ksn.save_preset(model, folder)
    with pytest.raises(ValueError, match="has 2 names but the model has 3 classes"):
        ksn.save_preset(model, str(tmp_path / "p"), metadata={"class_names": ["a", "b"]})
    with pytest.raises(TypeError, match="SportsNetVideoClassifier or SportsNetBackbone"):
        ksn.save_preset(keras.Sequential([keras.layers.Dense(1)]), str(tmp_path / "q"))
    assert not os.path.exists(tmp_path / "p")
    ksn.save_preset(model, str(tmp_path / "p"))
    ksn.save_preset(ksn.SlowFusion(spec=SPEC, input_shape=SHAPE, classes=3), str(tmp_path / "p"), overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["p"]


def test_constructor_takes_the_architecture_from_the_preset(slow_preset):
    folder, expected = slow_preset
    model = ksn.SlowFusion(weights=folder)  # spec, input shape and classes come from the preset
    assert model.backbone.spec == SPEC and model.input.shape[1:] == SHAPE and model.num_classes == 3
    np.testing.assert_allclose(predict(model, clips()), expected, rtol=1e-5, atol=1e-6)
    same = ksn.SlowFusion(weights=folder, spec=SPEC, input_shape=SHAPE, classes=3, dropout=0.5, name="mine")
    np.testing.assert_allclose(predict(same, clips()), expected, rtol=1e-5, atol=1e-6)
    built = ksn.from_preset(folder)
    assert isinstance(built, ksn.SportsNetVideoClassifier) and built.backbone.fusion == "slow"
    np.testing.assert_allclose(predict(built, clips()), expected, rtol=1e-5, atol=1e-6)


def test_other_classes_load_the_backbone_and_say_so(slow_preset):
    folder, _ = slow_preset
    reference = ksn.from_preset(folder)
    with pytest.warns(UserWarning, match=r"backbone of preset .* only \(it has 3 classes and the model 5\)"):
        transfer = ksn.from_preset(folder, classes=5)
    assert transfer.num_classes == 5
    np.testing.assert_allclose(
        predict(transfer.backbone, clips()), predict(reference.backbone, clips()), rtol=1e-5, atol=1e-6
    )
    features = ksn.SlowFusion(weights=folder, include_top=False)
    assert isinstance(features, ksn.SportsNetBackbone)
    np.testing.assert_allclose(predict(features, clips()), predict(reference.backbone, clips()), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda w: ksn.EarlyFusion(weights=w), r"is a 'slow' fusion model, but a 'early' fusion model was asked for"),
        (lambda w: ksn.SlowFusion(weights=w, spec="C(4,5,2)-P-FC(8)"),
         r"saved with spec='C\(4,5,2\)-N-P-C\(6,3,1\)-P-FC\(8\)', but the model asked for has spec='C\(4,5,2\)-P-FC\(8\)'"),
        (lambda w: ksn.SlowFusion(weights=w, input_shape=(10, 48, 48, 3)),
         r"saved with image_size=\(32, 32\), but .* image_size=\(48, 48\)"),
        (lambda w: ksn.SlowFusion(weights=w, resolution="multires"), r"resolution='full'.*resolution='multires'"),
        (lambda w: ksn.SlowFusion(weights=w, pooling="avg"), r"pooling=None.*pooling='avg'"),
    ],
)
def test_wrong_architecture_is_an_error_naming_both_sides(slow_preset, build, message):
    folder, _ = slow_preset
    with pytest.raises(PresetError, match=message):
        build(folder)


def test_bare_weights_file_must_fit_exactly(tmp_path):
    model = ksn.SlowFusion(spec=SPEC, input_shape=SHAPE, classes=3)
    path = str(tmp_path / "slow.weights.h5")
    model.save_weights(path)
    loaded = ksn.SlowFusion(spec=SPEC, input_shape=SHAPE, classes=3, weights=path)
    np.testing.assert_allclose(predict(loaded, clips()), predict(model, clips()), rtol=1e-5, atol=1e-6)
    with pytest.raises(PresetError, match=r"slow.weights.h5' does not fit the model"):
        ksn.SlowFusion(spec="C(4,5,2)-N-P-C(8,3,1)-P-FC(8)", input_shape=SHAPE, classes=3, weights=path)
    with pytest.raises(PresetError, match="does not fit"):
        ksn.SlowFusion(spec=SPEC, input_shape=SHAPE, classes=4, weights=path)
    with pytest.raises(ValueError, match="has no config"):
        ksn.from_preset(path)


def test_a_changed_local_file_is_refused(slow_preset, tmp_path):
    import shutil

    folder, _ = slow_preset
    copy = str(tmp_path / "copy")
    shutil.copytree(folder, copy)
    path = os.path.join(copy, "model.weights.h5")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    open(path, "wb").write(bytes(data))
    with pytest.raises(PresetError, match="model.weights.h5 does not match the sha256 its metadata.json records"):
        ksn.from_preset(copy)
    os.remove(os.path.join(copy, "metadata.json"))
    with pytest.raises(PresetError, match="is incomplete: missing metadata.json"):
        ksn.from_preset(copy)


def test_unknown_names_list_the_presets_and_the_sports1m_recipe():
    with pytest.raises(ValueError, match=r"Registered presets: .*slow_fusion_synthetic.*No Sports-1M weights exist.*recipe"):
        ksn.SlowFusion(weights="sports1m")
    with pytest.raises(ValueError, match="hf://org/repo"):
        ksn.from_preset("hf://not a handle")
    with pytest.raises(ValueError, match="Received: weights=3"):
        ksn.SlowFusion(weights=3)


# ---------------------------------------------------- a hand-built Hub cache
def build_hub_cache(cache, repo, folder, revision, tags=(), files=None):
    """Lays out ``folder``'s files as the Hub cache does after a download of ``revision``."""
    base = os.path.join(cache, "models--" + repo.replace("/", "--"))
    os.makedirs(os.path.join(base, "refs"), exist_ok=True)
    for ref in ("main", *tags):
        with open(os.path.join(base, "refs", ref), "w") as file:
            file.write(revision)
    snapshot = os.path.join(base, "snapshots", revision)
    os.makedirs(snapshot, exist_ok=True)
    os.makedirs(os.path.join(base, "blobs"), exist_ok=True)
    for name in files or sorted(os.listdir(folder)):
        data = open(os.path.join(folder, name), "rb").read()
        import hashlib

        blob = os.path.join(base, "blobs", hashlib.sha256(data).hexdigest())
        with open(blob, "wb") as file:
            file.write(data)
        link = os.path.join(snapshot, name)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.relpath(blob, snapshot), link)
    return snapshot


COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture()
def offline_hub(tmp_path, monkeypatch):
    """A fresh Hub cache in tmp_path with HF_HUB_OFFLINE on (read by huggingface_hub at call time)."""
    cache = str(tmp_path / "hub")
    os.makedirs(cache)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", cache)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


@pytest.fixture()
def registered(slow_preset, offline_hub, monkeypatch):
    folder, expected = slow_preset
    entry = preset_registry_entry(folder, "hf://keras-sportsnet-test/slow-tiny", COMMIT)
    monkeypatch.setitem(PRESETS, "slow_tiny_test", entry)
    return folder, expected, entry


def test_registered_preset_loads_offline_from_the_hub_cache(registered, offline_hub):
    folder, expected, entry = registered
    assert set(entry["files"]) == {"config.json", "metadata.json", "model.weights.h5", "task.json", "task.weights.h5",
                                   "preprocessor.json"}
    snapshot = build_hub_cache(offline_hub, "keras-sportsnet-test/slow-tiny", folder, COMMIT)
    model = ksn.SlowFusion(weights="slow_tiny_test")
    np.testing.assert_allclose(predict(model, clips()), expected, rtol=1e-5, atol=1e-6)
    assert read_preset(snapshot).metadata["name"] == "Slow fusion (tiny, test)"
    table = ksn.list_presets()
    row = next(row for row in table if row["name"] == "slow_tiny_test")
    assert row["architecture"] == "Slow Fusion" and "slow_fusion_synthetic" in [r["name"] for r in table]
    text = str(table)
    assert "slow_tiny_test" in text and "video_hit@1 0.500" in text and f"{row['params']:,}" in text


def test_registered_preset_not_cached_says_which_files_and_how(registered, offline_hub):
    with pytest.raises(PresetError) as caught:
        ksn.SlowFusion(weights="slow_tiny_test")
    message = str(caught.value)
    assert "'slow_tiny_test'" in message and "config.json, model.weights.h5" in message
    assert f"keras-sportsnet-test/slow-tiny@{COMMIT}" in message and "HF_HUB_OFFLINE is set" in message
    assert f"hf download keras-sportsnet-test/slow-tiny --revision {COMMIT}" in message


def test_corrupt_cached_file_is_removed_and_never_trusted(registered, offline_hub, tmp_path):
    folder, _, entry = registered
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in os.listdir(folder):
        data = open(os.path.join(folder, name), "rb").read()
        (bad / name).write_bytes(data[: len(data) // 2] if name == "model.weights.h5" else data)  # truncated
    snapshot = build_hub_cache(offline_hub, "keras-sportsnet-test/slow-tiny", str(bad), COMMIT)
    with pytest.raises(PresetError, match=r"model.weights.h5 from keras-sportsnet-test/slow-tiny@.* has sha256 .* registry pins"):
        ksn.SlowFusion(weights="slow_tiny_test")
    assert not os.path.lexists(os.path.join(snapshot, "model.weights.h5"))  # a later call cannot trust it
    with pytest.raises(PresetError, match="not in the local Hugging Face cache"):
        ksn.SlowFusion(weights="slow_tiny_test")
    build_hub_cache(offline_hub, "keras-sportsnet-test/slow-tiny", folder, COMMIT)  # a good download
    assert ksn.SlowFusion(weights="slow_tiny_test").num_classes == 3


def test_hf_handles_with_and_without_revision_from_the_cache(slow_preset, offline_hub):
    folder, expected = slow_preset
    build_hub_cache(offline_hub, "someone/slow-tiny", folder, COMMIT, tags=("v1.0",))
    for handle in ("hf://someone/slow-tiny", "hf://someone/slow-tiny@v1.0", f"hf://someone/slow-tiny@{COMMIT}"):
        np.testing.assert_allclose(predict(ksn.from_preset(handle), clips()), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(PresetError, match="not in the local Hugging Face cache"):
        ksn.from_preset("hf://someone/slow-tiny@v2.0")
    assert hub.parse_hf_handle("hf://someone/slow-tiny@v1.0") == ("someone/slow-tiny", "v1.0")


def test_upload_creates_the_repo_uploads_the_files_and_returns_the_commit(slow_preset, monkeypatch):
    folder, _ = slow_preset
    calls, cards = [], []

    class FakeApi:
        def __init__(self, token=None, library_name=None):
            calls.append(("init", library_name))

        def create_repo(self, repo_id, repo_type, private, exist_ok):
            calls.append(("create_repo", repo_id, exist_ok))

        def upload_folder(self, repo_id, folder_path, repo_type, commit_message, allow_patterns):
            calls.append(("upload_folder", repo_id, sorted(os.listdir(folder_path)), allow_patterns))
            cards.append(open(os.path.join(folder_path, "README.md")).read())
            return huggingface_hub.CommitInfo(
                commit_url=f"https://huggingface.co/{repo_id}/commit/{COMMIT}", commit_message=commit_message,
                commit_description="", oid=COMMIT,
            )

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert ksn.upload_preset(folder, "hf://me/slow-tiny") == COMMIT
    assert calls[0] == ("init", "keras_sportsnet")
    assert calls[1] == ("create_repo", "me/slow-tiny", True)
    assert calls[2][:3] == ("upload_folder", "me/slow-tiny", ["README.md", "config.json", "metadata.json",
                                                              "model.weights.h5", "preprocessor.json", "task.json",
                                                              "task.weights.h5"])
    assert 'ksn.from_preset("hf://me/slow-tiny@<commit>")' in cards[0]  # the card names this repository
    assert "<org>/<repo>" not in cards[0] and "library_name: keras-sportsnet" in cards[0]
    with pytest.raises(ValueError, match="not a revision"):
        ksn.upload_preset(folder, "hf://me/slow-tiny@v1")


# ------------------------------------------------------------ weight surgery
SURGERY_SPEC = "C(4,3,1)-N-P-C(6,3,2)-C(6,3,1)-P-FC(8)-FC(8)"


@pytest.mark.parametrize("constructor, frames", [(ksn.EarlyFusion, 10), (ksn.SlowFusion, 10), (ksn.LateFusion, 2)])
def test_inflated_single_frame_weights_give_the_same_response_to_a_static_clip(constructor, frames):
    single = ksn.SingleFrame(spec=SURGERY_SPEC, input_shape=(1, 32, 32, 3), classes=3)
    target = constructor(spec=SURGERY_SPEC, input_shape=(frames, 32, 32, 3), classes=3)
    report = ksn.inflate_weights(single, target)
    frame = clips(2, 1, seed=3)
    static = np.repeat(frame, frames, axis=1)
    np.testing.assert_allclose(predict(target, static), predict(single, frame), rtol=1e-4, atol=1e-6)
    moving = clips(2, frames, seed=4)
    assert not np.allclose(predict(target, moving), predict(single, moving[:, :1]), atol=1e-3)
    if constructor is ksn.EarlyFusion:
        assert report["full_0_conv"] == "inflated over time x10" and report["full_4_conv"] == "copied"
    elif constructor is ksn.SlowFusion:
        assert [report[f"full_{i}_conv"] for i in (0, 3, 4)] == ["inflated over time x4", "inflated over time x2",
                                                                 "inflated over time x2"]
    else:
        assert report["fc_0"].startswith("inflated x2") and report["full_0_conv"] == "copied"
    assert report["predictions"] == "copied"


def test_full_frame_tower_initialises_both_multires_streams():
    full = ksn.SingleFrame(spec=SURGERY_SPEC, input_shape=(1, 32, 32, 3), classes=3)
    multires = ksn.SingleFrame(spec=SURGERY_SPEC, resolution="multires", input_shape=(1, 34, 34, 3), classes=5)
    report = ksn.inflate_weights(full, multires)
    for stream in ("context", "fovea"):
        for index in (0, 3, 4):
            np.testing.assert_array_equal(
                multires.backbone.get_layer(f"{stream}_{index}_conv").get_weights()[0],
                full.backbone.get_layer(f"full_{index}_conv").get_weights()[0],
            )
            assert report[f"{stream}_{index}_conv"] == f"copied from full_{index}_conv"
    kernel = multires.backbone.get_layer("fc_0").get_weights()[0]
    source = full.backbone.get_layer("fc_0").get_weights()[0]
    grid = kernel.reshape(1, 4, 4, 12, 8)  # context channels 0-5, fovea 6-11
    np.testing.assert_allclose(grid[..., :6, :].reshape(-1, 8), source / 2, rtol=1e-6)
    np.testing.assert_allclose(grid[..., 6:, :].reshape(-1, 8), source / 2, rtol=1e-6)
    assert report["predictions"] == "kept (no matching head in the source)"
    with pytest.raises(ValueError, match="has no layer for `target` layer"):
        ksn.inflate_weights(full, ksn.SingleFrame(spec="C(4,3,1)-N-P-C(6,3,2)-C(6,3,1)-C(6,3,1)-P-FC(8)-FC(8)",
                                                  input_shape=(1, 32, 32, 3)))
    with pytest.raises(ValueError, match=r"Cannot inflate 'fc_0': the source reads a \(1, 4, 4, 6\) map"):
        ksn.inflate_weights(full, ksn.SingleFrame(spec=SURGERY_SPEC, input_shape=(1, 40, 40, 3)))


def test_preset_of_a_trained_model_holds_no_optimizer_state(tmp_path):
    import warnings

    import h5py

    keras.utils.set_random_seed(3)
    model = ksn.SlowFusion(spec=SPEC, input_shape=SHAPE, classes=3, name="slow_trained")
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
    model.fit(clips(4), np.array([0, 1, 2, 0]), epochs=1, verbose=0)  # the optimizer now has slots
    folder = ksn.save_preset(model, str(tmp_path / "trained"))
    with h5py.File(os.path.join(folder, "model.weights.h5")) as weights:
        assert "optimizer" not in weights
    with warnings.catch_warnings():
        # No "Skipping variable loading for optimizer" (a UserWarning). Not every warning: Keras' own
        # Variable.__array__ raises a NumPy 2 DeprecationWarning on JAX.
        warnings.simplefilter("error", UserWarning)
        loaded = ksn.from_preset(folder)
    np.testing.assert_array_equal(predict(loaded, clips()), predict(model, clips()))
