"""The API reference covers the public surface, and no page names a module or object the package does not have."""

import glob
import importlib
import os
import re

import pytest

import keras_sportsnet

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOTTED = re.compile(r"\bkeras_sportsnet(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
NOT_DOCUMENTED = {"KERAS_OBJECT_MODULES", "__version__"}  # plumbing of the lazy top-level package, not API


def rendered_modules():
    """The modules the API pages render (``::: module`` lines)."""
    found = set()
    for page in glob.glob(os.path.join(ROOT, "docs", "api", "*.md")):
        with open(page, encoding="utf-8") as handle:
            found |= set(re.findall(r"^::: (\S+)\s*$", handle.read(), flags=re.M))
    return found


def documented_objects():
    """``id(object) -> where`` for every public name of a rendered module (its ``__all__``)."""
    objects = {}
    for name in rendered_modules():
        module = importlib.import_module(name)
        for public in module.__all__:
            objects.setdefault(id(getattr(module, public)), f"{name}.{public}")
    return objects


def subpackages():
    return [f"keras_sportsnet.{name}" for name in keras_sportsnet._SUBPACKAGES if name != "visualization"] + [
        "keras_sportsnet.visualization"]


def test_every_top_level_name_is_in_the_api_reference():
    objects = documented_objects()
    missing = [name for name in keras_sportsnet.__all__
               if name not in NOT_DOCUMENTED and name not in keras_sportsnet._SUBPACKAGES
               and id(getattr(keras_sportsnet, name)) not in objects]
    assert not missing, f"top-level names no docs/api page renders: {missing}"


@pytest.mark.parametrize("package", subpackages())
def test_every_public_package_is_in_the_api_reference(package):
    """Each sub-package's ``__all__`` is rendered by an API page (directly or through the module defining it)."""
    module = importlib.import_module(package)
    objects = documented_objects()
    missing = [name for name in module.__all__
               if type(getattr(module, name)).__name__ != "module" and id(getattr(module, name)) not in objects]
    assert not missing, f"{package}: names no docs/api page renders: {missing}"


def documents():
    names = ["README.md", "benchmarks/README.md", "notebooks/README.md"]
    names += sorted(os.path.relpath(path, ROOT).replace(os.sep, "/")
                    for path in glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
    return [name for name in names if os.path.exists(os.path.join(ROOT, name))]


def resolves(dotted):
    """Whether ``a.b.c`` names a module, or an attribute of the longest importable module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            if not hasattr(target, part):
                return False
            target = getattr(target, part)
        return True
    return False


@pytest.mark.parametrize("name", documents())
def test_every_dotted_package_path_exists(name):
    """E.g. the deleted `keras_sportsnet.data.synthetic`: a page naming it fails here."""
    with open(os.path.join(ROOT, name), encoding="utf-8") as handle:
        text = handle.read()
    missing = sorted({dotted.rstrip(".") for dotted in DOTTED.findall(text) if not resolves(dotted.rstrip("."))})
    assert not missing, f"{name} names what the package does not have: {missing}"


REPOSITORY_PATH = re.compile(r"(?<![\w./-])((?:tests|benchmarks|keras_sportsnet|docs|notebooks|\.ci)/[\w./-]*\w\.(?:py|md|sh|ipynb|json|yml|toml))\b")


@pytest.mark.parametrize("name", documents())
def test_every_repository_file_named_exists(name):
    """E.g. `tests/test_distributed.py` after the tests moved to `tests/distributed/`: a page naming it fails here."""
    with open(os.path.join(ROOT, name), encoding="utf-8") as handle:
        text = handle.read()
    missing = sorted({path for path in REPOSITORY_PATH.findall(text) if not os.path.exists(os.path.join(ROOT, path))})
    assert not missing, f"{name} names files the repository does not have: {missing}"
