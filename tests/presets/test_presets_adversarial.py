"""Hostile and damaged presets: every one is refused with a PresetError naming the preset and the file.

A standing adversarial suite (issue 17, items 1, 2, 3, 12; issue 13 finding 5): hostile
config/metadata/preprocessor files, names that try to leave the preset folder, symlinks,
FIFOs, truncated and oversized weights, a cache entry linked to a user's own file, and a
Hub server that dies or freezes mid-download (bounded by short timeouts). Nothing may
raise anything but PresetError/ValueError, hang, or touch a file outside the preset
folder or the Hub cache.
"""

import copy
import hashlib
import json
import os
import shutil
import time
import warnings

import huggingface_hub.constants
import keras
import numpy as np
import pytest

import keras_sportsnet as ksn
from keras_sportsnet.presets import PRESETS
from keras_sportsnet.presets import PresetError
from keras_sportsnet.presets import UnverifiedPresetWarning
from keras_sportsnet.presets import preset_registry_entry
from keras_sportsnet.testing.stub_hub import StubHub

SPEC = "C(4,5,2)-N-P-C(6,3,1)-P-FC(8)"
SHAPE = (10, 32, 32, 3)


@pytest.fixture(scope="module")
def good_preset(tmp_path_factory):
    keras.utils.set_random_seed(5)
    model = ksn.SlowFusion(spec=SPEC, input_shape=SHAPE, classes=3, name="slow_adversarial")
    folder = str(tmp_path_factory.mktemp("adversarial") / "good")
    ksn.save_preset(model, folder, metadata={"class_names": ["a", "b", "c"]})
    return folder


def copy_preset(good, tmp_path, name="copy"):
    folder = str(tmp_path / name)
    shutil.copytree(good, folder)
    return folder


def read(folder, name):
    with open(os.path.join(folder, name)) as file:
        return json.load(file)


def write(folder, name, data, rehash=True):
    """Writes a (hostile) file and records its sha256, so only the content check can refuse it."""
    path = os.path.join(folder, name)
    if os.path.lexists(path):
        os.remove(path)
    if not isinstance(data, (str, bytes)):
        data = json.dumps(data)
    with open(path, "w" if isinstance(data, str) else "wb") as file:
        file.write(data)
    if rehash and name != "metadata.json":
        metadata = read(folder, "metadata.json")
        metadata["files"][name] = hashlib.sha256(open(path, "rb").read()).hexdigest()
        with open(os.path.join(folder, "metadata.json"), "w") as file:
            json.dump(metadata, file)


def refused(folder, match, build=None):
    """Loading ``folder`` raises a PresetError matching ``match``, and nothing else."""
    build = build or (lambda f: ksn.from_preset(f))
    with pytest.raises(PresetError, match=match) as caught:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnverifiedPresetWarning)
            build(folder)
    assert os.path.basename(folder) in str(caught.value) or folder in str(caught.value)
    return str(caught.value)


def mutate(document, path, value):
    """A copy of ``document`` with ``path`` (keys) set to ``value`` (``...`` deletes it)."""
    document = copy.deepcopy(document)
    target = document
    for key in path[:-1]:
        target = target[key]
    if value is Ellipsis:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


DEEP = "[" * 100_000 + "]" * 100_000

