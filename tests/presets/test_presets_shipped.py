"""The presets shipped in the package (keras_sportsnet/presets/shipped/): registered, verified by sha256,
reproducing their recorded accuracy."""

import os
import shutil
import sys

import pytest

import keras_sportsnet as ksn
from keras_sportsnet.cli import main
from keras_sportsnet.presets import PresetError
from keras_sportsnet.presets import registry
from keras_sportsnet.presets import resolve

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import reproduce_paper  # noqa: E402

EXPECTED = {
    "single_frame_synthetic": ("single_frame", "full"),
    "single_frame_multires_synthetic": ("single_frame", "multires"),
    "early_fusion_synthetic": ("early", "full"),
    "late_fusion_synthetic": ("late", "full"),
    "slow_fusion_synthetic": ("slow", "full"),
}


def test_every_shipped_preset_is_registered_with_its_files():
    assert set(registry.SHIPPED_PRESETS) == set(EXPECTED)
    for name, entry in registry.SHIPPED_PRESETS.items():
        assert entry["path"] == f"shipped/{name}"
        folder = os.path.join(registry.SHIPPED_ROOT, name)
        assert set(entry["files"]) == {"config.json", "metadata.json", "model.weights.h5", "task.json",
                                       "task.weights.h5", "preprocessor.json"}
        assert set(os.listdir(folder)) == set(entry["files"]) | {"README.md"}
        assert os.path.getsize(os.path.join(folder, "model.weights.h5")) < 5 * 2**20
    names = [row["name"] for row in ksn.list_presets()]
    assert set(EXPECTED) <= set(names)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_preset_reproduces_its_recorded_video_hit_at_1(name):
    model = ksn.from_preset(name)
    fusion, resolution = EXPECTED[name]
    assert (model.backbone.fusion, model.backbone.resolution) == (fusion, resolution)
    preset = ksn.presets.resolve_preset(name)
    assert "NOT Sports-1M" in preset.metadata["description"]
    recorded = preset.metadata["evaluation"]["check"]["video_hit@1"]
    assert reproduce_paper.check_metric(model) == pytest.approx(recorded, abs=0.05)
    constructor = {"single_frame": ksn.SingleFrame, "early": ksn.EarlyFusion, "late": ksn.LateFusion,
                   "slow": ksn.SlowFusion}[fusion]
    assert constructor(weights=name).count_params() == model.count_params()  # by name alone


def test_a_changed_shipped_file_is_refused(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    shutil.copytree(registry.SHIPPED_ROOT, root / "shipped")
    path = root / "shipped" / "slow_fusion_synthetic" / "model.weights.h5"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    monkeypatch.setattr(resolve, "PRESETS_FOLDER", str(root))
    with pytest.raises(PresetError, match=r"model.weights.h5 does not match the sha256 the registry .* records"):
        ksn.SlowFusion(weights="slow_fusion_synthetic")
    shutil.rmtree(root / "shipped" / "slow_fusion_synthetic")
    with pytest.raises(PresetError, match="this installation does not have it"):
        ksn.SlowFusion(weights="slow_fusion_synthetic")


def test_predict_demo_classifies_a_sample_video_with_the_shipped_preset(capsys):
    assert main(["predict", "--demo", "--clips", "4", "--views", "1", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "sample video (a synthetic-sports clip of class" in captured.err
    lines = captured.out.splitlines()
    assert lines[0].endswith(".mp4") and len([l for l in lines if l.startswith("  ")]) == 5
