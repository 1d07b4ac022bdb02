"""``predict``, ``train``, ``evaluate``, ``transfer``: `keras_sportsnet.workflows` from the shell."""

import contextlib
import os
import shutil
import sys

from keras_sportsnet.cli.common import FUSIONS
from keras_sportsnet.cli.common import REGIMES
from keras_sportsnet.cli.common import RESOLUTIONS
from keras_sportsnet.cli.common import SOME_INPUTS_BAD
from keras_sportsnet.cli.common import TRANSFER_DROPOUT
from keras_sportsnet.cli.common import SUCCESS
from keras_sportsnet.cli.common import UsageError
from keras_sportsnet.cli.common import add_max_pixels_argument
from keras_sportsnet.cli.common import Subcommand
from keras_sportsnet.cli.common import check_crop_fits
from keras_sportsnet.cli.common import check_inputs_exist
from keras_sportsnet.cli.common import check_output_file
from keras_sportsnet.cli.common import check_output_folder
from keras_sportsnet.cli.common import check_weights
from keras_sportsnet.cli.common import fraction
from keras_sportsnet.cli.common import int_at_least
from keras_sportsnet.cli.common import is_uri
from keras_sportsnet.cli.common import positive_float
from keras_sportsnet.cli.common import positive_int

__all__ = ["SUBCOMMANDS"]

DEFAULT_PRESET = "slow_fusion_synthetic"  # keras_sportsnet.workflows.DEFAULT_PRESET (not imported: it is light, this is lighter)
DEMO_CLASS = "gym_roll_fast"
SMALL_SPEC = "C(16,5,2)-N-P-C(32,3,1)-P-FC(64)"

PREDICT_EXAMPLES = (
    "keras-sportsnet predict --demo",
    "keras-sportsnet predict my_video.mp4 --weights slow_fusion_synthetic --top 3 --json predictions.json",
    "keras-sportsnet predict my_videos/ --weights runs/slow/preset --clips 4 --plot predictions.png",
)
TRAIN_EXAMPLES = (
    # tests/training/test_training_convergence.py checks that this one converges on real and embedded videos.
    'keras-sportsnet train my_videos/ --fusion slow --spec "C(16,5,2)-N-P-FC(64)" --run-dir runs/slow --epochs 8',
    f'keras-sportsnet train --shards shards/ --classes 2 --fusion slow --spec "{SMALL_SPEC}" --image-size 64 '
    "--resize-to 72 --run-dir runs/slow_shards --epochs 3",
)
EVALUATE_EXAMPLES = (
    "keras-sportsnet evaluate test_videos/ --weights runs/slow/preset --scores runs/slow/test.npz --json metrics.json",
    "keras-sportsnet evaluate synthetic_test/ --weights slow_fusion_synthetic --clips 4 --views 2 --scores slow.npz",
    "keras-sportsnet evaluate synthetic_test/ --weights single_frame_synthetic --clips 4 --views 2 --scores single.npz",
)
TRANSFER_EXAMPLES = (
    "keras-sportsnet transfer new_task/ --weights runs/slow/preset --regime top3 --run-dir runs/new_top3 --epochs 5",
)


# --- predict ---


@contextlib.contextmanager
def _demo_video():
    """A sample synthetic-sports video rendered into a new private folder (removed afterwards), and its class."""
    from keras_sportsnet.datasets.synthetic_sports import synthetic_sports
    from keras_sportsnet.utils.files import private_temp_dir

    folder = private_temp_dir(prefix="keras_sportsnet_demo_")
    try:
        data = synthetic_sports(1, classes=[DEMO_CLASS], num_frames=40, size=64, seed=2026)
        yield data.write(folder).paths[0], DEMO_CLASS
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _check_predict(args):
    if not args.videos and not args.demo:
        raise UsageError("Give video files or folders to classify, or --demo to classify a sample video.")
    check_inputs_exist(args.videos, "videos")
    check_weights(args.weights)
    check_output_file(args.json, "--json")
    check_output_file(args.plot, "--plot")