# (file, mutation or raw text, message)
HOSTILE = [
    ("config.json", "not json at all", r"config.json .* is not valid JSON"),
    ("config.json", "[1, 2, 3]", r"config.json .* must hold a JSON object"),
    ("config.json", DEEP, r"config.json .* is not valid JSON \(RecursionError"),
    ("config.json", (("class_name",), "Lambda"), r"config.json holds 'Lambda', not a keras_sportsnet SportsNetBackbone"),
    ("config.json", (("registered_name",), "os>system"), r"registers 'os>system'"),
    ("config.json", (("config",), [1]), r"config.json has no 'config' object"),
    ("config.json", (("config", "spec"), 123), r"spec=123; expected a str"),
    ("config.json", (("config", "spec"), "X(1)-FC(2)"), r"describes no buildable model: Cannot parse token 0"),
    ("config.json", (("config", "fusion"), "warp"), r"describes no buildable model: `fusion` must be one of .*Received: fusion='warp'"),
    ("config.json", (("config", "num_frames"), "10"), r"num_frames='10'; expected an int"),
    ("config.json", (("config", "num_frames"), -1), r"num_frames=-1; expected an int in \[1, 4096\]"),
    ("config.json", (("config", "num_frames"), 10**12), r"num_frames=1000000000000"),
    ("config.json", (("config", "image_size"), "big"), r"image_size='big'"),
    ("config.json", (("config", "image_size"), [9000, 9000]), r"image_size=9000; expected an int in \[1, 8192\]"),
    ("config.json", (("config", "spec"), "C(4,5,2)-FC(100000)-FC(100000)"), r"more than any preset"),
    ("config.json", (("config", "dropout"), 5), r"dropout=5; expected a number in \[0, 1\)"),
    ("config.json", (("config", "name"), {"a": 1}), r"name="),
    ("config.json", (("config", "code"), "import os"), r"unknown backbone arguments \['code'\]"),
    ("config.json", (("config", "trainable"), "yes"), r"trainable='yes'"),
    ("task.json", (("config", "num_classes"), 10**12), r"task.json has num_classes=1000000000000"),
    ("task.json", (("config", "num_classes"), "3"), r"num_classes='3'"),
    ("task.json", (("config", "activation"), {"class_name": "Lambda"}), r"activation="),
    ("task.json", (("config", "activation"), "os.system"), r"activation='os.system', which is not a Keras"),
    ("task.json", (("config", "class_names"), ["a"]), r"class_names that are not 3 str"),
    ("task.json", (("config", "backbone", "config", "spec"), "C(4,5,2)-P-FC(8)"), r"another backbone than config.json"),
    ("task.json", (("config", "backbone"), ...), r"task.json holds 'NoneType', not a keras_sportsnet SportsNetBackbone"),
    ("task.json", (("class_name",), "SportsNetBackbone"), r"task.json holds 'SportsNetBackbone'"),
    ("preprocessor.json", (("config", "resize_to"), 8), r"describes no valid preprocessor: `resize_to` must be at least"),
    ("preprocessor.json", (("config", "views"), 9), r"views=9"),
    ("preprocessor.json", (("config", "image_size"), [40, 40]), r"image_size=\(40, 40\), but the backbone reads"),
    ("preprocessor.json", (("class_name",), "Lambda"), r"preprocessor.json holds 'Lambda'"),
    ("metadata.json", (("format_version",), 99), r"format_version=99; this keras_sportsnet reads formats 1 and 2"),
    ("metadata.json", (("files",), "all"), r"'files' must map file names to sha256"),
    ("metadata.json", (("files", "config.json"), "nothex"), r"records 'nothex' as the sha256 of 'config.json'"),
    ("metadata.json", (("class_names",), 5), r"'class_names' must be a list of str"),
]


@pytest.mark.parametrize("name, change, message", HOSTILE, ids=[f"{h[0]}-{i}" for i, h in enumerate(HOSTILE)])
def test_hostile_files_are_refused_with_a_preset_error(good_preset, tmp_path, name, change, message):
    folder = copy_preset(good_preset, tmp_path)
    data = change if isinstance(change, str) else mutate(read(folder, name), *change)
    write(folder, name, data)
    text = refused(folder, message)
    assert name in text


@pytest.mark.parametrize(
    "listed",
    ["../../../../etc/passwd", "/etc/passwd", "sub/config.json", "..", "", "config.json\x00", "C:\\x", "notes.txt"],
)
def test_metadata_cannot_name_files_outside_the_preset(good_preset, tmp_path, listed):
    folder = copy_preset(good_preset, tmp_path)
    metadata = read(folder, "metadata.json")
    metadata["files"][listed] = "0" * 64
    write(folder, "metadata.json", metadata)
    text = refused(folder, r"metadata.json lists the file .* (not a plain file name inside the preset|not a preset file)")
    passwd = hashlib.sha256(open("/etc/passwd", "rb").read()).hexdigest() if os.path.exists("/etc/passwd") else "-"
    assert passwd not in text  # nothing outside the folder was read and hashed


