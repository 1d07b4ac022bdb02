"""Transfer learning: the paper's four regimes (Sec. 4.2), and a sweep that fills Table 3.

- ``"top"``: fine-tune the top layer. The network is a fixed feature
  extractor; a new classifier is trained on its last FC layer (4096-d in the
  paper), with dropout before it.
- ``"top3"``: fine-tune the top 3 layers: both FC layers and the classifier
  train, the convolutions stay fixed; dropout before each trained layer.
- ``"all"``: fine-tune all layers, from the trained weights.
- ``"scratch"``: the same network, randomly initialised and trained on the
  new data alone.

In every regime but ``"scratch"``, a classifier for a new label set starts at
zero (uniform predictions, a first loss of ln(classes)): on the source's large
trained features a randomly initialised head starts far from chance.

The paper keeps 10% of the units active in its dropout (``dropout=0.9``,
`PAPER_DROPOUT`). The default here is 0.5 (`DEFAULT_TRANSFER_DROPOUT`):
with 10% of the units kept, the survivors are scaled by 10, the trained
layers see activations ten times larger than at inference, and fine-tuning on
small sets diverged to NaN (the paper's miniature in benchmarks/ and the
command line's own example); at 0.5 the same runs converge.
"""

import os

import keras

from keras_sportsnet.models.backbone import SportsNetBackbone
from keras_sportsnet.models.classifier import SportsNetVideoClassifier
from keras_sportsnet.models.surgery import inflate_weights
from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_float
from keras_sportsnet.utils.checks import check_positive_int
from keras_sportsnet.utils.tables import format_markdown_table

__all__ = ["DEFAULT_TRANSFER_DROPOUT", "PAPER_DROPOUT", "REGIMES", "REGIME_NAMES", "transfer_model", "transfer_sweep"]

REGIMES = ("top", "top3", "all", "scratch")
REGIME_NAMES = {
    "top": "Fine-tune top layer",
    "top3": "Fine-tune top 3 layers",
    "all": "Fine-tune all layers",
    "scratch": "Train from scratch",
}
"""Table 3's row names."""
PAPER_DROPOUT = 0.9
"""The paper's dropout rate for transfer (10% of the units kept)."""
DEFAULT_TRANSFER_DROPOUT = 0.5
"""The default rate of `transfer_model` and `transfer_sweep` (see the module docstring)."""


def transfer_model(source, num_classes, regime="top3", dropout=DEFAULT_TRANSFER_DROPOUT, name=None, *,
                   class_names=None):
    """A model for a new label set, initialised from ``source`` and set up for ``regime``.

    Args:
        source: a trained keras_sportsnet classifier or backbone.
        num_classes: int. Classes of the new task (101 for UCF-101).
        regime: one of `REGIMES`: ``"top"``, ``"top3"``, ``"all"``, ``"scratch"``.
        dropout: float in [0, 1). Dropout rate before every trained layer
            (0.5; the paper's is 0.9, `PAPER_DROPOUT`, which diverged on small
            sets).
        name: str or None.
        class_names: list of ``num_classes`` str, or None: the new task's classes.

    Returns:
        An uncompiled `SportsNetVideoClassifier` (with ``source``'s
        preprocessor, so clips are made as the source was trained on) whose frozen layers have
        ``trainable = False`` (compile it, or pass it to
        `keras_sportsnet.training.train`, which compiles).

    Example:
    ```python
    sports = ksn.SlowFusion(weights="presets/slow_sports")
    ucf = ksn.training.transfer_model(sports, 101, regime="top3")
    ksn.training.train(ucf, train, val, run_dir="runs/ucf_top3", epochs=10)
    ```
    """
    check_choice("regime", regime, REGIMES)
    check_positive_int("num_classes", num_classes)
    dropout = check_float("dropout", dropout, 0, 1, high_open=True)
    backbone = getattr(source, "backbone", source)
    if not isinstance(backbone, SportsNetBackbone):
        raise TypeError(f"`source` must be a keras_sportsnet model. Received: {type(source).__name__}")
    config = backbone.get_config()
    config.update(dropout=0.0 if regime == "top" else dropout, name=f"{name or backbone.name}_{regime}_backbone")
    new_backbone = SportsNetBackbone.from_config(config)
    model = SportsNetVideoClassifier(
        new_backbone,
        num_classes=num_classes,
        activation=getattr(source, "activation", "softmax"),
        dropout=dropout,
        preprocessor=getattr(source, "preprocessor", None),
        class_names=class_names,
        name=name or f"{backbone.name.removesuffix('_backbone')}_{regime}",
    )
    if regime != "scratch":
        inflate_weights(source, model)
        if not _same_head(source, model):
            _zero_head(model)
    if regime == "top":
        new_backbone.trainable = False
    elif regime == "top3":
        for layer in new_backbone.layers:
            layer.trainable = layer.name.startswith("fc_")
    return model


