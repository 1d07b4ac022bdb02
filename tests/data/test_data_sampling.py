"""Clip sampling: geometry, short-video policies, samplers, seeds."""

import numpy as np
import pytest

from keras_sportsnet.data.sampling import SHORT_VIDEO_POLICIES
from keras_sportsnet.data.sampling import ClipGeometry
from keras_sportsnet.data.sampling import SampledClip
from keras_sportsnet.data.sampling import clip_at
from keras_sportsnet.data.sampling import random_clip
from keras_sportsnet.data.sampling import random_clips
from keras_sportsnet.data.sampling import uniform_clips

SLOW = ClipGeometry(num_frames=10)  # early and slow fusion
LATE = ClipGeometry(num_frames=2, frame_stride=15)
SINGLE = ClipGeometry(num_frames=1)


def _all_samplers(num_video_frames, geometry, policy):
    """Every sampler's clips for one video, flattened into one list."""
    return [
        clip_at(0, geometry, num_video_frames, policy),
        random_clip(num_video_frames, geometry, 3, policy),
        *uniform_clips(num_video_frames, geometry, 3, policy),
        *random_clips(num_video_frames, geometry, 5, 0, policy),
    ]


# === ClipGeometry ===


def test_geometry_span_offsets_and_image_size():
    assert (SLOW.span, SLOW.offsets) == (10, tuple(range(10)))
    assert (LATE.span, LATE.offsets) == (16, (0, 15))
    assert (SINGLE.span, SINGLE.offsets) == (1, (0,))
    assert ClipGeometry(2, 15, 170).image_size == (170, 170)
    assert ClipGeometry(2, 15, [178, 160]).image_size == (178, 160)
    with pytest.raises(AttributeError):
        SLOW.num_frames = 3  # frozen


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_frames": 0}, "num_frames"),
        ({"num_frames": 2.0}, "num_frames"),
        ({"num_frames": 2, "frame_stride": 0}, "frame_stride"),
        ({"num_frames": 2, "image_size": (170,)}, "image_size"),
        ({"num_frames": 2, "image_size": -1}, "image_size"),
        ({"num_frames": 2, "image_size": "170"}, "image_size"),
    ],
)
def test_geometry_validation_names_argument_and_value(kwargs, argument):
    with pytest.raises(ValueError, match=rf"`{argument}` must be .*Received: {argument}="):
        ClipGeometry(**kwargs)


def test_geometry_from_model():
    class Model:
        clip_geometry = {"num_frames": 2, "frame_stride": 15, "image_size": (170, 170)}

    assert ClipGeometry.from_model(Model()) == ClipGeometry(2, 15, 170)
    # A model object works wherever a geometry is expected.
    assert random_clip(100, Model(), 0) == random_clip(100, LATE, 0)
    with pytest.raises(TypeError, match="`model` must have a `clip_geometry`.*Received: model=object"):
        ClipGeometry.from_model(object())
    with pytest.raises(TypeError, match="`geometry` must be"):
        random_clip(100, 10, 0)


def test_geometry_from_real_keras_sportsnet_model():
    import keras_sportsnet as ksn

    model = ksn.SportsNetBackbone(spec="C(4,3,2)-P-FC(8)", fusion="late", image_size=32)
    assert ClipGeometry.from_model(model) == ClipGeometry(2, 15, (32, 32))


# === clip_at and the policies ===


def test_clip_that_fits_reports_no_policy():
    for policy in SHORT_VIDEO_POLICIES:
        assert clip_at(5, SLOW, 20, policy) == SampledClip(tuple(range(5, 15)), 5, None)
        assert clip_at(0, LATE, 16, policy) == SampledClip((0, 15), 0, None)


def test_policies_on_a_short_video():
    # 4-frame video, 10-frame clip.
    assert clip_at(0, SLOW, 4, "loop") == SampledClip((0, 1, 2, 3, 0, 1, 2, 3, 0, 1), 0, "loop")
    assert clip_at(0, SLOW, 4, "repeat_last") == SampledClip(
        (0, 1, 2, 3, 3, 3, 3, 3, 3, 3), 0, "repeat_last"
    )
    assert clip_at(0, SLOW, 4, "pad") == SampledClip((0, 1, 2, 3) + (-1,) * 6, 0, "pad")
    skipped = clip_at(0, SLOW, 4, "skip")
    assert skipped == SampledClip((), 0, "skip") and skipped.skipped
    assert not clip_at(0, SLOW, 10, "skip").skipped


def test_policies_apply_to_a_late_start_too():
    assert clip_at(3, ClipGeometry(4), 5, "loop") == SampledClip((3, 4, 0, 1), 3, "loop")
    assert clip_at(3, ClipGeometry(4), 5, "pad").indices == (3, 4, -1, -1)


def test_late_fusion_two_frames_fifteen_apart():
    assert clip_at(7, LATE, 30, "loop") == SampledClip((7, 22), 7, None)
    for clip in _all_samplers(100, LATE, "loop"):
        assert clip.policy is None
        assert clip.indices[1] - clip.indices[0] == 15 and 0 <= clip.indices[0] <= 84
    # Shorter than the 16-frame span.
    assert clip_at(0, LATE, 10, "loop").indices == (0, 5)
    assert clip_at(0, LATE, 10, "repeat_last").indices == (0, 9)
    assert clip_at(0, LATE, 10, "pad").indices == (0, -1)
    assert clip_at(0, LATE, 15, "pad").indices == (0, -1)  # one frame short


