"""keras.applications-style constructors for the paper's four fusion models.

``SingleFrame``, ``EarlyFusion``, ``LateFusion`` and ``SlowFusion`` are one
function, `build_model`, with the fusion filled in; ``resolution`` picks the
full-frame, multi-resolution, fovea-only or context-only variant (Table 1).
"""

import functools

from keras_sportsnet.models.backbone import PAPER_SPEC
from keras_sportsnet.models.backbone import SportsNetBackbone
from keras_sportsnet.models.classifier import SportsNetVideoClassifier

__all__ = ["build_model", "from_preset", "SingleFrame", "EarlyFusion", "LateFusion", "SlowFusion"]

SPORTS1M_CLASSES = 487


def build_model(
    fusion,
    *,
    include_top=True,
    weights=None,
    input_shape=None,
    pooling=None,
    classes=None,
    classifier_activation="softmax",
    name=None,
    resolution=None,
    spec=None,
    frame_stride=None,
    dropout=0.0,
):
    """Builds one of the paper's models (shared body of the four constructors).

    With ``weights`` naming a preset, the architecture arguments left unset
    (``spec``, ``resolution``, ``input_shape``, ``frame_stride``,
    ``pooling``, ``classes``) are the preset's; arguments you set must agree
    with it (the error names both values), except ``classes``: another class
    count loads the backbone and builds a new head (transfer learning).

    Args:
        fusion: str. ``"single_frame"``, ``"early"``, ``"late"`` or ``"slow"``.
        include_top: bool. True: a `SportsNetVideoClassifier` ending in a
            ``classes``-way ``predictions`` layer. False: the
            `SportsNetBackbone` alone (clips -> last FC features).
        weights: None (random initialization), a registered preset name (see
            `keras_sportsnet.list_presets`), ``"hf://org/repo[@revision]"``,
            a local preset folder (`keras_sportsnet.save_preset`), or a local
            ``.weights.h5`` file saved from the same architecture.
        input_shape: ``(num_frames, height, width, 3)`` or None for the
            preset's or the paper's clip (e.g. ``(10, 170, 170, 3)`` for slow
            fusion, 178 x 178 frames for the multi-resolution family).
        pooling: None/``"flatten"`` (the paper), ``"avg"`` or ``"max"``: how the
            last convolutional map becomes the first FC layer's input.
        classes: int or None. Number of classes when ``include_top=True``
            (None: the preset's, else 487, Sports-1M's).
        classifier_activation: ``"softmax"``, None (logits) or another Keras
            activation for the ``predictions`` layer.
        name: str or None. Model name; defaults to e.g. ``"slow_fusion_multires"``.
        resolution: ``"full"``, ``"multires"``, ``"fovea"``, ``"context"``, or
            None (the preset's, else ``"full"``).
        spec: str or None. The layer shorthand (None: the preset's, else the
            paper's network, `PAPER_SPEC`).
        frame_stride: int or None. Frames between the clip's frames in the video.
        dropout: float. Dropout rate before every FC and the predictions layer.

    Returns:
        A `SportsNetVideoClassifier`, or a `SportsNetBackbone` if
        ``include_top=False``.

    Example:
    ```python
    model = build_model("slow", resolution="multires", classes=101)
    tuned = build_model("slow", weights="presets/slow_synthetic", classes=5)   # new 5-way head
    ```
    """
    from keras_sportsnet.presets.hub import resolve_preset
    from keras_sportsnet.presets.loader import load_preset_weights
    from keras_sportsnet.presets.loader import load_weights_file
    from keras_sportsnet.presets.loader import preset_architecture
    from keras_sportsnet.presets.store import LocalPreset

    if not isinstance(include_top, bool):
        raise ValueError(f"`include_top` must be True or False. Received: include_top={include_top!r}")
    num_frames, image_size = _split_input_shape(input_shape)
    source = weights if weights is None or isinstance(weights, LocalPreset) else resolve_preset(weights)
    architecture = {
        "spec": spec,
        "resolution": resolution,
        "num_frames": num_frames,
        "frame_stride": frame_stride,
        "image_size": image_size,
        "pooling": pooling,
    }
    if isinstance(source, LocalPreset):
        architecture = preset_architecture(source, fusion, architecture)
        classes = classes if classes is not None else (source.num_classes or SPORTS1M_CLASSES)
    architecture["spec"] = architecture["spec"] if architecture["spec"] is not None else PAPER_SPEC
    architecture["resolution"] = architecture["resolution"] or "full"
    classes = SPORTS1M_CLASSES if classes is None else classes
    default_name = {"single_frame": "single_frame"}.get(fusion, f"{fusion}_fusion")
    if architecture["resolution"] != "full":
        default_name += f"_{architecture['resolution']}"
    backbone = SportsNetBackbone(
        fusion=fusion,
        dropout=dropout,
        name=(name or default_name) + ("_backbone" if include_top else ""),
        **architecture,
    )
    if not include_top:
        model = backbone
    else:
        model = SportsNetVideoClassifier(
            backbone,
            num_classes=classes,
            activation=classifier_activation,
            dropout=dropout,
            name=name or default_name,
        )
    if isinstance(source, LocalPreset):
        load_preset_weights(model, source)
    elif source is not None:
        load_weights_file(model, source)
    return model


