"""The utilities floor: checks, atomic files, progress, tables, optional imports."""

import io
import os
import stat
import threading

import pytest

from keras_sportsnet.utils import checks, files, imports, progress, tables


def test_check_choice_names_argument_allowed_and_suggestion():
    with pytest.raises(ValueError) as info:
        checks.check_choice("fusion", "slwo", ("early", "slow"))
    text = str(info.value)
    assert "`fusion` must be one of ['early', 'slow']" in text
    assert "Received: fusion='slwo'" in text and "Did you mean 'slow'?" in text


def test_check_int_bounds_and_bools():
    assert checks.check_int("n", 3, minimum=1) == 3
    assert checks.check_int("n", None, allow_none=True) is None
    for bad in (0, True, 2.0, "3"):
        with pytest.raises(ValueError, match=r"`n` must be an int >= 1"):
            checks.check_int("n", bad, minimum=1)
    with pytest.raises(ValueError, match=r"an int in \[1, 4\]"):
        checks.check_int("n", 5, minimum=1, maximum=4)


def test_check_float_and_size():
    assert checks.check_float("p", 0.5, 0, 1, low_open=True, high_open=True) == 0.5
    for bad in (0, 1, float("nan"), "0.5", True):
        with pytest.raises(ValueError, match="`p` must be a finite number in"):
            checks.check_float("p", bad, 0, 1, low_open=True, high_open=True)
    assert checks.check_size("image_size", 5) == (5, 5)
    assert checks.check_size("image_size", [4, 6]) == (4, 6)
    with pytest.raises(ValueError, match="image_size"):
        checks.check_size("image_size", (4, 0))


def test_closest():
    assert checks.closest("slow_fusion_synthetc", ["slow_fusion_synthetic", "late"]) == "slow_fusion_synthetic"
    assert checks.closest("zzz", ["slow", "late"]) is None


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_write_gives_normal_permissions_without_touching_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        target = tmp_path / "sub" / "a.json"
        files.write_json(target, {"a": 1})
        assert _mode(target) == 0o644
        assert files.read_json(target) == {"a": 1}
        assert os.umask(0o022) == 0o022  # unchanged by the write
    finally:
        os.umask(previous)


def test_atomic_write_keeps_old_file_on_failure_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "state.json"
    files.write_json(target, {"epoch": 1})

    def broken(temporary):
        with open(temporary, "w") as file:
            file.write("{partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        files.atomic_write(target, broken)
    assert files.read_json(target) == {"epoch": 1}
    assert os.listdir(tmp_path) == ["state.json"]


def test_concurrent_atomic_writes_never_world_writable(tmp_path):
    os.umask(0o022)
    errors = []

    def worker(index):
        try:
            for step in range(20):
                files.write_text(tmp_path / f"f{index}_{step}.txt", "x")
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert {_mode(tmp_path / name) for name in os.listdir(tmp_path)} == {0o644}


def test_remove_stale_temporaries_only_touches_our_names(tmp_path):
    (tmp_path / ".best.weights.h5.ab12cd34.incomplete.weights.h5").write_text("x")
    os.mkdir(tmp_path / ".preset.00ff00ff.incomplete")
    (tmp_path / "keep.incomplete.txt").write_text("user file")
    (tmp_path / ".hidden").write_text("user file")
    removed = files.remove_stale_temporaries(tmp_path)
    assert len(removed) == 2
    assert sorted(os.listdir(tmp_path)) == [".hidden", "keep.incomplete.txt"]


def test_atomic_folder_replaces_whole_folder_with_normal_permissions(tmp_path):
    os.umask(0o022)
    target = tmp_path / "preset"
    files.atomic_folder(target, lambda staging: files.write_text(os.path.join(staging, "a.txt"), "1"))
    assert _mode(target) == 0o755
    with pytest.raises(FileExistsError, match="overwrite=True"):
        files.atomic_folder(target, lambda staging: None)
    files.atomic_folder(target, lambda staging: files.write_text(os.path.join(staging, "b.txt"), "2"), overwrite=True)
    assert os.listdir(target) == ["b.txt"]
    assert os.listdir(tmp_path) == ["preset"]


@pytest.mark.parametrize(
    "content, message",
    [(b"{", "not valid JSON"), (b"[1]", "must hold a JSON object"), (b"\xff\xfe", "not valid JSON"), (b"[" * 100000, "not valid JSON")],
)
def test_read_json_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "metadata.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        files.read_json(path, what="preset metadata")
    assert str(path) in str(info.value)


def test_read_json_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        files.read_json(tmp_path / "nope.json")


def test_check_writable(tmp_path):
    files.check_writable(tmp_path / "new" / "out.json", "--json")
    with pytest.raises(ValueError, match="`--json` names a folder"):
        files.check_writable(tmp_path, "--json")
    if os.geteuid() != 0:  # root can write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ValueError, match="cannot write"):
            files.check_writable(locked / "out.json", "--json")


def test_sha256_of(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"abc")
    assert files.sha256_of(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_progress_silent_when_quick_and_final_line_when_shown():
    stream = io.StringIO()
    with progress.Progress("scanning", total=3, unit="files", stream=stream) as bar:
        bar.update()
    assert stream.getvalue() == ""
    stream = io.StringIO()
    bar = progress.Progress("scanning", total=3, unit="files", stream=stream, delay=0, interval=0)
    bar.update(extra="1 bad")
    bar.update()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("scanning: 2/3 files") and lines[-1].endswith("1 bad")


def test_tables():
    text = tables.format_table(["model", "hit@1"], [["slow", 0.5], ["single", 0.25]])
    assert text.splitlines() == ["model    hit@1", "------  ------", "slow    0.5000", "single  0.2500"]
    assert tables.format_markdown_table(["a|b"], [["x"]]).splitlines()[0] == "| a\\|b |"
    with pytest.raises(ValueError, match="one per column"):
        tables.format_table(["a", "b"], [["x"]])


def test_require_names_feature_and_install_command():
    with pytest.raises(imports.MissingDependencyError, match=r"my_feature needs not_a_module_xyz.*pip install"):
        imports.require("not_a_module_xyz", "my_feature")
