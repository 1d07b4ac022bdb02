"""Plots of evaluation results: Table 2 as bars, confusion matrices, accuracy vs clips and views.

Each function takes what `keras_sportsnet.evaluate_videos` returns (a
`VideoScores`) or the plain arrays it is computed from, so saved scores
(`VideoScores.load`) are plotted without running a model again.
"""

import numpy as np

from keras_sportsnet.utils.checks import check_class_names, check_positive_int
from keras_sportsnet.visualization.figures import finish, new_figure, short_name

__all__ = ["plot_accuracy_vs_views", "plot_confusion_matrix", "plot_per_class_ap_difference"]

MODEL_COLOURS = ("#1f77b4", "#ff7f0e")
"""Bars of classes where the first (blue) or the second (orange) model is better."""
HIGHLIGHT_COLOUR = "#d62728"
"""Boxes around the most confused pairs."""
MAX_TICK_LABELS = 40
"""Confusion matrices with more classes than this leave out the class-name ticks."""


def _is_scores(value):
    from keras_sportsnet.evaluation.scores import VideoScores

    return isinstance(value, VideoScores)


def plot_per_class_ap_difference(scores_a, scores_b, *, class_names=None, names=("A", "B"), top=10, path=None):
    """The paper's Table 2 as a bar chart: the classes where one model beats the other most.

    Args:
        scores_a, scores_b: two `VideoScores` of the same videos and classes,
            or two per-class AP arrays ``(num_classes,)``.
        class_names: sequence of str; required with AP arrays (with
            `VideoScores`: their ``class_names``).
        names: two str, the models' names.
        top: int >= 1. Classes shown per side.
        path: None, or a ``.png``/``.svg``/``.pdf`` file to save to.

    Returns:
        `matplotlib.figure.Figure`. One horizontal bar per class shown, of
        length AP(A) - AP(B); A's wins at the top, largest first, then B's.

    Example:
    ```python
    plot_per_class_ap_difference(slow_scores, single_scores, names=("Slow Fusion", "Single-Frame"))
    ```
    """
    from keras_sportsnet.evaluation.metrics import compare_per_class_ap

    if isinstance(names, str) or len(names) != 2:
        raise ValueError(f"`names` must be two str, one per model. Received: names={names!r}")
    if _is_scores(scores_a) != _is_scores(scores_b):
        raise TypeError("`scores_a` and `scores_b` must both be VideoScores or both be per-class AP arrays.")
    if _is_scores(scores_a):
        if tuple(scores_a.class_names) != tuple(scores_b.class_names):
            raise ValueError("`scores_a` and `scores_b` must have the same class_names.")
        class_names = scores_a.class_names if class_names is None else class_names
        ap_a, ap_b = scores_a.per_class_ap(), scores_b.per_class_ap()
    else:
        ap_a, ap_b = np.asarray(scores_a, np.float64), np.asarray(scores_b, np.float64)
        if class_names is None:
            raise ValueError("`class_names` is required when `scores_a`/`scores_b` are AP arrays.")
    a_better, b_better = compare_per_class_ap(ap_a, ap_b, class_names, top=check_positive_int("top", top))
    rows = a_better + b_better[::-1]
    figure = new_figure(6.4, 0.28 * max(len(rows), 2) + 1.4)
    ax = figure.add_subplot()
    if rows:
        positions = np.arange(len(rows))
        differences = [row[3] for row in rows]
        colours = [MODEL_COLOURS[0]] * len(a_better) + [MODEL_COLOURS[1]] * len(b_better)
        ax.barh(positions, differences, color=colours, height=0.75)
        ax.set_yticks(positions, [short_name(row[0], 28) for row in rows], fontsize=8)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        for position, (name, a, b, difference) in zip(positions, rows):
            ax.annotate(f"{a:.2f} vs {b:.2f}", (difference, position), xytext=(3 if difference > 0 else -3, 0),
                        textcoords="offset points", ha="left" if difference > 0 else "right", va="center", fontsize=7)
        low, high = min(0.0, min(differences)), max(0.0, max(differences))
        margin = 0.18 * (high - low)
        ax.set_xlim(low - (margin if low < 0 else 0.02 * margin), high + (margin if high > 0 else 0.02 * margin))
    else:
        ax.text(0.5, 0.5, "no class differs", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"AP({names[0]}) \u2212 AP({names[1]})")
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=MODEL_COLOURS[0], label=f"{names[0]} better"),
                       Patch(color=MODEL_COLOURS[1], label=f"{names[1]} better")], fontsize=8, loc="lower right")
    ax.set_title(f"Per-class average precision: {names[0]} vs {names[1]}", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return finish(figure, path)


def plot_confusion_matrix(scores, *, labels=None, class_names=None, normalize=True, highlight=5, path=None):
    """A confusion matrix (rows: true class) with the most confused pairs boxed and listed.

    Args:
        scores: a `VideoScores` (its video-level predictions), a score
            array ``(N, num_classes)`` with `labels`, or a square count
            matrix ``(C, C)`` from `keras_sportsnet.evaluation.confusion_matrix`.
        labels: the true labels when `scores` is a score array.
        class_names: sequence of str, or None (the scores' own, or ``"0"``...).
        normalize: bool. Show each row as fractions of the true class.
        highlight: int >= 0. Box and list this many most confused pairs.
        path: None, or a ``.png``/``.svg``/``.pdf`` file to save to.

    Returns:
        `matplotlib.figure.Figure`; its first axes shows the matrix (one
        image), one red rectangle per highlighted pair.

    Example:
    ```python
    plot_confusion_matrix(ksn.evaluate_videos(model, test_videos), highlight=3)
    ```
    """
    from keras_sportsnet.evaluation.metrics import confusion_matrix, most_confused_pairs

    if _is_scores(scores):
        class_names = scores.class_names if class_names is None else class_names
        counts = confusion_matrix(scores.video_scores(), scores.labels, scores.num_classes)
    else:
        array = np.asarray(scores)
        if labels is not None:
            counts = confusion_matrix(array, labels, array.shape[-1] if array.ndim == 2 else int(array.max()) + 1)
        elif array.ndim == 2 and array.shape[0] == array.shape[1]:
            counts = array
        else:
            raise ValueError(
                "`scores` must be VideoScores, a score array with `labels`, or a square count matrix. "
                f"Received: shape={array.shape}, labels={'given' if labels is not None else None}"
            )
    size = counts.shape[0]
    names = [str(i) for i in range(size)] if class_names is None else check_class_names(class_names, size)
    if isinstance(highlight, bool) or not isinstance(highlight, (int, np.integer)) or highlight < 0:
        raise ValueError(f"`highlight` must be an int >= 0. Received: highlight={highlight!r}")
    totals = counts.sum(axis=1, keepdims=True)
    shown = counts / np.where(totals > 0, totals, 1) if normalize else counts
    pairs = most_confused_pairs(counts, names, top=highlight) if highlight else []
    side = float(np.clip(0.32 * size + 2.5, 4.0, 11.0))
    figure = new_figure(side + (2.6 if pairs else 0.9), side)
    grid = figure.add_gridspec(1, 2 if pairs else 1, width_ratios=[side, 2.6] if pairs else [1])
    ax = figure.add_subplot(grid[0, 0])
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else max(1, shown.max()), interpolation="nearest")
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class" if normalize else "videos")
    if size <= MAX_TICK_LABELS:
        ticks = np.arange(size)
        ax.set_xticks(ticks, [short_name(n, 16) for n in names], rotation=60, ha="right", fontsize=7)
        ax.set_yticks(ticks, [short_name(n, 16) for n in names], fontsize=7)
        if size <= 15:
            for t in range(size):
                for p in range(size):
                    if counts[t, p]:
                        ax.text(p, t, f"{shown[t, p]:.2f}" if normalize else str(counts[t, p]), ha="center",
                                va="center", fontsize=6, color="white" if shown[t, p] > 0.5 * image.norm.vmax else "black")
    from matplotlib.patches import Rectangle

    index = {n: i for i, n in enumerate(names)}
    for true, predicted, _, _ in pairs:
        ax.add_patch(Rectangle((index[predicted] - 0.5, index[true] - 0.5), 1, 1, fill=False,
                               edgecolor=HIGHLIGHT_COLOUR, linewidth=1.8))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"Confusion matrix ({int(counts.sum())} examples, top-1 accuracy {accuracy:.1%})", fontsize=10)
    if pairs:
        side_ax = figure.add_subplot(grid[0, 1])
        side_ax.axis("off")
        lines = [f"{short_name(t, 14)} \u2192 {short_name(p, 14)}: {c} ({f:.0%})" for t, p, c, f in pairs]
        side_ax.text(0.02, 0.5, "Most confused (true \u2192 predicted):\n\n" + "\n".join(lines), va="center", fontsize=8,
                     color=HIGHLIGHT_COLOUR, transform=side_ax.transAxes)
    figure.tight_layout()
    return finish(figure, path)