def test_preset_without_hashes_loads_with_an_unverified_warning(good_preset, tmp_path):
    """Item 3: the choice is to load, warning that the preset is unverified (not to refuse)."""
    for files in (None, {}):
        folder = copy_preset(good_preset, tmp_path, name=f"unhashed_{files is None}")
        metadata = read(folder, "metadata.json")
        metadata.pop("files") if files is None else metadata.update(files=files)
        write(folder, "metadata.json", metadata)
        with pytest.warns(UnverifiedPresetWarning, match=r"is unverified: its metadata.json records no sha256 for "
                                                         r"config.json, model.weights.h5, task.json"):
            model = ksn.from_preset(folder)
        assert model.num_classes == 3
    partial = copy_preset(good_preset, tmp_path, name="partial")
    metadata = read(partial, "metadata.json")
    del metadata["files"]["model.weights.h5"]
    write(partial, "metadata.json", metadata)
    with pytest.warns(UnverifiedPresetWarning, match=r"no sha256 for model.weights.h5\b"):
        ksn.from_preset(partial)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnverifiedPresetWarning)  # users may make it an error
        with pytest.raises(UnverifiedPresetWarning):
            ksn.from_preset(partial)


def test_a_changed_file_with_hashes_is_refused(good_preset, tmp_path):
    folder = copy_preset(good_preset, tmp_path)
    write(folder, "preprocessor.json", read(folder, "preprocessor.json") | {"extra": 1}, rehash=False)
    refused(folder, r"preprocessor.json does not match the sha256 its metadata.json records")


@pytest.mark.parametrize("target", ["task.weights.h5", "model.weights.h5"])
def test_truncated_weights_name_the_file(good_preset, tmp_path, target):
    folder = copy_preset(good_preset, tmp_path)
    data = open(os.path.join(folder, target), "rb").read()
    write(folder, target, data[: len(data) // 2])
    refused(folder, rf"{target} .* is not a readable weights file .*truncated or corrupt")


def test_weights_declaring_huge_arrays_are_refused_before_reading(good_preset, tmp_path):
    import h5py

    folder = copy_preset(good_preset, tmp_path)
    path = os.path.join(folder, "model.weights.h5")
    os.remove(path)
    with h5py.File(path, "w") as file:  # 40 GB declared, a few KB on disk (never written)
        file.create_dataset("layers/conv3d/vars/0", shape=(10_000_000_000,), dtype="float32")
    write(folder, "model.weights.h5", open(path, "rb").read())
    assert os.path.getsize(path) < 1 << 20
    refused(folder, r"model.weights.h5 declares 10,000,000,000 values, more than the model it is for has")


def test_a_fifo_a_folder_and_a_device_are_refused_without_hanging(good_preset, tmp_path):
    folder = copy_preset(good_preset, tmp_path, name="fifo")
    os.remove(os.path.join(folder, "config.json"))
    os.mkfifo(os.path.join(folder, "config.json"))
    start = time.monotonic()
    refused(folder, r"config.json .* is not a regular file")
    assert time.monotonic() - start < 10
    folder = copy_preset(good_preset, tmp_path, name="dir")
    os.remove(os.path.join(folder, "preprocessor.json"))
    os.mkdir(os.path.join(folder, "preprocessor.json"))
    refused(folder, r"preprocessor.json .* is not a regular file")
    if os.path.exists("/dev/zero"):
        folder = copy_preset(good_preset, tmp_path, name="device")
        os.remove(os.path.join(folder, "task.json"))
        os.symlink("/dev/zero", os.path.join(folder, "task.json"))
        refused(folder, r"task.json .* is not a regular file")


def test_a_symlink_to_a_foreign_file_is_read_as_a_preset_file_and_refused(good_preset, tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"class_name": "Lambda", "config": {}}))
    folder = copy_preset(good_preset, tmp_path)
    os.remove(os.path.join(folder, "config.json"))
    os.symlink(outside, os.path.join(folder, "config.json"))
    refused(folder, r"config.json does not match the sha256 its metadata.json records")
    assert outside.exists()


def test_misspelt_names_and_missing_folders(tmp_path):
    """Issue 13, finding 5."""
    with pytest.raises(ValueError, match=r"'slow_fusion_synthetc' is not a registered preset\. "
                                         r"Did you mean 'slow_fusion_synthetic'\?") as caught:
        ksn.SlowFusion(weights="slow_fusion_synthetc")
    assert "Sports-1M" not in str(caught.value)
    missing = str(tmp_path / "my_presets" / "slow")
    with pytest.raises(ValueError, match=r"does not exist") as caught:
        ksn.from_preset(missing)
    assert "Sports-1M" not in str(caught.value) and missing in str(caught.value)
    with pytest.raises(ValueError, match=r"Did you mean 'early_fusion_synthetic'"):
        ksn.from_preset("early_fusion_synthetik")


