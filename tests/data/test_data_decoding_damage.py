"""The contract for damaged and unusual files, one reproduction per finding of issue 13.

For any file, ``read_clip(path, indices)`` returns exactly the frames a sequential decode gives at those indices,
whichever way it is read, or raises `VideoError` naming the file and the damage (frame number and time). Valid but
unusual files (a transport stream cut at the head, Matroska with AAC priming) read exactly; files whose frame
counts or timestamps disagree with what decodes are refused, saying where.
"""

import os
import struct
import subprocess
import sys
import textwrap
import warnings

import av
import numpy as np
import pytest

from keras_sportsnet.data import decoding
from keras_sportsnet.data import probe_video
from keras_sportsnet.data import read_clip
from keras_sportsnet.data import read_clips
from keras_sportsnet.data.encoding import write_video
from keras_sportsnet.data.errors import VideoError
from keras_sportsnet.testing.videos import digest
from keras_sportsnet.testing.videos import frame_code
from keras_sportsnet.testing.videos import index_frames
from keras_sportsnet.testing.videos import pack_bframes
from keras_sportsnet.testing.videos import reference_decode

H, W = 48, 64


@pytest.fixture(autouse=True)
def _fresh_cache():
    decoding.get_decoder().cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def codes(clip):
    return [frame_code(frame) for frame in clip]


def assert_reads_exactly(path, seed=0):
    """Probe count and every read (seeks, one pass, from the start) equal the reference decode."""
    reference = reference_decode(path, keep_frames=False)
    count = probe_video(path).num_frames
    assert count == len(reference.digests) and reference.damage is None
    rng = np.random.default_rng(seed)
    sets = [sorted(rng.choice(count, 3, replace=False).tolist()) for _ in range(6)] + [list(range(count))]
    for indices in sets:
        decoding.get_decoder().cache_clear()
        assert [digest(f) for f in read_clip(path, indices)] == [reference.digests[i] for i in indices]
    for clip, indices in zip(read_clips(path, sets), sets):
        assert [digest(f) for f in clip] == [reference.digests[i] for i in indices]
    return count


def assert_refused(path, problem, calls):
    """Each call raises `VideoError` naming ``path``, with exactly ``problem``."""
    for call in calls:
        with pytest.raises(VideoError) as caught:
            call()
        assert caught.value.path == path and isinstance(caught.value, ValueError)
        assert caught.value.problem == problem


def remux(source, destination, keep=lambda number: True):
    """Copies the video packets ``keep(number)`` accepts (decoding order) into ``destination``'s container."""
    with av.open(source) as container, av.open(str(destination), "w") as output:
        stream = container.streams.video[0]
        out_stream = output.add_stream_from_template(stream)
        number = 0
        for packet in container.demux(stream):
            if packet.dts is None or not packet.size:
                continue
            if keep(number):
                packet.stream = out_stream
                output.mux(packet)
            number += 1
    return str(destination)


def riff_chunks(data, fourcc):
    """Offsets of the AVI chunks named ``fourcc`` inside the movi list."""
    movi = data.find(b"movi")
    position, found = movi + 4, []
    while position + 8 <= len(data):
        name, size = data[position : position + 4], struct.unpack("<I", data[position + 4 : position + 8])[0]
        if name == b"idx1":
            break
        if name == b"LIST":
            position += 12
            continue
        if name == fourcc:
            found.append(position)
        position += 8 + size + (size & 1)
    return found


# ---------------------------------------------------------------- valid, unusual
def test_transport_stream_cut_at_the_head_reads_exactly(tmp_path):
    """Finding 1: an MPEG-TS whose head was cut (it starts mid-GOP) was rejected like a damaged file."""
    source = write_video(str(tmp_path / "s.mp4"), index_frames(90, H, W), keyframe_interval=30, bframes=2)
    whole = remux(source, tmp_path / "whole.ts")
    data = open(whole, "rb").read()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(data[188 * 40 :])  # at a TS packet boundary, inside the first GOP
    count = assert_reads_exactly(str(cut))
    assert count == 60  # the frames before the first keyframe cannot be decoded by anyone
    assert codes(read_clip(str(cut), [0, 1, 59])) == [30, 31, 89]


@pytest.mark.parametrize("extension", ["mkv", "mp4"])
def test_files_with_aac_audio_as_ffmpeg_writes_them_read_exactly(tmp_path, extension):
    """Finding 9: AAC priming delays Matroska video by 1024 samples; such files were rejected as 'truncated'."""
    path = write_video(str(tmp_path / f"talk.{extension}"), index_frames(50, H, W), keyframe_interval=10,
                       bframes=2, audio=True, audio_rate=8000)
    with av.open(path) as container:
        start = container.streams.video[0].start_time * container.streams.video[0].time_base
    if extension == "mkv":
        assert float(start) == pytest.approx(1024 / 8000, abs=0.002)  # the video starts 128 ms late
    assert assert_reads_exactly(path) == 50
    assert probe_video(path).has_audio


