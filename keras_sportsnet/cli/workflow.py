"""``predict``, ``train``, ``evaluate``, ``transfer``, ``summary``: the workflow from the shell.

Example:
    keras-sportsnet predict my_video.mp4 --weights slow_fusion_synthetic --plot predictions.png
    keras-sportsnet train videos/ --fusion slow --spec "C(16,5,2)-N-P-FC(64)" --run-dir runs/slow --epochs 20
    keras-sportsnet evaluate videos_test/ --weights runs/slow/preset --scores runs/slow/test_scores.npz
    keras-sportsnet transfer ucf_train/ --weights runs/slow/preset --regime top3 --run-dir runs/ucf_top3
    keras-sportsnet summary --weights runs/slow/preset
"""

import json
import os
import sys

import numpy as np

from keras_sportsnet.utils.files import write_json
from keras_sportsnet.models.backbone import FUSIONS
from keras_sportsnet.models.backbone import RESOLUTIONS
from keras_sportsnet.training.transfer import DEFAULT_TRANSFER_DROPOUT
from keras_sportsnet.training.transfer import REGIMES

EXAMPLES = __doc__.split("Example:\n", 1)[1]


def _load_model(args, include_top=True):
    from keras_sportsnet.models.applications import from_preset

    return from_preset(args.weights, include_top=include_top)


DEFAULT_PRESET = "slow_fusion_synthetic"
DEMO_CLASS = "gym_roll_fast"


def _demo_video():
    """A sample video of the synthetic-sports dataset (written once to a cache folder), and its class."""
    import tempfile

    from keras_sportsnet.datasets.synthetic_sports import synthetic_sports

    folder = os.path.join(tempfile.gettempdir(), "keras_sportsnet_demo")
    data = synthetic_sports(1, classes=[DEMO_CLASS], num_frames=40, size=64, seed=2026)
    return data.write(folder).paths[0], DEMO_CLASS


def _protocol(weights):
    """The preset's evaluation protocol (``resize_to`` matters: what the model was trained on)."""
    from keras_sportsnet.presets.resolve import resolve_preset

    preset = resolve_preset(weights)
    if isinstance(preset, str):
        return {}
    return (preset.metadata.get("evaluation") or {}).get("protocol") or {}


def _predict(args):
    from keras_sportsnet.data.lists import VideoList
    from keras_sportsnet.evaluation.runner import evaluate_videos

    if not args.videos and not args.demo:
        raise ValueError("Give video files to classify, or --demo to classify a sample video.")
    if args.demo:
        path, true_class = _demo_video()
        print(f"sample video (a synthetic-sports clip of class {true_class!r}): {path}", file=sys.stderr)
        args.videos = [*args.videos, path]
    model = _load_model(args)
    names = _class_names(args.weights, model)
    videos = VideoList(tuple(args.videos), tuple(() for _ in args.videos), tuple(names))
    scores = evaluate_videos(model, videos, clips_per_video=args.clips, views=args.views, seed=args.seed,
                             resize_to=_protocol(args.weights).get("resize_to", 200), verbose=not args.quiet)
    probabilities = scores.video_scores()
    results = []
    for path, row in zip(scores.video_ids, probabilities):
        top = np.argsort(-row, kind="stable")[: args.top]
        results.append({"video": path, "top": [{"class": names[i], "probability": float(row[i])} for i in top]})
        print(path)
        for rank, i in enumerate(top, 1):
            print(f"  {rank}. {names[i]:<30s} {row[i]:.3f}")
    skipped = scores.metadata.get("skipped", {})
    for path, reason in skipped.items():
        print(f"{path}: not classified: {reason}", file=sys.stderr)
    if args.json:
        write_json(args.json, results, indent=2)
    if args.plot:
        from keras_sportsnet.visualization import plot_video_predictions

        plot_video_predictions(scores, top=args.top, max_videos=max(1, scores.num_videos), path=args.plot)
        print(f"prediction strip: {args.plot}", file=sys.stderr)
    return 1 if skipped else 0


def _class_names(weights, model):
    from keras_sportsnet.presets.resolve import resolve_preset

    preset = resolve_preset(weights)
    names = preset.metadata.get("class_names") if not isinstance(preset, str) else None
    return list(names) if names else [str(i) for i in range(int(model.output.shape[-1]))]


