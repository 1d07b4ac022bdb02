"""The shell workflow on a tiny folder: train -> predict -> evaluate -> transfer -> summary."""

import json
import os
import re
import shutil

import pytest

from keras_sportsnet.cli import main
from keras_sportsnet.testing.videos import index_frames
from keras_sportsnet.data.encoding import write_video
from keras_sportsnet.evaluation import VideoScores

SPEC = "C(4,5,2)-N-P-FC(8)"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_workflow")
    for label, name in enumerate(["dive", "row", "vault"]):
        os.makedirs(root / "videos" / name)
        for video in range(3):
            write_video(str(root / "videos" / name / f"v{video}.mp4"), index_frames(20, 40, 40, seed=5 * label + video))
    for name in ("a", "b"):
        os.makedirs(root / "new_task" / name)
        for video in range(2):
            write_video(str(root / "new_task" / name / f"w{video}.mp4"), index_frames(20, 40, 40, seed=50 + video))
    run = str(root / "run")
    code = main(["train", str(root / "videos"), "--fusion", "slow", "--spec", SPEC, "--image-size", "32",
                 "--run-dir", run, "--epochs", "2", "--steps-per-epoch", "2", "--batch-size", "4",
                 "--validation-split", "0.34", "--seed", "0"])
    assert code == 0
    return root, run


def test_train_prints_the_best_metric_by_name(workspace, capsys, tmp_path):
    root, _ = workspace
    run = str(tmp_path / "run")
    assert main(["train", str(root / "videos"), "--fusion", "slow", "--spec", SPEC, "--image-size", "32",
                 "--run-dir", run, "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "4",
                 "--validation-split", "0.34"]) == 0
    out = capsys.readouterr().out
    line = out.strip().splitlines()[-1]
    assert re.fullmatch(rf"Best val_hit_at_1 \d\.\d{{3}} at epoch 1; preset written to {re.escape(run)}/preset", line)
    # stdout is not a terminal here: one plain line per epoch, no progress bar's escape codes or carriage returns
    assert "\x1b[" not in out and "\r" not in out and out.startswith("1/1 - "), repr(out)


def test_train_usage_errors_are_found_before_any_work(workspace, capsys, tmp_path):
    root, _ = workspace
    common = ["--fusion", "slow", "--spec", SPEC, "--image-size", "32", "--epochs", "1"]
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    flat = tmp_path / "flat"
    flat.mkdir()
    write_video(str(flat / "clip.mp4"), index_frames(12, 32, 32))
    cases = {
        "Give the training videos": ["train", *common, "--run-dir", str(tmp_path / "r1")],
        "one of the two": ["train", str(root / "videos"), "--shards", str(tmp_path), *common, "--run-dir", str(tmp_path / "r2")],
        "nowhere does not exist": ["train", str(tmp_path / "nowhere"), *common, "--run-dir", str(tmp_path / "r3")],
        "has no class sub-folders: videos go in one sub-folder per class": ["train", str(flat), *common, "--run-dir", str(tmp_path / "r4")],
        "`--classes 5` disagrees with": ["train", str(root / "videos"), "--classes", "5", *common, "--run-dir", str(tmp_path / "r5")],
        "`--run-dir` must be a folder": ["train", str(root / "videos"), *common, "--run-dir", str(blocker)],
        "is not a folder written by `keras-sportsnet prepare`": ["train", "--shards", str(flat), "--classes", "2", *common, "--run-dir", str(tmp_path / "r6")],
        "say how many classes": ["train", "--shards", str(flat), *common, "--run-dir", str(tmp_path / "r7")],
    }
    (tmp_path / "empty").mkdir()
    cases[f"{flat}/ has no class sub-folders: videos go in one sub-folder per class ({flat}/<class>/<video>)."] = [
        "train", f"{flat}/", *common, "--run-dir", str(tmp_path / "r8")]  # one slash in the hint, not two
    cases[f"{tmp_path}/empty/ is empty: videos go in one sub-folder per class ({tmp_path}/empty/<class>/<video>)."] = [
        "train", f"{tmp_path}/empty/", *common, "--run-dir", str(tmp_path / "r9")]
    for message, argv in cases.items():
        assert main(argv) == 2, message
        error = capsys.readouterr().err
        assert message in error and "Traceback" not in error, error
    assert not any(os.listdir(tmp_path / name) for name in ("r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9")
                   if (tmp_path / name).exists())


