"""The tutorial notebooks (notebooks/*.ipynb): stored executed, and they run top to bottom from a clean kernel.

Each notebook is executed with nbclient in a fresh kernel of this interpreter
(notebooks/execute.py: a kernelspec for ``sys.executable`` in a temp folder),
with a temporary working directory, so nothing is written into the repository;
any cell error fails the test. The stored copies must carry their outputs (every
code cell executed once, in order, no errors, figures as PNG), so a notebook
edited but not re-executed fails too: refresh them with
``python notebooks/execute.py``.
"""

import os
import sys

import pytest

try:
    import nbclient  # noqa: F401
    import nbformat
except ImportError as error:  # a failure, never a skip: the notebooks are part of what CI checks
    raise ImportError(f'the notebook tests need nbclient and nbformat: pip install -e ".[test]" ({error})') from error

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOKS_DIR = os.path.join(REPO_ROOT, "notebooks")
sys.path.insert(0, NOTEBOOKS_DIR)
import execute  # noqa: E402  (notebooks/execute.py)

NOTEBOOKS = [os.path.basename(path) for path in execute.notebook_paths()]
CELL_TIMEOUT = 300
"""Seconds per cell: each notebook takes under two minutes in all on 2 CPU cores."""
HAS_FIGURES = {"01_quick_start.ipynb", "02_fine_tune_your_videos.ipynb", "03_architectures.ipynb"}


def test_the_four_tutorials_are_there():
    assert NOTEBOOKS == ["01_quick_start.ipynb", "02_fine_tune_your_videos.ipynb", "03_architectures.ipynb",
                         "04_publish_to_hub.ipynb"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stored_notebook_is_executed_in_order_with_outputs(name):
    notebook = nbformat.read(os.path.join(NOTEBOOKS_DIR, name), as_version=4)
    nbformat.validate(notebook)
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and "Time:" in first.source and "Prerequisites:" in first.source, (
        f"{name}: the first cell must say what the reader learns, how long it takes and what it needs")
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{name} is not stored executed top to bottom (execution counts {counts}): run python notebooks/execute.py")
    errors = [output for cell in code for output in cell.outputs if output.output_type == "error"]
    assert not errors, f"{name} was stored with an error: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    assert all(cell.outputs for cell in code[-1:]), f"{name}: the last cell (the run time) has no output"
    images = sum("image/png" in output.get("data", {}) for cell in code for output in cell.outputs)
    if name in HAS_FIGURES:
        assert images >= 1, f"{name}: no figure was stored as PNG (plots must render inline)"


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_from_a_clean_kernel(name, tmp_path):
    repo_files = set(os.listdir(REPO_ROOT))
    notebook, seconds = execute.execute(os.path.join(NOTEBOOKS_DIR, name), workdir=str(tmp_path),
                                        timeout=CELL_TIMEOUT)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert not [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert set(os.listdir(REPO_ROOT)) == repo_files, "the notebook wrote into the repository"
    print(f"{name}: {seconds:.1f} s")