def _datasets(args, model, recipe, context=None):
    from keras_sportsnet.data.datasets import video_dataset_from_directory
    from keras_sportsnet.data.shards import shard_dataset

    # Under a distribution the recipe's batch is the global batch (all replicas together).
    batch_size = context.input_batch_size(recipe.batch_size) if context is not None else recipe.batch_size
    if getattr(args, "shards", None):
        own_files = context is not None and context.input_sharding == "per_process"
        train = shard_dataset(args.shards, batch_size=batch_size, seed=args.seed,
                              shard=context.shard if own_files else None)
        return train, None
    if context is not None and context.input_sharding == "per_process":
        raise SystemExit("--input-sharding per_process needs --shards (each process reads its own shard files).")
    common = dict(model=model, batch_size=batch_size, seed=args.seed, resize_to=args.resize_to,
                  clips_per_video=getattr(args, "clips_per_video", 1), verbose=True)
    if args.validation_split:
        return video_dataset_from_directory(args.data, validation_split=args.validation_split, subset="both", **common)
    return video_dataset_from_directory(args.data, **common), None


def _recipe(args):
    import dataclasses

    from keras_sportsnet.training.recipe import PAPER_RECIPE

    changes = {key: value for key, value in (("batch_size", args.batch_size), ("learning_rate", args.learning_rate),
                                             ("mixed_precision", args.mixed_precision)) if value is not None}
    return dataclasses.replace(PAPER_RECIPE, **changes)


def _class_names_of(directory):
    from keras_sportsnet.data.lists import read_video_folder

    return list(read_video_folder(directory).class_names)


def _train_and_save(model, args, recipe, metadata, context=None):
    """Trains with the recipe (resumable in ``--run-dir``), keeps the best weights, writes ``run_dir/preset``.

    Under a distribution ``context`` every process trains and loads the best weights; the chief alone
    writes the preset (the folder name is returned on every process)."""
    from keras_sportsnet.distributed import without_distribution
    from keras_sportsnet.models.loading import save_preset
    from keras_sportsnet.training.trainer import train

    train_data, val_data = _datasets(args, model, recipe, context)
    result = train(model, train_data, val_data, run_dir=args.run_dir, epochs=args.epochs,
                   steps_per_epoch=args.steps_per_epoch, recipe=recipe, distribution=context)
    if result["stopped"] and result["stopped"].startswith("diverged"):
        print(f"No preset written: training diverged at epoch {result['divergence']['epoch']} (see above). Try a "
              f"lower --learning-rate (now {recipe.learning_rate}) in a new --run-dir.", file=sys.stderr)
        return result, None
    if result["best_weights"]:
        model.load_weights(result["best_weights"])
    metadata = dict(metadata)
    metadata["training"] = {**metadata["training"], "epochs": len(result["history"]), "best_epoch": result["best_epoch"]}
    metadata["evaluation"] = {"protocol": {"resize_to": args.resize_to}}
    folder = os.path.join(args.run_dir, "preset")
    if context is not None:
        metadata["training"]["distribution"] = {"engine": context.engine, "num_replicas": context.num_replicas,
                                                "processes": context.process_count}
        if not context.is_chief:
            return result, folder
    with without_distribution():
        return result, save_preset(model, folder, overwrite=True, metadata=metadata)


def _distribution(args):
    """The `DistributedContext` of ``--distribute`` (which reads KERAS_DISTRIBUTION_* / SLURM), or None."""
    if not args.distribute:
        return None
    from keras_sportsnet import distributed

    return distributed.setup(args.distribute, input_sharding=args.input_sharding, seed=args.seed)


def _train(args):
    import contextlib

    from keras_sportsnet.models.applications import build_model
    from keras_sportsnet.training.recipe import mixed_precision

    context = _distribution(args)
    recipe = _recipe(args)
    names = _class_names_of(args.data) if args.data else None
    classes = len(names) if names else args.classes
    input_shape = None
    if args.image_size:
        from keras_sportsnet.models.backbone import TEMPORAL_PLANS

        input_shape = (TEMPORAL_PLANS[args.fusion]["num_frames"], args.image_size, args.image_size, 3)
    with mixed_precision(recipe.mixed_precision), (context.scope() if context else contextlib.nullcontext()):
        model = build_model(args.fusion, resolution=args.resolution, spec=args.spec, classes=classes,
                            input_shape=input_shape, dropout=args.dropout)
    result, folder = _train_and_save(model, args, recipe, {
        "class_names": names or [str(i) for i in range(classes)],
        "dataset": {"name": os.path.basename(os.path.normpath(args.data or args.shards)),
                    "path": os.path.abspath(args.data or args.shards)},
        "training": {**recipe.to_dict(), "steps_per_epoch": args.steps_per_epoch, "seed": args.seed},
    }, context)
    if folder is None:
        return 1
    if context is not None and not context.is_chief:
        return 0
    print(f"Best {result.get('best')!s} at epoch {result['best_epoch']}; preset written to {folder}")
    return 0


