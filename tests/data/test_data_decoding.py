"""Frame-exact decoding: probe, read_clip, read_clips, bad inputs, the index cache.

Every video is written here with `synthetic.write_video`; each frame carries
its index (`frame_code`), so a test can check it got exactly the frames asked
for.
"""

import dataclasses
import fractions
import os
import warnings

import av
import numpy as np
import pytest

from keras_sportsnet.data import decoding
from keras_sportsnet.data.decoding import PyAVDecoder
from keras_sportsnet.data.decoding import VideoDecoder
from keras_sportsnet.data.decoding import VideoError
from keras_sportsnet.data.decoding import get_decoder
from keras_sportsnet.data.decoding import probe_video
from keras_sportsnet.data.decoding import read_clip
from keras_sportsnet.data.decoding import read_clips
from keras_sportsnet.data.decoding import register_decoder
from keras_sportsnet.testing.videos import frame_code
from keras_sportsnet.testing.videos import index_frames
from keras_sportsnet.testing.videos import pack_bframes
from keras_sportsnet.testing.videos import reference_decode
from keras_sportsnet.data.encoding import write_video

H, W = 48, 64

# name -> (file name, number of frames, write_video keyword arguments)
VIDEOS = {
    "h264_long_gop": ("h264_long_gop.mp4", 120, dict(codec="h264", keyframe_interval=50)),
    "h264_bframes": ("h264_bframes.mp4", 90, dict(codec="h264", keyframe_interval=30, bframes=3)),
    "h264_bframes_mkv": ("h264_bframes.mkv", 90, dict(codec="h264", keyframe_interval=30, bframes=3)),
    "h264_bframes_avi": ("h264_bframes.avi", 90, dict(codec="h264", keyframe_interval=30, bframes=3)),
    "vp9_webm": ("vp9.webm", 60, dict(codec="vp9", keyframe_interval=25)),
    "mpeg4_bframes_avi": ("mpeg4_bframes.avi", 80, dict(codec="mpeg4", keyframe_interval=12, bframes=2)),
    "mjpeg_avi": ("mjpeg.avi", 40, dict(codec="mjpeg")),
}
_VOP = b"\x00\x00\x01\xb6"


def write_audio_only(path, seconds=1.0, rate=16000):
    with av.open(path, "w") as container:
        stream = container.add_stream("aac", rate=rate)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, int(seconds * rate)), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, fractions.Fraction(1, rate)
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    paths = {}
    for name, (file_name, num_frames, kwargs) in VIDEOS.items():
        paths[name] = write_video(str(root / file_name), index_frames(num_frames, H, W), **kwargs)
    source = write_video(str(root / "mpeg4_b1.avi"), index_frames(80, H, W), codec="mpeg4", keyframe_interval=12,
                         bframes=1)
    paths["mpeg4_packed_avi"] = pack_bframes(source, str(root / "mpeg4_packed.avi"))
    return paths


NUM_FRAMES = {**{name: spec[1] for name, spec in VIDEOS.items()}, "mpeg4_packed_avi": 80}


def codes(clip):
    return [frame_code(frame) for frame in clip]


@pytest.fixture(autouse=True)
def _fresh_cache():
    get_decoder().cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no silent fallback to sequential reads
        yield


def count_decoded(monkeypatch):
    """Counts frames PyAV decodes while reading, and containers opened."""
    counter = {"frames": 0, "opens": 0}
    decoded, open_ = PyAVDecoder._decode_verified, av.open

    def counting_decoded(self, *args):
        frames = decoded(self, *args)
        counter["frames"] += len(frames)
        return frames

    def counting_open(*args, **kwargs):
        counter["opens"] += 1
        return open_(*args, **kwargs)

    monkeypatch.setattr(PyAVDecoder, "_decode_verified", counting_decoded)
    monkeypatch.setattr(av, "open", counting_open)
    return counter


# ------------------------------------------------------------ frame exactness
@pytest.mark.parametrize("name", sorted(NUM_FRAMES))
def test_random_clips_are_frame_exact(videos, name):
    path, num_frames = videos[name], NUM_FRAMES[name]
    info = probe_video(path)
    assert info.num_frames == num_frames
    assert (info.height, info.width, info.rotation, info.fps) == (H, W, 0, 25.0)
    assert info.duration == pytest.approx(num_frames / 25.0)
    rng = np.random.default_rng(0)
    for _ in range(25):
        length = int(rng.integers(1, 12))
        start = int(rng.integers(0, num_frames - length + 1))
        indices = list(range(start, start + length, int(rng.integers(1, 3))))
        clip = read_clip(path, indices)
        assert clip.dtype == np.uint8 and clip.shape == (len(indices), H, W, 3)
        assert codes(clip) == indices
    assert codes(read_clip(path, range(num_frames))) == list(range(num_frames))


