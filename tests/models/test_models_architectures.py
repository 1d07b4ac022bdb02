"""The paper's architectures: exact sizes, temporal plans, streams, head protocol.

Backend-agnostic: runs under TensorFlow here and under JAX through
`test_models_backends.py`.
"""

import os

import keras
import numpy as np
import pytest
from conftest import TINY_SIZE
from conftest import TINY_SPEC
from conftest import random_clips

import keras_sportsnet as ksn

pytestmark = pytest.mark.tensorflow_free  # also runs in the venv without TensorFlow (tests/backends)

PAPER_PARAMS = {
    ("single_frame", "full"): 73_908_071,
    ("early", "full"): 74_221_703,
    ("late", "full"): 125_288_295,
    ("slow", "full"): 75_511_751,
    ("single_frame", "multires"): 129_035_495,
    ("slow", "multires"): 132_242_855,
    ("single_frame", "fovea"): 73_908_071,
    ("single_frame", "context"): 73_908_071,
}
CONSTRUCTORS = {
    "single_frame": ksn.SingleFrame,
    "early": ksn.EarlyFusion,
    "late": ksn.LateFusion,
    "slow": ksn.SlowFusion,
}
ALL_VARIANTS = [(f, r) for f in ksn.FUSIONS for r in ksn.RESOLUTIONS]


@pytest.mark.paper_size
@pytest.mark.parametrize("fusion, resolution", sorted(PAPER_PARAMS))
def test_paper_size_parameter_counts_and_clips(fusion, resolution):
    model = CONSTRUCTORS[fusion](weights=None, resolution=resolution)
    assert model.count_params() == PAPER_PARAMS[(fusion, resolution)]
    frames = {"single_frame": 1, "early": 10, "late": 2, "slow": 10}[fusion]
    size = 170 if resolution == "full" else 178
    assert tuple(model.input.shape) == (None, frames, size, size, 3)
    assert tuple(model.output.shape) == (None, 487)
    assert model.clip_geometry == {
        "num_frames": frames,
        "frame_stride": 15 if fusion == "late" else 1,
        "image_size": (size, size),
    }
    # Every tower/stream ends in 7 x 7 x 256 before the first FC layer.
    backbone = model.backbone
    for name in backbone.trunk_layer_names:
        assert tuple(backbone.get_layer(name).output.shape[2:]) == (7, 7, 256)


@pytest.mark.paper_size
def test_slow_fusion_temporal_extent_goes_10_4_2_1():
    backbone = ksn.SlowFusion(include_top=False)
    convs = [layer for layer in backbone.layers if isinstance(layer, keras.layers.Conv3D)]
    assert [c.kernel.shape[0] for c in convs] == [4, 2, 2, 1, 1]
    assert [c.strides[0] for c in convs] == [2, 2, 2, 1, 1]
    assert [c.output.shape[1] for c in convs] == [4, 2, 1, 1, 1]
    assert tuple(convs[0].kernel.shape) == (4, 11, 11, 3, 96)


@pytest.mark.paper_size
def test_early_fusion_first_filters_span_ten_frames():
    backbone = ksn.EarlyFusion(include_top=False)
    conv1 = backbone.get_layer("full_0_conv")
    assert tuple(conv1.kernel.shape) == (10, 11, 11, 3, 96)
    assert conv1.output.shape[1] == 1


@pytest.mark.paper_size
def test_multires_streams_and_analytic_speedup():
    multires = ksn.SingleFrame(resolution="multires", include_top=False)
    assert multires.stream_names == ("context", "fovea")
    assert tuple(multires.get_layer("context_downsample").output.shape[1:]) == (1, 89, 89, 3)
    assert tuple(multires.get_layer("fovea_crop").output.shape[1:]) == (1, 89, 89, 3)
    full = ksn.SingleFrame(include_top=False)
    ratio = ksn.count_flops(full) / ksn.count_flops(multires)
    assert ratio == pytest.approx(1.71, abs=0.01)


def tiny(fusion, resolution="full", **kwargs):
    kwargs.setdefault("classes", 5)
    frames = {"single_frame": 1, "early": 10, "late": 2, "slow": 10}[fusion]
    size = TINY_SIZE if resolution == "full" else TINY_SIZE + 4
    return CONSTRUCTORS[fusion](
        spec=TINY_SPEC, resolution=resolution, input_shape=(frames, size, size, 3), **kwargs
    )


