"""CI proof of the TensorFlow-free model zoo: the ``tensorflow_free`` tests in a venv without TensorFlow.

The venv gets exactly the package's declared install dependencies
(``[project] dependencies`` of pyproject.toml), one Keras backend (JAX, or
torch where its CPU wheel installs) and pytest: no TensorFlow, no
matplotlib. Each dependency is pinned to the version this interpreter has,
so the venv matches the tested environment. The venvs are cached under
``~/.cache/keras_sportsnet/venvs/`` (made once, atomically; delete the folder
to rebuild). The package itself is built into a wheel from this checkout and
installed with ``--no-deps`` into a per-test folder, so the installed
package (its package data included) is what runs, not the source tree.

Then every test file that carries the ``tensorflow_free`` marker runs there
(``-m "tensorflow_free and not slow"``) with ``KERAS_BACKEND`` set to the
venv's backend. To mark a test file: ``pytestmark = pytest.mark.tensorflow_free``
(the whole file must import without TensorFlow).
"""

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS = os.path.join(ROOT, "tests")
VENVS = os.path.join(os.path.expanduser("~"), ".cache", "keras_sportsnet", "venvs")
MARKER = "tensorflow_free"
BACKENDS = {
    # backend: the packages that provide it (pinned like the rest). torch: the CPU build
    # this machine keeps on disk (a plain `torch` from PyPI is a multi-GB CUDA build).
    "jax": ("jax", "jaxlib"),
    "torch": ("torch==2.13.0",),
}
PIP_TIMEOUT = 1800


def declared_dependencies():
    """The requirement strings of ``[project] dependencies`` in pyproject.toml."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as file:
        return list(tomllib.load(file)["project"]["dependencies"])


def _name(requirement):
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip()


def pinned(requirements):
    """``name==version`` of this interpreter where installed (the tested versions), else as given."""
    pins = []
    for requirement in requirements:
        if "==" in requirement:
            pins.append(requirement)
            continue
        try:
            pins.append(f"{_name(requirement)}=={importlib.metadata.version(_name(requirement))}")
        except importlib.metadata.PackageNotFoundError:
            pins.append(requirement)
    return pins


def tensorflow_free_test_files():
    """Test files that mark themselves (or some tests) ``tensorflow_free``, found without importing them."""
    found = []
    for folder, _, files in os.walk(TESTS):
        for name in sorted(files):
            if name.startswith("test_") and name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as file:
                    if f"mark.{MARKER}" in file.read():
                        found.append(path)
    return sorted(found)


def ensure_venv(backend):
    """The cached venv for ``backend``: ``(python, requirements)``; made atomically on first use."""
    requirements = pinned(declared_dependencies() + list(BACKENDS[backend]) + ["pytest"])
    key = hashlib.sha256(json.dumps([sys.version, sorted(requirements)]).encode()).hexdigest()[:12]
    path = os.path.join(VENVS, f"no-tensorflow-{backend}-py{sys.version_info[0]}{sys.version_info[1]}-{key}")
    python = os.path.join(path, "bin", "python")
    if os.path.exists(python):
        return python, requirements
    os.makedirs(VENVS, exist_ok=True)
    staging = f"{path}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        # `python -m ...` only: a venv works after the rename, its scripts' #! lines would not.
        _check([sys.executable, "-m", "venv", staging], "python -m venv")
        _check([os.path.join(staging, "bin", "python"), "-m", "pip", "install", "-q",
                "--disable-pip-version-check", *requirements], "pip install " + " ".join(requirements))
        try:
            os.rename(staging, path)
        except OSError:  # another run made it meanwhile
            if not os.path.exists(python):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return python, requirements


def _check(command, what, **kwargs):
    completed = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT, **kwargs)
    if completed.returncode != 0:
        pytest.fail(f"{what} failed (exit {completed.returncode}); run it by hand to see why:\n"
                    f"  {' '.join(command)}\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}", pytrace=False)
    return completed


@pytest.fixture(scope="module")
def installed_package(tmp_path_factory):
    """``site`` folder holding keras_sportsnet installed from a wheel of this checkout (no dependencies)."""
    work = tmp_path_factory.mktemp("no_tf_install")
    wheels, site = work / "wheels", work / "site"
    # The build runs here (setuptools is in this interpreter; the venvs have none).
    _check([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), ROOT],
           "building the keras_sportsnet wheel", cwd=str(work))
    (wheel,) = wheels.glob("keras_sportsnet-*.whl")
    return wheel, site


def run_in_venv(backend, installed_package, tmp_path):
    python, requirements = ensure_venv(backend)
    wheel, site = installed_package
    target = tmp_path / f"site_{backend}"
    _check([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", "--no-index",
            "--target", str(target), str(wheel)], "installing the wheel into the venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "KERAS_", "TF_"))}
    env.update(PYTHONPATH=str(target), KERAS_BACKEND=backend, PYTHONDONTWRITEBYTECODE="1",
               JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="")

    # The venv really lacks them, and imports the installed package, not this checkout.
    probe = _check([python, "-c",
                    "import importlib.util as u, keras, keras_sportsnet as k; print(k.__file__); "
                    "print(keras.backend.backend()); "
                    "print([m for m in ('tensorflow', 'matplotlib', 'tensorboard') if u.find_spec(m)])"],
                   "importing keras_sportsnet in the venv", env=env, cwd=str(tmp_path))
    file, active, present = probe.stdout.split("\n")[:3]
    assert file.startswith(str(target)), file
    assert active == backend
    assert present == "[]", f"the venv must not have {present}"

    files = tensorflow_free_test_files()
    assert len(files) >= 4, files  # the model, layer, preset and augmentation tests at least
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", ROOT,
               "-c", os.path.join(ROOT, "pyproject.toml"), "-m", f"{MARKER} and not slow", *files]
    completed = subprocess.run(command, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=3600)
    summary = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else ""
    assert completed.returncode == 0, (
        f"{backend} venv without TensorFlow: {summary}\n{completed.stdout[-6000:]}\n{completed.stderr[-2000:]}")
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 30, summary
    return summary


def test_tensorflow_free_tests_pass_on_jax_without_tensorflow(installed_package, tmp_path):
    print(run_in_venv("jax", installed_package, tmp_path))


def test_tensorflow_free_tests_pass_on_torch_without_tensorflow(installed_package, tmp_path):
    print(run_in_venv("torch", installed_package, tmp_path))