def _predict(args):
    from keras_sportsnet import workflows

    with contextlib.ExitStack() as stack:
        videos = list(args.videos)
        if args.demo:
            path, true_class = stack.enter_context(_demo_video())
            print(f"sample video (a synthetic-sports clip of class {true_class!r}, in a private temporary folder "
                  f"removed when this command ends): {path}", file=sys.stderr)
            videos.append(path)
        outcome = workflows.predict(videos, model=args.weights, top_k=args.top, clips_per_video=args.clips,
                                    views=args.views, seed=args.seed, keep_scores=bool(args.plot),
                                    max_pixels=args.max_pixels,
                                    verbose=not args.quiet)
        for prediction in outcome.predictions:  # printed as Python prints a VideoPrediction
            print(prediction, file=sys.stdout if prediction.ok else sys.stderr)
        if args.json:
            from keras_sportsnet.utils.files import write_json

            write_json(args.json, [prediction.to_dict() for prediction in outcome.predictions], indent=2)
        if args.plot and outcome.classified:
            from keras_sportsnet.visualization import plot_video_predictions

            plot_video_predictions(outcome.scores, top=args.top, max_videos=len(outcome.classified), path=args.plot)
            print(f"prediction strip: {args.plot}", file=sys.stderr)
    if outcome.failures:  # each was printed with its reason above; the count closes the output
        print(f"{len(outcome.failures)} of {len(outcome.predictions)} videos could not be classified.",
              file=sys.stderr)
        return SOME_INPUTS_BAD
    return SUCCESS


# --- train and transfer ---


def _recipe(args):
    import dataclasses

    from keras_sportsnet.training import PAPER_RECIPE

    changes = {key: value for key, value in (("batch_size", args.batch_size), ("learning_rate", args.learning_rate),
                                             ("mixed_precision", args.mixed_precision)) if value is not None}
    return dataclasses.replace(PAPER_RECIPE, **changes)


def _distribution(args):
    """The `DistributedContext` of ``--distribute`` (which reads KERAS_DISTRIBUTION_* / SLURM), or None."""
    if not args.distribute or args.distribute == "none":
        return None
    from keras_sportsnet import distributed

    return distributed.setup(args.distribute, input_sharding=args.input_sharding, seed=args.seed)


def _class_folders(folder):
    """The class sub-folders of ``folder`` (not hidden), read without importing the data package."""
    return sorted(entry.name for entry in os.scandir(folder) if entry.is_dir() and not entry.name.startswith("."))


def _check_class_folder(folder, argument="data"):
    check_inputs_exist([folder], argument)
    if not os.path.isdir(folder) or not _class_folders(folder):
        state = "is empty" if os.path.isdir(folder) and not os.listdir(folder) else "has no class sub-folders"
        layout = os.path.join(folder, "<class>", "<video>")  # one slash, whether or not `folder` ends in one
        raise UsageError(f"`{argument}`: {folder} {state}: videos go in one sub-folder per class ({layout}).")


def _check_train(args):
    if (args.data is None) == (args.shards is None):
        raise UsageError("Give the training videos: a folder of class folders (DATA) or a folder written by "
                         "`keras-sportsnet prepare` (--shards), one of the two.")
    if args.shards is not None:
        if args.classes is None:
            raise UsageError("With --shards, say how many classes the model has: --classes N.")
        check_inputs_exist([args.shards], "--shards")
    else:
        _check_class_folder(args.data)
        names = _class_folders(args.data)
        if args.classes is not None and args.classes != len(names):
            raise UsageError(f"`--classes {args.classes}` disagrees with {args.data}, which has {len(names)} class "
                             f"folders ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''}).")
    check_crop_fits(args.image_size, args.resize_to, resolution=args.resolution)
    check_output_folder(args.run_dir, "--run-dir")


