"""The documentation site builds in MkDocs' strict mode, and its generated parts are current."""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# API pages of modules that have no `__all__` yet (their owners add it now): they render no object until then.
# Strict: a page that starts rendering fails here, so the entry is removed. The lead empties this list.
PENDING_API_PAGES = {}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built once with ``mkdocs build --strict`` (any warning fails the build)."""
    try:
        import mkdocs  # noqa: F401
        import mkdocstrings  # noqa: F401
    except ImportError as error:
        pytest.fail(f"{error}: the docs build needs `pip install -e \".[docs]\"` (the [test] extra includes it)")
    folder = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log = "\n".join(line for line in (result.stdout + result.stderr).splitlines() if not line.startswith("INFO"))
    return folder, result.returncode, log


def test_the_site_builds_in_strict_mode(site):
    """Any warning fails: a broken link or anchor, a page left out, an unresolved API reference, a bad docstring."""
    folder, returncode, log = site
    assert returncode == 0, f"mkdocs build --strict failed:\n{log}"
    assert (folder / "index.html").exists()  # README.md is the home page
    home = (folder / "index.html").read_text(encoding="utf-8")
    assert 'href="architectures/"' in home  # README's docs/architectures.md link, rewritten for the site
    assert (folder / "repo" / "benchmarks" / "index.html").exists()  # linked repository pages come along
    data = (folder / "data" / "index.html").read_text(encoding="utf-8")
    assert "Not run in the test suite" in data and 'class="admonition note"' in data


def api_pages():
    names = sorted(os.path.splitext(name)[0] for name in os.listdir(os.path.join(ROOT, "docs", "api")))
    return [pytest.param(name, marks=[pytest.mark.xfail(strict=True, reason=PENDING_API_PAGES[name])]
                         if name in PENDING_API_PAGES else []) for name in names if name != "index"]


@pytest.mark.parametrize("name", api_pages())
def test_every_api_page_documents_its_module(site, name):
    """A module whose public names vanish (no `__all__`, a broken import) would leave its API page empty."""
    folder, returncode, log = site
    assert returncode == 0, f"mkdocs build --strict failed:\n{log}"
    html = (folder / "api" / name / "index.html").read_text(encoding="utf-8")
    objects = re.findall(r'class="doc doc-heading"', html)
    assert len(objects) >= 2, f"docs/api/{name}.md renders {len(objects)} objects: is the module's __all__ missing?"
    assert "&gt;&gt;&gt;" not in re.sub(r"<pre>.*?</pre>", "", html, flags=re.S), "doctest lines outside code"


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
