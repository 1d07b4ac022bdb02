"""keras.applications-style constructors for the paper's four fusion models, and `from_preset`.

``SingleFrame``, ``EarlyFusion``, ``LateFusion`` and ``SlowFusion`` are four
plain keyword-only functions (each with its own signature and docstring) over
one builder, `build_model`; ``resolution`` picks the full-frame,
multi-resolution, fovea-only or context-only variant (Table 1).

The one documented way to get a pretrained model is `from_preset` (the
classes' ``from_preset`` underneath); the constructors build a fresh model,
and their ``weights=`` is the keras.applications-style shortcut to the same
loader.
"""

from keras_sportsnet.models.backbone import PAPER_SPEC
from keras_sportsnet.models.backbone import SportsNetBackbone
from keras_sportsnet.models.classifier import SportsNetVideoClassifier
from keras_sportsnet.models.loading import ARCHITECTURE_ARGUMENTS
from keras_sportsnet.models.loading import load_preset
from keras_sportsnet.models.loading import load_weights_source
from keras_sportsnet.presets.errors import PresetError
from keras_sportsnet.presets.folder import LocalPreset
from keras_sportsnet.presets.resolve import resolve_preset

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
    """Builds one of the paper's models (the shared body of the four constructors).

    With ``weights`` naming a preset, the architecture arguments left unset
    (``spec``, ``resolution``, ``input_shape``, ``frame_stride``,
    ``pooling``, ``classes``) are the preset's; arguments you set must agree
    with it (the error names both values), except ``classes``: another class
    count loads the backbone and builds a new head (transfer learning). The
    model is built once and the weights are read into it.

    Args:
        fusion: str. ``"single_frame"``, ``"early"``, ``"late"`` or ``"slow"``.
        include_top: bool. True: a `SportsNetVideoClassifier` ending in a
            ``classes``-way ``predictions`` layer. False: the
            `SportsNetBackbone` alone (clips -> last FC features).
        weights: None (random initialization), a registered preset name (see
            `keras_sportsnet.list_presets`), ``"hf://org/repo[@revision]"``,
            a local preset folder (`keras_sportsnet.save_preset`), a local
            ``.weights.h5`` file saved from the same architecture, or a
            ``.keras`` file (loaded in safe mode: no code runs).
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
        A `SportsNetVideoClassifier`, or a `SportsNetBackbone` if ``include_top=False``.

    Example:
    ```python
    model = build_model("slow", resolution="multires", classes=101)
    tuned = build_model("slow", weights="presets/slow_synthetic", classes=5)   # new 5-way head
    ```
    """
    if not isinstance(include_top, bool):
        raise ValueError(f"`include_top` must be True or False. Received: include_top={include_top!r}")
    num_frames, image_size = _split_input_shape(input_shape)
    architecture = {
        "spec": spec,
        "resolution": resolution,
        "num_frames": num_frames,
        "frame_stride": frame_stride,
        "image_size": image_size,
        "pooling": pooling,
    }
    source = weights if weights is None or isinstance(weights, LocalPreset) else resolve_preset(weights)
    if isinstance(source, LocalPreset):
        return load_preset(
            source,
            backbone_cls=SportsNetBackbone,
            classifier_cls=SportsNetVideoClassifier,
            fusion=fusion,
            given={key: architecture[key] for key in ARCHITECTURE_ARGUMENTS},
            include_top=include_top,
            num_classes=classes,
            activation=classifier_activation,
            dropout=dropout,
            name=name,
        )
    if isinstance(source, str) and source.endswith(".keras"):
        return _from_keras_file(source, fusion, architecture, include_top, classes, classifier_activation, name,
                                dropout)
    model = _build(fusion, architecture, include_top, classes, classifier_activation, name, dropout)
    if source is not None:
        load_weights_source(model, source)
    return model


def _build(fusion, architecture, include_top, classes, classifier_activation, name, dropout):
    architecture = dict(architecture)
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
        return backbone
    return SportsNetVideoClassifier(
        backbone,
        num_classes=classes,
        activation=classifier_activation,
        dropout=dropout,
        name=name or default_name,
    )