def _train(args):
    from keras_sportsnet import workflows
    from keras_sportsnet.models import build_model
    from keras_sportsnet.training import mixed_precision

    if args.shards is not None:
        from keras_sportsnet.data.shards import INDEX_FILE

        if not is_uri(args.shards) and not os.path.isfile(os.path.join(args.shards, INDEX_FILE)):
            raise UsageError(f"`--shards`: {args.shards} is not a folder written by `keras-sportsnet prepare` "
                             f"(no {INDEX_FILE}).")
        names, classes = None, args.classes
    else:
        from keras_sportsnet.data.lists import read_video_folder

        names = list(read_video_folder(args.data).class_names)
        classes = len(names)
    context = _distribution(args)
    recipe = _recipe(args)
    input_shape = None
    if args.image_size:
        from keras_sportsnet.models.backbone import TEMPORAL_PLANS

        input_shape = (TEMPORAL_PLANS[args.fusion]["num_frames"], args.image_size, args.image_size, 3)
    with mixed_precision(recipe.mixed_precision), (context.scope() if context else contextlib.nullcontext()):
        model = build_model(args.fusion, resolution=args.resolution, spec=args.spec, classes=classes,
                            input_shape=input_shape, dropout=args.dropout)
    outcome = workflows.train_and_save(
        model, args.data or args.shards, run_dir=args.run_dir, epochs=args.epochs,
        validation_split=args.validation_split, steps_per_epoch=args.steps_per_epoch, recipe=recipe, seed=args.seed,
        resize_to=args.resize_to, clips_per_video=args.clips_per_video, class_names=names, distribution=context,
        verbose=_fit_verbosity())
    if context is not None and not context.is_chief:
        return SUCCESS
    return _report_training(outcome, recipe)


def _fit_verbosity():
    """Keras' progress bar on a terminal; one plain line per epoch when stdout is a file or a pipe (no escape codes)."""
    try:
        return 1 if sys.stdout.isatty() else 2
    except (AttributeError, ValueError):
        return 2


def _report_training(outcome, recipe, prefix=""):
    """The outcome's line; for a diverged run (the guard has said why), what to try instead. The exit code."""
    if outcome.diverged:
        epoch = (outcome.result.get("divergence") or {}).get("epoch")
        print(f"{prefix}No preset written: training diverged{f' at epoch {epoch}' if epoch else ''} (see above). "
              f"Try a lower --learning-rate (now {recipe.learning_rate}) in a new --run-dir.", file=sys.stderr)
        _report_left_out(outcome)
        return SOME_INPUTS_BAD
    print(prefix + outcome.summary())
    return _report_left_out(outcome)


def _report_left_out(outcome):
    """The videos the run could not use, counted and listed at the end (they were warned about as they came)."""
    if not outcome.left_out:
        return SUCCESS
    of = f" of {outcome.num_videos}" if outcome.num_videos else ""
    print(f"{len(outcome.left_out)}{of} videos were left out of training:", file=sys.stderr)
    for path, reason in sorted(outcome.left_out.items()):
        print(f"  {path}: {reason}", file=sys.stderr)
    return SOME_INPUTS_BAD


def _check_transfer(args):
    _check_class_folder(args.data)
    check_weights(args.weights)
    check_output_folder(args.run_dir, "--run-dir")


def _transfer(args):
    from keras_sportsnet import workflows

    recipe = _recipe(args)
    outcome = workflows.transfer(
        args.weights, args.data, run_dir=args.run_dir, epochs=args.epochs, regime=args.regime, dropout=args.dropout,
        resize_to=args.resize_to, validation_split=args.validation_split, steps_per_epoch=args.steps_per_epoch,
        recipe=recipe, seed=args.seed, verbose=_fit_verbosity())
    return _report_training(outcome, recipe, prefix=f"Transfer ({args.regime}): ")


# --- evaluate ---


def _check_evaluate(args):
    _check_class_folder(args.data)
    check_weights(args.weights)
    if args.groups and args.groups != "ucf101":
        check_inputs_exist([args.groups], "--groups")
    check_output_file(args.scores, "--scores")
    check_output_file(args.json, "--json")


