"""Presets over real HTTP: hf:// handles and registered presets from a local Hub (olah on 127.0.0.1).

The repositories exist only as git repos on disk (tests/hub_server.py); the
client side is the real `huggingface_hub.hf_hub_download` into a per-test
Hub cache. These tests fail (they are never skipped) when olah is missing:
``pip install -e ".[test]"``.
"""

import copy
import hashlib
import os
import re
import time

import huggingface_hub
import huggingface_hub.constants
import keras
import numpy as np
import pytest

import keras_sportsnet as ksn
from keras_sportsnet.presets import PRESETS
from keras_sportsnet.presets import PresetError
from keras_sportsnet.presets import preset_registry_entry

import hub_server as hub_server_module
from hub_server import HubServer
from hub_server import free_port
from hub_server import hub_server  # noqa: F401  (the session fixture)
from hub_server import start_server

SPEC = "C(4,5,2)-N-P-C(6,3,1)-P-FC(8)"
SHAPE = (10, 32, 32, 3)
FILES = ("config.json", "metadata.json", "model.weights.h5", "task.json", "task.weights.h5", "preprocessor.json")
ORG = "ksn-hub-test"


def clips(batch=2, seed=0):
    # Pixels near the mean the model subtracts (117): random weights then give unsaturated softmax outputs,
    # so different weights give visibly different predictions.
    return np.random.default_rng(seed).uniform(112, 122, (batch, *SHAPE)).astype("float32")


def predict(model, x=None):
    return keras.ops.convert_to_numpy(model(clips() if x is None else x))


def assert_predicts(model, expected):
    np.testing.assert_allclose(predict(model), expected, rtol=1e-5, atol=1e-6)


def sha256(path):
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    """Two saved presets of the same tiny architecture with different weights: ``v1`` and ``v2``."""
    root = tmp_path_factory.mktemp("hub_presets")
    out = {}
    for version, seed in (("v1", 7), ("v2", 8)):
        keras.utils.set_random_seed(seed)
        model = ksn.SlowFusion(spec=SPEC, input_shape=SHAPE, classes=3, name="slow_hub")
        folder = str(root / version)
        ksn.save_preset(model, folder, metadata={"name": f"Slow fusion (tiny, {version})", "class_names": ["a", "b", "c"]})
        out[version] = (folder, predict(model))
        keras.backend.clear_session()
    assert np.abs(out["v1"][1] - out["v2"][1]).max() > 1e-3  # the two really differ
    return out


class Hub:
    """The client side of one test: huggingface_hub pointed at a server, with its own cache."""

    def __init__(self, server, cache, monkeypatch):
        self.server, self.cache, self._monkeypatch = server, cache, monkeypatch
        self.point_at(server.url)
        self.use_cache(cache)
        self.offline(False)

    def point_at(self, url):
        # hf_hub_download builds its URLs from HUGGINGFACE_CO_URL_TEMPLATE (made from ENDPOINT at import).
        self._monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", url)
        self._monkeypatch.setattr(
            huggingface_hub.constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}"
        )

    def use_cache(self, cache):
        os.makedirs(cache, exist_ok=True)
        self.cache = cache
        self._monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", cache)

    def offline(self, on):
        self._monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", on)
        if on:
            self._monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # keras_sportsnet reads it for its messages
        else:
            self._monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def repo_cache(self, repo_id):
        return os.path.join(self.cache, "models--" + repo_id.replace("/", "--"))

    def snapshot(self, repo_id, commit):
        return os.path.join(self.repo_cache(repo_id), "snapshots", commit)

    def ref(self, repo_id, name="main"):
        with open(os.path.join(self.repo_cache(repo_id), "refs", name)) as file:
            return file.read().strip()


@pytest.fixture()
def hub(hub_server, tmp_path, monkeypatch):  # noqa: F811
    return Hub(hub_server, str(tmp_path / "hf_cache"), monkeypatch)