def test_packed_bframes_avi_with_h264_reordering_reads_exactly(tmp_path):
    """B-frame reordering in AVI (no timestamps to reorder by) for H.264 and packed MPEG-4."""
    h264 = write_video(str(tmp_path / "h264.avi"), index_frames(60, H, W), keyframe_interval=20, bframes=3)
    plain = write_video(str(tmp_path / "plain.avi"), index_frames(60, H, W), codec="mpeg4", keyframe_interval=12,
                        bframes=1)
    packed = pack_bframes(plain, str(tmp_path / "packed.avi"))
    for path in (h264, packed):
        assert assert_reads_exactly(path) == 60


# ---------------------------------------------------------------- frames lost
def test_matroska_that_lost_frames_in_the_middle_is_refused_saying_where(tmp_path):
    """Finding 9: an MKV that lost 34 of its 60 frames reported 26 frames over 2.40 s and a 'consecutive' clip
    jumped from frame 15 to 50."""
    source = write_video(str(tmp_path / "s.mkv"), index_frames(60, H, W), keyframe_interval=10)
    lost = remux(source, tmp_path / "lost.mkv", keep=lambda number: not 16 <= number < 50)
    with pytest.raises(VideoError) as caught:
        probe_video(lost)
    assert caught.value.path == lost
    assert caught.value.problem == (
        "damaged: frames are missing after frame 15 (at 0.60 s): the timestamps jump to 2.00 s, "
        "about 34 frame(s) later"
    )
    for call in (lambda: read_clip(lost, range(14, 18)), lambda: read_clips(lost, [[0], [20]])):
        with pytest.raises(VideoError, match="frames are missing after frame 15"):
            call()


@pytest.mark.parametrize("codec", ["mjpeg", "mpeg4"])
@pytest.mark.parametrize("change", ["renamed JUNK", "dropped", "duplicated"])
def test_avi_chunk_lost_or_added_is_refused(tmp_path, codec, change):
    """Finding 9: an AVI chunk renamed JUNK shifted every later frame; a dropped chunk made a seek show frame 32
    for 34."""
    if codec == "mjpeg":
        source = write_video(str(tmp_path / "s.avi"), index_frames(40, H, W), codec="mjpeg")
    else:
        plain = write_video(str(tmp_path / "p.avi"), index_frames(40, H, W), codec="mpeg4", keyframe_interval=12,
                            bframes=1)
        source = pack_bframes(plain, str(tmp_path / "s.avi"))
    data = open(source, "rb").read()
    offset = riff_chunks(data, b"00dc")[20]
    size = struct.unpack("<I", data[offset + 4 : offset + 8])[0]
    whole = 8 + size + (size & 1)
    if change == "renamed JUNK":
        data = data[:offset] + b"JUNK" + data[offset + 4 :]
    elif change == "dropped":
        data = data[:offset] + data[offset + whole :]
    else:
        data = data[: offset + whole] + data[offset : offset + whole] + data[offset + whole :]
    path = tmp_path / "damaged.avi"
    path.write_bytes(data)
    with pytest.raises(VideoError, match=r"the AVI header declares \d+ frames but the file holds \d+") as caught:
        read_clip(str(path), [34])
    assert caught.value.path == str(path)


# ------------------------------------------------------------- undecodable frames
def _jpeg_segment(image, marker):
    position = 2
    while image[position + 1] != marker:
        position += 2 + struct.unpack(">H", image[position + 2 : position + 4])[0]
    return position


def test_mjpeg_frame_with_an_invalid_quantisation_table_selector_is_a_video_error(tmp_path):
    """Finding 9: one byte (frame 33's quantisation-table selector) made evaluation die with InvalidArgumentError."""
    source = write_video(str(tmp_path / "s.avi"), index_frames(40, H, W), codec="mjpeg")
    data = bytearray(open(source, "rb").read())
    chunk = riff_chunks(bytes(data), b"00dc")[33]
    image = chunk + 8
    sof = image + _jpeg_segment(bytes(data[image:]), 0xC0)
    data[sof + 12] = 3  # the first component's table selector: table 3, which no segment defines
    path = str(tmp_path / "selector.avi")
    open(path, "wb").write(bytes(data))
    problem = (
        "damaged: the JPEG image of frame 33 (at 1.32 s) uses quantisation table 3, which it does not define "
        "(an invalid selector, or a table lost: the frame would decode with another frame's table)"
    )
    calls = [lambda: probe_video(path), lambda: read_clip(path, [33]), lambda: read_clip(path, [2])]
    assert_refused(path, problem, calls)


