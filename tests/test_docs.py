"""The README's code and links point at things that exist."""

import os
import re

import pytest

import keras_sportsnet as ksn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENTS = ["README.md", "benchmarks/README.md", "notebooks/README.md", "docs/training_at_scale.md"]
ALIASES = {"ksn": ksn, "viz": ksn.visualization}


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as file:
        return file.read()


def existing_documents():
    return [name for name in DOCUMENTS if os.path.exists(os.path.join(ROOT, name))]


def python_blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def slug(heading):
    """GitHub's anchor of a heading."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(path):
    with open(path, encoding="utf-8") as file:
        text = re.sub(r"```.*?```", "", file.read(), flags=re.S)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("name", existing_documents())
def test_every_package_name_in_the_code_examples_exists(name):
    missing = []
    for block in python_blocks(read(name)):
        for alias, chain in re.findall(r"\b(ksn|viz)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", block):
            target = ALIASES[alias]
            for part in chain.strip(".").split("."):
                if not hasattr(target, part):
                    missing.append(f"{alias}{chain}")
                    break
                target = getattr(target, part)
                if not (hasattr(target, "__path__") or type(target).__name__ == "module"):
                    break  # past modules: attributes of classes/functions are not checked
    assert not missing, f"{name} uses names the package does not have: {sorted(set(missing))}"


@pytest.mark.parametrize("name", existing_documents())
def test_every_relative_link_and_anchor_resolves(name):
    text = read(name)
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


def test_slug_follows_github():
    assert slug("Transfer learning (Sec. 4.2)") == "transfer-learning-sec-42"
    assert slug("The paper's findings in miniature") == "the-papers-findings-in-miniature"
    assert slug("Scaling (bench_scaling.py)") == "scaling-bench_scalingpy"
