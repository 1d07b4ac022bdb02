import json
import os

from conftest import TINY_SPEC

from keras_sportsnet.cli import main


def test_architectures_table_with_a_user_spec(tmp_path, capsys):
    out = os.path.join(tmp_path, "table.json")
    code = main(["architectures", "--spec", TINY_SPEC, "--classes", "7", "--json", out])
    assert code == 0
    printed = capsys.readouterr().out
    for name in ("Single-Frame + Multires", "Slow Fusion", "CNN Average (Single+Early+Late+Slow)"):
        assert name in printed
    rows = json.load(open(out))
    assert len(rows) == 9
    assert {tuple(r["output"]) for r in rows} == {(7,)}
    by_name = {r["name"]: r for r in rows}
    assert by_name["Late Fusion"]["frame_stride"] == 15
    assert by_name["CNN Average (Single+Early+Late+Slow)"]["params"] == sum(
        by_name[n]["params"] for n in ("Single-Frame", "Early Fusion", "Late Fusion", "Slow Fusion")
    )


def test_bad_spec_is_a_clear_error_and_exit_code(capsys):
    assert main(["architectures", "--spec", "C(8,3)-P", "--only", "Slow Fusion"]) == 2
    error = capsys.readouterr().err
    assert "token 0" in error and "Traceback" not in error and len(error.strip().splitlines()) == 1


def test_no_command_prints_help_to_stderr_with_exit_code_2(capsys):
    assert main([]) == 2
    captured = capsys.readouterr()
    assert "architectures" in captured.err and "Exit codes:" in captured.err and captured.out == ""


def test_help_and_version_exit_0(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("keras-sportsnet ")
    assert main(["predict", "--help"]) == 0
    assert "Examples:\n  keras-sportsnet predict --demo" in capsys.readouterr().out


def test_unknown_architecture_gets_a_suggestion(capsys):
    assert main(["architectures", "--only", "Slow Fusio"]) == 2
    assert "Did you mean 'Slow Fusion'?" in capsys.readouterr().err
