"""``keras-sportsnet architectures``: every paper architecture in a table."""

import sys

from keras_sportsnet.cli.common import SUCCESS
from keras_sportsnet.cli.common import UsageError
from keras_sportsnet.cli.common import Subcommand
from keras_sportsnet.cli.common import check_output_file
from keras_sportsnet.cli.common import comma_list
from keras_sportsnet.cli.common import positive_int

__all__ = ["SUBCOMMANDS"]

EXAMPLES = (
    "keras-sportsnet architectures",
    'keras-sportsnet architectures --spec "C(16,5,2)-N-P-C(32,3,1)-P-FC(64)" --classes 101 --json table.json',
    'keras-sportsnet architectures --only "Single-Frame,Slow Fusion"',
)


def _architectures(args):
    from keras_sportsnet.analysis import ARCHITECTURES
    from keras_sportsnet.analysis import architecture_table
    from keras_sportsnet.analysis import format_table
    from keras_sportsnet.utils.checks import did_you_mean
    from keras_sportsnet.utils.files import write_json

    if args.only:
        for name in args.only:
            if name not in ARCHITECTURES:
                raise UsageError(f"`--only`: unknown architecture {name!r}; choose from {list(ARCHITECTURES)}."
                                 + did_you_mean(name, ARCHITECTURES))
    overrides = {"classes": args.classes}
    if args.spec:
        from keras_sportsnet.spec import parse_spec

        parse_spec(args.spec)  # a typo is answered before anything is built
        overrides["spec"] = args.spec
    print(f"Building the paper's architectures (spec: {args.spec or 'the paper'}) ...", file=sys.stderr)
    rows = architecture_table(args.only, include_cnn_average=args.only is None, **overrides)
    print(format_table(rows))
    if args.json:
        write_json(args.json, rows, indent=2)
    return SUCCESS


def _arguments(parser, parents):
    parser.add_argument("--spec", help="layer shorthand to use instead of the paper's")
    parser.add_argument("--classes", type=positive_int, default=487, help="number of classes (default 487)")
    parser.add_argument("--only", type=comma_list, help="comma-separated Table 1 names to build")
    parser.add_argument("--json", help="also write the table as JSON to this path")


SUBCOMMANDS = (
    Subcommand(
        "architectures",
        help="build every paper architecture and print params, input clip, GFLOPs, output",
        description="Builds each Table 1 architecture of the paper (or your layer shorthand) and prints its "
                    "parameters, input clip, analytic GFLOPs per clip and output.",
        examples=EXAMPLES, arguments=_arguments, handler=_architectures,
        check=lambda args: check_output_file(args.json, "--json"), needs=("keras",)),
)
