"""Figures that render anywhere: Agg canvases, no pyplot state, atomic saves.

Every plot in `keras_sportsnet.visualization` is built on `new_figure` and
returned to the caller: it displays inline in Jupyter as a PNG (the figures
have ``_repr_png_``; no ``%matplotlib inline`` needed), and `save_figure` writes it as PNG, SVG
or PDF. pyplot's global figure list is never touched, so plotting in loops or
in a headless training job leaks nothing and needs no ``plt.close``.
"""

import io
import os

import numpy as np
from matplotlib.figure import Figure  # keras imports matplotlib already: no import-time cost

from keras_sportsnet.utils.checks import check_choice

__all__ = ["as_image", "finish", "new_figure", "save_figure", "short_name"]

FORMATS = ("png", "svg", "pdf")
CORRECT_COLOUR = "#2ca02c"
"""Bars and marks of correct predictions (green, as in the paper's Figure 4)."""
INCORRECT_COLOUR = "#d62728"
"""Bars and marks of incorrect predictions (red)."""
TRUTH_COLOUR = "#1f77b4"
"""The ground-truth label (blue, as in the paper's Figure 4)."""


class SportsNetFigure(Figure):
    """A matplotlib Figure with ``_repr_png_``: IPython shows it inline as the PNG `save_figure` would write."""

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def new_figure(width, height, dpi=100):
    """A `matplotlib.figure.Figure` with an Agg canvas (headless; pyplot untouched).

    Args:
        width, height: float. Size in inches.
        dpi: int. Resolution used when the figure is rendered or saved as PNG.

    Returns:
        `matplotlib.figure.Figure`.

    Example:
    ```python
    figure = new_figure(4, 3)
    figure.add_subplot().plot([0, 1], [1, 0])
    save_figure(figure, "line.png")
    ```
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = SportsNetFigure(figsize=(float(width), float(height)), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure, path, dpi=None):
    """Writes ``figure`` to ``path`` atomically; the format comes from the extension.

    Args:
        figure: `matplotlib.figure.Figure`.
        path: str or path-like ending in ``.png``, ``.svg`` or ``.pdf``.
        dpi: int or None (the figure's own).

    Returns:
        str. The path written.

    Example:
    ```python
    save_figure(plot_first_layer_filters(model), "filters.svg")
    ```
    """
    from keras_sportsnet.utils.files import atomic_write

    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    check_choice("path extension", extension, FORMATS)

    def write(temporary):
        figure.savefig(temporary, format=extension, dpi=dpi, bbox_inches="tight")

    atomic_write(path, write)
    return path


def finish(figure, path):
    """Saves ``figure`` when ``path`` is given; returns the figure."""
    if path is not None:
        save_figure(figure, path)
    return figure


def as_image(array, name="image"):
    """An image for ``imshow``: float RGB in [0, 1] from uint8 or float pixels.

    Float input already in [0, 1] is kept; float input above 1 is read as
    0-255 (what keras_sportsnet's pipelines produce). Single-channel
    images become grey RGB.
    """
    image = np.asarray(array)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(f"`{name}` must be an image (H, W), (H, W, 1) or (H, W, 3). Received: shape={image.shape}")
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    if np.issubdtype(image.dtype, np.integer):
        return image.astype(np.float32) / 255.0
    image = image.astype(np.float32)
    if image.size and np.nanmax(image) > 1.0:
        image = image / 255.0
    return np.clip(image, 0.0, 1.0)


def short_name(name, length=22):
    """``name`` cut to ``length`` characters with an ellipsis (tick labels stay readable)."""
    name = str(name)
    return name if len(name) <= length else name[: length - 1] + "\u2026"
