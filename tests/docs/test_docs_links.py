"""The documentation's links, anchors and package names point at things that exist."""

import glob
import os
import re

import pytest

import keras_sportsnet as ksn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALIASES = {"ksn": ksn, "viz": "keras_sportsnet.visualization"}

# Names the pages use that belong to APIs being built in parallel (see docs_examples.PENDING): allowed to be
# missing until they land, and an error once they exist (so this list only shrinks). The lead empties it.
PENDING_NAMES = {
}


def documents():
    """Every Markdown page: README.md, docs/**, and the READMEs of benchmarks/ and notebooks/."""
    names = ["README.md", "benchmarks/README.md", "notebooks/README.md"]
    names += sorted(os.path.relpath(path, ROOT) for path in glob.glob(os.path.join(ROOT, "docs", "**", "*.md"),
                                                                       recursive=True))
    return [name for name in names if os.path.exists(os.path.join(ROOT, name))]


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as file:
        return file.read()


def python_blocks(text):
    return [block for _, block in re.findall(r"^([ \t]*)```python\n(.*?)^\1```", text, flags=re.S | re.M)]


def without_code(text):
    return re.sub(r"^([ \t]*)```.*?^\1```", "", text, flags=re.S | re.M)


def slug(heading):
    """GitHub's anchor of a heading (MkDocs' `toc` gives the same for the headings used here)."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(path):
    with open(path, encoding="utf-8") as file:
        text = without_code(file.read())
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def resolve(alias, chain):
    """The object ``alias.chain`` names, or None where a part is missing (attributes past modules not followed)."""
    import importlib

    target = ALIASES[alias]
    target = importlib.import_module(target) if isinstance(target, str) else target
    for part in chain.strip(".").split("."):
        if not hasattr(target, part):
            return None
        target = getattr(target, part)
        if not (hasattr(target, "__path__") or type(target).__name__ == "module"):
            break  # past modules: attributes of classes/functions are not checked
    return target


@pytest.mark.parametrize("name", documents())
def test_every_package_name_in_the_code_examples_exists(name):
    missing, landed = [], []
    for block in python_blocks(read(name)):
        for alias, chain in re.findall(r"\b(ksn|viz)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", block):
            full = f"{alias}{chain}"
            exists = resolve(alias, chain) is not None
            pending = any(full == name_ or full.startswith(name_ + ".") for name_ in PENDING_NAMES)
            if not exists and not pending:
                missing.append(full)
            elif exists and full in PENDING_NAMES:
                landed.append(full)
    assert not missing, f"{name} uses names the package does not have: {sorted(set(missing))}"
    assert not landed, f"{sorted(set(landed))} exist now: remove them from PENDING_NAMES in {__file__}"


@pytest.mark.parametrize("name", documents())
def test_every_relative_link_and_anchor_resolves(name):
    text = without_code(read(name))
    base = os.path.dirname(os.path.join(ROOT, name))
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        file = os.path.normpath(os.path.join(base, path)) if path else os.path.join(ROOT, name)
        if not os.path.exists(file):
            broken.append(target)
        elif anchor and file.endswith(".md") and anchor not in anchors_of(file):
            broken.append(target)
    assert not broken, f"{name} has broken links: {broken}"


def test_the_repository_cites_nothing_outside_it():
    """No page points at a file that a clone does not have (the project's private `shared/` notes)."""
    offenders = [name for name in documents() if re.search(r"shared/docs/", read(name))]
    assert not offenders, f"these pages cite shared/docs/..., which is not in the repository: {offenders}"


def test_slug_follows_github():
    assert slug("Transfer learning (Sec. 4.2)") == "transfer-learning-sec-42"
    assert slug("The paper's findings in miniature") == "the-papers-findings-in-miniature"
    assert slug("Scaling (bench_scaling.py)") == "scaling-bench_scalingpy"


def test_the_readme_stays_short():
    """The README is the front door (what it is, set-up, quick start, tables, links); the rest lives in docs/."""
    lines = read("README.md").count("\n")
    assert lines <= 250, f"README.md has {lines} lines; move detail to a page under docs/ (at most 250)"