def _evaluate(args):
    from keras_sportsnet.data.lists import ucf101_class_groups
    from keras_sportsnet.evaluation.metrics import format_markdown_table
    from keras_sportsnet.evaluation.runner import evaluate_videos

    model = _load_model(args)
    scores = evaluate_videos(model, args.data, clips_per_video=args.clips, views=args.views, seed=args.seed,
                             scores_path=args.scores, batch_size=args.batch_size,
                             resize_to=_protocol(args.weights).get("resize_to", 200))
    groups = None
    if args.groups == "ucf101":
        groups = ucf101_class_groups()
    elif args.groups:
        with open(args.groups, encoding="utf-8") as file:
            groups = json.load(file)
    metrics = scores.metrics(groups=groups)
    group_map = metrics.pop("group_mAP", {})
    print(format_markdown_table(["metric", "value"], list(metrics.items()) + [[f"mAP {g}", v] for g, v in group_map.items()]))
    print()
    print(scores.accuracy_vs_views().format())
    if args.json:
        write_json(args.json, {**metrics, "group_mAP": group_map, "metadata": scores.metadata}, indent=2)
    return 0


def _transfer(args):
    from keras_sportsnet.training.transfer import transfer_model

    source = _load_model(args)
    names = _class_names_of(args.data)
    recipe = _recipe(args)
    if args.resize_to is None:
        args.resize_to = _protocol(args.weights).get("resize_to", 200)
    model = transfer_model(source, len(names), regime=args.regime, dropout=args.dropout)
    _, folder = _train_and_save(model, args, recipe, {
        "class_names": names,
        "dataset": {"name": os.path.basename(os.path.normpath(args.data)), "path": os.path.abspath(args.data)},
        "training": {"transfer_from": args.weights, "regime": args.regime, "dropout": args.dropout},
    })
    if folder is None:
        return 1
    print(f"Transfer ({args.regime}) done; preset written to {folder}")
    return 0


def _summary(args):
    from keras_sportsnet.analysis import count_flops
    from keras_sportsnet.models.applications import build_model

    if args.weights:
        model = _load_model(args)
    else:
        model = build_model(args.fusion, resolution=args.resolution, spec=args.spec, classes=args.classes)
    model.backbone.summary(print_fn=lambda line, **_: print(line))
    geometry = model.clip_geometry
    print(f"clip: {geometry['num_frames']} frames, stride {geometry['frame_stride']}, "
          f"{geometry['image_size'][0]}x{geometry['image_size'][1]}; params {model.count_params():,}; "
          f"{count_flops(model) / 1e9:.3f} GFLOPs per clip; {model.num_classes} classes")
    return 0


def _add_training_arguments(parser):
    parser.add_argument("--run-dir", required=True, help="checkpoints, best weights, logs, and the final preset")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps-per-epoch", type=int, help="batches per (virtual) epoch (default: one pass)")
    parser.add_argument("--batch-size", type=int, help="default 32 (the paper)")
    parser.add_argument("--learning-rate", type=float, help="default 1e-3 (the paper)")
    parser.add_argument("--mixed-precision", choices=("bfloat16", "float16"))
    parser.add_argument("--validation-split", type=float, default=0.2, help="held-out fraction of the videos (0: none)")
    parser.add_argument("--seed", type=int, default=0)


