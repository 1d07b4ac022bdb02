"""The evaluation's files: archive headers checked, .npy rows cut in place, leftovers of this path only cleaned."""

import json
import os

import numpy as np
import pytest

from keras_sportsnet.evaluation import VideoScores
from keras_sportsnet.evaluation.archive import ScoresFiles
from keras_sportsnet.evaluation.archive import read_archive
from keras_sportsnet.evaluation.archive import shrink_rows
from keras_sportsnet.evaluation.archive import write_archive

pytestmark = pytest.mark.tensorflow_free  # also runs in the venv without TensorFlow (tests/backends)


def test_a_header_without_its_fields_is_a_clear_error(tmp_path):
    path = write_archive(tmp_path / "partial.npz", {"logits": np.zeros((1, 1, 1, 2), "float32"),
                                                     "labels": np.zeros((1, 2), "uint8")}, {"class_names": ["a", "b"]})
    with pytest.raises(ValueError, match=r"partial.npz' is not a VideoScores file: its header lacks \['video_ids'"):
        VideoScores.load(path)
    nested = np.frombuffer(("[" * 100000 + "]" * 100000).encode(), np.uint8)
    np.savez(tmp_path / "deep.npz", logits=np.zeros(1), labels=np.zeros(1), header=nested)
    with pytest.raises(ValueError, match="unreadable header"):
        read_archive(tmp_path / "deep.npz")


@pytest.mark.parametrize("rows", [0, 3, 7])
def test_shrink_rows_keeps_the_leading_rows_in_place(tmp_path, rows):
    path = str(tmp_path / "rows.npy")
    data = np.arange(7 * 2 * 5, dtype="float32").reshape(7, 2, 5)
    np.save(path, data)
    offset = os.path.getsize(path) - data.nbytes
    shrink_rows(path, rows)
    np.testing.assert_array_equal(np.load(path), data[:rows])
    assert os.path.getsize(path) == offset + data[:rows].nbytes


def test_clean_removes_only_the_leftovers_of_this_path(tmp_path):
    names = [".scores.npy.0a1b2c3d.incomplete.npy", ".scores.npz.99aa88bb.incomplete.npz",
             ".other.npy.0a1b2c3d.incomplete.npy", "scores_old.npy", "notes.txt"]
    for name in names:
        (tmp_path / name).write_text("x")
    np.save(tmp_path / "scores.npy", np.zeros(2))  # no scores.npz beside it: an orphan
    files = ScoresFiles(tmp_path / "scores.npz")
    removed = sorted(os.path.basename(p) for p in files.clean())
    assert removed == sorted([names[0], names[1], "scores.npy"])
    assert sorted(os.listdir(tmp_path)) == sorted(names[2:])
    np.save(tmp_path / "scores.npy", np.zeros(2))
    (tmp_path / "scores.npz").write_text("a finished run")
    assert files.clean() == [] and (tmp_path / "scores.npy").exists()  # a complete pair is left alone


def test_fill_renames_the_array_only_when_complete(tmp_path):
    files = ScoresFiles(tmp_path / "run.npz")

    def failing(array):
        array[0] = 1
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        files.fill((3, 1, 1, 2), failing)
    assert os.listdir(tmp_path) == []

    def filling(array):
        array[:2] = 5
        return 2, "done"

    array, result = files.fill((3, 1, 1, 2), filling)
    assert result == "done" and array.shape == (2, 1, 1, 2) and (np.asarray(array) == 5).all()
    assert os.listdir(tmp_path) == ["run.npy"]
    assert json.loads(json.dumps(np.load(files.npy).tolist())) == [[[[5.0, 5.0]]], [[[5.0, 5.0]]]]
