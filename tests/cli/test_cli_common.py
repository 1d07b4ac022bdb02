"""keras_sportsnet.cli.common: argument types, pre-work output checks, the quiet start-up helpers."""

import argparse
import os
import warnings

import pytest

from keras_sportsnet.cli import build_parser
from keras_sportsnet.cli import common
from keras_sportsnet.cli import main


def test_the_light_choices_equal_the_library_constants():
    from keras_sportsnet.data.sampling import SHORT_VIDEO_POLICIES
    from keras_sportsnet.models.backbone import FUSIONS
    from keras_sportsnet.models.backbone import RESOLUTIONS
    from keras_sportsnet.training.transfer import DEFAULT_TRANSFER_DROPOUT
    from keras_sportsnet.training.transfer import REGIMES

    assert common.TRANSFER_DROPOUT == DEFAULT_TRANSFER_DROPOUT
    assert common.FUSIONS == tuple(FUSIONS) and common.RESOLUTIONS == tuple(RESOLUTIONS)
    assert common.REGIMES == tuple(REGIMES) and common.SHORT_VIDEO_POLICIES == tuple(SHORT_VIDEO_POLICIES)
    from keras_sportsnet.models.backbone import FULL_FRAME_SIZE
    from keras_sportsnet.models.backbone import MULTIRES_FRAME_SIZE

    assert set(common.FRAME_SIZES) == set(RESOLUTIONS) and common.FRAME_SIZES["full"] == FULL_FRAME_SIZE
    assert all(common.FRAME_SIZES[name] == MULTIRES_FRAME_SIZE for name in RESOLUTIONS if name != "full")


@pytest.mark.parametrize("parse, text, message", [
    (common.positive_int, "0", "must be an integer >= 1; received 0"),
    (common.positive_int, "-5", "must be an integer >= 1; received -5"),
    (common.positive_int, "two", "must be an integer >= 1; received 'two'"),
    (common.non_negative_int, "-1", "must be an integer >= 0; received -1"),
    (common.int_at_least(1, 4), "5", "must be an integer in [1, 4]; received 5"),
    (common.positive_float, "0", "must be a finite number > 0; received 0"),
    (common.positive_float, "inf", "must be a finite number > 0; received inf"),
    (common.fraction(), "1", "must be a number in [0, 1); received 1"),
    (common.fraction(), "-0.1", "must be a number in [0, 1); received -0.1"),
    (common.comma_list, "a,,b", "without empty items"),
])
def test_argument_types_refuse_with_the_received_value(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        parse(text)


def test_argument_types_accept_good_values():
    assert common.positive_int("3") == 3 and common.non_negative_int("0") == 0
    assert common.int_at_least(1, 4)("4") == 4 and common.positive_float("1e-3") == 1e-3
    assert common.fraction()("0") == 0.0 and common.comma_list(" a, b ") == ["a", "b"]


# The 17.13 list: every bad argument is a usage error (exit code 2) answered before any work.
@pytest.mark.parametrize("argv, flag", [
    (["train", "videos/", "--run-dir", "r", "--steps-per-epoch", "0"], "--steps-per-epoch"),
    (["train", "videos/", "--run-dir", "r", "--epochs", "0"], "--epochs"),
    (["train", "videos/", "--run-dir", "r", "--epochs", "-1"], "--epochs"),
    (["evaluate", "videos/", "--weights", "p", "--batch-size", "0"], "--batch-size"),
    (["predict", "v.mp4", "--top", "0"], "--top"),
    (["predict", "v.mp4", "--top", "-1"], "--top"),
    (["predict", "v.mp4", "--views", "5"], "--views"),
    (["scan", "videos/", "--workers", "-5"], "--workers"),
    (["transfer", "new/", "--weights", "p", "--run-dir", "r", "--dropout", "1.5"], "--dropout"),
    (["prepare", "videos/", "out/", "--fusion", "sideways"], "--fusion"),
    (["prepare", "videos/", "out/", "--jpeg-quality", "101"], "--jpeg-quality"),
    (["plot", "predictions", "s.npz", "o.png", "--videos", "1,x"], "--videos"),
    (["train", "videos/"], "--run-dir"),
])
def test_bad_arguments_exit_2_naming_the_flag(argv, flag, capsys):
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert flag in error and "Traceback" not in error


def test_every_subcommand_help_ends_with_runnable_examples():
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) == {"architectures", "scan", "prepare", "presets", "summary", "predict", "train",
                                     "evaluate", "transfer", "plot"}
    for name, subparser in commands.choices.items():
        text = subparser.format_help()
        assert "\nExamples:\n" in text, name
        examples = text.split("\nExamples:\n", 1)[1].strip().splitlines()
        assert examples and all(line.strip().startswith(f"keras-sportsnet {name}") for line in examples), name
        assert "--verbose" in text, name  # the shared flag works after every subcommand


