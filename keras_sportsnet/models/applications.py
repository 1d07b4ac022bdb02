"""keras.applications-style constructors for the paper's four fusion models.

``SingleFrame``, ``EarlyFusion``, ``LateFusion`` and ``SlowFusion`` are one
function, `build_model`, with the fusion filled in; ``resolution`` picks the
full-frame, multi-resolution, fovea-only or context-only variant (Table 1).
"""

import functools
import os

from keras_sportsnet.models.backbone import PAPER_SPEC
from keras_sportsnet.models.backbone import SportsNetBackbone
from keras_sportsnet.models.classifier import SportsNetVideoClassifier
from keras_sportsnet.presets import PRESETS

__all__ = ["build_model", "SingleFrame", "EarlyFusion", "LateFusion", "SlowFusion", "load_weights"]

SPORTS1M_CLASSES = 487


def build_model(
    fusion,
    *,
    include_top=True,
    weights=None,
    input_shape=None,
    pooling=None,
    classes=SPORTS1M_CLASSES,
    classifier_activation="softmax",
    name=None,
    resolution="full",
    spec=PAPER_SPEC,
    frame_stride=None,
    dropout=0.0,
):
    """Builds one of the paper's models (shared body of the four constructors).

    Args:
        fusion: str. ``"single_frame"``, ``"early"``, ``"late"`` or ``"slow"``.
        include_top: bool. True: a `SportsNetVideoClassifier` ending in a
            ``classes``-way ``predictions`` layer. False: the
            `SportsNetBackbone` alone (clips -> last FC features).
        weights: None (random initialization), a path to a ``.weights.h5`` file
            saved from the same architecture, or a preset name (see
            `keras_sportsnet.list_presets`).
        input_shape: ``(num_frames, height, width, 3)`` or None for the paper's
            clip (e.g. ``(10, 170, 170, 3)`` for slow fusion, 178 x 178 frames
            for the multi-resolution family).
        pooling: None/``"flatten"`` (the paper), ``"avg"`` or ``"max"``: how the
            last convolutional map becomes the first FC layer's input.
        classes: int. Number of classes when ``include_top=True``.
        classifier_activation: ``"softmax"``, None (logits) or another Keras
            activation for the ``predictions`` layer.
        name: str or None. Model name; defaults to e.g. ``"slow_fusion_multires"``.
        resolution: ``"full"``, ``"multires"``, ``"fovea"`` or ``"context"``.
        spec: str. The layer shorthand (the paper's network by default).
        frame_stride: int or None. Frames between the clip's frames in the video.
        dropout: float. Dropout rate before every FC and the predictions layer.

    Returns:
        A `SportsNetVideoClassifier`, or a `SportsNetBackbone` if
        ``include_top=False``.

    Example:
    ```python
    model = build_model("slow", resolution="multires", classes=101)
    ```
    """
    if not isinstance(include_top, bool):
        raise ValueError(f"`include_top` must be True or False. Received: include_top={include_top!r}")
    num_frames, image_size = _split_input_shape(input_shape)
    default_name = {"single_frame": "single_frame"}.get(fusion, f"{fusion}_fusion")
    if resolution != "full":
        default_name += f"_{resolution}"
    backbone = SportsNetBackbone(
        spec=spec,
        fusion=fusion,
        resolution=resolution,
        num_frames=num_frames,
        frame_stride=frame_stride,
        image_size=image_size,
        pooling=pooling,
        dropout=dropout,
        name=(name or default_name) + ("_backbone" if include_top else ""),
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
    if weights is not None:
        load_weights(model, weights)
    return model


def load_weights(model, weights):
    """Loads ``weights`` (a ``.weights.h5`` path or a preset name) into ``model``.

    Raises:
        ValueError: for a name that is neither an existing file nor a preset,
            listing the presets that exist.
    """
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            "`weights` must be None, a path to a .weights.h5 file or a preset name. "
            f"Received: weights={weights!r}"
        )
    path = os.fspath(weights)
    if path.endswith(".weights.h5") or os.path.exists(path):
        if not os.path.isfile(path):
            raise ValueError(f"`weights` file {path!r} does not exist.")
        model.load_weights(path)
        return model
    if path in PRESETS:  # pragma: no cover - the registry is empty until presets exist
        raise NotImplementedError(f"Preset loading for {path!r} is not implemented yet.")
    available = ", ".join(sorted(PRESETS)) or "none are published yet"
    raise ValueError(
        f"`weights` must be None, a .weights.h5 path or a known preset. Received: "
        f"weights={path!r}. Presets: {available}. No Sports-1M weights exist for "
        "keras_sportsnet: the dataset (1M YouTube videos) has to be trained on "
        "with the paper's recipe to produce them."
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
        classes=SPORTS1M_CLASSES,
        classifier_activation="softmax",
        name=None,
        *,
        resolution="full",
        spec=PAPER_SPEC,
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