def _same_head(source, model):
    """True when ``source`` has a classifier head of ``model``'s shape (`inflate_weights` copied it)."""
    try:
        head = source.get_layer("predictions")
    except (AttributeError, ValueError):
        return False
    return tuple(head.kernel.shape) == tuple(model.get_layer("predictions").kernel.shape)


def _zero_head(model):
    """A new classifier starts at zero: uniform predictions, loss ln(classes), gradients only where they help.

    The trained features are large (a norm of about 27 per clip for the shipped
    synthetic preset), so a Glorot-initialised head starts far from chance
    (initial loss 3.7-6.5 on 6 classes instead of ln 6 = 1.8) and fine-tuning
    all layers then starts by undoing it.
    """
    head = model.get_layer("predictions")
    for variable in head.weights:
        variable.assign(keras.ops.zeros(variable.shape, variable.dtype))


def transfer_sweep(
    source,
    folds,
    *,
    run_root,
    epochs,
    regimes=REGIMES,
    dropout=DEFAULT_TRANSFER_DROPOUT,
    steps_per_epoch=None,
    recipe=None,
    clips_per_video=None,
    views=None,
    resize_to=None,
    seed=0,
    groups=None,
    verbose="auto",
):
    """Runs the transfer regimes on one or more folds; returns Table 3 (and Table 4).

    Args:
        source: a trained keras_sportsnet model.
        folds: list of ``(train_dataset, test_videos)``: e.g. UCF-101's three
            official splits (`read_ucf101_split` + `video_dataset_from_list`).
        run_root: str. Each regime and fold trains in ``run_root/<regime>/fold<k>``
            (resumable).
        epochs: int. Epochs per regime.
        regimes: which of `REGIMES`.
        dropout: float (0.5; 0.9 in the paper).
        steps_per_epoch: int or None.
        recipe: `TrainingRecipe` or None (the paper's).
        clips_per_video, views, resize_to, seed: the evaluation protocol
            (`evaluate_videos`; None: its defaults, the model's preprocessor).
        groups: class groups for per-group mAP (Table 4), e.g.
            `keras_sportsnet.data.ucf101_class_groups()`.
        verbose: as for `model.fit`.

    Returns:
        dict with ``rows`` (one per regime: the metrics of every fold and their
        mean; per-group mAP as ``"mAP/<group>"``; ``stopped``: for each fold,
        None or why its training stopped early, e.g. ``"diverged: ..."``) and
        ``table3`` / ``table4`` (Markdown).

    Example:
    ```python
    folds = [(train_k, test_k) for train_k, test_k in ucf101_folds]
    result = ksn.training.transfer_sweep(sports_model, folds, run_root="runs/ucf", epochs=10)
    print(result["table3"])
    ```
    """
    from keras_sportsnet.evaluation.runner import evaluate_videos
    from keras_sportsnet.training.recipe import PAPER_RECIPE
    from keras_sportsnet.training.trainer import train

    for regime in regimes:
        check_choice("regimes", regime, REGIMES)
    if not folds:
        raise ValueError("`folds` must hold at least one (train_dataset, test_videos) pair. Received: folds=[]")
    recipe = recipe or PAPER_RECIPE
    protocol = {key: value for key, value in
                (("clips_per_video", clips_per_video), ("views", views), ("resize_to", resize_to)) if value is not None}
    rows = []
    for regime in regimes:
        per_fold, stopped = [], []
        for index, (train_data, test_videos) in enumerate(folds, 1):
            num_classes = len(train_data.class_names)
            model = transfer_model(source, num_classes, regime=regime, dropout=dropout,
                                   class_names=list(train_data.class_names))
            result = train(model, train_data, run_dir=os.path.join(run_root, regime, f"fold{index}"),
                           epochs=epochs, steps_per_epoch=steps_per_epoch, recipe=recipe, verbose=verbose,
                           tensorboard=False)
            stopped.append(result["stopped"])
            scores = evaluate_videos(model, test_videos, seed=seed, verbose=bool(verbose), **protocol)
            metrics = scores.metrics(groups=groups)
            for group, value in metrics.pop("group_mAP", {}).items():
                metrics[f"mAP/{group}"] = value
            metrics["epochs_trained"] = len(result["history"])
            per_fold.append(metrics)
        mean = {key: sum(m[key] for m in per_fold) / len(per_fold) for key in per_fold[0]}
        rows.append({"regime": regime, "name": REGIME_NAMES[regime], "folds": per_fold, "mean": mean,
                     "stopped": stopped})
    fold_word = f"{len(folds)}-fold " if len(folds) > 1 else ""
    table3 = format_markdown_table(
        ["Model", f"{fold_word}Video Hit@1", "mAP"],
        [[row["name"], row["mean"]["video_hit@1"], row["mean"]["mAP"]] for row in rows],
    )
    result = {"rows": rows, "table3": table3}
    group_keys = sorted(key for key in rows[0]["mean"] if key.startswith("mAP/"))
    if group_keys:
        result["table4"] = format_markdown_table(
            ["Group"] + [row["name"] for row in rows],
            [[key.split("/", 1)[1]] + [row["mean"][key] for row in rows] for key in group_keys],
        )
    return result
