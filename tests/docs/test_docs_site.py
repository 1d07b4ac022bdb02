"""The documentation site builds in MkDocs' strict mode, and its generated parts are current."""

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_site_builds_in_strict_mode(tmp_path):
    """Any warning fails: a broken link or anchor, a page left out, an unresolved API reference, a bad docstring."""
    try:
        import mkdocs  # noqa: F401
        import mkdocstrings  # noqa: F401
    except ImportError as error:
        pytest.fail(f"{error}: the docs build needs `pip install -e \".[docs]\"` (the [test] extra includes it)")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log = "\n".join(line for line in (result.stdout + result.stderr).splitlines() if not line.startswith("INFO"))
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    site = tmp_path / "site"
    assert (site / "index.html").exists()  # README.md is the home page
    assert (site / "api" / "models" / "index.html").exists()
    home = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="architectures/"' in home  # README's docs/architectures.md link, rewritten for the site
    api = (site / "api" / "evaluation" / "index.html").read_text(encoding="utf-8")
    assert "VideoScores" in api and "&gt;&gt;&gt;" not in api.split("VideoScores", 1)[1][:200]


def test_the_cli_reference_is_current():
    """docs/cli.md holds every subcommand's --help as the parser prints it (refresh: python docs/make_cli_reference.py)."""
    maker = load("docs/make_cli_reference.py", "make_cli_reference")
    with open(maker.PAGE, encoding="utf-8") as handle:
        page = handle.read()
    assert maker.render(page) == page, "docs/cli.md is not current: run python docs/make_cli_reference.py"


def test_the_hook_maps_repository_paths_to_the_site():
    hooks = load("docs/hooks.py", "docs_hooks")
    assert hooks._site_path("README.md", "docs") == "index.md"
    assert hooks._site_path("docs/data.md", "docs") == "data.md"
    assert hooks._site_path("benchmarks/README.md", "docs") == "repo/benchmarks/README.md"
    for path in ("README.md", "docs/api/models.md", "notebooks/README.md"):
        assert hooks._repository_path(hooks._site_path(path, "docs"), "docs") == path
    text = "See [data](docs/data.md#datasets), [bench](benchmarks/README.md).\n```python\nx[0](docs/data.md)\n```\n"
    rewritten = hooks._rewrite_links(text, "README.md", "index.md", "docs", ROOT)
    assert "[data](data.md#datasets)" in rewritten and "[bench](repo/benchmarks/README.md)" in rewritten
    assert "x[0](docs/data.md)" in rewritten  # code is never touched
    noted = hooks.NOT_RUN.sub("!", "*Not run in the test suite: needs Sports-1M.*")
    assert noted == "!"


def test_example_sections_become_code():
    extension = load("docs/griffe_examples.py", "griffe_examples")
    text = "Adds.\n\nArgs:\n    a: int.\n\nExample:\n>>> 1 + 1\n2\n```python\nx = 1\n```"
    assert extension.examples_section(text).endswith("Examples:\n    >>> 1 + 1\n    2\n    ```python\n    x = 1\n    ```")
    indented = "Adds.\n\nExample:\n    >>> 1\n    1"
    assert extension.examples_section(indented) == "Adds.\n\nExamples:\n    >>> 1\n    1"
