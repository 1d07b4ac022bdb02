"""``keras-sportsnet plot``: the figures of `keras_sportsnet.visualization`, from presets, runs and saved scores."""

import argparse
import sys

from keras_sportsnet.cli.common import SUCCESS
from keras_sportsnet.cli.common import UsageError
from keras_sportsnet.cli.common import Subcommand
from keras_sportsnet.cli.common import check_inputs_exist
from keras_sportsnet.cli.common import check_output_file
from keras_sportsnet.cli.common import check_weights
from keras_sportsnet.cli.common import comma_list
from keras_sportsnet.cli.common import non_negative_int
from keras_sportsnet.cli.common import positive_int

__all__ = ["SUBCOMMANDS"]

FIGURE_TYPES = (".png", ".svg", ".pdf")

EXAMPLES = (
    "keras-sportsnet plot filters filters.png --weights slow_fusion_synthetic --gif filters.gif",
    "keras-sportsnet plot curves runs/slow curves.png --metrics loss,hit_at_1",
    "keras-sportsnet plot predictions slow.npz strip.png --videos 0,2",
    "keras-sportsnet plot confusion slow.npz confusion.png --highlight 3",
    "keras-sportsnet plot views slow.npz views.png",
    'keras-sportsnet plot ap-difference slow.npz single.npz table2.png --names "Slow Fusion,Single-Frame"',
)


def _indices(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"must be comma-separated video indices such as 0,5,9; received {text!r}")
    return values


def _two_names(text):
    names = comma_list(text)
    if len(names) != 2:
        raise argparse.ArgumentTypeError(f"must be two comma-separated names such as 'Slow,Single'; received {text!r}")
    return names


def _check_plot(args):
    inputs = [getattr(args, name) for name in ("run", "scores", "scores_a", "scores_b") if getattr(args, name, None)]
    check_inputs_exist(inputs, "input")
    if not args.output.lower().endswith(FIGURE_TYPES):
        raise UsageError(f"`output` must be a .png, .svg or .pdf file (the extension says which). "
                         f"Received: {args.output}")
    if getattr(args, "gif", None) and not args.gif.lower().endswith(".gif"):
        raise UsageError(f"`--gif` must be a .gif file. Received: --gif {args.gif}")
    check_weights(getattr(args, "weights", None))
    check_output_file(args.output, "output")
    check_output_file(getattr(args, "gif", None), "--gif")


def _plot(args):
    from keras_sportsnet import visualization as viz
    from keras_sportsnet.evaluation.scores import VideoScores

    if args.kind == "filters":
        from keras_sportsnet.workflows import load_model

        model = load_model(args.weights).model
        viz.plot_first_layer_filters(model, max_filters=args.max_filters, normalize=args.normalize, path=args.output)
        if args.gif:
            viz.animate_first_layer_filters(model, args.gif, max_filters=args.max_filters, normalize=args.normalize)
            print(args.gif)
    elif args.kind == "curves":
        viz.plot_training_curves(args.run, metrics=args.metrics, path=args.output)
    elif args.kind == "predictions":
        scores = VideoScores.load(args.scores)
        if args.videos and max(args.videos) >= scores.num_videos:
            raise UsageError(f"`--videos`: {args.scores} holds {scores.num_videos} videos (indices 0.."
                             f"{scores.num_videos - 1}). Received: --videos {','.join(map(str, args.videos))}")
        viz.plot_video_predictions(scores, top=args.top, videos=args.videos, max_videos=args.max_videos,
                                   path=args.output)
    elif args.kind == "confusion":
        viz.plot_confusion_matrix(VideoScores.load(args.scores), highlight=args.highlight, normalize=not args.counts,
                                  path=args.output)
    elif args.kind == "views":
        viz.plot_accuracy_vs_views(VideoScores.load(args.scores), metric=args.metric, path=args.output)
    elif args.kind == "ap-difference":
        viz.plot_per_class_ap_difference(VideoScores.load(args.scores_a), VideoScores.load(args.scores_b),
                                         names=args.names, top=args.top, path=args.output)
    print(args.output, file=sys.stdout)
    return SUCCESS


def _on_scores(kinds, name, help, parents):
    """A plot kind that reads one `keras-sportsnet evaluate --scores` file and writes one figure."""
    parser = kinds.add_parser(name, help=help, description=help, parents=parents)
    parser.add_argument("scores", help="a --scores file of `keras-sportsnet evaluate` (.npz)")
    parser.add_argument("output", help="figure file (.png, .svg or .pdf)")
    return parser


def _plot_arguments(parser, parents):
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)

    filters = kinds.add_parser("filters", help="a preset's first-layer filters (the paper's Figure 3)",
                               description="A preset's first-layer filters (the paper's Figure 3).", parents=parents)
    filters.add_argument("output", help="figure file (.png, .svg or .pdf)")
    filters.add_argument("--weights", required=True, help="preset name, hf://org/repo[@rev] or preset folder")
    filters.add_argument("--gif", help="also write the filters over time as an animated GIF")
    filters.add_argument("--max-filters", type=positive_int, help="the first N filters of each stream")
    filters.add_argument("--normalize", default="filter", choices=("filter", "layer"))

    curves = kinds.add_parser("curves", help="training curves of a run folder (history.csv)",
                              description="Training curves of a run folder (its history.csv).", parents=parents)
    curves.add_argument("run", help="a --run-dir of `keras-sportsnet train` or a history.csv")
    curves.add_argument("output", help="figure file")
    curves.add_argument("--metrics", type=comma_list, help="comma-separated, e.g. loss,hit_at_1 (default: all logged)")

    predictions = _on_scores(kinds, "predictions", "prediction strip of evaluated videos (the paper's Figure 4)", parents)
    predictions.add_argument("--videos", type=_indices, help="comma-separated video indices (default: the first --max-videos)")
    predictions.add_argument("--max-videos", type=positive_int, default=8)
    predictions.add_argument("--top", type=positive_int, default=5)

    confusion = _on_scores(kinds, "confusion", "confusion matrix with the most confused pairs", parents)
    confusion.add_argument("--highlight", type=non_negative_int, default=5, help="most confused pairs to box and list")
    confusion.add_argument("--counts", action="store_true", help="show counts instead of row fractions")

    views = _on_scores(kinds, "views", "a metric vs clips per video, one line per views", parents)
    views.add_argument("--metric", default="video_hit@1")

    difference = kinds.add_parser("ap-difference", help="per-class AP of two models (the paper's Table 2)",
                                  description="Per-class AP of two models on the same videos (the paper's Table 2).",
                                  parents=parents)
    difference.add_argument("scores_a", help="scores of model A (.npz)")
    difference.add_argument("scores_b", help="scores of model B, same videos (.npz)")
    difference.add_argument("output", help="figure file")
    difference.add_argument("--names", type=_two_names, default=["A", "B"], help="the two models' names, comma-separated")
    difference.add_argument("--top", type=positive_int, default=10, help="classes per side")


SUBCOMMANDS = (
    Subcommand(
        "plot",
        help="draw a figure: first-layer filters, training curves, predictions, confusion, views, Table 2",
        description="Figures of keras_sportsnet.visualization, saved as PNG, SVG or PDF (by the extension). "
                    "`keras-sportsnet plot KIND --help` describes each kind.",
        examples=EXAMPLES,
        arguments=_plot_arguments, handler=_plot, check=_check_plot, needs=("keras",)),
)