def test_train_writes_a_resumable_run_and_a_preset(workspace, capsys):
    root, run = workspace
    metadata = json.load(open(os.path.join(run, "preset", "metadata.json")))
    assert metadata["class_names"] == ["dive", "row", "vault"]
    assert metadata["architecture"]["spec"] == SPEC and metadata["training"]["epochs"] == 2
    assert json.load(open(os.path.join(run, "state.json")))["epoch"] == 2
    # Asking for more epochs continues the same run.
    assert main(["train", str(root / "videos"), "--fusion", "slow", "--spec", SPEC, "--image-size", "32",
                 "--run-dir", run, "--epochs", "3", "--steps-per-epoch", "2", "--batch-size", "4",
                 "--validation-split", "0.34", "--seed", "0"]) == 0
    assert "Resuming" in capsys.readouterr().err
    assert json.load(open(os.path.join(run, "state.json")))["epoch"] == 3


def test_predict_prints_the_top_classes_by_name(workspace, capsys, tmp_path):
    root, run = workspace
    video = str(root / "videos" / "row" / "v1.mp4")
    out = str(tmp_path / "predictions.json")
    assert main(["predict", video, "--weights", os.path.join(run, "preset"), "--clips", "2", "--views", "2",
                 "--json", out, "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0] == video and "  1. " in printed
    written = json.load(open(out))
    assert written[0]["error"] is None
    top = written[0]["top"]
    assert len(top) == 3 and {t["class"] for t in top} == {"dive", "row", "vault"}
    assert sum(t["probability"] for t in top) == pytest.approx(1.0, abs=1e-4)
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    assert main(["predict", video, str(broken), "--weights", os.path.join(run, "preset"), "--clips", "1",
                 "--views", "1", "--quiet", "--json", out]) == 1
    error = capsys.readouterr().err.splitlines()
    assert error[0].startswith(f"{broken}: not classified: not a video")
    assert error[-1] == "1 of 2 videos could not be classified."  # the closing count, as evaluate's "1 failed"
    assert [entry["error"] is None for entry in json.load(open(out))] == [True, False]


def test_max_pixels_on_the_command_line_refuses_and_then_reads_a_large_video(workspace, capsys):
    root, run = workspace
    video = str(root / "videos" / "row" / "v1.mp4")
    from keras_sportsnet.data import probe_video

    info = probe_video(video)
    pixels = info.width * info.height
    assert main(["scan", video, "--max-pixels", str(pixels - 1), "--quiet"]) == 1
    assert f"--max-pixels {pixels} on the command line" in capsys.readouterr().out
    assert main(["predict", video, "--weights", os.path.join(run, "preset"), "--clips", "1", "--views", "1",
                 "--max-pixels", str(pixels - 1), "--quiet"]) == 1
    assert f"--max-pixels {pixels} on the command line" in capsys.readouterr().err
    assert main(["predict", video, "--weights", os.path.join(run, "preset"), "--clips", "1", "--views", "1",
                 "--max-pixels", str(pixels), "--quiet"]) == 0
    # Every video refused: nothing was evaluated, an input error (2) whose message gives the flag's value.
    assert main(["evaluate", str(root / "videos"), "--weights", os.path.join(run, "preset"), "--clips", "1",
                 "--views", "1", "--max-pixels", str(pixels - 1)]) == 2
    assert f"--max-pixels {pixels} on the command line" in capsys.readouterr().err


def test_predict_classifies_every_video_of_a_folder(workspace, capsys):
    root, run = workspace
    assert main(["predict", str(root / "videos"), "--weights", os.path.join(run, "preset"), "--clips", "1",
                 "--views", "1", "--top", "2", "--quiet"]) == 0
    printed = capsys.readouterr().out.splitlines()
    videos = [line for line in printed if not line.startswith("  ")]
    assert videos == sorted(str(root / "videos" / c / f"v{i}.mp4") for c in ("dive", "row", "vault") for i in range(3))
    assert len(printed) == 9 * 3  # each video and its top 2


def test_predict_usage_errors(workspace, capsys, tmp_path):
    root, run = workspace
    video = str(root / "videos" / "row" / "v1.mp4")
    assert main(["predict"]) == 2
    assert "or --demo" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "missing.mp4")]) == 2
    assert "missing.mp4 does not exist" in capsys.readouterr().err
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert main(["predict", video, "--weights", os.path.join(run, "preset"), "--plot", str(blocker / "p.png")]) == 2
    assert "`--plot`: cannot write" in capsys.readouterr().err
    assert main(["predict", video, "--weights", str(root / "no_such_preset")]) == 2
    error = capsys.readouterr().err
    assert "no_such_preset" in error and "Traceback" not in error


