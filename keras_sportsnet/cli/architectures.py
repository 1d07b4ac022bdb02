"""``keras-sportsnet architectures``: every paper architecture in a table."""

import sys

from keras_sportsnet.utils.files import write_json


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
        write_json(args.json, rows, indent=2)
    return 0


def register(commands):
    table = commands.add_parser(
        "architectures",
        help="build every paper architecture and print params, input clip, GFLOPs, output",
    )
    table.add_argument("--spec", help="layer shorthand to use instead of the paper's")
    table.add_argument("--classes", type=int, default=487, help="number of classes (default 487)")
    table.add_argument("--only", help="comma-separated Table 1 names to build")
    table.add_argument("--json", help="also write the table as JSON to this path")
    table.set_defaults(handler=_architectures)
