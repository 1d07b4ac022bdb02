"""Fuzzing of the decoding contract (benchmarks/fuzz_decoding.py), run with a fixed seed in bounded time."""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "fuzz_decoding.py")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0])  # seeds 1-9: `python benchmarks/fuzz_decoding.py --seed N` (benchmarks/README.md)
def test_320_mutants_of_four_codecs_decode_exactly_or_raise_video_error(tmp_path, seed):
    """Every mutant reads exactly or raises VideoError naming it: no wrong frame, other exception, crash or hang."""
    report = str(tmp_path / "fuzz.json")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, SCRIPT, "--mutants", "320", "--seed", str(seed), "--timeout", "60", "--json", report],
        capture_output=True, text=True, timeout=900, env=env,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    outcome = json.load(open(report))
    total = outcome["rows"][-1]
    assert total[0] == "all" and total[1] == 320
    exact, video_error, wrong, other, crash, hang = total[2:]
    assert wrong == other == crash == hang == 0 and exact + video_error == 320
    assert exact > 20 and video_error > 100  # both kinds of outcome are exercised
    assert len({row[0] for row in outcome["rows"][:-1]}) == 5  # every source