def _evaluate(args):
    from keras_sportsnet import workflows
    from keras_sportsnet.utils.tables import format_markdown_table

    outcome = workflows.evaluate(args.weights, args.data, clips_per_video=args.clips, views=args.views, seed=args.seed,
                                 batch_size=args.batch_size, scores_path=args.scores, groups=args.groups,
                                 max_pixels=args.max_pixels)
    rows = list(outcome.metrics.items()) + [[f"mAP {group}", value] for group, value in outcome.group_map.items()]
    print(format_markdown_table(["metric", "value"], rows))
    print()
    print(outcome.scores.accuracy_vs_views().format())
    if args.json:
        workflows.write_metrics_json(args.json, outcome)
    for path, reason in outcome.skipped.items():
        print(f"{path}: not evaluated: {reason}", file=sys.stderr)
    return SOME_INPUTS_BAD if outcome.skipped else SUCCESS


# --- arguments ---


def _add_training_arguments(parser):
    parser.add_argument("--run-dir", required=True, help="checkpoints, best weights, logs, and the final preset")
    parser.add_argument("--epochs", type=positive_int, default=10, help="total epochs (default 10)")
    parser.add_argument("--steps-per-epoch", type=positive_int, help="batches per (virtual) epoch (default: one pass)")
    parser.add_argument("--batch-size", type=positive_int, help="default 32 (the paper)")
    parser.add_argument("--learning-rate", type=positive_float, help="default: the recipe's (the paper's)")
    parser.add_argument("--mixed-precision", choices=("bfloat16", "float16"))
    parser.add_argument("--validation-split", type=fraction(), default=0.2,
                        help="held-out fraction of the videos, in [0, 1) (0: none; default 0.2)")
    parser.add_argument("--seed", type=int, default=0)


def _predict_arguments(parser, parents):
    parser.add_argument("videos", nargs="*", help="video files and/or folders of videos")
    parser.add_argument("--demo", action="store_true", help="also classify a sample video made on the spot")
    parser.add_argument("--weights", default=DEFAULT_PRESET,
                        help=f"preset name, hf://org/repo[@rev] or preset folder (default: {DEFAULT_PRESET}, shipped)")
    parser.add_argument("--top", type=positive_int, default=5, help="classes shown per video (default 5)")
    parser.add_argument("--clips", type=positive_int, help="random clips per video (default: the preset's; 20 in the paper)")
    parser.add_argument("--views", type=int_at_least(1, 4), help="crops/flips per clip, 1..4 (default: the preset's; 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the predictions as JSON")
    parser.add_argument("--plot", help="also draw the prediction strip (thumbnail + top-k bars) to this .png/.svg/.pdf")
    add_max_pixels_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress line")


def _train_arguments(parser, parents):
    parser.add_argument("data", nargs="?", help="folder of class folders: DATA/<class>/<video> (or use --shards)")
    parser.add_argument("--shards", help="a folder written by `keras-sportsnet prepare`")
    parser.add_argument("--fusion", default="slow", choices=FUSIONS)
    parser.add_argument("--resolution", default="full", choices=RESOLUTIONS)
    parser.add_argument("--spec", help="layer shorthand (default: the paper's network)")
    parser.add_argument("--image-size", type=positive_int, help="frame size the model reads (default 170, 178 multires)")
    parser.add_argument("--classes", type=positive_int, help="with --shards: number of classes")
    parser.add_argument("--clips-per-video", type=positive_int, default=1, help="clips per video and pass (default 1)")
    parser.add_argument("--dropout", type=fraction(), default=0.0, help="dropout before every FC layer, in [0, 1)")
    parser.add_argument("--resize-to", type=positive_int,
                        help="side of the centre square before cropping (default: 200, the paper's; more for crops "
                             "over 200)")
    parser.add_argument("--distribute", choices=("auto", "data_parallel", "mirrored", "multi_worker_mirrored", "none"),
                        help="data-parallel training (keras_sportsnet.distributed.setup): 'auto' = JAX DataParallel "
                             "over every device of every process (KERAS_DISTRIBUTION_* or SLURM say who is who), or TF "
                             "MirroredStrategy over the local GPUs; --batch-size is then the global batch")
    parser.add_argument("--input-sharding", choices=("global", "per_process"), default="global",
                        help="with --distribute and several processes: 'per_process' = each process reads its own "
                             "--shards files (recommended on many hosts); 'global' = each reads all, keeps its part")
    _add_training_arguments(parser)


