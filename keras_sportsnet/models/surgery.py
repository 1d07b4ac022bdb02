"""Weight surgery: initialise one architecture from another's weights.

`inflate_weights(source, target)` copies every weighted layer of ``source``
into the same-named layer of ``target`` (layer names are stable:
``{stream}_{token}_conv``, ``fc_{i}``, ``predictions``), adapting shapes
that differ in the two ways the paper's family needs:

- **over time**: a convolution kernel of temporal extent 1 (single frame)
  becomes extent T (early fusion's conv1, T = 10; slow fusion's conv1-3,
  T = 4, 2, 2) by repeating it T times and dividing by T; the first FC of
  late fusion, which reads two towers' maps, gets the single-frame FC6 split
  the same way. A static clip (every frame the same) then gives exactly the
  single-frame model's response.
- **into streams**: a full-frame tower (``full_*``) initialises both the
  ``context_*`` and ``fovea_*`` streams of a multi-resolution model; the
  first FC, which reads the two streams' maps side by side, gets the
  full-frame FC6 split between them (repeat, divide by 2).

Any other difference (another spec, filter count, FC width) is an error
naming the layer and both shapes. The classifier head is copied when both
models have one with the same number of classes, else left as it is (and
reported).
"""

import numpy as np

__all__ = ["inflate_weights"]


def inflate_weights(source, target):
    """Initialises ``target`` from ``source``, inflating kernels over time and streams.

    Args:
        source: a keras_sportsnet model (classifier or backbone), e.g. a
            trained single-frame model.
        target: a keras_sportsnet model with the same spec, e.g. an early,
            late or slow fusion model, or a multi-resolution one.

    Returns:
        dict ``{target layer name: what was done}``, e.g.
        ``{"full_0_conv": "inflated over time x4", "fc_1": "copied", ...}``.

    Example:
    ```python
    single = ksn.SingleFrame(weights="presets/single_frame_synthetic")
    slow = ksn.SlowFusion(spec=single.backbone.spec, input_shape=(10, 170, 170, 3), classes=single.num_classes)
    ksn.inflate_weights(single, slow)     # a static clip now gets the single-frame prediction
    ```
    """
    source_backbone = getattr(source, "backbone", source)
    target_backbone = getattr(target, "backbone", target)
    available = {layer.name: layer for layer in source_backbone.layers if layer.weights}
    report = {}
    for layer in target_backbone.layers:
        if not layer.weights:
            continue
        origin = _source_layer(layer.name, available)
        if origin is None:
            raise ValueError(
                f"`source` ({source.name}) has no layer for `target` layer {layer.name!r}: the specs differ "
                f"(source layers: {sorted(available)})."
            )
        values = origin.get_weights()
        if layer.name.startswith("fc_0") and _is_first_dense(layer, target_backbone):
            adapted, words = _inflate_first_dense(values, source_backbone, target_backbone, layer.name)
        else:
            adapted, words = _inflate_conv(values, layer, origin.name)
        layer.set_weights(adapted)
        report[layer.name] = words if origin.name == layer.name else f"{words} from {origin.name}"
    head_in, head_out = _head(source), _head(target)
    if head_out is not None:
        if head_in is not None and [w.shape for w in head_in.weights] == [w.shape for w in head_out.weights]:
            head_out.set_weights(head_in.get_weights())
            report[head_out.name] = "copied"
        else:
            report[head_out.name] = "kept (no matching head in the source)"
    return report


def _head(model):
    try:
        return model.get_layer("predictions")
    except ValueError:
        return None


def _source_layer(name, available):
    if name in available:
        return available[name]
    stream, _, rest = name.partition("_")
    if stream in ("context", "fovea"):
        return available.get(f"full_{rest}")
    return None


def _is_first_dense(layer, backbone):
    dense = [l for l in backbone.layers if l.name.startswith("fc_") and l.weights]
    return bool(dense) and dense[0] is layer


def _inflate_conv(values, layer, origin_name):
    kernel, *rest = values
    wanted = tuple(layer.weights[0].shape)
    if kernel.shape == wanted:
        return values, "copied"
    if kernel.ndim == 5 and kernel.shape[0] == 1 and kernel.shape[1:] == wanted[1:]:
        extent = wanted[0]
        return [np.repeat(kernel, extent, axis=0) / extent, *rest], f"inflated over time x{extent}"
    raise ValueError(
        f"Cannot inflate {origin_name!r} (kernel {kernel.shape}) into {layer.name!r} (kernel {wanted}): "
        "only a temporal extent of 1 can be inflated."
    )


def _feature_map_shape(backbone):
    """Shape of the map the first FC reads, before flattening/pooling: ``(T, h, w, C)`` or ``(C,)``."""
    for name in ("flatten", "avg_pool", "max_pool"):
        try:
            layer = backbone.get_layer(name)
        except ValueError:
            continue
        shape = tuple(layer.input.shape[1:])
        return shape if name == "flatten" else shape[-1:]
    raise ValueError(f"{backbone.name} has no flatten or global pooling layer before its first FC.")


def _inflate_first_dense(values, source, target, name):
    kernel, bias = values
    source_map, target_map = _feature_map_shape(source), _feature_map_shape(target)
    if source_map == target_map:
        return values, "copied"
    reps = [t // s if s and t % s == 0 else 0 for s, t in zip(source_map, target_map)]
    if len(source_map) != len(target_map) or 0 in reps:
        raise ValueError(
            f"Cannot inflate {name!r}: the source reads a {source_map} map, the target a {target_map} map."
        )
    factor = int(np.prod(reps))
    grid = kernel.reshape(*source_map, kernel.shape[-1])
    tiled = np.tile(grid, (*reps, 1)) / factor
    return [tiled.reshape(-1, kernel.shape[-1]), bias], f"inflated x{factor} ({source_map} map -> {target_map})"
