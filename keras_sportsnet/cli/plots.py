"""``keras-sportsnet plot``: the figures of `keras_sportsnet.visualization`, from presets, runs and saved scores.

Example:
    keras-sportsnet plot filters --weights slow_fusion_synthetic filters.png --gif filters.gif
    keras-sportsnet plot curves runs/slow curves.png --metrics loss,hit_at_1
    keras-sportsnet evaluate test_videos/ --weights slow_fusion_synthetic --scores slow.npz
    keras-sportsnet plot predictions slow.npz strip.png --videos 0,5,9
    keras-sportsnet plot confusion slow.npz confusion.png --highlight 5
    keras-sportsnet plot views slow.npz views.png
    keras-sportsnet plot ap-difference slow.npz single.npz table2.png --names "Slow Fusion,Single-Frame"
"""

import argparse
import sys

EXAMPLES = __doc__.split("Example:\n", 1)[1]


def _scores(path):
    from keras_sportsnet.evaluation.scores import VideoScores

    return VideoScores.load(path)


def _names(text, count, flag):
    names = [name.strip() for name in text.split(",")]
    if len(names) != count or not all(names):
        raise ValueError(f"`{flag}` must be {count} comma-separated names. Received: {flag} {text!r}")
    return names


def _indices(text):
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"`--videos` must be comma-separated video indices. Received: --videos {text!r}") from None


def _plot(args):
    from keras_sportsnet import visualization as viz

    if args.kind == "filters":
        from keras_sportsnet.models.applications import from_preset

        model = from_preset(args.weights)
        viz.plot_first_layer_filters(model, max_filters=args.max_filters, normalize=args.normalize, path=args.output)
        if args.gif:
            viz.animate_first_layer_filters(model, args.gif, max_filters=args.max_filters, normalize=args.normalize)
            print(args.gif)
    elif args.kind == "curves":
        metrics = args.metrics.split(",") if args.metrics else None
        viz.plot_training_curves(args.run, metrics=metrics, path=args.output)
    elif args.kind == "predictions":
        scores = _scores(args.scores)
        videos = _indices(args.videos) if args.videos else None
        viz.plot_video_predictions(scores, top=args.top, videos=videos, max_videos=args.max_videos, path=args.output)
    elif args.kind == "confusion":
        viz.plot_confusion_matrix(_scores(args.scores), highlight=args.highlight, normalize=not args.counts,
                                  path=args.output)
    elif args.kind == "views":
        viz.plot_accuracy_vs_views(_scores(args.scores), metric=args.metric, path=args.output)
    elif args.kind == "ap-difference":
        viz.plot_per_class_ap_difference(_scores(args.scores_a), _scores(args.scores_b),
                                         names=_names(args.names, 2, "--names"), top=args.top, path=args.output)
    print(args.output, file=sys.stdout)
    return 0


def _on_scores(kinds, name, help):
    """A plot kind that reads one `keras-sportsnet evaluate --scores` file and writes one figure."""
    parser = kinds.add_parser(name, help=help)
    parser.add_argument("scores", help="a --scores file of `keras-sportsnet evaluate` (.npz)")
    parser.add_argument("output", help="figure file (.png, .svg or .pdf)")
    return parser


def register(commands):
    plot = commands.add_parser(
        "plot", help="draw a figure: first-layer filters, training curves, predictions, confusion, views, Table 2",
        description="Figures of keras_sportsnet.visualization, saved as PNG, SVG or PDF (by the extension).",
        epilog="examples:\n" + EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = plot.add_subparsers(dest="kind", metavar="KIND", required=True)

    filters = kinds.add_parser("filters", help="a preset's first-layer filters (the paper's Figure 3)")
    filters.add_argument("output", help="figure file (.png, .svg or .pdf)")
    filters.add_argument("--weights", required=True, help="preset name, hf://org/repo[@rev] or preset folder")
    filters.add_argument("--gif", help="also write the filters over time as an animated GIF")
    filters.add_argument("--max-filters", type=int, help="the first N filters of each stream")
    filters.add_argument("--normalize", default="filter", choices=("filter", "layer"))

    curves = kinds.add_parser("curves", help="training curves of a run folder (history.csv)")
    curves.add_argument("run", help="a --run-dir of `keras-sportsnet train` or a history.csv")
    curves.add_argument("output", help="figure file")
    curves.add_argument("--metrics", help="comma-separated, e.g. loss,hit_at_1 (default: every logged metric)")

    predictions = _on_scores(kinds, "predictions", "prediction strip of evaluated videos (the paper's Figure 4)")
    predictions.add_argument("--videos", help="comma-separated video indices (default: the first --max-videos)")
    predictions.add_argument("--max-videos", type=int, default=8)
    predictions.add_argument("--top", type=int, default=5)

    confusion = _on_scores(kinds, "confusion", "confusion matrix with the most confused pairs")
    confusion.add_argument("--highlight", type=int, default=5, help="most confused pairs to box and list")
    confusion.add_argument("--counts", action="store_true", help="show counts instead of row fractions")

    views = _on_scores(kinds, "views", "a metric vs clips per video, one line per views")
    views.add_argument("--metric", default="video_hit@1")

    difference = kinds.add_parser("ap-difference", help="per-class AP of two models (the paper's Table 2)")
    difference.add_argument("scores_a", help="scores of model A (.npz)")
    difference.add_argument("scores_b", help="scores of model B, same videos (.npz)")
    difference.add_argument("output", help="figure file")
    difference.add_argument("--names", default="A,B", help="the two models' names, comma-separated")
    difference.add_argument("--top", type=int, default=10, help="classes per side")
    plot.set_defaults(handler=_plot)