def _evaluate_arguments(parser, parents):
    parser.add_argument("data", help="folder of class folders")
    parser.add_argument("--weights", required=True, help="preset name, hf://org/repo[@rev] or preset folder")
    parser.add_argument("--clips", type=positive_int, help="random clips per video (default: the preset's; 20)")
    parser.add_argument("--views", type=int_at_least(1, 4), help="crops/flips per clip, 1..4 (default: the preset's; 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=positive_int, default=32, help="views per model call (default 32)")
    parser.add_argument("--scores", help="save the per-view scores here (.npz) to re-score or plot later")
    parser.add_argument("--groups", help="'ucf101' or a JSON file {group: [class names]} for per-group mAP")
    parser.add_argument("--json", help="also write the metrics as JSON")
    add_max_pixels_argument(parser)


def _transfer_arguments(parser, parents):
    parser.add_argument("data", help="folder of class folders of the new task")
    parser.add_argument("--weights", required=True, help="the trained model: preset name, hf:// handle or folder")
    parser.add_argument("--regime", default="top3", choices=REGIMES)
    parser.add_argument("--dropout", type=fraction(), default=TRANSFER_DROPOUT,
                        help=f"dropout before every trained layer, in [0, 1) (default {TRANSFER_DROPOUT}; the "
                             "paper's 0.9 diverges on small sets)")
    parser.add_argument("--resize-to", type=positive_int, help="centre-square side before cropping (default: the preset's)")
    _add_training_arguments(parser)


SUBCOMMANDS = (
    Subcommand(
        "predict",
        help="classify videos: top-5 with class names",
        description="Classifies each video (files, or folders searched recursively) with a preset: the top classes "
                    "with their probabilities, averaged over random clips and views (the paper's protocol; the "
                    "preset's settings unless --clips/--views). Exit code 1 when a video could not be classified.",
        examples=PREDICT_EXAMPLES,
        arguments=_predict_arguments, handler=_predict, check=_check_predict, needs=("keras",)),
    Subcommand(
        "train",
        help="train a model with the paper's recipe (resumable); writes a preset",
        description="Trains a model on a folder of class folders (or on --shards) with the paper's recipe, "
                    "checkpointing every epoch (run it again to resume), and writes RUN_DIR/preset with the best "
                    "weights. A run whose loss diverges stops without writing a preset (exit code 1).",
        examples=TRAIN_EXAMPLES,
        arguments=_train_arguments, handler=_train, check=_check_train, needs=("keras", "tensorflow")),
    Subcommand(
        "evaluate",
        help="the paper's video-level evaluation (20 clips x 4 views)",
        description="Evaluates a preset on a folder of class folders with the paper's video-level protocol: Clip "
                    "Hit@1, Video Hit@1/5, mAP, and accuracy vs clips and views (no re-run). Exit code 1 when "
                    "videos were left out.",
        examples=EVALUATE_EXAMPLES,
        arguments=_evaluate_arguments, handler=_evaluate, check=_check_evaluate, needs=("keras", "tensorflow")),
    Subcommand(
        "transfer",
        help="fine-tune a trained model on new classes (the paper's regimes)",
        description="Fine-tunes a trained preset on the classes of a new folder: the top layer, the top 3 layers, "
                    "all layers, or the same network from scratch (Sec. 4.2); writes RUN_DIR/preset.",
        examples=TRANSFER_EXAMPLES,
        arguments=_transfer_arguments, handler=_transfer, check=_check_transfer, needs=("keras", "tensorflow")),
)
