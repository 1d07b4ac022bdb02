"""The first-layer filters of a model, as in the paper's Figure 3.

Each stream's first convolution (``full_0_conv``; for the multiresolution
network ``context_0_conv`` and ``fovea_0_conv``, drawn side by side) is shown
as a grid with one tile per filter. A filter with a temporal extent (early
fusion: 10 frames; slow fusion: 4) is laid out over time: its frames in a row,
left to right, inside one grid cell; `animate_first_layer_filters` plays the
same frames as an animated GIF.
"""

import re

import numpy as np

from keras_sportsnet.utils.checks import check_choice, check_positive_int
from keras_sportsnet.visualization.figures import finish, new_figure

__all__ = ["animate_first_layer_filters", "first_layer_filters", "plot_first_layer_filters"]

FIRST_CONV = re.compile(r"^(?P<stream>[a-z]+)_(?P<position>\d+)_conv$")
NORMALIZATIONS = ("filter", "layer")


def first_layer_filters(model):
    """The first convolution kernel of every stream of a keras_sportsnet model.

    Args:
        model: a keras_sportsnet classifier (``SlowFusion(...)``) or backbone.

    Returns:
        dict ``{stream: kernel}``, streams in the model's order (``"full"``, or
        ``"context"`` then ``"fovea"``), each kernel a float32 array
        ``(time, height, width, in_channels, filters)``.

    Raises:
        ValueError: the model has no keras_sportsnet convolution (a CNN
            average: plot one of its members; or a foreign model).

    Example:
    ```python
    kernels = first_layer_filters(ksn.SlowFusion(weights="slow_fusion_synthetic"))
    kernels["full"].shape  # (4, 5, 5, 3, 16)
    ```
    """
    backbone = getattr(model, "backbone", model)
    found = {}
    for layer in getattr(backbone, "layers", ()):
        match = FIRST_CONV.match(layer.name)
        if not match or not layer.weights:
            continue
        stream, position = match["stream"], int(match["position"])
        if stream not in found or position < found[stream][0]:
            found[stream] = (position, layer)
    if not found:
        members = getattr(model, "members", None)
        hint = " It is an average of models: plot one of its members." if members else ""
        raise ValueError(
            f"`model` has no first convolution named '<stream>_<i>_conv' (keras_sportsnet backbones have one per "
            f"stream).{hint} Received: model={getattr(model, 'name', model)!r}"
        )
    order = sorted(found, key=lambda s: ({"context": 0, "fovea": 1, "full": 0}.get(s, 2), s))
    return {stream: np.asarray(found[stream][1].weights[0].numpy(), np.float32) for stream in order}


def _normalized(kernel, normalize):
    """Kernel ``(T, H, W, C, F)`` -> images in [0, 1], ``(F, T, H, W, 3)``."""
    images = np.moveaxis(kernel, -1, 0)  # (F, T, H, W, C)
    if images.shape[-1] != 3:
        images = np.repeat(images.mean(axis=-1, keepdims=True), 3, axis=-1)
    axes = tuple(range(1, images.ndim)) if normalize == "filter" else None
    low = images.min(axis=axes, keepdims=True)
    high = images.max(axis=axes, keepdims=True)
    return (images - low) / np.where(high > low, high - low, 1.0)


