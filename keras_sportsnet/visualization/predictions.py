"""Prediction strips, as in the paper's Figure 4.

Each example gets a cell: its thumbnail, the ground truth in blue, and the
model's top-k classes as bars, longest first, green where the class is a true
label and red where it is not.
"""

import os

import numpy as np

from keras_sportsnet.utils.checks import check_class_names, check_positive_int

from keras_sportsnet.visualization.figures import (
    CORRECT_COLOUR,
    INCORRECT_COLOUR,
    TRUTH_COLOUR,
    as_image,
    finish,
    new_figure,
    short_name,
)

__all__ = ["plot_predictions", "plot_video_predictions", "video_thumbnail"]

NEUTRAL_COLOUR = "#7f7f7f"
"""Bars when no ground truth is given."""


def plot_predictions(probabilities, *, labels=None, class_names=None, images=None, top=5, titles=None, columns=4,
                     path=None):
    """Thumbnails with the ground truth and the top-``top`` predictions as bars.

    Args:
        probabilities: array ``(N, num_classes)``: one score row per example
            (video-level probabilities, or a clip's).
        labels: None, or the true labels in any form
            `keras_sportsnet.evaluation.as_multi_hot` accepts (int per
            example, tuples of ints for multi-label, multi-hot). With labels,
            bars are green (a true class) or red; without, grey.
        class_names: sequence of ``num_classes`` str, or None (``"0"``, ...).
        images: None, or ``N`` thumbnails (each ``(H, W, 3)``, uint8 or float
            0-255 / 0-1; None entries leave a blank).
        top: int >= 1. Bars per example (at most ``num_classes``).
        titles: None or ``N`` str written above each thumbnail (e.g. file names).
        columns: int >= 1. Examples per row.
        path: None, or a ``.png``/``.svg``/``.pdf`` file to save to.

    Returns:
        `matplotlib.figure.Figure`. Every example has a bar axes labelled
        ``"predictions i"`` whose bars run from the top prediction down.

    Example:
    ```python
    probabilities = model.predict(clips)
    plot_predictions(probabilities, labels=labels, class_names=dataset.class_names, images=clips[:, 0])
    ```
    """
    from keras_sportsnet.evaluation.metrics import as_multi_hot

    scores = np.asarray(probabilities, np.float64)
    if scores.ndim != 2 or scores.shape[0] < 1 or scores.shape[1] < 1:
        raise ValueError(f"`probabilities` must be a 2-D array (num_examples, num_classes). Received: shape={scores.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("`probabilities` must be finite. Received: NaN or infinite values")
    count, num_classes = scores.shape
    names = [str(i) for i in range(num_classes)] if class_names is None else check_class_names(class_names, num_classes)
    top = check_positive_int("top", top)
    columns = check_positive_int("columns", columns)
    truth = None if labels is None else as_multi_hot(labels, num_classes).astype(bool)
    if truth is not None and truth.shape[0] != count:
        raise ValueError(f"`labels` must have one entry per row of `probabilities` ({count}). Received: {truth.shape[0]}")
    for argument, value in (("images", images), ("titles", titles)):
        if value is not None and len(value) != count:
            raise ValueError(f"`{argument}` must have one entry per row of `probabilities` ({count}). Received: {len(value)}")
    k = min(top, num_classes)
    rows = -(-count // columns)
    columns = min(columns, count)
    has_images = images is not None
    image_height = 1.6 if has_images else 0.35
    bar_height = 0.22 * k + 0.35
    figure = new_figure(2.7 * columns, rows * (image_height + bar_height + 0.35) + 0.3)
    grid = figure.add_gridspec(2 * rows, columns, height_ratios=[image_height, bar_height] * rows, hspace=0.35, wspace=0.9)
    top_scale = 1.0 if scores.min() >= 0 and scores.max() <= 1 else float(np.abs(scores).max())
    for index in range(count):
        row, column = divmod(index, columns)
        picture = figure.add_subplot(grid[2 * row, column])
        picture.set_xticks([])
        picture.set_yticks([])
        if has_images and images[index] is not None:
            picture.imshow(as_image(images[index], f"images[{index}]"))
        else:
            for side in picture.spines.values():
                side.set_visible(False)
        if titles is not None:
            picture.set_title(short_name(titles[index], 30), fontsize=8)
        order = np.argsort(-scores[index], kind="stable")[:k]
        if truth is None:
            colours = [NEUTRAL_COLOUR] * k
        else:
            true_names = [names[c] for c in np.flatnonzero(truth[index])]
            picture.set_xlabel(short_name(", ".join(true_names) or "(no label)", 30), color=TRUTH_COLOUR, fontsize=9,
                               fontweight="bold")
            colours = [CORRECT_COLOUR if truth[index, c] else INCORRECT_COLOUR for c in order]
        bars = figure.add_subplot(grid[2 * row + 1, column])
        bars.set_label(f"predictions {index}")
        positions = np.arange(k)
        bars.barh(positions, scores[index, order], color=colours, height=0.8)
        bars.set_yticks(positions, [short_name(names[c]) for c in order], fontsize=8)
        bars.set_ylim(k - 0.5, -0.5)
        bars.set_xlim(min(0.0, scores[index, order].min()), top_scale)
        bars.tick_params(axis="x", labelsize=7)
        if row == rows - 1 or index + columns >= count:
            bars.set_xlabel("probability" if top_scale == 1.0 else "score", fontsize=8)
    if truth is not None:
        from matplotlib.patches import Patch

        figure.legend(handles=[Patch(color=TRUTH_COLOUR, label="ground truth"),
                               Patch(color=CORRECT_COLOUR, label="correct class"),
                               Patch(color=INCORRECT_COLOUR, label="wrong class")],
                      loc="upper center", ncol=3, fontsize=8, frameon=False, bbox_to_anchor=(0.5, 1.0))
    figure.suptitle(f"Top-{k} predictions", y=1.0 + 0.25 / figure.get_figheight(), fontsize=11)
    return finish(figure, path)


def video_thumbnail(path, size=None):
    """The middle frame of a video, uint8 ``(H, W, 3)``, optionally shrunk so its longer side is ``size``.

    Args:
        path: a video file.
        size: int or None.

    Returns:
        uint8 array.

    Example:
    ```python
    thumbnail = video_thumbnail("v_Biking_g01_c01.avi", size=128)
    ```
    """
    from keras_sportsnet.data.decoding import probe_video, read_clip

    info = probe_video(path)
    frame = read_clip(path, [info.num_frames // 2])[0]
    if size is not None:
        step = max(1, int(np.ceil(max(frame.shape[:2]) / check_positive_int("size", size))))
        frame = frame[::step, ::step]
    return frame


def plot_video_predictions(scores, *, top=5, max_videos=8, videos=None, columns=4, rule="mean_probability", path=None):
    """`plot_predictions` for a video-level evaluation: thumbnails from the videos themselves.

    Args:
        scores: a `keras_sportsnet.evaluation.VideoScores` (what
            `keras_sportsnet.evaluate_videos` returns). Thumbnails are the
            middle frames of the files named by ``scores.video_ids``
            (blank where a file is not there any more).
        top: int >= 1. Bars per video.
        max_videos: int >= 1. Videos shown when `videos` is None: the first ones.
        videos: None, or a sequence of video indices to show.
        columns: int >= 1. Videos per row.
        rule: how clips and views are combined (see `VideoScores.video_scores`).
        path: None, or a file to save to.

    Returns:
        `matplotlib.figure.Figure`.

    Example:
    ```python
    scores = ksn.evaluate_videos(model, test_videos)
    plot_video_predictions(scores, videos=[0, 5, 9])
    ```
    """
    from keras_sportsnet.evaluation.scores import VideoScores

    if not isinstance(scores, VideoScores):
        raise TypeError(f"`scores` must be a keras_sportsnet.evaluation.VideoScores. Received: {type(scores).__name__}")
    if videos is None:
        videos = range(min(check_positive_int("max_videos", max_videos), scores.num_videos))
    videos = [int(v) for v in videos]
    bad = [v for v in videos if not 0 <= v < scores.num_videos]
    if bad or not videos:
        raise ValueError(f"`videos` must be indices in [0, {scores.num_videos}). Received: videos={videos!r}")
    probabilities = scores.video_scores(rule=rule)[videos]
    thumbnails = [video_thumbnail(scores.video_ids[v], size=160) if os.path.isfile(scores.video_ids[v]) else None
                  for v in videos]
    return plot_predictions(probabilities, labels=scores.labels[videos], class_names=scores.class_names,
                            images=thumbnails, top=top, titles=[os.path.basename(scores.video_ids[v]) for v in videos],
                            columns=columns, path=path)
