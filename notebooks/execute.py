"""Executes the tutorial notebooks from a clean kernel and saves them with their outputs.

    python notebooks/execute.py                      # every notebook, outputs written in place
    python notebooks/execute.py 02_fine_tune_your_videos.ipynb
    python notebooks/execute.py --check              # execute, report, save nothing

Each notebook runs in a fresh kernel of *this* interpreter (a kernelspec for
``sys.executable`` written to a temporary folder, so whichever ``python3``
kernel Jupyter has registered does not matter), with a temporary folder as
its working directory, so nothing is written into the repository except the
notebooks themselves. The repository root is put on the kernel's
``PYTHONPATH``, so the checkout's keras_sportsnet is the one imported.
tests/notebooks/test_notebooks.py uses the same functions.
"""

import argparse
import contextlib
import glob
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
KERNEL_NAME = "keras-sportsnet-python"
CELL_TIMEOUT = 600
"""Seconds any one cell may take before execution fails."""


def notebook_paths():
    """The tutorial notebooks, in order."""
    return sorted(glob.glob(os.path.join(HERE, "[0-9][0-9]_*.ipynb")))


@contextlib.contextmanager
def kernel_manager():
    """A `jupyter_client.KernelManager` for a kernel running ``sys.executable`` (the spec lives in a temp folder)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory(prefix="ksn_kernels_") as kernels:
        folder = os.path.join(kernels, KERNEL_NAME)
        os.makedirs(folder)
        # capture_fd_output=False: TensorFlow's C++ start-up log lines stay on the console, out of the outputs.
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                "--IPKernelApp.capture_fd_output=False"]
        with open(os.path.join(folder, "kernel.json"), "w") as file:
            json.dump({"argv": argv,
                       "display_name": f"Python ({sys.executable})", "language": "python"}, file)
        specs = KernelSpecManager(kernel_dirs=[kernels])
        yield KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def kernel_environment():
    """The kernel's environment: this one, with the repository first on PYTHONPATH and quiet TensorFlow logs.

    The interpreter's own scripts folder goes first on PATH, so a ``!keras-sportsnet ...`` cell runs this
    interpreter's command line (an environment used without activating it would otherwise find another one, or none).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([REPO_ROOT, *filter(None, [env.get("PYTHONPATH")])])
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), *filter(None, [env.get("PATH")])])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.pop("MPLBACKEND", None)  # the kernel's inline backend draws the figures into the outputs
    return env


def execute(path, output_path=None, workdir=None, timeout=CELL_TIMEOUT):
    """Runs every cell of the notebook at ``path`` in a fresh kernel; raises on the first error.

    Args:
        path: the ``.ipynb`` file.
        output_path: where to save the executed notebook (None: do not save).
        workdir: the kernel's working directory (None: a new temporary folder, removed after).
        timeout: seconds per cell.

    Returns:
        ``(notebook, seconds)``: the executed `nbformat.NotebookNode` and the wall-clock time.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised (the message names the cell and the error).
    """
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="ksn_notebook_"))
        manager = stack.enter_context(kernel_manager())
        client = NotebookClient(notebook, km=manager, timeout=timeout, allow_errors=False,
                                resources={"metadata": {"path": workdir}})
        start = time.perf_counter()
        client.execute(env=kernel_environment(), cwd=workdir)
        seconds = time.perf_counter() - start
    if output_path:
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, output_path)
    return notebook, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook files or names in notebooks/ (default: all)")
    parser.add_argument("--check", action="store_true", help="execute only; do not save the outputs")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = [p if os.path.exists(p) else os.path.join(HERE, p) for p in args.notebooks] or notebook_paths()
    total = 0.0
    for path in paths:
        _, seconds = execute(path, output_path=None if args.check else path, timeout=args.timeout)
        total += seconds
        print(f"{os.path.basename(path)}: executed in {seconds:.1f} s" + ("" if args.check else ", saved"), flush=True)
    print(f"{len(paths)} notebook(s) in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