@pytest.mark.parametrize("fusion, resolution", ALL_VARIANTS)
def test_every_variant_classifies_raw_clips(fusion, resolution):
    model = tiny(fusion, resolution)
    probabilities = keras.ops.convert_to_numpy(model(random_clips(2, model)))
    assert probabilities.shape == (2, 5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert model.backbone.fusion == fusion and model.backbone.resolution == resolution


def test_user_spec_from_the_issue_builds_a_multires_slow_fusion():
    model = ksn.SlowFusion(
        resolution="multires", classes=101, spec="C(16,5,2)-N-P-C(32,3,1)-P-FC(64)",
        input_shape=(10, 64, 64, 3),
    )
    assert tuple(model.output.shape) == (None, 101)
    assert model.backbone.output.shape[-1] == 64
    assert ksn.format_spec(model.backbone.spec) == "C(16,5,2)-N-P-C(32,3,1)-P-FC(64)"


def test_models_subtract_the_pixel_mean_themselves():
    backbone = tiny("single_frame", include_top=False)
    shifted = backbone.get_layer("subtract_mean")
    probe = keras.Model(backbone.input, shifted.output)
    out = keras.ops.convert_to_numpy(probe(np.full((1, 1, TINY_SIZE, TINY_SIZE, 3), 117.0, "float32")))
    assert np.all(out == 0.0)


def test_fovea_is_centre_crop_and_context_is_downsampled_frame():
    backbone = tiny("single_frame", "multires", include_top=False)
    size = TINY_SIZE + 4
    frame = np.random.default_rng(3).uniform(0, 255, (1, 1, size, size, 3)).astype("float32")
    probe = keras.Model(
        backbone.input,
        [backbone.get_layer("fovea_crop").output, backbone.get_layer("context_downsample").output],
    )
    fovea, context = (keras.ops.convert_to_numpy(t) for t in probe(frame))
    half = size // 2
    start = (size - half) // 2
    np.testing.assert_allclose(fovea, frame[:, :, start : start + half, start : start + half] - 117.0, atol=1e-4)
    expected = (frame - 117.0).reshape(1, 1, half, 2, half, 2, 3).mean(axis=(3, 5))
    np.testing.assert_allclose(context, expected, atol=1e-4)


def test_late_fusion_towers_share_weights_over_frames_15_apart():
    model = tiny("late", include_top=False)
    assert model.clip_geometry["frame_stride"] == 15
    # Swapping the two frames permutes the merged features, it does not change
    # the towers: the first conv has a temporal kernel of 1 (shared weights).
    conv1 = model.get_layer("full_0_conv")
    assert conv1.kernel.shape[0] == 1
    probe = keras.Model(model.input, model.get_layer(model.trunk_layer_names[0]).output)
    clip = random_clips(1, model)
    forward = keras.ops.convert_to_numpy(probe(clip))
    swapped = keras.ops.convert_to_numpy(probe(clip[:, ::-1]))
    np.testing.assert_allclose(forward[:, 0], swapped[:, 1], rtol=1e-5, atol=1e-5)


def test_include_top_false_and_pooling():
    backbone = tiny("slow", include_top=False)
    assert isinstance(backbone, ksn.SportsNetBackbone)
    assert tuple(backbone.output.shape) == (None, 20)
    for pooling in ("avg", "max"):
        pooled = ksn.SlowFusion(
            include_top=False, spec="C(8,5,2)-N-P-C(12,3,1)", pooling=pooling,
            input_shape=(10, TINY_SIZE, TINY_SIZE, 3),
        )
        assert tuple(pooled.output.shape) == (None, 12)
        assert pooled.get_layer(f"{pooling}_pool") is not None


def test_head_protocol_features_pre_logits_and_reset_classifier():
    model = tiny("early")
    clips = random_clips(2, model)
    features = keras.ops.convert_to_numpy(model.pre_logits(clips))
    assert features.shape == (2, 20)
    np.testing.assert_allclose(features, keras.ops.convert_to_numpy(model.backbone(clips)))
    maps = model.backbone.feature_extractor(["full_0_conv"])(clips)
    assert tuple(maps["full_0_conv"].shape)[0] == 2
    other = model.reset_classifier(3, activation=None)
    assert tuple(other.output.shape) == (None, 3)
    assert other.backbone is model.backbone
    assert other.get_layer("predictions").activation is keras.activations.linear
    with pytest.raises(ValueError, match="not a layer of"):
        model.backbone.feature_extractor(["nope"])


@pytest.mark.parametrize("fusion, resolution", [("slow", "multires"), ("late", "full")])
def test_keras_file_round_trip_in_safe_mode(tmp_path, fusion, resolution):
    model = tiny(fusion, resolution, dropout=0.1)
    clips = random_clips(2, model)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(restored, ksn.SportsNetVideoClassifier)
    assert restored.get_config() == model.get_config()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(clips)), keras.ops.convert_to_numpy(model(clips)), rtol=1e-5, atol=1e-6
    )