def register(commands):
    formatter = __import__("argparse").RawDescriptionHelpFormatter
    predict = commands.add_parser("predict", help="classify videos: top-5 with class names",
                                  epilog="example:\n  " + EXAMPLES.splitlines()[0].strip(), formatter_class=formatter)
    predict.add_argument("videos", nargs="*", help="video files")
    predict.add_argument("--demo", action="store_true", help="also classify a sample video made on the spot")
    predict.add_argument("--weights", default=DEFAULT_PRESET,
                         help=f"preset name, hf://org/repo[@rev] or preset folder (default: {DEFAULT_PRESET}, shipped)")
    predict.add_argument("--top", type=int, default=5)
    predict.add_argument("--clips", type=int, default=20, help="random clips per video (20, the paper)")
    predict.add_argument("--views", type=int, default=4, help="crops/flips per clip (4, the paper)")
    predict.add_argument("--seed", type=int, default=0)
    predict.add_argument("--json", help="also write the predictions as JSON")
    predict.add_argument("--plot", help="also draw the prediction strip (thumbnail + top-k bars) to this .png/.svg/.pdf")
    predict.add_argument("--quiet", action="store_true")
    predict.set_defaults(handler=_predict)

    train = commands.add_parser("train", help="train a model with the paper's recipe (resumable)",
                                epilog="example:\n  " + EXAMPLES.splitlines()[1].strip(), formatter_class=formatter)
    train.add_argument("data", nargs="?", help="folder of class folders (or use --shards)")
    train.add_argument("--shards", help="a folder written by `keras-sportsnet prepare`")
    train.add_argument("--fusion", default="slow", choices=FUSIONS)
    train.add_argument("--resolution", default="full", choices=RESOLUTIONS)
    train.add_argument("--spec", help="layer shorthand (default: the paper's network)")
    train.add_argument("--image-size", type=int, help="frame size the model reads (default 170, 178 multires)")
    train.add_argument("--classes", type=int, help="with --shards: number of classes")
    train.add_argument("--clips-per-video", type=int, default=1)
    train.add_argument("--dropout", type=float, default=0.0)
    train.add_argument("--resize-to", type=int, default=200, help="side of the centre square before cropping (200)")
    train.add_argument("--distribute", choices=("auto", "data_parallel", "mirrored", "multi_worker_mirrored", "none"),
                       help="data-parallel training (keras_sportsnet.distributed.setup): 'auto' = JAX DataParallel "
                            "over every device of every process (KERAS_DISTRIBUTION_* or SLURM say who is who), or TF "
                            "MirroredStrategy over the local GPUs; --batch-size is then the global batch")
    train.add_argument("--input-sharding", choices=("global", "per_process"), default="global",
                       help="with --distribute and several processes: 'per_process' = each process reads its own "
                            "--shards files (recommended on many hosts); 'global' = each reads all, keeps its part")
    _add_training_arguments(train)
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="the paper's video-level evaluation (20 clips x 4 views)",
                                   epilog="example:\n  " + EXAMPLES.splitlines()[2].strip(), formatter_class=formatter)
    evaluate.add_argument("data", help="folder of class folders")
    evaluate.add_argument("--weights", required=True, help="preset name, hf://org/repo[@rev] or preset folder")
    evaluate.add_argument("--clips", type=int, default=20)
    evaluate.add_argument("--views", type=int, default=4)
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--batch-size", type=int, default=32)
    evaluate.add_argument("--scores", help="save the per-view scores here (.npz) to re-score later")
    evaluate.add_argument("--groups", help="'ucf101' or a JSON file {group: [class names]} for per-group mAP")
    evaluate.add_argument("--json", help="also write the metrics as JSON")
    evaluate.set_defaults(handler=_evaluate)

    transfer = commands.add_parser("transfer", help="fine-tune a trained model on new classes (the paper's regimes)",
                                   epilog="example:\n  " + EXAMPLES.splitlines()[3].strip(), formatter_class=formatter)
    transfer.add_argument("data", help="folder of class folders of the new task")
    transfer.add_argument("--weights", required=True, help="the trained model: preset name, hf:// handle or folder")
    transfer.add_argument("--regime", default="top3", choices=REGIMES)
    transfer.add_argument("--dropout", type=float, default=DEFAULT_TRANSFER_DROPOUT,
                          help=f"before every trained layer ({DEFAULT_TRANSFER_DROPOUT}; the paper's 0.9 diverges on small sets)")
    transfer.add_argument("--resize-to", type=int, help="centre-square side before cropping (default: the preset's)")
    _add_training_arguments(transfer)
    transfer.set_defaults(handler=_transfer)

    summary = commands.add_parser("summary", help="layers, clip, parameters and FLOPs of a model or preset",
                                  epilog="example:\n  " + EXAMPLES.splitlines()[4].strip(), formatter_class=formatter)
    summary.add_argument("--weights", help="preset name, hf:// handle or folder")
    summary.add_argument("--fusion", default="slow", choices=FUSIONS)
    summary.add_argument("--resolution", default="full", choices=RESOLUTIONS)
    summary.add_argument("--spec", help="layer shorthand (default: the paper's)")
    summary.add_argument("--classes", type=int, default=487)
    summary.set_defaults(handler=_summary)
