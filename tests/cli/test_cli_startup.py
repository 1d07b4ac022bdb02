"""A quick, quiet command line: help and usage errors without Keras or TensorFlow; no native log noise.

Subprocess tests (the real entry point, a user's environment without TF_CPP_MIN_LOG_LEVEL).
"""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NATIVE_LOG_LINE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|cuInit|oneDNN|cuda drivers")


def user_environment(**extra):
    """The environment of a user's shell: none of the test suite's logging settings (``NAME=None`` unsets NAME)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY")}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update({key: value for key, value in extra.items() if value is not None})
    for key in (key for key, value in extra.items() if value is None):
        env.pop(key, None)
    return env


def run_cli(*argv, timeout=300, **env):
    return subprocess.run([sys.executable, "-m", "keras_sportsnet", *argv], capture_output=True, text=True,
                          timeout=timeout, env=user_environment(**env), cwd=ROOT)


def test_help_answers_well_under_two_seconds():
    best = float("inf")
    for _ in range(3):  # the best of three: the machine is shared
        start = time.perf_counter()
        result = run_cli("--help", timeout=60)
        best = min(best, time.perf_counter() - start)
        assert result.returncode == 0 and "Exit codes:" in result.stdout
    assert best < 2.0, f"keras-sportsnet --help took {best:.2f} s"


def test_help_and_usage_errors_import_neither_keras_nor_tensorflow():
    script = textwrap.dedent("""
        import contextlib, io, json, sys
        from keras_sportsnet.cli import main
        import keras_sportsnet
        codes = {}
        cases = [["--help"], ["--version"], []]
        cases += [[c, "--help"] for c in ("architectures", "scan", "prepare", "presets", "summary", "predict", "train",
                                          "evaluate", "transfer", "plot")]
        cases += [["train", "v/", "--run-dir", "r", "--epochs", "0"], ["scan", "v/", "--workers", "-5"],
                  ["predict", "v.mp4", "--top", "0"], ["evaluate", "v/", "--weights", "p", "--batch-size", "0"],
                  ["nonsense"],
                  # usage mistakes found by the subcommands' own checks, still before Keras is imported
                  ["scan", "no_such_dir/"], ["train", "--run-dir", "r"], ["train", "no_such_dir/", "--run-dir", "r"],
                  ["predict", "no_such.mp4"], ["predict"], ["evaluate", "no_such_dir/", "--weights", "p"],
                  ["transfer", "no_such_dir/", "--weights", "p", "--run-dir", "r"],
                  ["prepare", "no_such_dir/", "out/", "--fusion", "slow"],
                  ["plot", "views", "no_such.npz", "views.png"],
                  ["predict", "--demo", "--weights", "slow_fusion_synthetc"],
                  ["evaluate", "tests/", "--weights", "no_such/preset"]]
        for argv in cases:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                codes[" ".join(argv)] = main(argv)
        heavy = sorted(m for m in ("keras", "tensorflow", "jax", "torch", "matplotlib", "av") if m in sys.modules)
        print(json.dumps({"codes": codes, "heavy": heavy}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env=user_environment(), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads(result.stdout)
    assert report["heavy"] == []
    codes = report["codes"]
    assert codes["--help"] == 0 and codes["--version"] == 0 and codes[""] == 2 and codes["nonsense"] == 2
    assert all(code == 0 for argv, code in codes.items() if argv.endswith(" --help"))
    assert codes["train v/ --run-dir r --epochs 0"] == 2 and codes["scan v/ --workers -5"] == 2
    assert codes["predict v.mp4 --top 0"] == 2 and codes["evaluate v/ --weights p --batch-size 0"] == 2
    checked = [argv for argv in codes if "no_such" in argv or "synthetc" in argv or argv in ("train --run-dir r", "predict")]
    assert len(checked) == 11 and all(codes[argv] == 2 for argv in checked)


@pytest.mark.slow
def test_a_closed_output_pipe_ends_quietly_with_exit_code_141():
    reader, writer = os.pipe()
    os.close(reader)  # nobody reads (`keras-sportsnet presets | head` after head exits): writes fail with EPIPE
    process = subprocess.run([sys.executable, "-m", "keras_sportsnet", "presets"], stdout=writer,
                             stderr=subprocess.PIPE, text=True, env=user_environment(), cwd=ROOT, timeout=300)
    os.close(writer)
    assert process.returncode == 141 and process.stderr == ""


def test_missing_inputs_are_usage_errors_before_any_import(tmp_path):
    result = run_cli("scan", str(tmp_path / "no_such_dir"), timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == f"keras-sportsnet scan: error: `paths`: {tmp_path / 'no_such_dir'} does not exist."
    assert not NATIVE_LOG_LINE.search(result.stderr)


@pytest.mark.slow
def test_predict_demo_is_quiet_and_renders_into_a_private_folder(tmp_path):
    # A planted symlink where the old fixed demo folder was, pointing at a victim folder with a '*.tmp<pid>' file.
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.tmp123").write_text("keep me")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    os.symlink(victim, scratch / "keras_sportsnet_demo")
    result = run_cli("predict", "--demo", TMPDIR=str(scratch))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 6 and lines[1].split()[:2] == ["1.", "gym_roll_fast"]
    assert float(lines[1].split()[-1]) > 0.9
    rendered = lines[0]
    folder = rendered.split("/gym_roll_fast/")[0]
    assert os.path.dirname(folder) == str(scratch) and os.path.basename(folder).startswith("keras_sportsnet_demo_")
    assert not os.path.exists(folder)  # the private folder is removed afterwards ...
    assert sorted(os.listdir(scratch)) == ["keras_sportsnet_demo"] and os.listdir(victim) == ["precious.tmp123"]
    # ... and nothing but the package's own lines reach stderr: no native log lines, no warnings' source lines.
    noise = [line for line in result.stderr.splitlines() if NATIVE_LOG_LINE.search(line)]
    assert noise == []
    assert "sample video (a synthetic-sports clip of class 'gym_roll_fast', in a private temporary folder" in result.stderr


def test_a_preset_typo_gets_a_suggestion_before_any_import():
    quiet = run_cli("presets", "slow_fusion_synthetc", timeout=120)
    assert quiet.returncode == 2
    assert quiet.stderr == ("keras-sportsnet presets: error: `preset`: 'slow_fusion_synthetc' is not a registered "
                            "preset. Did you mean 'slow_fusion_synthetic'? (keras_sportsnet.list_presets() lists "
                            "them.)\n")
    loud = run_cli("predict", "--demo", "--weights", "slow_fusion_synthetc", "--verbose", timeout=120)
    assert loud.returncode == 2 and "Traceback" in loud.stderr  # --verbose shows where it was raised
    assert loud.stderr.strip().splitlines()[-1].startswith("keras-sportsnet predict: error: `--weights`: ")


@pytest.mark.slow
def test_verbose_shows_what_the_quiet_default_holds_back():
    quiet = run_cli("presets", "slow_fusion_synthetic")
    assert quiet.returncode == 0 and '"class_names"' in quiet.stdout
    assert not NATIVE_LOG_LINE.search(quiet.stderr), quiet.stderr
    loud = run_cli("presets", "slow_fusion_synthetic", "--verbose")
    assert loud.returncode == 0 and loud.stdout == quiet.stdout
    import importlib.util

    if importlib.util.find_spec("tensorflow") is not None and os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        assert NATIVE_LOG_LINE.search(loud.stderr)  # TensorFlow's start-up lines are let through


@pytest.mark.slow
def test_ctrl_c_during_a_multi_process_prepare_is_one_line_and_exit_code_130(tmp_path):
    import threading

    from conftest import write_class_videos
    from keras_sportsnet.testing.videos import index_frames

    videos = write_class_videos(str(tmp_path / "videos"), ["a", "b"], 4,
                                lambda label, video: index_frames(60, 96, 96, seed=video))
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_sportsnet", "prepare", videos, str(tmp_path / "shards"), "--num-frames", "8",
         "--image-size", "64", "--resize-to", "80", "--clips-per-video", "500", "--num-files", "40", "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=user_environment(), cwd=ROOT, start_new_session=True)
    chunks, working = [], threading.Event()

    def read_stderr():  # until every process holding the pipe (workers included) has exited
        for chunk in iter(lambda: process.stderr.read1(4096), b""):
            chunks.append(chunk)
            if re.search(rb"\b1/40 files|\[1/40\]", b"".join(chunks)):
                working.set()  # a worker finished its first file: the pool is running

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert working.wait(300), b"".join(chunks).decode()
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
        process.wait(timeout=120)
        reader.join(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    err = b"".join(chunks).decode()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1] == "keras-sportsnet prepare: interrupted"


@pytest.mark.slow
def test_the_first_use_of_a_keras_name_registers_every_serializable_class():
    names = []
    for folder, _, files in os.walk(os.path.join(ROOT, "keras_sportsnet")):
        for name in files:
            if name.endswith(".py"):
                text = open(os.path.join(folder, name), encoding="utf-8").read()
                names += re.findall(r'register_keras_serializable\(package="keras_sportsnet"\)\s*\nclass (\w+)', text)
    assert len(names) >= 8
    script = textwrap.dedent(f"""
        import sys
        import keras_sportsnet as ksn
        assert "keras" not in sys.modules
        ksn.SlowFusion  # the first Keras-backed name
        import keras
        known = keras.saving.get_custom_objects()
        missing = [n for n in {names!r} if "keras_sportsnet>" + n not in known]
        assert not missing, missing
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env=user_environment(), cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_an_offline_hub_preset_is_one_line_naming_the_real_cache(tmp_path):
    cache = tmp_path / "my_hub_cache"
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_HOME": None}
    result = run_cli("presets", "hf://keras-sportsnet-test/nothing@" + "0" * 40, **env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and str(cache) in result.stderr


def test_a_crop_larger_than_resize_to_is_refused_before_any_work(tmp_path):
    """Issue 17.11: train (folder or --shards) and prepare refuse --image-size 64 --resize-to 40 at once: exit 2,
    prepare's sentence, Keras not imported, no run or output folder made."""
    from keras_sportsnet.data.encoding import write_video
    from keras_sportsnet.testing.videos import index_frames

    for name in ("a", "b"):
        os.makedirs(tmp_path / "videos" / name)
        write_video(str(tmp_path / "videos" / name / "v.mp4"), index_frames(12, 32, 32))
    videos, out = str(tmp_path / "videos"), tmp_path / "out"
    pair = ["--image-size", "64", "--resize-to", "40"]
    cases = {
        "train": ["train", videos, "--fusion", "slow", *pair, "--run-dir", str(out / "run1")],
        "train --shards": ["train", "--shards", videos, "--classes", "2", *pair, "--run-dir", str(out / "run2")],
        "train default crop": ["train", videos, "--resize-to", "100", "--run-dir", str(out / "run3")],
        "prepare": ["prepare", videos, str(out / "shards"), "--fusion", "slow", *pair],
    }
    script = textwrap.dedent(f"""
        import contextlib, io, json, sys
        from keras_sportsnet.cli import main
        report = {{}}
        for name, argv in {cases!r}.items():
            err = io.StringIO()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                report[name] = [main(argv), err.getvalue()]
        report["heavy"] = sorted(m for m in ("keras", "tensorflow", "jax", "av") if m in sys.modules)
        print(json.dumps(report))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env=user_environment(), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads(result.stdout)
    assert report.pop("heavy") == []
    for name, (code, error) in report.items():
        command = cases[name][0]
        side = "170" if name == "train default crop" else "64"
        crop = f"({side}, {side})"
        resize = "100" if name == "train default crop" else "40"
        assert code == 2, (name, error)
        assert error.strip() == (
            f"keras-sportsnet {command}: error: `--resize-to` must be at least the crop size `--image-size`: the "
            f"{crop} crop is cut from {resize} x {resize} frames, so no clip could ever be read. Received: "
            f"--image-size={crop}, --resize-to={resize}. Use --resize-to >= {side} (the paper: 170 from 200) or "
            f"a smaller --image-size."), (name, error)
    assert not out.exists()
