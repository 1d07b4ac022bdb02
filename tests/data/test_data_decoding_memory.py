"""Memory bounded in frame size: with ``short_side``, decoding 1080p costs about what decoding 176x144 does."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_sportsnet.data.encoding import write_video
from keras_sportsnet.testing.videos import index_frames

SCRIPT = textwrap.dedent(
    """
    import sys
    from keras_sportsnet.data.decoding import probe_video, read_clips

    def peak_mb():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

    path, short_side = sys.argv[1], int(sys.argv[2])
    info = probe_video(path)
    clips = [list(range(start, start + 10)) for start in range(0, info.num_frames - 10, 1)][:20]
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # VmHWM := current RSS: only what decoding adds is measured
    before = peak_mb()
    decoded = read_clips(path, clips, short_side=short_side)
    print(peak_mb() - before, decoded[0].shape)
    """
)


def _decoding_peak_mb(path, short_side):
    env = dict(os.environ, KERAS_BACKEND="numpy", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", SCRIPT, path, str(short_side)], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    growth, shape = result.stdout.strip().split(" ", 1)
    return float(growth), shape


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc to reset VmHWM")
def test_decoding_1080p_with_short_side_costs_what_176x144_costs(tmp_path):
    """20 clips of 10 frames: stored at 1080p they would be 1.2 GB; scaled while decoding, a few MB."""
    frames = index_frames(32, 144, 176, seed=3)
    small = write_video(str(tmp_path / "qcif.mp4"), frames, keyframe_interval=8)
    large_frames = np.repeat(np.repeat(index_frames(32, 135, 240, seed=3), 8, axis=1), 8, axis=2)  # 1080 x 1920
    large = write_video(str(tmp_path / "hd.mp4"), large_frames, keyframe_interval=8)
    del large_frames
    small_growth, small_shape = _decoding_peak_mb(small, 64)
    large_growth, large_shape = _decoding_peak_mb(large, 64)
    assert small_shape == "(10, 64, 78, 3)" and large_shape == "(10, 64, 114, 3)"
    # A few frames at the stored size at a time (decoder buffers: ~3 MB each at 1080p), never the clips.
    assert large_growth < small_growth + 64, (large_growth, small_growth)
    full_growth, _ = _decoding_peak_mb(large, 100000)  # no scaling: the clips at 1080p
    print(f"decoding peak growth: 176x144 {small_growth:.1f} MB, 1080p scaled {large_growth:.1f} MB, "
          f"1080p as stored {full_growth:.1f} MB")
    assert full_growth > 1000 > large_growth
