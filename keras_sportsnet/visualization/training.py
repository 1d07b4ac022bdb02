"""Training curves from a run's logs (``history.csv``), a Keras History or a dict."""

import csv
import math
import os

import numpy as np

from keras_sportsnet.visualization.figures import finish, new_figure

__all__ = ["plot_training_curves", "read_history"]

NOT_CURVES = ("epoch", "seconds")
"""Logged columns that are not curves to plot against the epoch."""


def read_history(history):
    """Per-epoch logs as ``{name: float array}``, from any of the forms training leaves.

    Args:
        history: a run folder of `keras_sportsnet.training.train` (its
            ``history.csv``), a ``.csv`` file, what `train` returns (its
            ``history``), a `keras.callbacks.History` (``model.fit``'s return),
            a dict ``{name: [values]}``, or a list of per-epoch dicts.

    Returns:
        dict ``{name: float64 array}`` including ``"epoch"`` (1-based).

    Example:
    ```python
    read_history("runs/slow")["val_hit_at_1"]
    ```
    """
    if isinstance(history, (str, os.PathLike)):
        path = os.fspath(history)
        if os.path.isdir(path):
            path = os.path.join(path, "history.csv")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"`history`: no training log at {path!r} (a run folder holds history.csv).")
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
        if not rows:
            raise ValueError(f"`history`: {path!r} has no epochs yet.")
    elif hasattr(history, "history") and isinstance(history.history, dict):  # keras.callbacks.History
        return read_history(history.history)
    elif isinstance(history, dict) and "history" in history and isinstance(history["history"], list):  # train()
        rows = history["history"]
    elif isinstance(history, dict):
        lengths = {len(v) for v in history.values()}
        if len(lengths) != 1:
            raise ValueError(f"`history`: every metric needs one value per epoch. Received lengths {sorted(lengths)}")
        count = lengths.pop()
        rows = [{k: v[i] for k, v in history.items()} for i in range(count)]
    elif isinstance(history, (list, tuple)):
        rows = list(history)
    else:
        raise TypeError(
            "`history` must be a run folder, a history.csv, a keras History, train()'s result, a dict or a list of "
            f"dicts. Received: {type(history).__name__}"
        )
    if not rows:
        raise ValueError("`history` has no epochs.")
    names = sorted({key for row in rows for key in row})
    curves = {name: np.array([_number(row.get(name)) for row in rows], np.float64) for name in names}
    if "epoch" not in curves:
        curves["epoch"] = np.arange(1, len(rows) + 1, dtype=np.float64)
    return curves


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def plot_training_curves(history, *, metrics=None, path=None):
    """One panel per metric, training and validation curves against the epoch.

    Args:
        history: anything `read_history` reads (a run folder, history.csv,
            keras History, `train`'s result, a dict).
        metrics: None (every logged metric: ``loss``, ``hit_at_1`` ... and
            ``learning_rate``), or a sequence of names without the ``val_``
            prefix.
        path: None, or a ``.png``/``.svg``/``.pdf`` file to save to.

    Returns:
        `matplotlib.figure.Figure`; one axes per metric, titled with its
        name, lines labelled ``"train"`` and ``"validation"``; the best
        validation epoch is marked.

    Example:
    ```python
    result = ksn.training.train(model, train_data, validation_data, run_dir="runs/slow", epochs=10)
    plot_training_curves("runs/slow", metrics=["loss", "hit_at_1"])
    ```
    """
    from matplotlib.ticker import MaxNLocator

    curves = read_history(history)
    available = [n for n in curves if n not in NOT_CURVES and not n.startswith("val_")]
    available += [n[4:] for n in curves if n.startswith("val_") and n[4:] not in curves]
    if metrics is None:
        order = {"loss": 0, "learning_rate": 9}
        chosen = sorted(available, key=lambda n: (order.get(n, 1), n))
    else:
        if isinstance(metrics, str):
            metrics = [metrics]
        chosen = list(metrics)
        missing = [m for m in chosen if m not in available]
        if missing:
            raise ValueError(f"`metrics` must be among the logged metrics {available}. Received: {missing}")
    if not chosen:
        raise ValueError(f"`history` has no metrics to plot (columns: {sorted(curves)}).")
    epochs = curves["epoch"]
    columns = min(3, len(chosen))
    rows = -(-len(chosen) // columns)
    figure = new_figure(3.6 * columns, 2.9 * rows + 0.3)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, name in zip(axes, chosen):
        if name in curves:
            ax.plot(epochs, curves[name], marker="o", markersize=3, label="train" if name != "learning_rate" else name)
        validation = curves.get(f"val_{name}")
        if validation is not None and np.isfinite(validation).any():
            ax.plot(epochs, validation, marker="o", markersize=3, label="validation")
            best = int(np.nanargmin(validation) if "loss" in name else np.nanargmax(validation))
            ax.plot(epochs[best], validation[best], "*", color="black", markersize=9,
                    label=f"best validation (epoch {int(epochs[best])})")
        if name == "learning_rate" and np.nanmax(curves[name]) > 0 and np.nanmin(curves[name]) > 0 \
                and np.nanmax(curves[name]) / np.nanmin(curves[name]) > 10:
            ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[len(chosen):]:
        ax.set_visible(False)
    figure.suptitle("Training curves", fontsize=11)
    figure.tight_layout()
    return finish(figure, path)
