"""Every Python block of README.md and docs/ runs as written, or says visibly why it cannot run here.

Each page's blocks run in order, in one namespace (as a reader follows the page), in a fresh working folder that
holds the small data the examples name: `clip.mp4` (the demo's synthetic-sports video), `notes.mp4` (a text file,
not a video), `my_videos/<class>/*.mp4`, `synthetic_test/` (one video per class of the embedded dataset),
`videos.csv`. A block that cannot run here carries, on the line right above it, the visible note
``*Not run in the test suite: <why>.*`` (the site shows it as a note). A block preceded by the hidden comment
``<!-- docs-test: slow -->`` runs in the slow tier. Every fenced block names its language, so no Python hides in an
untagged fence.
"""

import contextlib
import glob
import os
import re
import shutil
import warnings

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FENCE = re.compile(r"^([ \t]*)```([^\n`]*)\n(.*?)^\1```[ \t]*$", flags=re.S | re.M)
NOT_RUN = re.compile(r"^\*Not run in the test suite: (.+)\.\*$")
SLOW = "<!-- docs-test: slow -->"

# Blocks that use APIs being built in parallel right now (contracts.md), keyed by (page, a line of the block).
# They must fail until the API lands (strict xfail: a block that starts passing fails the test, so the entry is
# removed then). The lead empties this list when the parts are merged.
PENDING = {
}


def pages():
    names = ["README.md"] + sorted(os.path.relpath(path, ROOT)
                                   for path in glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
    return [name.replace(os.sep, "/") for name in names]


def fenced_blocks(page):
    """``[(language, code, lines_above)]`` of a page, code dedented, in order."""
    with open(os.path.join(ROOT, page), encoding="utf-8") as handle:
        text = handle.read()
    blocks = []
    for match in FENCE.finditer(text):
        indent, language, body = match.group(1), match.group(2).strip(), match.group(3)
        code = "\n".join(line[len(indent):] if line.startswith(indent) else line for line in body.split("\n"))
        above = [line.strip() for line in text[:match.start()].split("\n") if line.strip()][-2:]
        blocks.append((language, code, above))
    return blocks


def page_python_blocks(page):
    """``[(index, code, note, slow, pending)]`` of a page's Python blocks (index counts every fenced block)."""
    found = []
    for index, (language, code, above) in enumerate(fenced_blocks(page)):
        if language != "python":
            continue
        note = next((NOT_RUN.match(line) for line in above[-1:] if NOT_RUN.match(line)), None)
        pending = [why for (where, line), why in PENDING.items() if where == page and line in code]
        found.append((index, code, note.group(1) if note else None, SLOW in above, pending[0] if pending else None))
    return found


def python_blocks():
    """One pytest parameter per Python block: run, run in the slow tier, or noted as not run."""
    params = []
    for page in pages():
        for index, code, note, slow, pending in page_python_blocks(page):
            marks = []
            if note:
                marks.append(pytest.mark.skip(reason=f"visible note: {note}"))
            if slow:
                marks.append(pytest.mark.slow)
            if pending and not note:
                marks.append(pytest.mark.xfail(strict=True, reason=f"API not landed yet: {pending}"))
            params.append(pytest.param(page, index, code, marks=marks, id=f"{page}[{index}]"))
    return params


@pytest.fixture(scope="session")
def example_data(tmp_path_factory):
    """The folder of small files the examples name, written once per session and copied for each page."""
    from keras_sportsnet.datasets.synthetic_sports import synthetic_sports

    root = tmp_path_factory.mktemp("docs_example_data")
    demo = synthetic_sports(1, classes=["gym_roll_fast"], num_frames=40, size=64, seed=2026)  # `predict --demo`'s
    shutil.copy(demo.write(str(root / "_demo")).paths[0], root / "clip.mp4")
    shutil.copy(root / "clip.mp4", root / "my_video.mp4")
    shutil.rmtree(root / "_demo")
    (root / "notes.mp4").write_text("meeting notes, not a video\n")
    mine = synthetic_sports(2, classes=["gym_rise", "soccer"], num_frames=40, size=64, seed=5)
    listed = mine.write(str(root / "my_videos"))
    with open(root / "videos.csv", "w", encoding="utf-8") as handle:
        for path, labels in zip(listed.paths, listed.labels):
            handle.write(f"{os.path.relpath(path, root)},{listed.class_names[labels[0]]}\n")
    synthetic_sports(1, num_frames=40, size=64, seed=9).write(str(root / "synthetic_test"))
    return root


WORKSPACES = {}
NAMESPACES = {}
EXECUTED = {}


@contextlib.contextmanager
def working_directory(path):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def test_every_python_block_is_run_or_noted():
    """The collection above covers every block; a note must give a reason; every fence names its language."""
    untagged = [(page, index) for page in pages() for index, (language, _, _) in enumerate(fenced_blocks(page))
                if not language]
    assert not untagged, f"fenced blocks without a language (```text, ```bash, ```python...): {untagged}"
    for page in pages():
        with open(os.path.join(ROOT, page), encoding="utf-8") as handle:
            for line in handle:
                if line.strip().startswith("*Not run in the test suite"):
                    assert NOT_RUN.match(line.strip()), f"{page}: malformed note {line.strip()!r}"
    listed = {(page, line) for page, line in PENDING}
    found = {(page, line) for page, line in listed
             for language, code, _ in fenced_blocks(page) if language == "python" and line in code}
    assert listed == found, f"PENDING entries that match no block: {sorted(listed - found)}"


def run_block(page, index, code):
    exec(compile(code, f"{page} (Python block {index})", "exec"), NAMESPACES[page])
    EXECUTED.setdefault(page, set()).add(index)


@pytest.mark.parametrize("page, index, code", python_blocks())
def test_python_block_runs_as_written(page, index, code, example_data, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if page not in WORKSPACES:
        WORKSPACES[page] = tmp_path_factory.mktemp("docs_" + re.sub(r"\W", "_", page))
        shutil.copytree(example_data, WORKSPACES[page], dirs_exist_ok=True)
        NAMESPACES[page] = {"__name__": "__docs__"}
    with working_directory(WORKSPACES[page]), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # The blocks above this one that this session has not run (another tier, or -k): a reader ran them first.
        for earlier, earlier_code, note, _, pending in page_python_blocks(page):
            if earlier >= index or note or earlier in EXECUTED.get(page, ()):
                continue
            try:
                run_block(page, earlier, earlier_code)
            except Exception as error:  # noqa: BLE001 (a pending block may fail after defining what later ones use)
                if not pending:
                    raise AssertionError(f"{page}: block {earlier}, above block {index}, failed: {error!r}") from error
                EXECUTED.setdefault(page, set()).add(earlier)
        run_block(page, index, code)
