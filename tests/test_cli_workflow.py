"""The shell workflow on a tiny folder: train -> predict -> evaluate -> transfer -> summary."""

import json
import os

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
    top = json.load(open(out))[0]["top"]
    assert len(top) == 3 and {t["class"] for t in top} == {"dive", "row", "vault"}
    assert sum(t["probability"] for t in top) == pytest.approx(1.0, abs=1e-4)
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    assert main(["predict", video, str(broken), "--weights", os.path.join(run, "preset"), "--clips", "1",
                 "--views", "1", "--quiet"]) == 1
    assert "broken.mp4: not classified: not a video" in capsys.readouterr().err


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
