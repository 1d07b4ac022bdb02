"""Analytic costs of the paper's architectures: parameters, FLOPs, clip shapes."""

import math

import keras

from keras_sportsnet.models.backbone import ARCHITECTURES  # noqa: F401  (re-exported: the paper's Table 1)
from keras_sportsnet.models.backbone import CNN_AVERAGE_MEMBERS
from keras_sportsnet.utils import tables

__all__ = ["ARCHITECTURES", "count_flops", "architecture_table", "format_table"]


def count_flops(model):
    """Analytic forward FLOPs for one example (one clip) of a model.

    Counts ``2 x`` multiply-adds of every `Conv3D`, `Conv2D` and `Dense` layer,
    nested models included; normalization, pooling, activations and biases are
    left out (under 1% of the paper's networks).

    Args:
        model: a built functional Keras model.

    Returns:
        int. FLOPs per example.

    Example:
    >>> count_flops(keras_sportsnet.SingleFrame()) / 1e9   # doctest: +SKIP
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += count_flops(layer)
        elif isinstance(layer, (keras.layers.Conv3D, keras.layers.Conv2D)):
            outputs = math.prod(layer.output.shape[1:-1])
            total += 2 * outputs * math.prod(layer.kernel.shape)
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * math.prod(layer.kernel.shape)
    return total


def architecture_table(names=None, include_cnn_average=True, **overrides):
    """Builds each paper architecture and describes it.

    Args:
        names: Table 1 names (keys of `ARCHITECTURES`); all by default.
        include_cnn_average: bool. Add the "CNN Average" row (its four members).
        **overrides: extra `build_model` arguments (e.g. ``classes=101``).

    Returns:
        A list of dicts with ``name``, ``params``, ``input`` (clip shape),
        ``frame_stride``, ``gflops`` (per clip) and ``output`` (shape).
    """
    from keras_sportsnet.models import CNNAverage
    from keras_sportsnet.models import build_model

    names = list(names or ARCHITECTURES)
    rows, built = [], {}
    for name in names:
        model = build_model(**{**ARCHITECTURES[name], **overrides})
        built[name] = model
        rows.append(_describe(name, model))
    if include_cnn_average:
        members = [
            built.get(n) or build_model(**{**ARCHITECTURES[n], **overrides})
            for n in CNN_AVERAGE_MEMBERS
        ]
        rows.append(_describe("CNN Average (Single+Early+Late+Slow)", CNNAverage(members)))
    return rows


def format_table(rows):
    """Formats `architecture_table` rows as a fixed-width text table.

    Args:
        rows: list of dicts from `architecture_table`.

    Example:
    ```python
    print(format_table(architecture_table(["Slow Fusion"])))
    ```
    """
    header = ("architecture", "params", "input clip", "stride", "GFLOPs/clip", "output")
    lines = [
        (
            r["name"],
            f"{r['params']:,}",
            "x".join(str(s) for s in r["input"]),
            str(r["frame_stride"]),
            f"{r['gflops']:.2f}",
            "x".join(str(s) for s in r["output"]),
        )
        for r in rows
    ]
    return tables.format_table(header, lines, align="llllll")


def _describe(name, model):
    geometry = model.clip_geometry
    return {
        "name": name,
        "params": model.count_params(),
        "input": tuple(model.input.shape[1:]),
        "frame_stride": geometry["frame_stride"],
        "gflops": count_flops(model) / 1e9,
        "output": tuple(model.output.shape[1:]),
    }