@pytest.mark.parametrize("geometry", [SLOW, LATE, SINGLE], ids=["slow", "late", "single"])
def test_video_exactly_as_long_as_the_span_fits_at_start_zero(geometry):
    for policy in SHORT_VIDEO_POLICIES:
        for clip in _all_samplers(geometry.span, geometry, policy):
            assert clip == SampledClip(geometry.offsets, 0, None)


@pytest.mark.parametrize("policy", SHORT_VIDEO_POLICIES)
def test_every_sampler_applies_the_policy_to_short_videos(policy):
    expected = {
        "loop": (0,) * 10,
        "repeat_last": (0,) * 10,
        "pad": (0,) + (-1,) * 9,
        "skip": (),
    }[policy]
    for clip in _all_samplers(1, SLOW, policy):  # a one-frame video
        assert clip == SampledClip(expected, 0, policy)
    for clip in _all_samplers(9, SLOW, policy):  # one frame short
        assert clip.start == 0 and clip.policy == policy
        assert len(clip.indices) == (0 if policy == "skip" else 10)
    # A one-frame video suits single-frame models.
    for clip in _all_samplers(1, SINGLE, policy):
        assert clip == SampledClip((0,), 0, None)


def test_sampler_lengths_with_skip():
    assert len(uniform_clips(3, SLOW, 4, "skip")) == 4
    assert all(c.skipped for c in random_clips(3, SLOW, 20, 0, "skip"))


def test_validation_errors_name_argument_allowed_and_received():
    with pytest.raises(ValueError, match=r"the video has no frames. Received: num_video_frames=0"):
        random_clip(0, SLOW, 0)
    for sampler in (
        lambda n: clip_at(0, SLOW, n),
        lambda n: uniform_clips(n, SLOW),
        lambda n: random_clips(n, SLOW),
    ):
        with pytest.raises(ValueError, match="no frames"):
            sampler(0)
        with pytest.raises(ValueError, match="num_video_frames=2.5"):
            sampler(2.5)
    with pytest.raises(ValueError, match=r"\['loop', 'repeat_last', 'pad', 'skip'\]. Received: policy='wrap'"):
        random_clip(100, SLOW, 0, policy="wrap")
    with pytest.raises(ValueError, match=r"`start` must be an int in \[0, 19\].*start=20"):
        clip_at(20, SLOW, 20)
    with pytest.raises(ValueError, match="start=-1"):
        clip_at(-1, SLOW, 20)
    with pytest.raises(ValueError, match="num_clips=0"):
        uniform_clips(100, SLOW, 0)
    with pytest.raises(ValueError, match="`seed` must be an int >= 0, a list .*Received: seed=None"):
        random_clips(100, SLOW, 20, None)
    with pytest.raises(ValueError, match="Received: seed=Generator"):
        random_clips(100, SLOW, 20, np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng_or_seed=-3"):
        random_clip(100, SLOW, -3)


# === Samplers ===


def test_random_clip_is_uniform_over_valid_starts():
    # 14 frames, span 10: starts 0..4.
    starts = [random_clip(14, SLOW, seed).start for seed in range(2000)]
    counts = np.bincount(starts, minlength=5)
    assert len(counts) == 5 and counts.min() > 320  # ~400 each
    assert random_clip(14, SLOW, 5) == random_clip(14, SLOW, 5)
    # A Generator is advanced in place; a SeedSequence works too.
    rng = np.random.default_rng(0)
    assert len({random_clip(1000, SLOW, rng).start for _ in range(10)}) > 1
    assert random_clip(1000, SLOW, np.random.SeedSequence(4)) == random_clip(
        1000, SLOW, np.random.SeedSequence(4)
    )


def test_uniform_clips_are_evenly_spaced_and_deterministic():
    clips = uniform_clips(100, SLOW, 3)
    assert [c.start for c in clips] == [15, 45, 75]
    assert clips[0].indices == tuple(range(15, 25))
    assert [c.start for c in uniform_clips(100, SLOW, 1)] == [45]  # the centre clip
    assert [c.start for c in uniform_clips(12, SLOW, 6)] == [0, 0, 1, 1, 2, 2]  # 3 starts
    assert uniform_clips(531, LATE, 7) == uniform_clips(531, LATE, 7)
    starts = [c.start for c in uniform_clips(1000, SLOW, 10)]
    assert np.ptp(np.diff(starts)) <= 1 and starts[0] > 0 and starts[-1] < 991


def test_random_clips_twenty_per_video_sorted_seeded_distinct():
    clips = random_clips(500, SLOW, 20, seed=3)
    starts = [c.start for c in clips]
    assert len(clips) == 20 and starts == sorted(starts) and len(set(starts)) == 20
    assert all(0 <= s <= 490 and c.policy is None for s, c in zip(starts, clips))
    assert random_clips(500, SLOW, 20, seed=3) == clips
    assert random_clips(500, SLOW, 20, seed=4) != clips
    per_video = random_clips(500, SLOW, 20, seed=[3, 12])  # [seed, video_index]
    assert per_video == random_clips(500, SLOW, 20, seed=(3, 12)) != clips
    # Fewer valid starts than clips: drawn with replacement.
    few = [c.start for c in random_clips(12, SLOW, 20, seed=0)]
    assert len(few) == 20 and set(few) <= {0, 1, 2} and few == sorted(few)