def _layout(num_filters, num_frames, columns):
    if columns is None:
        # about square in pixels: a cell is num_frames tiles wide, one tall
        columns = max(1, int(round(np.sqrt(num_filters / num_frames))))
    columns = min(columns, num_filters)
    rows = -(-num_filters // columns)
    return rows, columns


def _draw_stream(ax, images, columns, title):
    """One tile per filter and frame, each an AxesImage labelled ``filter i t=j``."""
    num_filters, num_frames, height, width = images.shape[:4]
    rows, columns = _layout(num_filters, num_frames, columns)
    frame_gap, filter_gap = 0.15, 1.0
    cell_width = num_frames * (width + frame_gap * width) - frame_gap * width
    for index in range(num_filters):
        row, column = divmod(index, columns)
        top = row * (height + filter_gap * height / 2)
        left = column * (cell_width + filter_gap * width)
        for t in range(num_frames):
            x = left + t * width * (1 + frame_gap)
            tile = ax.imshow(images[index, t], extent=(x, x + width, top + height, top), interpolation="nearest")
            tile.set_label(f"filter {index} t={t}")
    ax.set_xlim(-0.5, columns * (cell_width + filter_gap * width))
    ax.set_ylim(rows * (height + filter_gap * height / 2), -0.5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_facecolor("white")
    ax.set_title(title, fontsize=10)
    return rows, columns


def plot_first_layer_filters(model, *, max_filters=None, columns=None, normalize="filter", title=None, path=None):
    """The paper's Figure 3: the first-layer filters as a grid, one tile per filter.

    For a multiresolution model the context and fovea streams are drawn side
    by side. Filters with a temporal extent are laid out over time: the
    frames of one filter in a row, earliest on the left.

    Args:
        model: a keras_sportsnet classifier or backbone.
        max_filters: int >= 1 or None (all). The first filters to show.
        columns: int >= 1 or None (about square). Filters per grid row.
        normalize: ``"filter"`` (each filter stretched to its own range over
            all its frames, so colours are comparable across time) or
            ``"layer"`` (one range for the whole stream, so contrast shows
            filter strength).
        title: str or None (the model's name and the kernel size).
        path: None, or a ``.png``/``.svg``/``.pdf`` file to save to.

    Returns:
        `matplotlib.figure.Figure`, one axes per stream (axes titles name the
        stream); every tile is an image labelled ``"filter i t=j"``.

    Example:
    ```python
    model = ksn.SlowFusion(weights="slow_fusion_synthetic")
    plot_first_layer_filters(model, path="filters.png")
    ```
    """
    check_choice("normalize", normalize, NORMALIZATIONS)
    kernels = first_layer_filters(model)
    shown = {}
    for stream, kernel in kernels.items():
        count = kernel.shape[-1] if max_filters is None else check_positive_int("max_filters", max_filters)
        shown[stream] = _normalized(kernel[..., :count], normalize)
    if columns is not None:
        check_positive_int("columns", columns)
    first = next(iter(shown.values()))
    num_filters, num_frames, height, width = first.shape[:4]
    rows, grid_columns = _layout(num_filters, num_frames, columns)
    cell_pixels = (num_frames * width * 1.15 + width) * grid_columns
    panel_width = float(np.clip(cell_pixels / 28.0, 2.5, 7.5))
    panel_height = panel_width * rows * height * 1.5 / max(cell_pixels, 1) + 0.6
    figure = new_figure(panel_width * len(shown) + 0.4, panel_height + 0.5)
    axes = figure.subplots(1, len(shown), squeeze=False)[0]
    for ax, (stream, images) in zip(axes, shown.items()):
        kernel = kernels[stream]
        extent = f"{kernel.shape[1]}x{kernel.shape[2]}" + (f"x{kernel.shape[0]} frames" if kernel.shape[0] > 1 else "")
        _draw_stream(ax, images, columns, f"{stream} stream: {images.shape[0]} filters, {extent}")
    if num_frames > 1:
        figure.text(0.5, 0.01, "each cell is one filter; its frames run left to right (time)", ha="center", fontsize=8)
    figure.suptitle(title or f"First-layer filters of {getattr(model, 'name', 'the model')}", fontsize=11)
    return finish(figure, path)


def animate_first_layer_filters(model, path, *, max_filters=None, columns=None, normalize="filter", fps=2, scale=8):
    """The first-layer filters as an animated GIF: one GIF frame per filter frame.

    Each GIF frame shows every filter's kernel at one time step (streams side
    by side), so a slow-fusion filter's motion plays out. Single-frame models
    give a one-frame GIF.

    Args:
        model: a keras_sportsnet classifier or backbone.
        path: the ``.gif`` file to write (atomically).
        max_filters, columns, normalize: as in `plot_first_layer_filters`.
        fps: float > 0. GIF frames per second.
        scale: int >= 1. Screen pixels per kernel pixel.

    Returns:
        str. The path written.

    Example:
    ```python
    animate_first_layer_filters(ksn.SlowFusion(weights="slow_fusion_synthetic"), "filters.gif")
    ```
    """
    import os

    from PIL import Image

    from keras_sportsnet.utils.files import atomic_write

    path = os.fspath(path)
    if not path.lower().endswith(".gif"):
        raise ValueError(f"`path` must end in '.gif'. Received: path={path!r}")
    check_choice("normalize", normalize, NORMALIZATIONS)
    if not fps > 0:
        raise ValueError(f"`fps` must be > 0. Received: fps={fps!r}")
    scale = check_positive_int("scale", scale)
    mosaics = []
    for kernel in first_layer_filters(model).values():
        count = kernel.shape[-1] if max_filters is None else check_positive_int("max_filters", max_filters)
        images = _normalized(kernel[..., :count], normalize)  # (F, T, H, W, 3)
        num_filters, num_frames, height, width = images.shape[:4]
        rows, grid_columns = _layout(num_filters, 1, columns)
        canvas = np.ones((num_frames, rows * (height + 1) + 1, grid_columns * (width + 1) + 1, 3), np.float32)
        for index in range(num_filters):
            row, column = divmod(index, grid_columns)
            y, x = 1 + row * (height + 1), 1 + column * (width + 1)
            canvas[:, y : y + height, x : x + width] = images[index]
        mosaics.append(canvas)
    frames = max(m.shape[0] for m in mosaics)
    height = max(m.shape[1] for m in mosaics)
    gap = np.ones((frames, height, 2, 3), np.float32)
    padded = []
    for m in mosaics:
        m = np.concatenate([m] + [m[-1:]] * (frames - m.shape[0]), axis=0)  # a shorter stream holds its last frame
        m = np.pad(m, ((0, 0), (0, height - m.shape[1]), (0, 0), (0, 0)), constant_values=1.0)
        padded.extend([m, gap])
    video = np.concatenate(padded[:-1], axis=2)
    video = np.repeat(np.repeat(video, scale, axis=1), scale, axis=2)
    pictures = [Image.fromarray((frame * 255).round().astype(np.uint8)) for frame in video]

    def write(temporary):
        pictures[0].save(temporary, format="GIF", save_all=True, append_images=pictures[1:],
                         duration=int(round(1000 / fps)), loop=0)

    atomic_write(path, write)
    return path