def downloads(server, repo_id, name, revision=None):
    """How many GETs of ``repo_id``'s ``name`` the server has answered (its access log)."""
    revision = re.escape(revision) if revision else r"[^/]+"
    pattern = re.compile(rf'"GET /{re.escape(repo_id)}/resolve/{revision}/{re.escape(name)} HTTP/1\.1" 200')
    path = os.path.join(server.logs, "olah.log")
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return len(pattern.findall(file.read()))
    except FileNotFoundError:
        return 0


def wait_for_downloads(server, repo_id, name, at_least, timeout=5.0):
    """The GET count once it reaches ``at_least`` (the access log is written as the response starts)."""
    deadline = time.monotonic() + timeout
    while True:
        count = downloads(server, repo_id, name)
        if count >= at_least or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


# -------------------------------------------------------------- the fixture
def test_missing_olah_fails_with_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(hub_server_module.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(hub_server_module.OlahMissing, match=re.escape('pip install -e ".[test]"')):
        HubServer(root=str(tmp_path / "root"))


def test_the_server_is_on_loopback_and_serves_git_refs(hub):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", hub.server.url) and hub.server.running
    commit = hub.server.publish(f"{ORG}/refs", files={"README.md": "one\n"}, tags=["v1.0"])
    status, body = hub.server.get(f"/api/models/{ORG}/refs/revision/v1.0")
    assert status == 200 and commit.encode() in body


# ---------------------------------------------------------------- (a) hf://
def test_hf_handle_downloads_over_http_and_predicts_like_the_saved_model(hub, presets):
    folder, expected = presets["v1"]
    repo = f"{ORG}/slow-a"
    commit = hub.server.publish(repo, folder)
    model = ksn.from_preset(f"hf://{repo}")
    assert_predicts(model, expected)
    snapshot = hub.snapshot(repo, commit)
    assert hub.ref(repo) == commit and sorted(os.listdir(snapshot)) == sorted(FILES)  # no probing for other files
    for name in FILES:
        assert sha256(os.path.join(snapshot, name)) == sha256(os.path.join(folder, name))
        assert wait_for_downloads(hub.server, repo, name, 1) == 1  # really fetched over HTTP, once


# ------------------------------------------------------- (b) commits and tags
def test_pinned_commit_and_tag_keep_the_old_weights_after_a_new_commit(hub, presets, tmp_path):
    (v1, old), (v2, new) = presets["v1"], presets["v2"]
    repo = f"{ORG}/slow-b"
    first = hub.server.publish(repo, v1, tags=["v1.0"])
    assert_predicts(ksn.from_preset(f"hf://{repo}@{first}"), old)
    assert_predicts(ksn.from_preset(f"hf://{repo}@v1.0"), old)
    assert hub.ref(repo, "v1.0") == first

    second = hub.server.publish(repo, v2, message="new weights")
    assert second != first
    hub.use_cache(str(tmp_path / "fresh_cache"))  # every answer below comes from the server
    assert_predicts(ksn.from_preset(f"hf://{repo}"), new)
    assert hub.ref(repo) == second
    assert_predicts(ksn.from_preset(f"hf://{repo}@{first}"), old)
    assert_predicts(ksn.from_preset(f"hf://{repo}@v1.0"), old)
    assert sha256(os.path.join(hub.snapshot(repo, first), "model.weights.h5")) == sha256(os.path.join(v1, "model.weights.h5"))
    assert sha256(os.path.join(hub.snapshot(repo, second), "model.weights.h5")) == sha256(os.path.join(v2, "model.weights.h5"))


# ------------------------------------------------------ (c) registered presets
def test_registered_preset_downloads_verifies_and_loads(hub, presets, monkeypatch):
    folder, expected = presets["v1"]
    repo = f"{ORG}/slow-registered"
    commit = hub.server.publish(repo, folder, tags=["v1.0"])
    monkeypatch.setitem(PRESETS, "slow_hub_test", preset_registry_entry(folder, f"hf://{repo}", commit))
    model = ksn.SlowFusion(weights="slow_hub_test")
    assert_predicts(model, expected)
    assert sorted(os.listdir(hub.snapshot(repo, commit))) == sorted(FILES)
    assert "slow_hub_test" in [row["name"] for row in ksn.list_presets()]


def test_wrong_registered_sha256_is_refused_and_nothing_is_left_to_trust(hub, presets, monkeypatch):
    folder, expected = presets["v1"]
    repo = f"{ORG}/slow-wrong-hash"
    commit = hub.server.publish(repo, folder)
    good = preset_registry_entry(folder, f"hf://{repo}", commit)
    bad = copy.deepcopy(good)
    bad["files"]["model.weights.h5"] = "0" * 64
    monkeypatch.setitem(PRESETS, "slow_hub_test", bad)

    with pytest.raises(PresetError) as caught:
        ksn.SlowFusion(weights="slow_hub_test")
    message = str(caught.value)
    assert "'slow_hub_test'" in message and "model.weights.h5" in message and "0" * 64 in message
    assert good["files"]["model.weights.h5"] in message  # what was actually served
    assert wait_for_downloads(hub.server, repo, "model.weights.h5", 1) == 1
    snapshot = hub.snapshot(repo, commit)
    assert not os.path.lexists(os.path.join(snapshot, "model.weights.h5"))  # the link is gone...
    blobs = os.path.join(hub.repo_cache(repo), "blobs")
    assert good["files"]["model.weights.h5"] not in {sha256(os.path.join(blobs, b)) for b in os.listdir(blobs)}  # ...and the blob

    # Nothing cached is trusted: offline, even the right entry finds no weights.
    monkeypatch.setitem(PRESETS, "slow_hub_test", good)
    hub.offline(True)
    with pytest.raises(PresetError, match="not in the local Hugging Face cache"):
        ksn.SlowFusion(weights="slow_hub_test")

    # Online again with the fixed entry: downloaded anew, verified, loaded.
    hub.offline(False)
    assert_predicts(ksn.SlowFusion(weights="slow_hub_test"), expected)
    assert wait_for_downloads(hub.server, repo, "model.weights.h5", 2) == 2
    assert sha256(os.path.join(snapshot, "model.weights.h5")) == good["files"]["model.weights.h5"]


# --------------------------------------------------- (d) offline after a download
def test_after_one_download_presets_load_with_the_server_stopped(hub, presets, monkeypatch, tmp_path_factory):
    folder, expected = presets["v1"]
    own = start_server(tmp_path_factory)  # a server of our own, to stop
    try:
        hub.point_at(own.url)
        repo = f"{ORG}/slow-offline"
        commit = own.publish(repo, folder, tags=["v1.0"])
        monkeypatch.setitem(PRESETS, "slow_hub_test", preset_registry_entry(folder, f"hf://{repo}", commit))
        for weights in (f"hf://{repo}", f"hf://{repo}@v1.0", "slow_hub_test"):
            ksn.SlowFusion(weights=weights)
    finally:
        own.stop()
    assert not own.running
    with pytest.raises(OSError):
        own.get("/", timeout=2)  # refused: nothing listens there any more

    hub.offline(True)
    for weights in (f"hf://{repo}", f"hf://{repo}@v1.0", f"hf://{repo}@{commit}", "slow_hub_test"):
        assert_predicts(ksn.SlowFusion(weights=weights), expected)
    # Not even the offline flag is needed when the endpoint is dead and the files are cached.
    hub.offline(False)
    hub.point_at(f"http://127.0.0.1:{free_port()}")
    assert_predicts(ksn.from_preset(f"hf://{repo}"), expected)


# ---------------------------------------------------- (e) an incomplete repo
def test_repo_without_weights_is_an_error_naming_the_preset(hub, presets):
    folder, _ = presets["v1"]
    repo = f"{ORG}/slow-no-weights"
    commit = hub.server.publish(repo, folder, exclude=("model.weights.h5",))
    # olah answers 401 RepositoryNotFound to a HEAD for a missing file (the real Hub: 404 EntryNotFound).
    with pytest.raises(PresetError) as caught:
        ksn.from_preset(f"hf://{repo}")
    message = str(caught.value)
    assert f"'hf://{repo}'" in message and f"{repo}@main has no model.weights.h5" in message
    assert not os.path.lexists(os.path.join(hub.snapshot(repo, commit), "model.weights.h5"))
