"""The ``keras-sportsnet`` command line.

Subcommands:
    architectures   build every paper architecture and print a table of
                    parameters, input clip, analytic GFLOPs per clip, output.

Example:
    keras-sportsnet architectures
    keras-sportsnet architectures --spec "C(16,5,2)-N-P-C(32,3,1)-P-FC(64)" --classes 101 --json out.json
"""

import argparse
import json
import os
import sys


def _architectures(args):
    from keras_sportsnet.analysis import ARCHITECTURES
    from keras_sportsnet.analysis import architecture_table
    from keras_sportsnet.analysis import format_table

    names = None
    if args.only:
        names = [n.strip() for n in args.only.split(",")]
        unknown = [n for n in names if n not in ARCHITECTURES]
        if unknown:
            raise SystemExit(
                f"keras-sportsnet: --only has unknown architecture(s) {unknown}; "
                f"choose from {list(ARCHITECTURES)}"
            )
    overrides = {"classes": args.classes}
    if args.spec:
        overrides["spec"] = args.spec
    print(f"Building the paper's architectures (spec: {args.spec or 'the paper'}) ...", file=sys.stderr)
    rows = architecture_table(names, include_cnn_average=names is None, **overrides)
    print(format_table(rows))
    if args.json:
        _write_json_atomically(args.json, rows)
    return 0


def _write_json_atomically(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-sportsnet",
        description="Video CNNs of Karpathy et al. (CVPR 2014) for Keras 3.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    table = commands.add_parser(
        "architectures",
        help="build every paper architecture and print params, input clip, GFLOPs, output",
    )
    table.add_argument("--spec", help="layer shorthand to use instead of the paper's")
    table.add_argument("--classes", type=int, default=487, help="number of classes (default 487)")
    table.add_argument("--only", help="comma-separated Table 1 names to build")
    table.add_argument("--json", help="also write the table as JSON to this path")
    table.set_defaults(handler=_architectures)
    return parser


def main(argv=None):
    """Entry point of the ``keras-sportsnet`` command."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except ValueError as error:
        print(f"keras-sportsnet {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
