"""`SportsNetVideoClassifier`: a backbone plus the softmax classifier head."""

import keras

from keras_sportsnet.models.backbone import SportsNetBackbone

__all__ = ["SportsNetVideoClassifier"]


@keras.saving.register_keras_serializable(package="keras_sportsnet")
class SportsNetVideoClassifier(keras.Model):
    """Clip classifier: `SportsNetBackbone` -> dropout -> ``Dense(num_classes)``.

    The head protocol is the same for every architecture:

    - ``classifier.backbone``: the features model (clips -> last FC, the
      "pre-logits"); ``classifier.pre_logits(clips)`` calls it.
    - ``classifier.backbone.feature_extractor([...])``: intermediate maps.
    - ``classifier.reset_classifier(num_classes)``: a new classifier for another
      label set over the same backbone (the same weights, shared).

    Args:
        backbone: a `SportsNetBackbone`.
        num_classes: int. Number of classes (487 for Sports-1M).
        activation: Activation of the ``predictions`` layer: ``"softmax"`` (the
            paper), another Keras activation name, or None for logits.
        dropout: float. Dropout rate before the ``predictions`` layer.
        **kwargs: `name`, `trainable`, `dtype` as for `keras.Model`.

    Example:
    ```python
    backbone = SportsNetBackbone(fusion="slow")
    model = SportsNetVideoClassifier(backbone, num_classes=487)
    probabilities = model.predict(clips)       # clips: (B, 10, 170, 170, 3), 0..255
    ucf = model.reset_classifier(101)          # same backbone, new 101-way head
    ```
    """

    def __init__(self, backbone, num_classes=487, activation="softmax", dropout=0.0, **kwargs):
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

    @property
    def clip_geometry(self):
        """The clip this model reads (see `SportsNetBackbone.clip_geometry`)."""
        return self.backbone.clip_geometry

    def pre_logits(self, clips, training=False):
        """The backbone's output (last FC activations) for a batch of clips."""
        return self.backbone(clips, training=training)

    def reset_classifier(self, num_classes, activation="__same__", dropout=None, name=None):
        """Returns a classifier with a fresh head over this model's backbone.

        The backbone object (and so its weights) is shared, not copied: train
        the new model, or `keras.models.clone_model` first to keep both.

        Args:
            num_classes: int. Number of classes of the new head.
            activation: the new head's activation; defaults to this model's.
            dropout: float or None (this model's rate).
            name: str or None (this model's name).

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
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["backbone"], dict):
            config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)