def from_preset(preset, include_top=True, classes=None, classifier_activation="softmax", name=None, dropout=0.0):
    """Builds the model a preset was saved from, with its weights.

    Args:
        preset: a registered preset name, ``"hf://org/repo[@revision]"`` or a
            local preset folder.
        include_top: bool. False: the backbone alone.
        classes: int or None. None: the preset's classes; another number loads
            the backbone and builds a new, untrained head.
        classifier_activation: activation of the ``predictions`` layer.
        name: str or None.
        dropout: float. Dropout before every FC and the predictions layer.

    Returns:
        A `SportsNetVideoClassifier` (or `SportsNetBackbone`).

    Example:
    ```python
    model = keras_sportsnet.from_preset("hf://my-org/slow-fusion-ucf101@v1")
    ucf = keras_sportsnet.from_preset("presets/slow_synthetic", classes=101)   # fine-tune from here
    ```
    """
    from keras_sportsnet.presets.hub import resolve_preset
    from keras_sportsnet.presets.store import LocalPreset

    source = resolve_preset(preset)
    if not isinstance(source, LocalPreset):
        raise ValueError(
            f"`preset` must be a preset name, an hf:// handle or a preset folder; a bare weights file "
            f"({source}) has no config: pass it as `weights=` to the constructor of its architecture."
        )
    return build_model(
        source.backbone_config["fusion"],
        include_top=include_top,
        weights=source,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        dropout=dropout,
    )


def _split_input_shape(input_shape):
    if input_shape is None:
        return None, None
    shape = tuple(input_shape)
    if len(shape) != 4 or shape[-1] != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(
            "`input_shape` must be (num_frames, height, width, 3) with positive "
            f"integers (RGB clips). Received: input_shape={input_shape!r}"
        )
    return shape[0], shape[1:3]


def _constructor(fusion, paper_name, clip):
    @functools.wraps(build_model)
    def constructor(
        include_top=True,
        weights=None,
        input_shape=None,
        pooling=None,
        classes=None,
        classifier_activation="softmax",
        name=None,
        *,
        resolution=None,
        spec=None,
        frame_stride=None,
        dropout=0.0,
    ):
        return build_model(
            fusion,
            include_top=include_top,
            weights=weights,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
            name=name,
            resolution=resolution,
            spec=spec,
            frame_stride=frame_stride,
            dropout=dropout,
        )

    constructor.__name__ = constructor.__qualname__ = paper_name
    constructor.__doc__ = (
        f"The paper's {paper_name} model ({clip}); see `build_model` for the arguments.\n\n"
        f"Example:\n```python\nmodel = keras_sportsnet.{paper_name}(weights=None)\n"
        f"small = keras_sportsnet.{paper_name}(resolution=\"multires\", classes=101)\n```\n"
    )
    del constructor.__wrapped__
    return constructor


SingleFrame = _constructor("single_frame", "SingleFrame", "one frame per clip")
EarlyFusion = _constructor("early", "EarlyFusion", "10 consecutive frames, conv1 spans all 10")
LateFusion = _constructor("late", "LateFusion", "2 frames 15 apart through shared towers")
SlowFusion = _constructor("slow", "SlowFusion", "10 frames fused 10 -> 4 -> 2 -> 1")