def test_container_frame_counts_are_not_trusted(videos):
    with av.open(videos["vp9_webm"]) as container:
        assert container.streams.video[0].frames == 0  # WebM stores no count
    assert probe_video(videos["vp9_webm"]).num_frames == 60


def test_packed_bframes_have_swapped_timestamps(videos):
    """The packed AVI really has the quirk that makes picking frames by pts wrong."""
    with av.open(videos["mpeg4_packed_avi"]) as container:
        stream = container.streams.video[0]
        assert any(bytes(packet).count(_VOP) == 2 for packet in container.demux(stream) if packet.size)
    with av.open(videos["mpeg4_packed_avi"]) as container:
        frames = list(container.decode(video=0))
    assert [frame_code(frame.to_ndarray(format="rgb24")) for frame in frames] == list(range(80))
    assert [frame.pts for frame in frames] != sorted(frame.pts for frame in frames)


@pytest.mark.parametrize("name", ["h264_long_gop", "h264_bframes", "mpeg4_packed_avi", "vp9_webm"])
def test_clip_spanning_a_keyframe(videos, name):
    keyframe = {"h264_long_gop": 50, "h264_bframes": 30, "mpeg4_packed_avi": 12, "vp9_webm": 25}[name]
    indices = list(range(keyframe - 4, keyframe + 4))
    assert codes(read_clip(videos[name], indices)) == indices


def test_unsorted_repeated_and_black_frames(videos):
    path = videos["h264_bframes"]
    indices = [70, 3, 3, -1, 55, 70, 0, -1, 89]
    clip = read_clip(path, indices)
    assert clip.shape == (9, H, W, 3)
    for frame, index in zip(clip, indices):
        if index == -1:
            assert not frame.any()
        else:
            assert frame_code(frame) == index
    assert read_clip(path, []).shape == (0, H, W, 3)
    assert codes(read_clip(path, np.array([5, 4], np.int32))) == [5, 4]


def test_invalid_indices(videos):
    path = videos["mjpeg_avi"]
    with pytest.raises(ValueError, match="-1 for a black frame"):
        read_clip(path, [0, -2])
    with pytest.raises(ValueError, match="integers"):
        read_clip(path, [0.5, 1.0])


@pytest.mark.parametrize("name", ["h264_long_gop", "mpeg4_packed_avi", "vp9_webm"])
def test_read_clips_equals_read_clip(videos, name):
    path, num_frames = videos[name], NUM_FRAMES[name]
    rng = np.random.default_rng(1)
    clips = [sorted(rng.choice(num_frames, 6, replace=False).tolist()) for _ in range(5)]
    clips += [[num_frames - 1, 0, -1], list(range(10, 20)), list(range(15, 25)), []]
    together = read_clips(path, clips)
    assert len(together) == len(clips)
    for clip, indices in zip(together, clips):
        np.testing.assert_array_equal(clip, read_clip(path, indices))


def test_one_pass_decodes_far_fewer_frames_than_independent_seeks(tmp_path, monkeypatch):
    num_frames = 300
    path = write_video(str(tmp_path / "long.mp4"), index_frames(num_frames, H, W), keyframe_interval=300)
    starts = np.linspace(0, num_frames - 10, 20).astype(int)
    clips = [list(range(start, start + 10)) for start in starts]
    probe_video(path)
    counter = count_decoded(monkeypatch)
    separate = [read_clip(path, clip) for clip in clips]
    independent, counter["frames"] = counter["frames"], 0
    together = read_clips(path, clips)
    assert counter["frames"] <= num_frames < independent / 2
    for a, b, clip in zip(separate, together, clips):
        np.testing.assert_array_equal(a, b)
        assert codes(b) == clip


