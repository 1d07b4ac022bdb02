"""Every example of every ``keras-sportsnet COMMAND --help`` runs as written, on small data made here.

The examples name the files a user would have: ``my_videos/`` (one sub-folder per
class), ``my_video.mp4``, ``test_videos/``, ``new_task/`` and a synthetic-sports
test folder for the shipped presets. They run in the order a user would run
them (scan, prepare, train, predict, evaluate, transfer, ...), so later examples
read what earlier ones wrote (``runs/slow/preset``, ``shards/``, ``slow.npz``).
"""

import argparse
import shlex

import pytest
from conftest import write_class_videos

from keras_sportsnet.cli import build_parser
from keras_sportsnet.cli import main
from keras_sportsnet.testing.videos import index_frames
from keras_sportsnet.data.encoding import write_video

ORDER = ("scan", "prepare", "train", "predict", "evaluate", "transfer", "summary", "presets", "plot", "architectures")


def help_examples():
    """``[(command, example line)]`` from each subcommand's --help text, in `ORDER`."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) == set(ORDER)
    examples = []
    for name in ORDER:
        text = commands[name].format_help().split("\nExamples:\n", 1)[1]
        examples += [(name, line.strip()) for line in text.strip().splitlines()]
    return examples


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory):
    from keras_sportsnet.datasets.synthetic_sports import synthetic_sports

    root = tmp_path_factory.mktemp("user")

    def frames(label, video):
        return index_frames(24, 80, 80, seed=10 * label + video)

    write_class_videos(str(root / "my_videos"), ["jump", "swim"], 4, frames)
    write_class_videos(str(root / "test_videos"), ["jump", "swim"], 2, lambda label, video: frames(label, video + 50))
    write_class_videos(str(root / "new_task"), ["dive", "row"], 4, lambda label, video: frames(label, video + 80))
    write_video(str(root / "my_video.mp4"), frames(0, 99))
    synthetic_sports(1, num_frames=40, size=64, seed=5).write(str(root / "synthetic_test"))
    return root


@pytest.mark.slow
def test_every_help_example_runs(user_folder, monkeypatch, capsys):
    monkeypatch.chdir(user_folder)
    examples = help_examples()
    assert len(examples) >= 20
    for command, line in examples:
        argv = shlex.split(line)
        assert argv[:2] == ["keras-sportsnet", command]
        code = main(argv[1:])
        captured = capsys.readouterr()
        assert code == 0, f"{line}\nexit code {code}\n{captured.err[-3000:]}"
    for made in ("runs/slow/preset/metadata.json", "runs/slow_shards/preset/metadata.json", "shards/shards.json",
                 "runs/new_top3/preset/metadata.json", "slow.npz", "single.npz", "table2.png", "filters.gif",
                 "predictions.png", "predictions.json", "metrics.json", "scan_report.json", "table.json"):
        assert (user_folder / made).is_file(), made