def test_config_reads_like_the_paper_and_rebuilds():
    model = tiny("slow")
    config = model.backbone.get_config()
    assert config["spec"] == TINY_SPEC
    assert (config["fusion"], config["num_frames"], config["frame_stride"]) == ("slow", 10, 1)
    clone = ksn.SportsNetBackbone.from_config(config)
    assert clone.count_params() == model.backbone.count_params()


def test_weights_file_loads_and_unknown_preset_lists_presets(tmp_path):
    model = tiny("single_frame")
    path = os.path.join(tmp_path, "tiny.weights.h5")
    model.save_weights(path)
    loaded = tiny("single_frame", weights=path)
    clips = random_clips(1, model)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(clips)), keras.ops.convert_to_numpy(model(clips)), rtol=1e-6
    )
    with pytest.raises(ValueError, match=r"'sports1m' is not a registered preset.*Registered presets: .*No Sports-1M weights exist"):
        tiny("slow", weights="sports1m")
    with pytest.raises(ValueError, match="does not exist"):
        tiny("slow", weights=os.path.join(tmp_path, "missing.weights.h5"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"resolution": "half"}, r"`resolution` must be one of \['full', 'multires', 'fovea', 'context'\]. Received: resolution='half'"),
        ({"pooling": "sum"}, r"`pooling` must be one of .* Received: pooling='sum'"),
        ({"input_shape": (170, 170, 3)}, r"`input_shape` must be \(num_frames, height, width, 3\)"),
        ({"input_shape": (10, 4, 4, 3)}, r"Token 0 \(C\(8,5,2\)\).*at least 5 x 5.*Use a larger `image_size`"),
        ({"input_shape": (3, 40, 40, 3)}, r"convolves 4 frames in time but its input has 3.*num_frames"),
        ({"classes": 0}, r"`num_classes` must be a positive integer"),
        ({"dropout": 1.5}, r"`dropout` must be in \[0, 1\)"),
        ({"classifier_activation": "nonsense"}, r"`activation` must be None"),
    ],
)
def test_bad_arguments_name_the_argument_and_value(kwargs, message):
    kwargs.setdefault("input_shape", (10, TINY_SIZE, TINY_SIZE, 3))
    with pytest.raises(ValueError, match=message):
        ksn.SlowFusion(spec=TINY_SPEC, **kwargs)


def test_bad_fusion_is_rejected():
    with pytest.raises(ValueError, match=r"`fusion` must be one of \['single_frame', 'early', 'late', 'slow'\]"):
        ksn.build_model("medium")


def test_cnn_average_is_the_mean_of_member_probabilities():
    members = [tiny(f) for f in ("single_frame", "early", "late", "slow")]
    ensemble = ksn.CNNAverage(members)
    geometry = ensemble.clip_geometry
    assert geometry == {"num_frames": 16, "frame_stride": 1, "image_size": (TINY_SIZE, TINY_SIZE)}
    clips = random_clips(2, ensemble)
    expected = np.mean(
        [
            keras.ops.convert_to_numpy(members[0](clips[:, 7:8])),
            keras.ops.convert_to_numpy(members[1](clips[:, 3:13])),
            keras.ops.convert_to_numpy(members[2](clips[:, [0, 15]])),
            keras.ops.convert_to_numpy(members[3](clips[:, 3:13])),
        ],
        axis=0,
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ensemble(clips)), expected, rtol=1e-5, atol=1e-6)


def test_cnn_average_crops_larger_frames_and_checks_classes(tmp_path):
    full = tiny("single_frame")
    multires = tiny("single_frame", "multires", name="single_multires")
    ensemble = ksn.CNNAverage([full, multires])
    assert ensemble.clip_geometry["image_size"] == (TINY_SIZE + 4, TINY_SIZE + 4)
    path = os.path.join(tmp_path, "ensemble.keras")
    ensemble.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    clips = random_clips(1, ensemble)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(clips)), keras.ops.convert_to_numpy(ensemble(clips)), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="same number of classes"):
        ksn.CNNAverage([full, tiny("slow", classes=7)])
