"""What every subcommand shares: argument types, help layout, quiet start-up, errors and exit codes.

Nothing here imports Keras, TensorFlow or NumPy: ``keras-sportsnet --help`` and
argument errors answer before any of them loads. A subcommand that needs Keras
says so with ``needs_keras=True``; `main` then imports Keras (and the backend)
with the native start-up log lines held back, unless ``--verbose``.

Exit codes (the README's promise): `SUCCESS` 0, `SOME_INPUTS_BAD` 1 (the work
finished but some inputs were bad: listed on stderr; or it stopped part-way,
keeping what was finished: a diverged run, a full disk), `USAGE_ERROR` 2 (bad
arguments, missing paths, unwritable outputs, unusable inputs: one line naming
the argument or file), `INTERRUPTED` 130 (Ctrl-C), `INTERNAL_ERROR` 70 (a bug:
the traceback is printed), `OUTPUT_CLOSED` 141 (the reader of stdout went away).

Example:
```python
from keras_sportsnet.cli.common import positive_int
parser.add_argument("--epochs", type=positive_int, default=10)
```
"""

import argparse
import contextlib
import dataclasses
import logging
import math
import os
import sys
import threading
import warnings

__all__ = [
    "FRAME_SIZES",
    "FUSIONS",
    "INTERNAL_ERROR",
    "INTERRUPTED",
    "OUTPUT_CLOSED",
    "REGIMES",
    "RESOLUTIONS",
    "SHORT_VIDEO_POLICIES",
    "SOME_INPUTS_BAD",
    "SUCCESS",
    "TRANSFER_DROPOUT",
    "USAGE_ERROR",
    "add_max_pixels_argument",
    "Subcommand",
    "UsageError",
    "check_crop_fits",
    "check_inputs_exist",
    "check_output_file",
    "check_output_folder",
    "check_weights",
    "comma_list",
    "fraction",
    "import_backend",
    "int_at_least",
    "is_uri",
    "native_noise_filtered",
    "non_negative_int",
    "one_line_warning",
    "positive_float",
    "positive_int",
    "quiet_startup",
]

SUCCESS = 0
SOME_INPUTS_BAD = 1
USAGE_ERROR = 2
INTERNAL_ERROR = 70  # sysexits.h EX_SOFTWARE
INTERRUPTED = 130
OUTPUT_CLOSED = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader went away

# Choices shown in --help without importing the modules that define them (they import Keras).
# tests/cli/test_cli_common.py checks that they equal keras_sportsnet.models.FUSIONS etc.
FUSIONS = ("single_frame", "early", "late", "slow")
RESOLUTIONS = ("full", "multires", "fovea", "context")
REGIMES = ("top", "top3", "all", "scratch")
SHORT_VIDEO_POLICIES = ("loop", "repeat_last", "pad", "skip")
TRANSFER_DROPOUT = 0.5  # keras_sportsnet.training.DEFAULT_TRANSFER_DROPOUT
# The crop a model reads by default: keras_sportsnet.models.backbone.FULL_FRAME_SIZE / MULTIRES_FRAME_SIZE.
FRAME_SIZES = {"full": 170, "multires": 178, "fovea": 178, "context": 178}

# Native (C++) log lines TensorFlow, XLA and absl print while they load, whatever TF_CPP_MIN_LOG_LEVEL says.
_NATIVE_NOISE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "To enable the following instructions:",
)


class UsageError(ValueError):
    """A usage mistake found by a subcommand (not by argparse): printed as one line, exit code 2.

    Example:
    ```python
    raise UsageError("`--run-dir` must be a folder, but runs/a is a file.")
    ```
    """


# --- argument types: argparse turns their ArgumentTypeError into "argument --x: ..." and exit code 2 ---