def plot_accuracy_vs_views(scores, *, metric="video_hit@1", max_clips=None, max_views=None, path=None):
    """A metric against the number of clips per video, one line per number of views (crops/flips).

    Args:
        scores: a `VideoScores`, a `ViewsTable` (from
            `VideoScores.accuracy_vs_views`), or a dict ``{model name: either}``
            to compare models (one colour per model, line style per views).
        metric: with `VideoScores`: one of `keras_sportsnet.evaluation.METRICS`.
        max_clips, max_views: None (all) or int: with `VideoScores`, limits
            of the table.
        path: None, or a ``.png``/``.svg``/``.pdf`` file to save to.

    Returns:
        `matplotlib.figure.Figure`; one line per (model, views), x = clips
        1..max_clips, labelled ``"<model> <v> view(s)"``.

    Example:
    ```python
    plot_accuracy_vs_views({"slow": slow_scores, "single": single_scores}, max_views=4)
    ```
    """
    from keras_sportsnet.evaluation.scores import ViewsTable

    entries = scores if isinstance(scores, dict) else {"": scores}
    if not entries:
        raise ValueError("`scores` must not be an empty dict.")
    tables = {}
    for name, value in entries.items():
        if _is_scores(value):
            tables[name] = value.accuracy_vs_views(max_clips=max_clips, max_views=max_views, metric=metric)
        elif isinstance(value, ViewsTable):
            tables[name] = value
        else:
            raise TypeError(f"`scores` must be VideoScores, a ViewsTable or a dict of them. Received: {type(value).__name__}")
    figure = new_figure(6.0, 4.0)
    ax = figure.add_subplot()
    styles = ("-", "--", ":", "-.")
    colours = [f"C{i}" for i in range(10)]
    for number, (name, table) in enumerate(tables.items()):
        clips = np.arange(1, table.values.shape[0] + 1)
        for v in range(table.values.shape[1]):
            label = f"{name} {v + 1} view{'s' if v else ''}".strip()
            ax.plot(clips, table.values[:, v] * (100 if _is_fraction(table) else 1), styles[v % len(styles)],
                    color=colours[number % 10] if len(tables) > 1 else colours[v % 10], marker="o", markersize=3,
                    label=label)
    metric_name = next(iter(tables.values())).metric
    ax.set_xlabel("clips per video")
    ax.set_ylabel(f"{metric_name} (%)" if _is_fraction(next(iter(tables.values()))) else metric_name)
    longest = max(t.values.shape[0] for t in tables.values())
    if longest <= 20:
        ax.set_xticks(np.arange(1, longest + 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2 if sum(t.values.shape[1] for t in tables.values()) > 4 else 1)
    ax.set_title(f"{metric_name} vs clips and views per video", fontsize=10)
    figure.tight_layout()
    return finish(figure, path)


def _is_fraction(table):
    values = table.values[np.isfinite(table.values)]
    return values.size > 0 and values.min() >= 0 and values.max() <= 1
