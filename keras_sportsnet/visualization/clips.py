"""A clip montage: frames over time, one clip per row, for inspecting data and augmentation."""

import numpy as np

from keras_sportsnet.utils.checks import check_class_names, check_positive_int
from keras_sportsnet.visualization.figures import as_image, finish, new_figure, short_name

__all__ = ["plot_clip_montage", "take_clips"]


def take_clips(data, count):
    """Up to ``count`` clips and their labels from an array or a dataset.

    Args:
        data: an array ``(N, T, H, W, C)`` (or one clip ``(T, H, W, C)``), or
            a `keras_sportsnet.data.VideoDataset` (its pass 0), or a
            `tf.data.Dataset` of ``(clips, labels)`` batches or ``clips`` alone.
        count: int >= 1.

    Returns:
        ``(clips, labels)``: a float/uint8 array ``(n, T, H, W, C)`` with
        ``n <= count`` and a label array (or None).

    Example:
    ```python
    clips, labels = take_clips(dataset, 4)
    ```
    """
    count = check_positive_int("max_clips", count)
    if hasattr(data, "one_pass"):  # a keras_sportsnet VideoDataset: the clips of its first pass
        data = data.one_pass(0)
    if hasattr(data, "take") and hasattr(data, "element_spec"):
        clips, labels = [], []
        for element in data.as_numpy_iterator():
            batch, label = element if isinstance(element, tuple) else (element, None)
            if isinstance(batch, dict):
                raise ValueError("`clips`: the dataset yields dicts; pass a dataset of clips or (clips, labels).")
            batch = np.asarray(batch)
            if batch.ndim == 4:  # an unbatched dataset
                batch, label = batch[None], None if label is None else np.asarray(label)[None]
            clips.append(batch)
            if label is not None:
                labels.append(np.asarray(label))
            if sum(len(c) for c in clips) >= count:
                break
        if not clips:
            raise ValueError("`clips`: the dataset is empty.")
        clips = np.concatenate(clips)[:count]
        labels = np.concatenate(labels)[:count] if labels else None
        return clips, labels
    clips = np.asarray(data)
    if clips.ndim == 4:
        clips = clips[None]
    if clips.ndim != 5 or clips.shape[-1] not in (1, 3):
        raise ValueError(f"`clips` must be an array (N, T, H, W, 3), one clip (T, H, W, 3) or a dataset. "
                         f"Received: shape={clips.shape}")
    return clips[:count], None


def _label_text(label, names):
    label = np.asarray(label)
    if label.ndim == 0:
        indices = [int(label)]
    else:  # one-hot or multi-hot
        indices = [int(i) for i in np.flatnonzero(label > 0.5)]
    return ", ".join(names[i] if names and 0 <= i < len(names) else str(i) for i in indices) or "(no label)"


def plot_clip_montage(clips, *, labels=None, class_names=None, max_clips=8, max_frames=8, title=None, path=None):
    """Frames over time, one clip per row, labelled with its class.

    Use it to look at what a pipeline feeds the model: ``plot_clip_montage(dataset)``
    shows the first batch as decoded, cropped, flipped and resized.

    Args:
        clips: an array ``(N, T, H, W, 3)`` (uint8, or float 0-255 / 0-1),
            one clip ``(T, H, W, 3)``, or a dataset of ``(clips, labels)``
            batches (its ``class_names`` are used).
        labels: None, or one label per clip (int, or one-/multi-hot); with a
            dataset, its own labels.
        class_names: sequence of str, or None (a dataset's ``class_names``).
        max_clips: int >= 1. Rows.
        max_frames: int >= 1. Columns: frames evenly spaced over the clip.
        title: str or None.
        path: None, or a ``.png``/``.svg``/``.pdf`` file to save to.

    Returns:
        `matplotlib.figure.Figure`: one axes (one image) per clip and frame,
        columns titled with the frame index.

    Example:
    ```python
    train = ksn.data.video_dataset_from_directory("videos/", model=model, batch_size=8, seed=0)
    plot_clip_montage(train, max_clips=4)
    ```
    """
    frames_wanted = check_positive_int("max_frames", max_frames)
    array, dataset_labels = take_clips(clips, max_clips)
    if labels is None:
        labels = dataset_labels
    elif len(labels) < len(array):
        raise ValueError(f"`labels` must have one entry per clip ({len(array)}). Received: {len(labels)}")
    if class_names is None:
        class_names = getattr(clips, "class_names", None)
    names = list(class_names) if class_names is not None else None
    if names is not None and labels is not None and np.asarray(labels).ndim == 2:
        check_class_names(names, np.asarray(labels).shape[1])
    count, num_frames = array.shape[:2]
    times = np.unique(np.linspace(0, num_frames - 1, min(frames_wanted, num_frames)).round().astype(int))
    height, width = array.shape[2:4]
    tile = 1.25
    figure = new_figure(tile * len(times) * width / height + 1.8, tile * count + 0.6)
    axes = figure.subplots(count, len(times), squeeze=False)
    for row in range(count):
        for column, t in enumerate(times):
            ax = axes[row, column]
            ax.imshow(as_image(array[row, t], "clips"), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"frame {t}", fontsize=8)
        if labels is not None:
            axes[row, 0].set_ylabel(short_name(_label_text(labels[row], names), 18), rotation=0, ha="right",
                                    va="center", fontsize=8)
    figure.suptitle(title or f"{count} clip{'s' if count > 1 else ''} of {num_frames} frames ({height}x{width})",
                    fontsize=10)
    figure.subplots_adjust(left=0.2 if labels is not None else 0.02, right=0.99, top=1 - 0.45 / figure.get_figheight(),
                           bottom=0.02, wspace=0.05, hspace=0.08)
    return finish(figure, path)