def _from_keras_file(path, fusion, architecture, include_top, classes, classifier_activation, name, dropout):
    """``weights="model.keras"``: the saved model (safe mode, uncompiled), its backbone reused."""
    import keras

    try:
        saved = keras.saving.load_model(path, compile=False, safe_mode=True)
    except KeyboardInterrupt:
        raise
    except Exception as error:
        raise PresetError(
            f"`weights` file {path!r} cannot be loaded as a keras_sportsnet model ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''})."
        ) from None
    if not isinstance(saved, (SportsNetVideoClassifier, SportsNetBackbone)):
        raise PresetError(
            f"`weights` file {path!r} holds a {type(saved).__name__}, not a keras_sportsnet "
            "SportsNetVideoClassifier or SportsNetBackbone."
        )
    backbone = saved.backbone if isinstance(saved, SportsNetVideoClassifier) else saved
    stored = backbone.get_config()
    if stored["fusion"] != fusion:
        raise PresetError(
            f"`weights` file {path!r} holds a {stored['fusion']!r} fusion model, but a {fusion!r} fusion model was "
            "asked for: use the matching constructor."
        )
    for argument, value in architecture.items():
        saved_value = tuple(stored[argument]) if argument == "image_size" else stored[argument]
        value = tuple(value) if argument == "image_size" and value is not None else value
        if value is not None and value != saved_value:
            raise PresetError(
                f"`weights` file {path!r} was saved with {argument}={saved_value!r}, but the model asked for has "
                f"{argument}={value!r}: its weights do not fit."
            )
    if dropout != backbone.dropout:
        rebuilt = SportsNetBackbone.from_config({**stored, "dropout": dropout})
        rebuilt.set_weights(backbone.get_weights())
        backbone = rebuilt
    if not include_top:
        return backbone
    same_head = isinstance(saved, SportsNetVideoClassifier) and classes in (None, saved.num_classes)
    if classes is None and not same_head:
        classes = SPORTS1M_CLASSES
    model = SportsNetVideoClassifier(
        backbone,
        num_classes=saved.num_classes if same_head else classes,
        activation=classifier_activation,
        dropout=dropout,
        preprocessor=getattr(saved, "preprocessor", None),
        class_names=saved.class_names if same_head else None,
        name=name or saved.name,
    )
    if same_head:
        model.get_layer("predictions").set_weights(saved.get_layer("predictions").get_weights())
    return model