def test_one_clip_decodes_only_from_the_nearest_keyframe(videos, monkeypatch):
    probe_video(videos["h264_long_gop"])
    counter = count_decoded(monkeypatch)
    assert codes(read_clip(videos["h264_long_gop"], range(104, 110))) == list(range(104, 110))
    assert counter["frames"] <= 10 + 1  # keyframe 100 .. 109 (+1 if the pass looks one ahead)
    assert counter["opens"] == 1


@pytest.mark.parametrize("name", ["h264_long_gop", "mpeg4_packed_avi", "mjpeg_avi"])
def test_a_wrong_prediction_is_reconciled_by_counting(videos, name):
    """Frames that disagree with the index make it exact (one sequential decode), silently, and reads stay exact."""
    path = videos[name]
    decoder = get_decoder()
    index = decoder._index(path)
    assert not index.exact
    order = index.order.copy()
    order[[20, 21]] = order[[21, 20]]  # as if the timestamps of two frames were swapped
    decoder._replace_index(path, dataclasses.replace(index, order=order))
    assert codes(read_clip(path, [19, 20, 21, 22])) == [19, 20, 21, 22]
    counted = decoder._index(path)
    assert counted.exact and counted.info.num_frames == NUM_FRAMES[name]
    np.testing.assert_array_equal(counted.order, index.order)
    assert counted.seek_frames.size  # still read with seeks
    assert codes(read_clip(path, [33, 34])) == [33, 34]


