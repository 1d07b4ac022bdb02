"""`SportsNetVideoClassifier`: a backbone plus the softmax classifier head."""

import keras

from keras_sportsnet.models.backbone import SportsNetBackbone
from keras_sportsnet.models.preprocessor import VideoPreprocessor
from keras_sportsnet.models.preprocessor import default_resize_to
from keras_sportsnet.models.task import VideoTask
from keras_sportsnet.utils.checks import check_class_names

__all__ = ["SportsNetVideoClassifier"]


@keras.saving.register_keras_serializable(package="keras_sportsnet")
class SportsNetVideoClassifier(VideoTask, keras.Model):
    """Clip classifier: `SportsNetBackbone` -> dropout -> ``Dense(num_classes)``.

    The head protocol is the same for every architecture:

    - ``classifier.backbone``: the features model (clips -> last FC, the
      "pre-logits"); ``classifier.pre_logits(clips)`` calls it.
    - ``classifier.backbone.feature_extractor([...])``: intermediate maps.
    - ``classifier.reset_classifier(num_classes)``: a new classifier for another
      label set over the same backbone (the same weights, shared).

    It also carries what is needed to use it on videos: ``classifier.preprocessor``
    (a `VideoPreprocessor`: frame size, ``resize_to``, the evaluation protocol)
    and ``classifier.class_names``. Raw clips (frames of any other size than
    the model's, e.g. uint8 straight from the decoder) given to ``classifier(...)``, ``predict``, ``evaluate`` or ``fit``
    go through the preprocessor first; a `keras_sportsnet.data.VideoDataset`
    is accepted as ``x`` and ``validation_data`` (see `keras_sportsnet.models.task`).

    Presets: ``SportsNetVideoClassifier.from_preset(name_or_handle_or_folder)``
    and ``classifier.save_to_preset(folder, metadata=...)``.

    Args:
        backbone: a `SportsNetBackbone`.
        num_classes: int. Number of classes (487 for Sports-1M).
        activation: Activation of the ``predictions`` layer: ``"softmax"`` (the
            paper), another Keras activation name, or None for logits.
        dropout: float. Dropout rate before the ``predictions`` layer.
        preprocessor: a `VideoPreprocessor` for the backbone's clip geometry,
            or None (derived from it, ``resize_to=200``, the paper's).
        class_names: list of ``num_classes`` str, or None.
        **kwargs: `name`, `trainable`, `dtype` as for `keras.Model`.

    Example:
    ```python
    backbone = SportsNetBackbone(fusion="slow")
    model = SportsNetVideoClassifier(backbone, num_classes=487)
    probabilities = model.predict(clips)       # clips: (B, 10, 170, 170, 3), 0..255, or raw uint8 of any size
    ucf = model.reset_classifier(101)          # same backbone, new 101-way head
    model = SportsNetVideoClassifier.from_preset("slow_fusion_synthetic")
    model.class_names[:2], model.preprocessor.resize_to      # (['beach_lob', 'beach_rally'], 64)
    ```
    """

    def __init__(
        self,
        backbone,
        num_classes=487,
        activation="softmax",
        dropout=0.0,
        preprocessor=None,
        class_names=None,
        **kwargs,
    ):
        # === Validation ===
        if not isinstance(backbone, SportsNetBackbone):
            raise TypeError(
                "`backbone` must be a keras_sportsnet.SportsNetBackbone. "
                f"Received: backbone of type {type(backbone).__name__}"
            )
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                f"`num_classes` must be a positive integer. Received: num_classes={num_classes!r}"
            )
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
        if activation is not None:
            try:
                keras.activations.get(activation)
            except ValueError:
                raise ValueError(
                    "`activation` must be None (logits), 'softmax' or another Keras "
                    f"activation. Received: activation={activation!r}"
                ) from None
        if class_names is not None:
            class_names = check_class_names(class_names, num_classes)
        if preprocessor is None:
            preprocessor = VideoPreprocessor.for_geometry(
                backbone.clip_geometry, resize_to=default_resize_to(backbone.image_size)
            )
        elif isinstance(preprocessor, dict):
            preprocessor = keras.saving.deserialize_keras_object(preprocessor)
        _check_preprocessor(preprocessor, backbone)

        # === Functional model ===
        clips = keras.Input(backbone.input.shape[1:], name="clips")
        x = backbone(clips)
        if dropout:
            x = keras.layers.Dropout(dropout, name="predictions_dropout")(x)
        outputs = keras.layers.Dense(num_classes, activation=activation, name="predictions")(x)
        super().__init__(inputs=clips, outputs=outputs, **kwargs)

        # === Config ===
        self.backbone = backbone
        self.num_classes = num_classes
        self.activation = activation
        self.dropout = float(dropout)
        self.preprocessor = preprocessor
        self.class_names = class_names

    @property
    def clip_geometry(self):
        """The clip this model reads (see `SportsNetBackbone.clip_geometry`)."""
        return self.backbone.clip_geometry

    def pre_logits(self, clips, training=False):
        """The backbone's output (last FC activations) for a batch of clips."""
        return self.backbone(clips, training=training)

    def reset_classifier(self, num_classes, activation="__same__", dropout=None, name=None, class_names=None):
        """Returns a classifier with a fresh head over this model's backbone.

        The backbone object (and so its weights) is shared, not copied: train
        the new model, or `keras.models.clone_model` first to keep both. The
        preprocessor is kept.

        Args:
            num_classes: int. Number of classes of the new head.
            activation: the new head's activation; defaults to this model's.
            dropout: float or None (this model's rate).
            name: str or None (this model's name).
            class_names: list of ``num_classes`` str, or None.

        Example:
        ```python
        ucf101 = ksn.SlowFusion().reset_classifier(101)
        ```
        """
        return SportsNetVideoClassifier(
            self.backbone,
            num_classes=num_classes,
            activation=self.activation if activation == "__same__" else activation,
            dropout=self.dropout if dropout is None else dropout,
            preprocessor=self.preprocessor,
            class_names=class_names,
            name=name or self.name,
        )

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_classes": self.num_classes,
            "activation": self.activation,
            "dropout": self.dropout,
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
            "class_names": None if self.class_names is None else list(self.class_names),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["backbone"], dict):
            config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)

    # ---------------------------------------------------------------- presets
    @classmethod
    def from_preset(cls, preset, *, load_weights=True, include_top=True, num_classes=None, **kwargs):
        """The classifier a preset holds, built once, its weights read into it.

        Args:
            preset: a registered preset name (`keras_sportsnet.list_presets`),
                ``"hf://org/repo[@revision]"`` or a preset folder.
            load_weights: bool. False: the architecture only, randomly initialised.
            include_top: bool. False: the preset's `SportsNetBackbone` alone.
            num_classes: int or None. None: the preset's head (and class
                names); another number: the preset's backbone with a new,
                untrained head (transfer learning; the old head is never built).
            **kwargs: ``activation``, ``dropout``, ``class_names``, ``name``
                for the classifier.

        Returns:
            `SportsNetVideoClassifier` (or `SportsNetBackbone` with ``include_top=False``).

        Example:
        ```python
        model = SportsNetVideoClassifier.from_preset("slow_fusion_synthetic")
        ucf = SportsNetVideoClassifier.from_preset("hf://my-org/slow-fusion@v1", num_classes=101)
        ```
        """
        from keras_sportsnet.models.loading import load_classifier

        return load_classifier(
            cls, SportsNetBackbone, preset, load_weights=load_weights, include_top=include_top,
            num_classes=num_classes, **kwargs
        )

    def save_to_preset(self, directory, *, metadata=None, overwrite=False):
        """Saves this classifier as a preset folder (see `keras_sportsnet.save_preset`).

        Example:
        ```python
        model.save_to_preset("presets/slow_ucf101", metadata={"description": "..."})
        ```
        """
        from keras_sportsnet.models.loading import save_preset

        return save_preset(self, directory, metadata=metadata, overwrite=overwrite)


def _check_preprocessor(preprocessor, backbone):
    if not isinstance(preprocessor, VideoPreprocessor):
        raise TypeError(
            "`preprocessor` must be a keras_sportsnet VideoPreprocessor or None. "
            f"Received: preprocessor of type {type(preprocessor).__name__}"
        )
    made = preprocessor.clip_geometry
    wanted = backbone.clip_geometry
    if made["image_size"] != tuple(wanted["image_size"]) or made["num_frames"] != wanted["num_frames"]:
        raise ValueError(
            f"`preprocessor` makes clips of {made['num_frames']} frames of {made['image_size']}, but the backbone "
            f"reads {wanted['num_frames']} frames of {tuple(wanted['image_size'])}. Use "
            "VideoPreprocessor.for_geometry(backbone.clip_geometry, ...)."
        )
