"""``keras-sportsnet plot`` and ``predict --plot``: figures from presets, run folders and saved scores."""

import os

import numpy as np
import pytest
from PIL import Image

from keras_sportsnet.cli import main
from keras_sportsnet.testing.videos import index_frames
from keras_sportsnet.data.encoding import write_video
from keras_sportsnet.evaluation import VideoScores
from keras_sportsnet.training.checkpoints import write_history_csv


def is_png(path):
    with open(path, "rb") as file:
        return file.read(4) == b"\x89PNG"


@pytest.fixture(scope="module")
def saved_scores(tmp_path_factory):
    root = tmp_path_factory.mktemp("plot_scores")
    paths = [write_video(str(root / f"v{i}.mp4"), index_frames(8, 32, 32, seed=i)) for i in range(4)]
    rng = np.random.default_rng(0)
    files = []
    for name in ("a", "b"):
        scores = VideoScores(rng.normal(size=(4, 3, 2, 3)).astype(np.float32), labels=[0, 1, 2, 0],
                             class_names=["jump", "run", "swim"], video_ids=paths)
        files.append(scores.save(str(root / f"{name}.npz")))
    return files


def test_plot_filters_writes_the_figure_and_the_gif(tmp_path, capsys):
    figure, gif = str(tmp_path / "filters.svg"), str(tmp_path / "filters.gif")
    assert main(["plot", "filters", figure, "--weights", "slow_fusion_synthetic", "--gif", gif, "--max-filters", "4"]) == 0
    with open(figure, encoding="utf-8") as file:
        assert "<svg" in file.read(2000)
    with Image.open(gif) as animation:
        assert animation.n_frames == 4  # slow fusion's conv1 spans 4 frames
    assert figure in capsys.readouterr().out


def test_plot_curves_from_a_run_folder(tmp_path):
    write_history_csv(str(tmp_path), [{"epoch": 1, "loss": 2.0, "val_loss": 2.2}, {"epoch": 2, "loss": 1.0, "val_loss": 1.5}])
    assert main(["plot", "curves", str(tmp_path), str(tmp_path / "curves.png"), "--metrics", "loss"]) == 0
    assert is_png(tmp_path / "curves.png")
    assert main(["plot", "curves", str(tmp_path), str(tmp_path / "bad.png"), "--metrics", "accuracy"]) == 2
    assert not os.path.exists(tmp_path / "bad.png")


@pytest.mark.parametrize("arguments", [
    ["predictions", "{a}", "{out}", "--videos", "0,3", "--top", "2"],
    ["confusion", "{a}", "{out}", "--highlight", "2"],
    ["views", "{a}", "{out}"],
    ["ap-difference", "{a}", "{b}", "{out}", "--names", "slow,single"],
])
def test_plot_from_saved_scores(saved_scores, tmp_path, arguments):
    out = str(tmp_path / "figure.png")
    values = {"a": saved_scores[0], "b": saved_scores[1], "out": out}
    assert main(["plot", *[a.format(**values) for a in arguments]]) == 0
    assert is_png(out) and Image.open(out).size[0] > 200


def test_plot_errors_name_the_argument(saved_scores, tmp_path, capsys):
    out = str(tmp_path / "x.png")
    assert main(["plot", "ap-difference", saved_scores[0], saved_scores[1], out, "--names", "only_one"]) == 2
    assert "`--names` must be 2 comma-separated names" in capsys.readouterr().err
    assert main(["plot", "predictions", saved_scores[0], out, "--videos", "0,x"]) == 2
    assert "`--videos` must be comma-separated video indices" in capsys.readouterr().err
    assert main(["plot", "confusion", saved_scores[0], str(tmp_path / "x.jpg")]) == 2
    assert "`path extension` must be one of ['png', 'svg', 'pdf']" in capsys.readouterr().err
    assert not os.listdir(tmp_path)


def test_predict_plot_draws_the_strip_of_the_classified_videos(tmp_path):
    strip = str(tmp_path / "strip.png")
    assert main(["predict", "--demo", "--quiet", "--clips", "2", "--views", "1", "--plot", strip]) == 0
    assert is_png(strip)