def test_evaluate_with_a_bad_video_finishes_with_exit_code_1(workspace, capsys, tmp_path):
    root, run = workspace
    folder = tmp_path / "with_bad"
    shutil.copytree(root / "videos", folder)
    (folder / "row" / "broken.mp4").write_text("not a video")
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert main(["evaluate", str(folder), "--weights", os.path.join(run, "preset"), "--clips", "1", "--views", "1",
                 "--scores", str(blocker / "s.npz")]) == 2
    assert "`--scores`: cannot write" in capsys.readouterr().err
    assert main(["evaluate", str(folder), "--weights", os.path.join(run, "preset"), "--clips", "1", "--views", "1"]) == 1
    captured = capsys.readouterr()
    assert "video_hit@1" in captured.out and "broken.mp4: not evaluated: not a video" in captured.err


def test_evaluate_prints_metrics_and_saves_rescorable_scores(workspace, capsys, tmp_path):
    root, run = workspace
    scores_path = str(tmp_path / "scores.npz")
    assert main(["evaluate", str(root / "videos"), "--weights", os.path.join(run, "preset"), "--clips", "2",
                 "--views", "2", "--scores", scores_path, "--json", str(tmp_path / "m.json")]) == 0
    printed = capsys.readouterr().out
    assert "video_hit@1" in printed and "clip_hit@1" in printed
    scores = VideoScores.load(scores_path)
    assert scores.logits.shape == (9, 2, 2, 3)
    assert json.load(open(tmp_path / "m.json"))["video_hit@1"] == pytest.approx(scores.metrics()["video_hit@1"])


def test_transfer_fine_tunes_on_new_classes(workspace, tmp_path):
    root, run = workspace
    out = str(tmp_path / "transfer")
    assert main(["transfer", str(root / "new_task"), "--weights", os.path.join(run, "preset"), "--regime", "top",
                 "--run-dir", out, "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "2",
                 "--validation-split", "0"]) == 0
    metadata = json.load(open(os.path.join(out, "preset", "metadata.json")))
    assert metadata["class_names"] == ["a", "b"] and metadata["training"]["regime"] == "top"


def test_summary_and_errors_name_the_problem(workspace, capsys):
    root, run = workspace
    assert main(["summary", "--weights", os.path.join(run, "preset")]) == 0
    assert "clip: 10 frames, stride 1, 32x32" in capsys.readouterr().out
    assert main(["evaluate", str(root / "videos"), "--weights", str(root / "no_such_preset")]) == 2
    assert "no_such_preset" in capsys.readouterr().err


