"""Real videos (tests/real_videos.py) decode frame-exactly: every read equals a sequential decode of the file.

The reference is `keras_sportsnet.testing.videos.reference_decode`: PyAV from the first packet to the last, one
thread, no seeking. Each file is read at random index sets one clip per call (seeking to keyframes), as many
clips in one pass (`read_clips`), and from the start, and every frame is compared by digest.
"""

import warnings

import numpy as np
import pytest
import real_videos as corpus

from keras_sportsnet.data import decoding
from keras_sportsnet.data import probe_video
from keras_sportsnet.data import read_clip
from keras_sportsnet.data import read_clips
from keras_sportsnet.testing.videos import digest
from keras_sportsnet.testing.videos import reference_decode

FAST = ("Megamind.avi", "carphone_pristine.mp4")
"""Corpus files checked in the fast tier (Xvid with packed B-frames; H.264 MP4); the slow tier checks all."""


@pytest.fixture(autouse=True)
def _fresh_cache():
    decoding.get_decoder().cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reading a valid file warns about nothing
        yield


def assert_frame_exact(path, seed=0, clips=8):
    """Reads ``path`` three ways and checks every frame against the reference decode."""
    reference = reference_decode(path, keep_frames=False)
    assert reference.damage is None, f"the corpus file {path} itself is damaged: {reference.damage}"
    count = probe_video(path).num_frames
    assert count == len(reference.digests)
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(clips):
        length = int(rng.integers(1, 9))
        stride = int(rng.integers(1, 4))
        start = int(rng.integers(0, max(1, count - length * stride)))
        sets.append(list(range(start, min(count, start + length * stride), stride)))
    sets.append(sorted(rng.choice(count, 5, replace=False).tolist()))
    sets.append([count - 1, 0, count // 2])
    for indices in sets:  # one clip per call, the cache cleared: each read seeks from scratch
        decoding.get_decoder().cache_clear()
        clip = read_clip(path, indices)
        assert [digest(frame) for frame in clip] == [reference.digests[i] for i in indices], (path, indices)
    together = read_clips(path, sets)  # many clips in one forward pass
    for clip, indices in zip(together, sets):
        assert [digest(frame) for frame in clip] == [reference.digests[i] for i in indices], (path, indices)
    head = list(range(min(count, 40)))  # from the start, no seek
    assert [digest(frame) for frame in read_clip(path, head)] == reference.digests[: len(head)]


@pytest.mark.parametrize("name", FAST)
def test_real_videos_are_frame_exact(real_videos, name):
    assert_frame_exact(real_videos[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", corpus.ALL_VIDEOS)
def test_every_corpus_video_is_frame_exact(real_videos, name):
    assert_frame_exact(real_videos[name], seed=1, clips=12)


def test_megamind_reads_where_every_read_used_to_fail(real_videos):
    """Finding 1: each read_clip of this valid Xvid AVI failed with 'frame 3 has timestamp 5, expected 4'."""
    path = real_videos["Megamind.avi"]
    info = probe_video(path)
    assert (info.num_frames, info.codec, info.width, info.height) == (270, "mpeg4", 720, 528)
    for indices in (range(0, 10), range(100, 110), range(260, 270), [3, 4, 5]):
        assert read_clip(path, indices).shape == (len(indices), 528, 720, 3)
    index = decoding.get_decoder()._index(path)
    assert index.mode == "mpeg4" and index.seek_frames.size  # numbered without a full decode, read with seeks


def test_megamind_bugy_is_told_apart_by_its_distorted_frames(real_videos):
    """The 'damaged twin' is OpenCV's PSNR/SSIM tutorial copy: valid Xvid, 5 frames with rectangles painted over.

    FFmpeg decodes every frame of it without an error or a concealed frame, so it reads exactly (no VideoError);
    what tells it apart from Megamind.avi is its content: frames 40, 75, 95, 100 and 115 differ from Megamind's.
    """
    good, bugy = real_videos["Megamind.avi"], real_videos["Megamind_bugy.avi"]
    assert reference_decode(bugy, keep_frames=False).damage is None
    assert probe_video(bugy).num_frames == probe_video(good).num_frames == 270
    frames = [38, 40, 75, 95, 100, 115, 150]
    difference = np.abs(read_clip(good, frames).astype(np.int16) - read_clip(bugy, frames)).mean(axis=(1, 2, 3))
    distorted = dict(zip(frames, difference > 10))
    assert distorted == {38: False, 40: True, 75: True, 95: True, 100: True, 115: True, 150: False}


def test_short_side_on_a_real_video_matches_a_downscale(real_videos):
    path = real_videos["carphone_pristine.mp4"]  # 176x144
    small = read_clip(path, [10, 11], short_side=72)
    assert small.shape == (2, 72, 88, 3)
    full = read_clip(path, [10, 11]).astype(np.float32)
    coarse = full.reshape(2, 72, 2, 88, 2, 3).mean(axis=(2, 4))  # a 2x2 box downscale
    assert np.abs(small - coarse).mean() < 6