def test_output_checks_refuse_an_unwritable_path_before_the_work(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(common.UsageError, match="`--json`: cannot write to"):
        common.check_output_file(str(blocker / "out.json"), "--json")
    with pytest.raises(common.UsageError, match="`--run-dir` must be a folder"):
        common.check_output_folder(str(blocker), "--run-dir")
    with pytest.raises(common.UsageError, match="`--scores` names a folder"):
        common.check_output_file(str(tmp_path), "--scores")
    common.check_output_file(str(tmp_path / "new" / "out.json"), "--json")  # a missing parent is made, as the write would
    assert os.path.isdir(tmp_path / "new") and os.listdir(tmp_path / "new") == []
    common.check_output_file("gs://bucket/report.json", "--report")  # URIs are the writer's business
    with pytest.raises(common.UsageError, match="`paths`: .*nothing does not exist"):
        common.check_inputs_exist([str(tmp_path), str(tmp_path / "nothing")], "paths")


def test_warnings_print_on_one_line_without_their_source_line():
    with common.quiet_startup(verbose=False):
        text = warnings.formatwarning("Leaving 1 of 3 videos out", UserWarning, "/x/runner.py", 7, "warnings.warn(x)")
    assert text == "UserWarning: Leaving 1 of 3 videos out\n"
    assert warnings.formatwarning is not common.one_line_warning  # restored on exit


def test_native_start_up_lines_are_recognised_and_nothing_else():
    noise = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796416640.504374   19030 port.cc:153] oneDNN custom operations are on.",
        "W0000 00:00:1796416640.504755   19030 cudart_stub.cc:31] Could not find cuda drivers",
        "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow",
    ]
    kept = ["E0000 00:00:1.0 1 x.cc:1] a real error", "Traceback (most recent call last):", "UserWarning: x", ""]
    assert all(common._is_native_noise(line) for line in noise)
    assert not any(common._is_native_noise(line) for line in kept)


def test_the_filter_drops_native_start_up_lines_of_this_process_and_of_its_children_only(capfd):
    import subprocess
    import sys

    child = ("import os, sys, time\n"
             "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
             "os.write(2, b'I0000 00:00:1.0 7 port.cc:153] oneDNN custom operations are on.\\n')\n"
             "os.write(2, b'progress 1/2\\r')\n"
             "time.sleep(0.2)\n"
             "os.write(2, b'progress 2/2\\n')\n"
             "os.write(2, b'E0000 00:00:1.0 7 x.cc:1] a real native error\\n')\n"
             "os.write(2, b'I00')\n"  # a noise line split across writes
             "time.sleep(0.2)\n"
             "os.write(2, b'00 00:00:1.0 7 cudart_stub.cc:31] Could not find cuda drivers\\n')\n"
             "sys.stderr.write('a Python line\\n')\n")
    with common.native_noise_filtered(verbose=False):
        os.write(2, b"W0000 00:00:1.0 7 cpu_feature_guard.cc:1] noise of this process\n")
        subprocess.run([sys.executable, "-c", child], check=True)
        os.write(2, b"kept: this process\n")
    err = capfd.readouterr().err
    assert err == ("progress 1/2\rprogress 2/2\nE0000 00:00:1.0 7 x.cc:1] a real native error\n"
                   "a Python line\nkept: this process\n")
    with common.native_noise_filtered(verbose=True):
        os.write(2, b"I0000 00:00:1.0 7 port.cc:153] shown with --verbose\n")
    assert "shown with --verbose" in capfd.readouterr().err


def with_handler(monkeypatch, module, name, handler):
    """Swaps the handler of subcommand ``name`` of ``module.SUBCOMMANDS`` (checks and imports stay)."""
    import dataclasses

    monkeypatch.setattr(module, "SUBCOMMANDS", tuple(
        dataclasses.replace(subcommand, handler=handler) if subcommand.name == name else subcommand
        for subcommand in module.SUBCOMMANDS))


def test_an_unexpected_exception_is_reported_as_a_bug_with_exit_code_70(monkeypatch, capsys):
    from keras_sportsnet.cli import models

    def broken(args):
        raise KeyError("boom")

    with_handler(monkeypatch, models, "presets", broken)
    assert main(["presets"]) == 70
    error = capsys.readouterr().err
    assert "Traceback" in error and "internal error (KeyError): this is a bug" in error


def test_ctrl_c_in_a_subcommand_is_exit_code_130_and_one_line(monkeypatch, capsys):
    from keras_sportsnet.cli import models

    def interrupted(args):
        raise KeyboardInterrupt

    with_handler(monkeypatch, models, "presets", interrupted)
    assert main(["presets"]) == 130
    assert capsys.readouterr().err == "keras-sportsnet presets: interrupted\n"


def test_every_output_flag_is_checked_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    folder = tmp_path / "videos" / "a"
    folder.mkdir(parents=True)
    bad = str(blocker / "out.json")
    cases = {
        "--manifest": ["scan", str(folder), "--manifest", bad],
        "--json": ["scan", str(folder), "--json", bad],
        "`output`": ["prepare", str(tmp_path / "videos"), str(blocker), "--fusion", "slow"],
        "--report": ["prepare", str(tmp_path / "videos"), str(tmp_path / "shards"), "--fusion", "slow", "--report", bad],
        "--missing-list": ["prepare", str(tmp_path / "videos"), str(tmp_path / "shards"), "--fusion", "slow",
                           "--missing-list", bad],
        "`--json`": ["architectures", "--json", bad],
        "`--scores`": ["evaluate", str(tmp_path / "videos"), "--weights", "slow_fusion_synthetic", "--scores", bad],
        "`--run-dir`": ["transfer", str(tmp_path / "videos"), "--weights", "slow_fusion_synthetic", "--run-dir", bad],
        "`output` must be": ["plot", "curves", str(tmp_path), str(tmp_path / "curves.jpg")],
    }
    for flag, argv in cases.items():
        assert main(argv) == 2, argv
        error = capsys.readouterr().err
        assert flag in error and "Traceback" not in error and len(error.strip().splitlines()) == 1, error
    assert sorted(os.listdir(tmp_path)) == ["a_file", "videos"]  # nothing was written