def test_the_cli_and_python_give_the_same_numbers_on_the_demo_video(tmp_path, capsys):
    import keras_sportsnet as ksn
    from keras_sportsnet.cli import workflow
    from keras_sportsnet.datasets.synthetic_sports import synthetic_sports

    # The video `predict --demo` renders, written here to keep it.
    data = synthetic_sports(1, classes=[workflow.DEMO_CLASS], num_frames=40, size=64, seed=2026)
    video = data.write(str(tmp_path / "demo")).paths[0]
    assert main(["predict", video, "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    from_cli = [(line.split()[1], float(line.split()[2])) for line in lines[1:]]
    from_python = ksn.predict_video(video, model="slow_fusion_synthetic")[0].top_k
    assert [name for name, _ in from_cli] == [name for name, _ in from_python]
    assert [p for _, p in from_cli] == pytest.approx([p for _, p in from_python], abs=5e-4)  # printed to 3 places
    assert from_cli[0][0] == "gym_roll_fast" and f"{from_cli[0][1]:.3f}" == "0.988"


def _damage_p_frames(path, frames, destination):
    """Zeroes 16 bytes in the middle of each of these frames' packets: the file probes good, decoding fails there."""
    import av

    with av.open(path) as container:
        packets = [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size]
    data = bytearray(open(path, "rb").read())
    for frame in frames:
        position, size = packets[frame]
        data[position + size // 2: position + size // 2 + 16] = bytes(16)
    open(destination, "wb").write(bytes(data))


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    """Two classes of 3 videos: a/v1 is damaged in P-frames 5 and 25 (probes good, fails to decode), plus a text
    file b/notes.mp4 (left out at the scan)."""
    root = tmp_path_factory.mktemp("bad_inputs") / "data"
    for label, name in enumerate(["a", "b"]):
        os.makedirs(root / name)
        for video in range(3):
            write_video(str(root / name / f"v{video}.mp4"), index_frames(40, 32, 32, seed=3 * label + video),
                        keyframe_interval=20)
    _damage_p_frames(str(root / "a" / "v1.mp4"), (5, 25), str(root / "a" / "v1_damaged.mp4"))
    os.remove(root / "a" / "v1.mp4")
    (root / "b" / "notes.mp4").write_text("not a video\n")
    return str(root)


def _left_out_tail(error, data):
    lines = error.rstrip("\n").splitlines()[-3:]
    assert lines[0] == "2 of 7 videos were left out of training:", error
    assert lines[1].startswith(f"  {data}/a/v1_damaged.mp4: damaged: frame 5 "), error
    assert lines[2].startswith(f"  {data}/b/notes.mp4: not a video file"), error


def test_train_and_transfer_that_left_videos_out_exit_1_and_count_them(workspace, bad_inputs, capsys, tmp_path):
    """Issue 13/17 exit codes: a video left out at the scan and one that failed to decode while training: the run
    finishes, writes its preset, lists both at the end and exits 1 (it exited 0)."""
    _, source = workspace
    run = tmp_path / "run"
    assert main(["train", bad_inputs, "--fusion", "slow", "--spec", SPEC, "--image-size", "32", "--run-dir", str(run),
                 "--epochs", "1", "--batch-size", "2", "--validation-split", "0", "--seed", "0"]) == 1
    captured = capsys.readouterr()
    assert re.search(r"^Best loss \d+\.\d{3} at epoch 1; preset written to", captured.out, re.M)
    _left_out_tail(captured.err, bad_inputs)
    assert os.path.isdir(run / "preset")
    assert main(["transfer", bad_inputs, "--weights", os.path.join(source, "preset"), "--run-dir",
                 str(tmp_path / "top"), "--epochs", "1", "--batch-size", "2", "--validation-split", "0"]) == 1
    captured = capsys.readouterr()
    assert "Transfer (top3): Best loss" in captured.out
    _left_out_tail(captured.err, bad_inputs)


def test_a_full_disk_during_training_exits_1_and_the_run_resumes(workspace, capsys, tmp_path, monkeypatch):
    """A full disk after epochs were committed is not a usage error (2, 'nothing was done'): exit 1, one line."""
    from keras_sportsnet.training import checkpoints

    root, _ = workspace
    run = str(tmp_path / "run")
    argv = ["train", str(root / "videos"), "--fusion", "slow", "--spec", SPEC, "--image-size", "32", "--run-dir", run,
            "--steps-per-epoch", "1", "--batch-size", "4", "--validation-split", "0"]
    assert main([*argv, "--epochs", "1"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(checkpoints, "free_bytes", lambda folder: 10_000)  # the disk fills up during epoch 2
    assert main([*argv, "--epochs", "2"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith("keras-sportsnet train: error: [Errno 28] Not enough free disk space to write ")
    assert "Traceback" not in "\n".join(error)
    monkeypatch.undo()
    assert main([*argv, "--epochs", "2"]) == 0
    assert "Resuming" in capsys.readouterr().err


def test_a_damaged_shard_met_during_training_is_our_one_line_and_exit_1(workspace, capsys, tmp_path):
    """Issue 17.10: a same-size shard with one flipped byte: only our sentence naming the shard (no TensorFlow
    framing: 'Graph execution error', 'Detected at node', '[[{{node', '[Op:'), exit code 1 (training had begun)."""
    root, _ = workspace
    shards = tmp_path / "shards"
    assert main(["prepare", str(root / "videos"), str(shards), "--fusion", "slow", "--image-size", "32",
                 "--resize-to", "36", "--clips-per-video", "2", "--num-files", "2", "--workers", "1"]) == 0
    shard = shards / "clips-00001-of-00002.tfrecord"
    data = bytearray(shard.read_bytes())
    first_record = 16 + int.from_bytes(data[:8], "little")
    data[first_record // 2] ^= 0xFF  # same size: only reading the records can tell
    shard.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["train", "--shards", str(shards), "--classes", "3", "--fusion", "slow", "--spec", SPEC,
                 "--image-size", "32", "--resize-to", "36", "--run-dir", str(tmp_path / "run"), "--epochs", "1",
                 "--batch-size", "4"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert re.fullmatch(rf"keras-sportsnet train: error: shard {re.escape(str(shard))} is damaged: it gave 0 clips, "
                        r"its manifest lists \d+\. Delete the shard and its \.json mark and run prepare again to "
                        r"rewrite it\.", error[-1]), error
    assert not [line for line in error if re.search(r"Graph execution|Detected at node|\[\[|\[Op:|stack trace", line)]
