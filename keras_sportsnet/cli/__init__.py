"""The ``keras-sportsnet`` command line: argument parsing and printing over `keras_sportsnet.workflows`.

``keras-sportsnet --help`` lists the subcommands; ``keras-sportsnet COMMAND
--help`` shows one, with examples. Nothing heavy is imported until a
subcommand runs, so help and argument errors answer at once.

Example:
```python
from keras_sportsnet.cli import main
main(["presets"])   # the exit code: 0
```
"""

import argparse
import errno
import os
import sys
import traceback

from keras_sportsnet.cli import architectures
from keras_sportsnet.cli import common
from keras_sportsnet.cli import data
from keras_sportsnet.cli import models
from keras_sportsnet.cli import plots
from keras_sportsnet.cli import workflow
from keras_sportsnet.version import __version__

__all__ = ["build_parser", "main"]

SUBCOMMAND_MODULES = (architectures, data, models, workflow, plots)

DESCRIPTION = "Video CNNs of Karpathy et al. (CVPR 2014) for Keras 3: train, evaluate and use them from the shell."
EPILOG = """\
Exit codes:
  0    success
  1    finished, but some inputs were bad (listed on stderr, counted at the end), or the work stopped
       part-way (training diverged, a full disk, a damaged shard: what was finished is kept)
  2    usage or input error (one line naming the argument or file; nothing was done)
  70   internal error (a bug: the traceback is printed; please report it)
  130  interrupted (Ctrl-C)
  141  the output was closed by its reader (e.g. piped into `head`)

Examples:
  keras-sportsnet predict --demo
  keras-sportsnet predict --help
"""

# Failures a user can fix: one line (the error's message), exit code 2. Anything else is a bug.
_EXPECTED = (ValueError, OSError, ImportError, FloatingPointError, MemoryError)
_EXPECTED_BY_NAME = ("ResourceExhaustedError", "InvalidArgumentError", "NotFoundError", "PermissionDeniedError",
                     "HfHubHTTPError", "HTTPError")
# Failures that come while the work is under way (it was started, and what was finished is kept): exit code 1.
_FULL_DISK = (errno.ENOSPC, errno.EDQUOT)


def build_parser():
    """The ``keras-sportsnet`` argument parser (every subcommand registered; nothing heavy imported).

    Example:
    ```python
    build_parser().parse_args(["scan", "videos/"])
    ```
    """
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show TensorFlow's and absl's start-up logs, full warnings and tracebacks")
    parser = argparse.ArgumentParser(prog="keras-sportsnet", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", default=False,
                        help="show TensorFlow's and absl's start-up logs, full warnings and tracebacks")
    parser.add_argument("--version", action="version", version=f"keras-sportsnet {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMAND_MODULES:
        for subcommand in module.SUBCOMMANDS:
            subcommand.add_to(commands, parents=[shared])
    return parser


def _is_expected(error):
    return isinstance(error, _EXPECTED) or any(cls.__name__ in _EXPECTED_BY_NAME for cls in type(error).__mro__)


def _exit_code(error):
    """1 for a failure met during the work (a full disk: the finished epochs or files are kept), else 2."""
    if isinstance(error, common.UsageError):
        return common.USAGE_ERROR
    if isinstance(error, OSError) and error.errno in _FULL_DISK:
        return common.SOME_INPUTS_BAD
    if type(error).__name__ == "ShardError" or _graph_sentence(error):  # the data failed while the work ran
        return common.SOME_INPUTS_BAD
    return common.USAGE_ERROR


def _graph_sentence(error):
    """Our own sentence inside a TensorFlow error's framing, or None (`keras_sportsnet.data.errors.graph_sentence`)."""
    if not any(cls.__name__ == "OpError" for cls in type(error).__mro__):
        return None  # (checked here first: the data package is not imported for other errors)
    from keras_sportsnet.data.errors import graph_sentence

    return graph_sentence(error)


def _message(error):
    if isinstance(error, MemoryError):
        return f"out of memory ({error or 'MemoryError'}); use smaller inputs (--batch-size, --clips) or more memory"
    sentence = _graph_sentence(error)
    if sentence:
        return sentence
    text = str(error).strip() or type(error).__name__
    if isinstance(error, OSError) and error.filename and str(error.filename) not in text:
        text = f"{error.filename}: {text}"
    return text


def _silence_stdout():
    """Points stdout at /dev/null, so that the interpreter's last flush does not fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv=None):
    """Entry point of the ``keras-sportsnet`` command; returns the exit code.

    Args:
        argv: list of str, or None for ``sys.argv[1:]``.

    Example:
    ```python
    exit_code = main(["scan", "videos/", "--quiet"])
    ```
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version (0) or a usage error argparse has printed (2)
        return stop.code if isinstance(stop.code, int) else common.USAGE_ERROR
    except BrokenPipeError:  # `keras-sportsnet train --help | head`
        _silence_stdout()
        return common.OUTPUT_CLOSED
    if args.command is None:
        parser.print_help(sys.stderr)
        return common.USAGE_ERROR
    name = f"keras-sportsnet {args.command}"
    args.needs = getattr(args, "needs", ())
    with common.quiet_startup(args.verbose), common.native_noise_filtered(args.verbose or not args.needs):
        try:
            check = getattr(args, "check", None)
            if check is not None:  # usage mistakes, answered before anything heavy is imported
                check(args)
            if args.needs:
                common.import_backend(args.verbose, tensorflow="tensorflow" in args.needs)
            code = args.handler(args)
            sys.stdout.flush()  # a closed output pipe is found here, not at the interpreter's exit
            return code
        except KeyboardInterrupt:
            print(f"{name}: interrupted", file=sys.stderr)
            return common.INTERRUPTED
        except BrokenPipeError:  # the reader of the output went away (`keras-sportsnet presets | head -3`)
            _silence_stdout()
            return common.OUTPUT_CLOSED
        except Exception as error:  # noqa: BLE001: every failure ends in one line or a bug report
            if not _is_expected(error):
                traceback.print_exc()
                print(f"{name}: internal error ({type(error).__name__}): this is a bug in keras_sportsnet; please "
                      "report it with the traceback above.", file=sys.stderr)
                return common.INTERNAL_ERROR
            if args.verbose:
                traceback.print_exc()
            print(f"{name}: error: {_message(error)}", file=sys.stderr)
            return _exit_code(error)


if __name__ == "__main__":
    sys.exit(main())