def _argument_type(convert, what, accept):
    """An argparse type: ``convert(text)``, refused (naming ``what`` and the text) unless ``accept(value)``."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}; received {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {what}; received {text}")
        return value

    parse.__name__ = what
    return parse


def int_at_least(minimum, maximum=None):
    """An argparse type: an int >= ``minimum`` (and <= ``maximum`` when given).

    Args:
        minimum: int. The smallest value accepted.
        maximum: int or None. The largest value accepted.

    Example:
    ```python
    parser.add_argument("--workers", type=int_at_least(1))
    ```
    """
    what = f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
    return _argument_type(int, what, lambda value: value >= minimum and (maximum is None or value <= maximum))


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)
_positive_float = _argument_type(float, "a finite number > 0", lambda value: 0 < value < math.inf)


def add_max_pixels_argument(parser):
    """Declares ``--max-pixels`` (the decoder's per-frame pixel budget), the one definition the subcommands share.

    Args:
        parser: the subcommand's `argparse.ArgumentParser`.

    Example:
    ```python
    add_max_pixels_argument(parser)   # args.max_pixels: int or None (the decoder's default)
    ```
    """
    parser.add_argument("--max-pixels", type=positive_int,
                        help="largest frame, in pixels, a video may have (default 16777216 = 4096 x 4096): a larger "
                             "one is refused, and the message gives the value that reads it")


def positive_float(text):
    """An argparse type: a finite float > 0.

    Args:
        text: str. The argument as typed.

    Example:
    ```python
    parser.add_argument("--learning-rate", type=positive_float)
    ```
    """
    return _positive_float(text)


def fraction(low_open=False, high_open=True):
    """An argparse type: a float in [0, 1) (bounds open or closed as asked).

    Args:
        low_open: bool. Refuse 0.
        high_open: bool. Refuse 1.

    Example:
    ```python
    parser.add_argument("--dropout", type=fraction())
    ```
    """
    interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
    return _argument_type(float, f"a number in {interval}", lambda value: (0 < value if low_open else 0 <= value)
                          and (value < 1 if high_open else value <= 1))


def comma_list(text):
    """An argparse type: a non-empty comma-separated list of non-empty items.

    Args:
        text: str. The argument as typed.

    Example:
    ```python
    parser.add_argument("--metrics", type=comma_list)
    ```
    """
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"must be comma-separated names without empty items; received {text!r}")
    return items


# --- help ---


@dataclasses.dataclass(frozen=True)
class Subcommand:
    """One ``keras-sportsnet`` subcommand: what its ``--help`` says, its arguments, its checks and its handler.

    Attributes:
        name: str. The subcommand.
        help: str. Its line in ``keras-sportsnet --help``.
        description: str. What it does (a paragraph of its ``--help``).
        examples: tuple of str. Complete command lines, shown at the end of
            its ``--help``; the test suite runs each one.
        arguments: callable ``(parser, parents)`` that adds its arguments
            (``parents``: the shared parsers, for nested subcommands).
        handler: callable ``(args) -> exit code``: the work (imports what it needs).
        check: callable ``(args)`` or None: usage checks made before anything
            heavy is imported (raise `UsageError`).
        needs: tuple of ``"keras"``/``"tensorflow"``: imported, quietly, before the handler.

    Example:
    ```python
    SCAN = Subcommand("scan", help="probe videos", description="...", examples=("keras-sportsnet scan v/",),
                      arguments=scan_arguments, handler=scan, check=check_scan, needs=("keras",))
    ```
    """

    name: str
    help: str
    description: str
    examples: tuple
    arguments: object
    handler: object
    check: object = None
    needs: tuple = ()

    def add_to(self, commands, parents=()):
        """Adds this subcommand (its ``--help`` ending with ``Examples:``) to an ``add_subparsers()`` object.

        Args:
            commands: the ``add_subparsers()`` object of the ``keras-sportsnet`` parser.
            parents: parsers whose arguments every subcommand takes (the shared ``--verbose``).

        Returns:
            The subcommand's `argparse.ArgumentParser`.

        Example:
        ```python
        SCAN.add_to(parser.add_subparsers(), parents=[shared])
        ```
        """
        epilog = "Examples:\n" + "\n".join(f"  {line}" for line in self.examples)
        parser = commands.add_parser(self.name, help=self.help, description=self.description, epilog=epilog,
                                     parents=list(parents), formatter_class=argparse.RawDescriptionHelpFormatter)
        self.arguments(parser, list(parents))
        parser.set_defaults(handler=self.handler, check=self.check, needs=tuple(self.needs))
        return parser


# --- checks made before any work ---


def is_uri(path):
    """True for ``gs://...``-style locations (tf.io.gfile), which are not checked locally.

    Args:
        path: str or path-like.

    Example:
    >>> is_uri("gs://bucket/shards"), is_uri("shards/")
    (True, False)
    """
    return "://" in str(path)


def check_inputs_exist(paths, argument):
    """Raises `UsageError` for the first of ``paths`` that does not exist (before any work).

    Args:
        paths: iterable of str (``gs://`` locations are not checked).
        argument: str. The argument that gave them, for the message.

    Example:
    ```python
    check_inputs_exist(args.paths, "paths")
    ```
    """
    for path in paths:
        if not is_uri(path) and not os.path.exists(path):
            raise UsageError(f"`{argument}`: {path} does not exist.")


def check_crop_fits(image_size, resize_to, *, resolution="full"):
    """Refuses, before any work, an ``--image-size`` crop that cannot be cut from ``--resize-to`` frames.

    The message is the data pipeline's (`keras_sportsnet.utils.checks.check_resize`), naming the flags.

    Args:
        image_size: int or None. ``--image-size`` (None: the default crop of ``resolution``).
        resize_to: int or None. ``--resize-to`` (None: nothing to check; the default always fits).
        resolution: str. ``--resolution``, for the default crop.

    Example:
    ```python
    check_crop_fits(args.image_size, args.resize_to, resolution=args.resolution)
    ```
    """
    if resize_to is None:
        return
    from keras_sportsnet.utils.checks import check_resize

    size = image_size or FRAME_SIZES.get(resolution, FRAME_SIZES["full"])
    try:
        check_resize((size, size), resize_to, image_argument="--image-size", resize_argument="--resize-to")
    except ValueError as error:
        raise UsageError(str(error)) from None


def check_weights(weights, argument="--weights"):
    """Refuses, before any work, a ``--weights`` that names nothing: a missing folder or an unknown preset name.

    Registered names, ``hf://`` handles and existing paths pass (they are
    resolved once, later); anything else gets the resolver's own message
    (``does not exist``, or ``Did you mean ...?``) naming ``argument``.

    Args:
        weights: str or None. What the user gave.
        argument: str. The flag, for the message.

    Example:
    ```python
    check_weights(args.weights)
    ```
    """
    if weights is None or str(weights).startswith("hf://") or os.path.exists(os.path.expanduser(str(weights))):
        return
    from keras_sportsnet.presets.registry import PRESETS

    if weights in PRESETS:
        return
    from keras_sportsnet.presets.resolve import resolve_preset

    try:
        resolve_preset(weights, argument=argument)  # names nothing: raises, without touching any file
    except ValueError as error:
        raise UsageError(str(error)) from None


def check_output_file(path, argument, *, folder=False):
    """Checks before any work that the output ``path`` (if given) can be written; else `UsageError`.

    Args:
        path: str or None. A file (or, with ``folder=True``, a folder: created if missing).
        argument: str. The flag or argument that gave it, for the message.
        folder: bool.

    Example:
    ```python
    check_output_file(args.json, "--json")
    ```
    """
    if path is None or is_uri(path):
        return
    from keras_sportsnet.utils.files import check_writable

    try:
        check_writable(path, argument, folder=folder)
    except ValueError as error:
        raise UsageError(str(error)) from None


def check_output_folder(path, argument):
    """`check_output_file` for a folder to write into (created if missing).

    Args:
        path: str or None.
        argument: str. The flag or argument that gave it.

    Example:
    ```python
    check_output_folder(args.run_dir, "--run-dir")
    ```
    """
    check_output_file(path, argument, folder=True)


# --- a quiet start ---


def one_line_warning(message, category, filename, lineno, line=None):
    """`warnings.formatwarning` replacement: ``"UserWarning: message"``, no file name or source line.

    Args:
        message, category, filename, lineno, line: as for `warnings.formatwarning`.

    Example:
    >>> one_line_warning("Leaving 1 video out", UserWarning, "runner.py", 7)
    'UserWarning: Leaving 1 video out\\n'
    """
    return f"{category.__name__}: {message}\n"


@contextlib.contextmanager
def quiet_startup(verbose):
    """Inside: quiet logging before anything heavy loads (everything shown with ``verbose``).

    Quiet: TensorFlow's C++ log (``TF_CPP_MIN_LOG_LEVEL=3``: no ``failed call to
    cuInit``), gRPC's, and the TensorFlow and JAX Python loggers at ERROR (absl's
    once it is loaded, see `import_backend`);
    Python warnings on one line without their source line. Environment
    variables the user set are left alone; the warning format and logger
    levels are restored on exit.

    Args:
        verbose: bool. Change nothing.

    Example:
    ```python
    with quiet_startup(verbose=False):
        run_the_subcommand()
    ```
    """
    if verbose:
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    # Not "absl": absl.logging makes that logger itself (of its own class) when it is imported.
    loggers = {name: logging.getLogger(name) for name in ("tensorflow", "jax", "h5py")}
    levels = {name: logger.level for name, logger in loggers.items()}
    formatwarning = warnings.formatwarning
    warnings.formatwarning = one_line_warning
    for logger in loggers.values():
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        warnings.formatwarning = formatwarning
        for name, logger in loggers.items():
            logger.setLevel(levels[name])


class _NativeNoiseFilter:
    """Descriptor 2 becomes a pipe; a thread forwards what arrives, live, except the native start-up lines.

    absl's C++ logging writes its start-up lines (``oneDNN custom operations are
    on``, ``Could not find cuda drivers``) before any log level is read, in this
    process and in every worker process it starts (they inherit descriptor 2),
    so only filtering the descriptor keeps them off the terminal. Everything
    else (Python's stderr, progress lines, tracebacks, native errors) passes
    through as it comes.
    """

    def __init__(self):
        sys.stderr.flush()
        self.saved = os.dup(2)
        self.out = os.dup(2)
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
        self.read = read
        self.mid_line = False  # the last bytes forwarded did not end a line
        self.thread = threading.Thread(target=self._pump, name="keras-sportsnet-stderr", daemon=True)
        self.thread.start()

    def _pump(self):
        pending = b""
        try:
            while True:
                chunk = os.read(self.read, 1 << 16)
                if not chunk:
                    break
                pending = self._forward(pending + chunk)
            self._forward(pending, final=True)
        except OSError:  # the terminal went away: keep draining so that writers never block
            while os.read(self.read, 1 << 16):
                pass
        finally:
            os.close(self.read)
            os.close(self.out)

    def _write(self, data):
        while data:
            data = data[os.write(self.out, data):]

    def _forward(self, data, final=False):
        """Writes the complete lines of ``data`` that are not noise; returns what waits for more bytes."""
        *lines, tail = data.split(b"\n")
        for line in lines:
            if self.mid_line or not _is_native_noise(line.decode("utf-8", "replace")):
                self._write(line + b"\n")
            self.mid_line = False
        if tail and (final or self.mid_line or not _could_be_native_noise(tail.decode("utf-8", "replace"))):
            self._write(tail)  # a progress line ending in "\r", or the start of an ordinary line
            self.mid_line = True
            return b""
        return tail

    def close(self):
        try:
            sys.stderr.flush()
        finally:
            os.dup2(self.saved, 2)  # the pipe's last writer in this process closes
            os.close(self.saved)
            self.thread.join(timeout=5)  # worker processes that still hold the pipe keep their own copy


@contextlib.contextmanager
def native_noise_filtered(verbose):
    """Inside (unless ``verbose``): TensorFlow's and absl's native start-up lines are dropped from stderr.

    Args:
        verbose: bool. Filter nothing.

    Example:
    ```python
    with native_noise_filtered(verbose=False):
        import keras
    ```
    """
    try:
        noise_filter = None if verbose else _NativeNoiseFilter()
    except (OSError, ValueError, AttributeError):  # no real descriptor 2 (embedded interpreters)
        noise_filter = None
    try:
        yield
    finally:
        if noise_filter is not None:
            noise_filter.close()


def _is_native_noise(line):
    if line.startswith(_NATIVE_NOISE):
        return True
    # absl/glog format: severity letter (I, W), MMDD, time, thread, file:line] message
    head = line[:5]
    return len(head) == 5 and head[0] in "IW" and head[1:].isdigit()


def _could_be_native_noise(start):
    """Whether a line beginning with ``start`` may turn out to be noise (then wait for the rest)."""
    if any(pattern.startswith(start) or start.startswith(pattern) for pattern in _NATIVE_NOISE):
        return True
    head = start[:5]
    return bool(head) and head[0] in "IW" and head[1:].isdigit()


def import_backend(verbose, *, tensorflow=False):
    """Imports Keras (and so its backend); quiets absl's Python logger unless ``verbose``.

    Run it inside `native_noise_filtered`: the native start-up lines come now.

    Args:
        verbose: bool. Leave absl's logger as it is.
        tensorflow: bool. Also import TensorFlow when it is installed (the
            subcommand builds tf.data pipelines even on another Keras backend).

    Example:
    ```python
    import_backend(verbose=False, tensorflow=True)
    ```
    """
    import importlib.util

    import keras  # noqa: F401

    if tensorflow and importlib.util.find_spec("tensorflow") is not None:
        import tensorflow  # noqa: F401
    if not verbose and "absl.logging" in sys.modules:
        sys.modules["absl.logging"].set_verbosity("error")