def test_a_concealed_frame_is_a_video_error_for_reads_that_decode_it(tmp_path):
    """One undecodable frame: reads that decode it raise VideoError naming it; reads that seek past it are exact."""
    source = write_video(str(tmp_path / "s.mp4"), index_frames(60, H, W), keyframe_interval=20)
    with av.open(source) as container:
        packets = [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size]
    data = bytearray(open(source, "rb").read())
    position, size = packets[25]  # a P-frame after keyframe 20
    data[position + size // 2 : position + size // 2 + 16] = bytes(16)
    path = str(tmp_path / "concealed.mp4")
    open(path, "wb").write(bytes(data))
    with pytest.raises(VideoError, match=r"^.*: damaged: frame 25 \(at 1\.00 s\) cannot be decoded correctly"):
        read_clip(path, range(22, 28))
    assert codes(read_clip(path, [21])) == [21]  # from keyframe 20 to 21: the damage is not on the way
    assert codes(read_clip(path, [45, 46])) == [45, 46]  # past keyframe 40: intact frames


def test_unknown_codec_after_a_renamed_stsd_byte_is_a_video_error(tmp_path):
    """Finding 9: an MP4 with one renamed 'stsd' byte made probe_video raise AttributeError."""
    source = write_video(str(tmp_path / "s.mp4"), index_frames(10, H, W))
    data = open(source, "rb").read()
    stsd = data.find(b"stsd")
    path = str(tmp_path / "renamed.mp4")
    open(path, "wb").write(data[:stsd] + b"stsx" + data[stsd + 4 :])
    problem = (
        "damaged or unsupported: the video stream's codec is unknown (its description in the container is "
        "damaged, or names a codec FFmpeg cannot decode)"
    )
    assert_refused(path, problem, [lambda: probe_video(path), lambda: read_clip(path, [0])])


# -------------------------------------------------------------------- memory
def _mjpeg_with_declared_size(tmp_path, width, height):
    """A small MJPEG AVI whose headers (AVI and JPEG) claim ``width`` x ``height``."""
    source = write_video(str(tmp_path / "small.avi"), index_frames(3, H, W), codec="mjpeg")
    data = bytearray(open(source, "rb").read())
    for name, offsets in ((b"avih", (8 + 32, 8 + 36)), (b"strf", (8 + 4, 8 + 8))):
        start = data.find(name)
        data[start + offsets[0] : start + offsets[0] + 4] = struct.pack("<I", width)
        data[start + offsets[1] : start + offsets[1] + 4] = struct.pack("<I", height)
    position = 0
    while (position := data.find(b"\xff\xc0", position + 1)) > 0:
        data[position + 5 : position + 9] = struct.pack(">HH", height, width)
    path = tmp_path / f"claims_{width}x{height}.avi"
    path.write_bytes(bytes(data))
    return str(path)


def test_a_frame_over_the_pixel_budget_is_refused_before_decoding(tmp_path):
    """Finding 9: an 8000x8000 MJPEG was accepted; reading it ran out of memory. The default budget refuses it."""
    path = _mjpeg_with_declared_size(tmp_path, 8000, 8000)
    problem = (
        "frame size 8000x8000 (64000000 pixels) is too large for the budget max_pixels=16777216; "
        "pass max_pixels=64000000 (or more; --max-pixels 64000000 on the command line) to read this video"
    )
    assert_refused(path, problem, [lambda: probe_video(path), lambda: read_clip(path, [0], short_side=64)])


def test_4k_passes_the_default_budget_and_reads_small(tmp_path):
    frames = np.repeat(index_frames(2, 216, 384), 10, axis=1).repeat(10, axis=2)  # 2160 x 3840
    path = write_video(str(tmp_path / "uhd.avi"), frames, codec="mjpeg")
    info = probe_video(path)
    assert (info.width, info.height) == (3840, 2160)
    clip = read_clip(path, [0, 1], short_side=64)
    assert clip.shape == (2, 64, 114, 3) and codes(clip) == [0, 1]


@pytest.mark.slow
def test_real_8000x8000_video_under_a_memory_cap_is_a_video_error_not_an_oom(tmp_path):
    """A real 8000x8000 MJPEG, probed and read in a process capped at 1.5 GiB of address space."""
    frame = np.zeros((1, 8000, 8000, 3), np.uint8)
    frame[0, :4000] = 200
    path = write_video(str(tmp_path / "huge.avi"), frame, codec="mjpeg")
    del frame
    script = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        from keras_sportsnet.data.decoding import probe_video, read_clip, VideoError
        for call in (lambda: probe_video({path!r}), lambda: read_clip({path!r}, [0], short_side=64)):
            try:
                call()
            except VideoError as error:
                print("VideoError:", error.problem)
        """
    )
    env = dict(os.environ, KERAS_BACKEND="numpy", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("VideoError: frame size 8000x8000 (64000000 pixels) is too large") == 2