def from_preset(preset, include_top=True, classes=None, classifier_activation="__preset__", name=None, dropout=None):
    """The model a preset holds, with its weights: the one documented way to get a pretrained model.

    ``SportsNetVideoClassifier.from_preset`` (or, with ``include_top=False``,
    ``SportsNetBackbone.from_preset``) under a keras.applications-style
    signature.

    Args:
        preset: a registered preset name (`keras_sportsnet.list_presets`),
            ``"hf://org/repo[@revision]"`` or a local preset folder.
        include_top: bool. False: the backbone alone.
        classes: int or None. None: the preset's classes (and class names);
            another number loads the backbone and builds a new, untrained head.
        classifier_activation: activation of the ``predictions`` layer (default: the preset's).
        name: str or None.
        dropout: float or None. Dropout before every FC and the predictions layer (default: the preset's).

    Returns:
        A `SportsNetVideoClassifier` (or `SportsNetBackbone`), with ``preprocessor`` and ``class_names``.

    Example:
    ```python
    model = keras_sportsnet.from_preset("slow_fusion_synthetic")
    model = keras_sportsnet.from_preset("hf://my-org/slow-fusion-ucf101@v1")
    ucf = keras_sportsnet.from_preset("presets/slow_synthetic", classes=101)   # fine-tune from here
    ```
    """
    return load_preset(
        preset,
        backbone_cls=SportsNetBackbone,
        classifier_cls=SportsNetVideoClassifier,
        include_top=include_top,
        num_classes=classes,
        activation=classifier_activation,
        dropout=dropout,
        name=name,
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


def SingleFrame(
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
    """The paper's Single-Frame model: one frame per clip, 2-D convolutions (Sec. 3.1).

    With ``resolution="multires"`` it is the paper's "Single-Frame + Multires"
    (context and fovea streams of 89 x 89 from 178 x 178 frames); ``"fovea"``
    and ``"context"`` give one stream alone. All arguments are keyword-only
    and mean what they mean for `build_model`.

    Args:
        include_top: bool. False: the `SportsNetBackbone` alone.
        weights: None, a preset name, ``"hf://org/repo[@revision]"``, a preset
            folder, or a ``.weights.h5``/``.keras`` file.
        input_shape: ``(1, height, width, 3)`` or None (``(1, 170, 170, 3)``; 178 for multires).
        pooling: None/``"flatten"``, ``"avg"`` or ``"max"``.
        classes: int or None (the preset's, else 487).
        classifier_activation: ``"softmax"``, None or another Keras activation.
        name: str or None.
        resolution: ``"full"``, ``"multires"``, ``"fovea"``, ``"context"`` or None.
        spec: str or None. The layer shorthand (default `PAPER_SPEC`).
        frame_stride: int or None.
        dropout: float. Dropout before every FC and the predictions layer.

    Returns:
        `SportsNetVideoClassifier` (or `SportsNetBackbone`).

    Example:
    ```python
    model = keras_sportsnet.SingleFrame()                                  # 73.9 M parameters, 487 classes
    small = keras_sportsnet.SingleFrame(resolution="multires", classes=101)
    tuned = keras_sportsnet.SingleFrame(weights="single_frame_synthetic")
    ```
    """
    return build_model(
        "single_frame", include_top=include_top, weights=weights, input_shape=input_shape, pooling=pooling,
        classes=classes, classifier_activation=classifier_activation, name=name, resolution=resolution,
        spec=spec, frame_stride=frame_stride, dropout=dropout,
    )


def EarlyFusion(
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
    """The paper's Early Fusion model: 10 consecutive frames, conv1 spans all 10 (11 x 11 x 3 x 10 filters).

    All arguments are keyword-only and mean what they mean for `build_model`.

    Args:
        include_top: bool. False: the `SportsNetBackbone` alone.
        weights: None, a preset name, ``"hf://org/repo[@revision]"``, a preset
            folder, or a ``.weights.h5``/``.keras`` file.
        input_shape: ``(frames, height, width, 3)`` or None (``(10, 170, 170, 3)``).
        pooling: None/``"flatten"``, ``"avg"`` or ``"max"``.
        classes: int or None (the preset's, else 487).
        classifier_activation: ``"softmax"``, None or another Keras activation.
        name: str or None.
        resolution: ``"full"``, ``"multires"``, ``"fovea"``, ``"context"`` or None.
        spec: str or None. The layer shorthand (default `PAPER_SPEC`).
        frame_stride: int or None.
        dropout: float. Dropout before every FC and the predictions layer.

    Returns:
        `SportsNetVideoClassifier` (or `SportsNetBackbone`).

    Example:
    ```python
    model = keras_sportsnet.EarlyFusion()                                 # 74.2 M parameters
    tuned = keras_sportsnet.EarlyFusion(weights="early_fusion_synthetic")
    ```
    """
    return build_model(
        "early", include_top=include_top, weights=weights, input_shape=input_shape, pooling=pooling,
        classes=classes, classifier_activation=classifier_activation, name=name, resolution=resolution,
        spec=spec, frame_stride=frame_stride, dropout=dropout,
    )


def LateFusion(
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
    """The paper's Late Fusion model: 2 frames 15 apart through shared single-frame towers, merged at FC6.

    All arguments are keyword-only and mean what they mean for `build_model`.

    Args:
        include_top: bool. False: the `SportsNetBackbone` alone.
        weights: None, a preset name, ``"hf://org/repo[@revision]"``, a preset
            folder, or a ``.weights.h5``/``.keras`` file.
        input_shape: ``(2, height, width, 3)`` or None (``(2, 170, 170, 3)``).
        pooling: None/``"flatten"``, ``"avg"`` or ``"max"``.
        classes: int or None (the preset's, else 487).
        classifier_activation: ``"softmax"``, None or another Keras activation.
        name: str or None.
        resolution: ``"full"``, ``"multires"``, ``"fovea"``, ``"context"`` or None.
        spec: str or None. The layer shorthand (default `PAPER_SPEC`).
        frame_stride: int or None (15: the frames are 15 apart in the video).
        dropout: float. Dropout before every FC and the predictions layer.

    Returns:
        `SportsNetVideoClassifier` (or `SportsNetBackbone`).

    Example:
    ```python
    model = keras_sportsnet.LateFusion()                                  # 125.3 M parameters
    tuned = keras_sportsnet.LateFusion(weights="late_fusion_synthetic")
    ```
    """
    return build_model(
        "late", include_top=include_top, weights=weights, input_shape=input_shape, pooling=pooling,
        classes=classes, classifier_activation=classifier_activation, name=name, resolution=resolution,
        spec=spec, frame_stride=frame_stride, dropout=dropout,
    )


def SlowFusion(
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
    """The paper's Slow Fusion model: 10 frames fused gradually, 10 -> 4 -> 2 -> 1 over conv1-3.

    The paper's best single network. With ``resolution="multires"`` it is
    "Slow Fusion + Multires". All arguments are keyword-only and mean what
    they mean for `build_model`.

    Args:
        include_top: bool. False: the `SportsNetBackbone` alone.
        weights: None, a preset name, ``"hf://org/repo[@revision]"``, a preset
            folder, or a ``.weights.h5``/``.keras`` file.
        input_shape: ``(frames, height, width, 3)`` or None (``(10, 170, 170, 3)``; 178 for multires).
        pooling: None/``"flatten"``, ``"avg"`` or ``"max"``.
        classes: int or None (the preset's, else 487).
        classifier_activation: ``"softmax"``, None or another Keras activation.
        name: str or None.
        resolution: ``"full"``, ``"multires"``, ``"fovea"``, ``"context"`` or None.
        spec: str or None. The layer shorthand (default `PAPER_SPEC`).
        frame_stride: int or None.
        dropout: float. Dropout before every FC and the predictions layer.

    Returns:
        `SportsNetVideoClassifier` (or `SportsNetBackbone`).

    Example:
    ```python
    model = keras_sportsnet.SlowFusion()                                  # 75.5 M parameters
    small = keras_sportsnet.SlowFusion(resolution="multires", classes=101)
    tuned = keras_sportsnet.SlowFusion(weights="slow_fusion_synthetic")
    ```
    """
    return build_model(
        "slow", include_top=include_top, weights=weights, input_shape=input_shape, pooling=pooling,
        classes=classes, classifier_activation=classifier_activation, name=name, resolution=resolution,
        spec=spec, frame_stride=frame_stride, dropout=dropout,
    )