# ------------------------------------------------------------------ metadata
@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_is_applied(tmp_path, rotation):
    frames = index_frames(12, H, W)
    plain = write_video(str(tmp_path / "plain.mp4"), frames)
    turned = write_video(str(tmp_path / f"turned{rotation}.mp4"), frames, rotation=rotation)
    info = probe_video(turned)
    assert info.rotation == rotation
    assert (info.height, info.width) == ((W, H) if rotation in (90, 270) else (H, W))
    clip = read_clip(turned, [2, 7])
    assert clip.shape == (2, info.height, info.width, 3)
    # Turned `rotation` degrees clockwise: np.rot90 turns counter-clockwise.
    np.testing.assert_array_equal(clip, np.rot90(read_clip(plain, [2, 7]), -rotation // 90, axes=(1, 2)))
    upright = np.rot90(clip, rotation // 90, axes=(1, 2))
    assert codes(upright) == [2, 7]


def test_has_audio_and_codec(tmp_path, videos):
    path = write_video(str(tmp_path / "speech.mp4"), index_frames(20, H, W), audio=True)
    info = probe_video(path)
    assert info.has_audio and info.codec == "h264" and info.num_frames == 20
    assert not probe_video(videos["mjpeg_avi"]).has_audio
    assert probe_video(videos["mpeg4_packed_avi"]).codec == "mpeg4"
    assert decoding.VideoInfo.from_dict(info.to_dict()) == info


@pytest.mark.parametrize("codec,extension", [("mjpeg", "avi"), ("mpeg4", "avi"), ("vp9", "webm")])
def test_odd_frame_size(tmp_path, codec, extension):
    path = write_video(str(tmp_path / f"odd.{extension}"), index_frames(30, 49, 63), codec=codec, keyframe_interval=10)
    info = probe_video(path)
    assert (info.height, info.width, info.num_frames) == (49, 63, 30)
    clip = read_clip(path, [3, 17, 29])
    assert clip.shape == (3, 49, 63, 3)
    assert codes(clip) == [3, 17, 29]


def test_odd_frame_size_h264_does_not_encode(tmp_path):
    """libx264 with 4:2:0 needs even sizes: the writer refuses, there is no such file to read."""
    with pytest.raises(av.error.FFmpegError):
        write_video(str(tmp_path / "odd.mp4"), index_frames(4, 49, 63), codec="h264")


# ---------------------------------------------------------------- bad inputs
def _truncate(source, destination, fraction=0.5):
    with open(source, "rb") as file:
        data = file.read()
    with open(destination, "wb") as file:
        file.write(data[: int(len(data) * fraction)])
    return str(destination)


def _bad_file(tmp_path, videos, kind):
    if kind == "empty":
        path = tmp_path / "empty.mp4"
        path.write_bytes(b"")
    elif kind == "random_bytes":
        path = tmp_path / "noise.avi"
        path.write_bytes(np.random.default_rng(0).bytes(20000))
    elif kind == "text":
        path = tmp_path / "notes.mp4"
        path.write_text("not a video\n" * 200)
    elif kind == "truncated_mp4":
        path = _truncate(videos["h264_long_gop"], tmp_path / "cut.mp4")
    elif kind == "truncated_mjpeg_avi":
        path = _truncate(videos["mjpeg_avi"], tmp_path / "cut_mjpeg.avi")
    elif kind == "truncated_mpeg4_avi":
        path = _truncate(videos["mpeg4_packed_avi"], tmp_path / "cut_mpeg4.avi")
    elif kind == "audio_only":
        path = write_audio_only(str(tmp_path / "speech.mp4"))
    elif kind == "missing":
        path = tmp_path / "missing.mp4"
    elif kind == "directory":
        path = tmp_path / "folder.mp4"
        path.mkdir()
    elif kind == "huge_sparse":
        path = tmp_path / "huge.mp4"
        with open(path, "wb") as file:
            file.truncate(4 << 30)  # 4 GiB of zeros, sparse
    return str(path)


BAD_KINDS = {
    "empty": "empty file",
    "random_bytes": "not a video",
    "text": "not a video",
    "truncated_mp4": "damaged",
    "truncated_mjpeg_avi": "truncated",
    "truncated_mpeg4_avi": "truncated",
    "audio_only": "audio-only",
    "missing": "not found",
    "directory": "directory",
    "huge_sparse": "not a video",
}


@pytest.mark.parametrize("kind", sorted(BAD_KINDS))
def test_bad_inputs_raise_video_error_naming_the_file(tmp_path, videos, kind):
    path = _bad_file(tmp_path, videos, kind)
    for call in (probe_video, lambda p: read_clip(p, [0]), lambda p: read_clips(p, [[0], [1]])):
        with pytest.raises(VideoError, match=BAD_KINDS[kind]) as caught:
            call(path)
        assert caught.value.path == path and str(caught.value).startswith(path)
        assert isinstance(caught.value, ValueError)


def assert_exact_or_video_error(path):
    """A damaged file either reads exactly as a sequential decode does, or raises VideoError naming it."""
    try:
        num_frames = probe_video(path).num_frames
        reference = reference_decode(path)
        truth = np.stack(reference.frames[: reference.intact])
        assert 0 < num_frames <= len(truth)
        np.testing.assert_array_equal(read_clip(path, range(num_frames)), truth[:num_frames])
        for start in range(0, num_frames, 7):  # seeks: one clip per call
            indices = list(range(start, min(num_frames, start + 3)))
            np.testing.assert_array_equal(read_clip(path, indices), truth[indices])
        return None
    except VideoError as error:
        assert error.path == path
        return error.problem


@pytest.mark.parametrize("name", ["h264_bframes_mkv", "vp9_webm", "h264_bframes_avi", "mpeg4_packed_avi"])
@pytest.mark.parametrize("fraction", [0.3, 0.62, 0.99])
def test_cut_files_give_exact_frames_or_video_error(tmp_path, videos, name, fraction):
    path = _truncate(videos[name], tmp_path / f"cut{os.path.splitext(videos[name])[1]}", fraction)
    problem = assert_exact_or_video_error(path)
    if fraction < 0.9:  # each of these cuts is detected
        assert problem is not None and "truncated" in problem


def remux_prefix(source, destination, num_packets):
    """A well-formed file holding only the first packets (decoding order) of ``source``."""
    with av.open(source) as container, av.open(destination, "w") as output:
        stream = container.streams.video[0]
        out_stream = output.add_stream_from_template(stream)
        packets = (packet for packet in container.demux(stream) if packet.size)
        for _, packet in zip(range(num_packets), packets):
            packet.stream = out_stream
            output.mux(packet)
    return str(destination)


@pytest.mark.parametrize("name", ["h264_bframes_mkv", "h264_bframes_avi", "mpeg4_bframes_avi", "mpeg4_packed_avi"])
def test_streams_cut_between_packets_give_exact_frames_or_video_error(tmp_path, videos, name):
    """Cut between two packets: B-frames after the cut leave holes before the last frames."""
    for num_packets in (34, 35, 36, 37):
        path = remux_prefix(videos[name], tmp_path / f"p{num_packets}{os.path.splitext(videos[name])[1]}", num_packets)
        get_decoder().cache_clear()
        assert_exact_or_video_error(path)


def test_variable_frame_rate_and_odd_time_base(tmp_path):
    """Irregular timestamps (1/90000 and 1/1000 time bases) with B-frames: frames are counted, not timed."""
    num_frames = 70
    steps = np.random.default_rng(0).integers(1500, 6000, num_frames)
    for extension, time_base in (("mp4", fractions.Fraction(1, 90000)), ("mkv", fractions.Fraction(1, 90000))):
        path = str(tmp_path / f"vfr.{extension}")
        with av.open(path, "w") as container:
            stream = container.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
            stream.time_base = stream.codec_context.time_base = time_base
            stream.options = {"preset": "ultrafast", "x264-params": "keyint=20:min-keyint=20:scenecut=0:bframes=2"}
            for pts, image in zip(np.cumsum(steps) - steps[0], index_frames(num_frames, H, W)):
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts, frame.time_base = int(pts), time_base
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        info = probe_video(path)
        assert info.num_frames == num_frames
        assert info.duration == pytest.approx(float((np.sum(steps[1:])) * time_base), rel=0.05)
        assert codes(read_clip(path, range(num_frames))) == list(range(num_frames))
        for start in (5, 19, 20, 21, 39, 40, 41, 66):
            assert codes(read_clip(path, range(start, start + 4))) == list(range(start, start + 4))


def test_too_short_request_says_how_many_frames(videos):
    with pytest.raises(VideoError, match="has 40 frames") as caught:
        read_clip(videos["mjpeg_avi"], [38, 39, 40])
    assert caught.value.path == videos["mjpeg_avi"]
    with pytest.raises(VideoError, match="has 40 frames"):
        read_clips(videos["mjpeg_avi"], [[0], [45]])


def test_frame_size_budget(videos):
    path = videos["mjpeg_avi"]
    for call in (
        lambda: probe_video(path, max_pixels=1000),
        lambda: read_clip(path, [0], max_pixels=1000),
        lambda: read_clips(path, [[0]], max_pixels=1000),
    ):
        with pytest.raises(VideoError, match="too large for the budget max_pixels=1000; pass max_pixels=3072"):
            call()
    assert probe_video(path, max_pixels=H * W).num_frames == 40
    with pytest.raises(ValueError, match="max_pixels"):
        probe_video(path, max_pixels=0)


# --------------------------------------------------------------------- cache
def test_probe_is_cached_and_invalidated_when_the_file_changes(tmp_path, monkeypatch):
    path = write_video(str(tmp_path / "v.mp4"), index_frames(30, H, W))
    counter = count_decoded(monkeypatch)
    first = probe_video(path)
    probing = counter["opens"]  # the demux pass and the spot check
    assert probing == 2
    assert probe_video(path) is first and counter["opens"] == probing
    assert codes(read_clip(path, [4])) == [4] and counter["opens"] == probing + 1  # reading reuses the index
    write_video(path, index_frames(45, H, W))
    counter["opens"] = 0  # not counting the writer's
    os.utime(path, ns=(first.mtime_ns + 10**9, first.mtime_ns + 10**9))  # a coarse clock must still see it
    assert probe_video(path).num_frames == 45 and counter["opens"] == probing
    os.utime(path, ns=(first.mtime_ns + 2 * 10**9,) * 2)  # same bytes, new mtime: re-probed
    probe_video(path)
    assert counter["opens"] == 2 * probing
    assert probe_video(os.path.relpath(path)).path == os.path.relpath(path) and counter["opens"] == 2 * probing


def test_cache_is_bounded(tmp_path, videos):
    decoder = PyAVDecoder(cache_size=2)
    for name in ("mjpeg_avi", "vp9_webm", "h264_bframes"):
        decoder.probe(videos[name])
    assert len(decoder._cache) == 2


# ------------------------------------------------------------------ registry
def test_decoder_registry(videos):
    assert isinstance(get_decoder(), PyAVDecoder) and get_decoder() is get_decoder("pyav")

    class Recorder(PyAVDecoder):
        def __init__(self):
            super().__init__()
            self.calls = []

        def _decode_frames(self, path, index, numbers, size):
            self.calls.append(numbers)
            return super()._decode_frames(path, index, numbers, size)

    register_decoder("recorder", Recorder)
    try:
        clip = read_clip(videos["mjpeg_avi"], [9, 2, 9, -1], decoder="recorder")
        assert get_decoder("recorder").calls == [[2, 9]]
        np.testing.assert_array_equal(clip, read_clip(videos["mjpeg_avi"], [9, 2, 9, -1]))
    finally:
        decoding.unregister_decoder("recorder")
    with pytest.raises(ValueError, match="Unknown decoder"):
        get_decoder("opencv-not-registered")
    with pytest.raises(TypeError):
        register_decoder("bad", dict)
    with pytest.raises(TypeError):
        VideoDecoder()  # abstract


# --------------------------------------------------------- memory and hostile files
def test_short_side_scales_while_decoding(videos):
    path = videos["h264_bframes"]
    full = read_clip(path, [3, 40, -1])
    small = read_clip(path, [3, 40, -1], short_side=32)
    assert small.shape == (3, 32, 43, 3) and small.dtype == np.uint8
    assert codes(small[:2]) == [3, 40] and not small[2].any()
    assert read_clip(path, [3], short_side=48).shape == (1, H, W, 3)  # not larger than stored: as stored
    np.testing.assert_array_equal(read_clip(path, [3], short_side=500), full[:1])
    many = read_clips(path, [[1, 2], [40]], short_side=24)
    assert [clip.shape for clip in many] == [(2, 24, 32, 3), (1, 24, 32, 3)]
    with pytest.raises(ValueError, match="short_side"):
        read_clip(path, [0], short_side=0)


@pytest.mark.parametrize("rotation", [90, 270])
def test_short_side_with_rotation(tmp_path, rotation):
    path = write_video(str(tmp_path / "turned.mp4"), index_frames(6, H, W), rotation=rotation)
    clip = read_clip(path, [1, 4], short_side=24)
    assert clip.shape == (2, 32, 24, 3)  # displayed upright: taller than wide
    assert codes(np.rot90(clip, rotation // 90, axes=(1, 2))) == [1, 4]


def test_scaled_size():
    assert decoding.scaled_size(1920, 1080, 200) == (356, 200)
    assert decoding.scaled_size(1080, 1920, 200) == (200, 356)
    assert decoding.scaled_size(176, 144, 200) == (176, 144)
    assert decoding.scaled_size(640, 480, None) == (640, 480)


def _finishes(function, seconds=20):
    """Runs ``function`` in a thread; returns what it returned or raised, failing the test if it hangs."""
    import threading

    outcome = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the call hung"
    return outcome


def test_fifo_and_devices_are_refused_without_blocking(tmp_path):
    fifo = str(tmp_path / "pipe.mp4")
    os.mkfifo(fifo)
    for call in (probe_video, lambda p: read_clip(p, [0])):
        error = _finishes(lambda: call(fifo))["error"]
        assert isinstance(error, VideoError) and "named pipe" in error.problem and error.path == fifo
    error = _finishes(lambda: probe_video("/dev/zero"))["error"]
    assert isinstance(error, VideoError) and "device" in error.problem


def test_path_swapped_for_a_fifo_after_the_check_does_not_hang(tmp_path, videos, monkeypatch):
    from keras_sportsnet.data.decoding import base

    fifo = str(tmp_path / "swapped.mp4")
    os.mkfifo(fifo)
    real = os.stat(videos["mjpeg_avi"])
    # The first check sees a regular file (as if the swap happened right after it).
    monkeypatch.setattr(base.os, "stat", lambda path, *a, **k: real if os.fspath(path) == fifo else os.lstat(path))
    error = _finishes(lambda: probe_video(fifo))["error"]
    assert isinstance(error, VideoError) and "named pipe" in error.problem


def test_reads_in_many_threads_at_once_are_exact(videos):
    """Evaluation decodes in a thread pool: packet tags must not collide across threads (PyAV keys them by id())."""
    import concurrent.futures

    names = ["h264_bframes", "mpeg4_packed_avi", "vp9_webm", "mjpeg_avi"]
    rng = np.random.default_rng(3)
    jobs = []
    for _ in range(120):
        name = names[int(rng.integers(len(names)))]
        start = int(rng.integers(0, NUM_FRAMES[name] - 4))
        jobs.append((videos[name], list(range(start, start + 4)), bool(rng.random() < 0.2)))

    def read(job):
        path, indices, clear = job
        if clear:
            get_decoder().cache_clear()  # indexes rebuilt (and spot-checked) while others read
        return codes(read_clip(path, indices)) == indices

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        assert all(pool.map(read, jobs))