# ------------------------------------------------------------------ the Hub cache
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture()
def offline_cache(tmp_path, monkeypatch):
    cache = str(tmp_path / "hub_cache")
    os.makedirs(cache)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", cache)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def test_hash_mismatch_never_deletes_a_file_outside_the_cache(good_preset, offline_cache, tmp_path, monkeypatch):
    """Item 1: the cache entry links to the user's own file; a mismatch removes the link only."""
    repo = "someone/linked"
    base = os.path.join(offline_cache, "models--someone--linked")
    snapshot = os.path.join(base, "snapshots", COMMIT)
    os.makedirs(snapshot)
    os.makedirs(os.path.join(base, "refs"))
    open(os.path.join(base, "refs", "main"), "w").write(COMMIT)
    users = tmp_path / "my_own_weights"
    shutil.copytree(good_preset, users)
    for name in os.listdir(users):
        os.symlink(users / name, os.path.join(snapshot, name))  # links out of the cache
    entry = preset_registry_entry(good_preset, f"hf://{repo}", COMMIT)
    entry["files"]["model.weights.h5"] = "f" * 64
    monkeypatch.setitem(PRESETS, "linked_test", entry)
    with pytest.raises(PresetError, match=r"model.weights.h5 from someone/linked@.* has sha256 .* registry pins"):
        ksn.SlowFusion(weights="linked_test")
    assert (users / "model.weights.h5").exists()  # the user's file is untouched
    assert not os.path.lexists(os.path.join(snapshot, "model.weights.h5"))  # the cache's link is gone


def test_not_cached_message_names_the_real_cache(offline_cache):
    with pytest.raises(PresetError, match="not in the local Hugging Face cache") as caught:
        ksn.from_preset("hf://someone/absent@v1")
    assert offline_cache in str(caught.value) and "~/.cache/huggingface" not in str(caught.value)


def stub_files(folder):
    return {name: open(os.path.join(folder, name), "rb").read() for name in os.listdir(folder)}


def test_a_server_that_dies_mid_download_is_a_preset_error(good_preset, tmp_path, capfd):
    with StubHub("stub/dies", stub_files(good_preset), fault=("model.weights.h5", "die")) as hub:
        with hub.use(cache=str(tmp_path / "cache"), timeout=0.5):
            start = time.monotonic()
            capfd.readouterr()
            with pytest.raises(PresetError, match=r"Preset 'hf://stub/dies': downloading model.weights.h5 from "
                                                  r"stub/dies@main failed \(RemoteProtocolError"):
                ksn.from_preset("hf://stub/dies")
            assert time.monotonic() - start < 60
            assert ("GET", "/stub/dies/resolve/main/model.weights.h5") in hub.requests
    # huggingface_hub's own retry lines ("Error while downloading ... Trying to resume download...", "Max retries
    # exceeded.") no longer print before the one PresetError.
    printed = capfd.readouterr().err
    assert "Trying to resume" not in printed and "Max retries" not in printed and "Error while downloading" not in printed


@pytest.mark.slow
def test_a_server_that_freezes_mid_download_times_out_as_a_preset_error(good_preset, tmp_path):
    with StubHub("stub/freezes", stub_files(good_preset), fault=("task.weights.h5", "freeze")) as hub:
        with hub.use(cache=str(tmp_path / "cache"), timeout=0.5):
            start = time.monotonic()
            with pytest.raises(PresetError, match=r"downloading task.weights.h5 from stub/freezes@main failed "
                                                  r"\(ReadTimeout"):
                ksn.from_preset("hf://stub/freezes")
            assert time.monotonic() - start < 60


def test_a_healthy_stub_server_serves_the_preset(good_preset, tmp_path):
    with StubHub("stub/healthy", stub_files(good_preset)) as hub:
        with hub.use(cache=str(tmp_path / "cache")):
            model = ksn.from_preset("hf://stub/healthy")
    clips = np.random.default_rng(0).uniform(100, 130, (1, *SHAPE)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(clips)),
                               keras.ops.convert_to_numpy(ksn.from_preset(good_preset)(clips)), rtol=1e-6)
