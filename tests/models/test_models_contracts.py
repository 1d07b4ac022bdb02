"""The model contract (keras_sportsnet.testing.model_contracts) on every architecture: fusion x resolution.

Four representative variants run in the fast tier; the other twelve are slow-marked.
"""

import pytest
from conftest import TINY_SIZE
from conftest import TINY_SPEC

import keras_sportsnet as ksn
from keras_sportsnet.testing.model_contracts import run_backbone_test
from keras_sportsnet.testing.model_contracts import run_classifier_test

FAST = {("single_frame", "full"), ("slow", "multires"), ("late", "full"), ("early", "fovea")}
VARIANTS = [
    pytest.param(fusion, resolution, marks=() if (fusion, resolution) in FAST else pytest.mark.slow)
    for fusion in ksn.FUSIONS
    for resolution in ksn.RESOLUTIONS
]


def kwargs(fusion, resolution):
    size = TINY_SIZE if resolution == "full" else TINY_SIZE + 4
    return {"spec": TINY_SPEC, "fusion": fusion, "resolution": resolution, "image_size": size}


@pytest.mark.parametrize("fusion, resolution", VARIANTS)
def test_classifier_contract(fusion, resolution, tmp_path):
    model = run_classifier_test(kwargs(fusion, resolution), num_classes=4, tmp_dir=str(tmp_path))
    assert model.backbone.fusion == fusion and model.backbone.resolution == resolution


@pytest.mark.parametrize("fusion, resolution", [("slow", "full"), ("late", "multires")])
def test_backbone_contract(fusion, resolution, tmp_path):
    backbone = run_backbone_test(kwargs(fusion, resolution), expected_output_shape=(20,), tmp_dir=str(tmp_path))
    assert backbone.output.shape[-1] == 20


def test_the_contract_can_fail(tmp_path, monkeypatch):
    """A model whose config does not round trip is caught (the helper is not a rubber stamp)."""
    original = ksn.SportsNetBackbone.get_config

    def lossy(self):
        config = original(self)
        config["image_size"] = [size + 8 for size in config["image_size"]]  # not what the model was built with
        return config

    monkeypatch.setattr(ksn.SportsNetBackbone, "get_config", lossy)
    with pytest.raises(AssertionError, match="config changed in a round trip|parameter count|from_config"):
        run_backbone_test(kwargs("single_frame", "full"), tmp_dir=str(tmp_path), run_mixed_precision=False)
