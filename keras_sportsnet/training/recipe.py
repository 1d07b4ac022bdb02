"""The paper's training recipe as data, and `compile_model`, which applies it.

Karpathy et al. (Sec. 3.3): mini-batches of 32, momentum 0.9, weight decay
0.0005, learning rate 1e-3 "reduced by hand whenever the validation error
stops improving". Here the reduction is `ReduceLROnPlateau` on the monitored
validation metric (factor 0.1 after ``patience`` epochs without improvement).

Weight decay is Keras' decoupled form: every step subtracts
``learning_rate * weight_decay * w`` from each weight (biases included), the
SGD-with-L2 update without the momentum term on the decay.

One safeguard is added to the paper's recipe: the gradient is clipped to a
global norm of ``clip_norm`` (10). The models read raw pixels minus the mean
(values up to +-138), and Keras' Glorot initialisation keeps that scale through
the network, so small networks start with logits of tens (initial loss 12-43
on 4 classes instead of ln 4) and gradient norms in the thousands; at the
paper's learning rate the first SGD steps then overshoot and the loss explodes
(17 -> 333 -> 3471 -> 9751 on a 4-class folder of real videos with
``C(16,5,2)-N-P-FC(64)``). Clipped, the same run converges. Healthy runs
have gradient norms of a few tens at most at the start and below 10 soon
after, so the clip changes little else (MMAction2 clips video models at 40 by
default). ``clip_norm=None`` is the paper's recipe exactly. Under a
TensorFlow `tf.distribute` strategy Keras clips each replica's share of the
gradient before the replicas' gradients are summed (`train` warns); JAX
data parallelism clips the global gradient, as one device does.
"""

import contextlib
import dataclasses

import keras

from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_float
from keras_sportsnet.utils.checks import check_int

__all__ = ["TrainingRecipe", "PAPER_RECIPE", "compile_model", "HitAtK", "mixed_precision"]

LABEL_MODES = ("int", "categorical", "multi_hot")
PRECISIONS = (None, "bfloat16", "float16")


@dataclasses.dataclass(frozen=True)
class TrainingRecipe:
    """How to train: optimizer, schedule, batch, clips per video.

    Args:
        batch_size: int. Clips per mini-batch (32).
        learning_rate: float. Initial learning rate (1e-3).
        momentum: float. SGD momentum (0.9).
        weight_decay: float. Decoupled weight decay per step (5e-4).
        reduce_factor: float. Learning-rate factor on a plateau (0.1).
        patience: int. Epochs without improvement of ``monitor`` before reducing.
        min_learning_rate: float. Floor of the reductions.
        clip_norm: float or None. The gradient is scaled down to this global
            norm when it is larger (Keras' ``global_clipnorm``): a guard
            against the first steps' huge gradients (see the module
            docstring). None: no clipping (the paper).
        monitor: str. Validation metric that drives the schedule and the best
            checkpoint (``"val_hit_at_1"``: clip Hit@1 on the validation clips).
        mixed_precision: None, ``"bfloat16"`` or ``"float16"``: the compute
            dtype the model must be built with (`mixed_precision`); `train`
            checks it.

    Clips per video per epoch are the dataset's ``clips_per_video`` (the paper
    samples up to 100 clips of a video over a whole training).

    Example:
    ```python
    recipe = dataclasses.replace(ksn.training.PAPER_RECIPE, batch_size=16, patience=3)
    ```
    """

    batch_size: int = 32
    learning_rate: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    reduce_factor: float = 0.1
    patience: int = 2
    min_learning_rate: float = 1e-6
    monitor: str = "val_hit_at_1"
    mixed_precision: str = None
    clip_norm: float = 10.0

    def __post_init__(self):
        check_choice("mixed_precision", self.mixed_precision, PRECISIONS)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("patience", self.patience, minimum=0)
        check_float("learning_rate", self.learning_rate, 0, low_open=True)
        check_float("momentum", self.momentum, 0, 1, high_open=True)
        check_float("weight_decay", self.weight_decay, 0)
        check_float("reduce_factor", self.reduce_factor, 0, 1, low_open=True, high_open=True)
        check_float("min_learning_rate", self.min_learning_rate, 0)
        check_float("clip_norm", self.clip_norm, 0, low_open=True, allow_none=True)
        if not isinstance(self.monitor, str) or not self.monitor:
            raise ValueError(f"`monitor` must be a metric name such as 'val_hit_at_1'. Received: monitor={self.monitor!r}")

    def to_dict(self):
        return dataclasses.asdict(self)


PAPER_RECIPE = TrainingRecipe()
"""The recipe of Sec. 3.3 of the paper, with the gradient clipped to a global norm of 10 (``clip_norm``)."""


@contextlib.contextmanager
def mixed_precision(precision):
    """Builds models inside the block with a mixed-precision dtype policy.

    Args:
        precision: None (float32), ``"bfloat16"`` or ``"float16"``.

    Example:
    ```python
    with ksn.training.mixed_precision("bfloat16"):
        model = ksn.SlowFusion(classes=101)
    ```
    """
    check_choice("precision", precision, PRECISIONS)
    previous = keras.config.dtype_policy()
    if precision is not None:
        keras.config.set_dtype_policy(f"mixed_{precision}")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@keras.saving.register_keras_serializable(package="keras_sportsnet")
class HitAtK(keras.metrics.MeanMetricWrapper):
    """The paper's Hit@k: a hit when any ground-truth label is among the top k predictions.

    Labels are class indices ``(B,)`` or one-hot / multi-hot ``(B, C)``.

    Args:
        k: int.
        name: str (default ``"hit_at_{k}"``).

    Example:
    ```python
    model.compile(..., metrics=[HitAtK(1), HitAtK(5)])
    ```
    """

    def __init__(self, k=1, name=None, dtype=None):
        super().__init__(_hit_at_k, name=name or f"hit_at_{k}", dtype=dtype, k=k)
        self.k = k

    def get_config(self):
        return {"k": self.k, "name": self.name, "dtype": self.dtype}


def _hit_at_k(y_true, y_pred, k=1):
    classes = keras.ops.shape(y_pred)[-1]
    if len(y_true.shape) == len(y_pred.shape) - 1 or (len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1):
        y_true = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), classes)
    _, top = keras.ops.top_k(y_pred, k=k)
    hits = keras.ops.take_along_axis(keras.ops.cast(y_true, "float32"), top, axis=-1)
    return keras.ops.cast(keras.ops.max(hits, axis=-1) > 0, "float32")


def compile_model(model, recipe=PAPER_RECIPE, label_mode="int", from_logits=None):
    """Compiles ``model`` with the recipe: SGD + momentum + weight decay, cross-entropy, Hit@1/Hit@5.

    Args:
        model: a keras_sportsnet classifier.
        recipe: `TrainingRecipe`.
        label_mode: ``"int"`` (class indices), ``"categorical"`` (one-hot) or
            ``"multi_hot"`` (several labels: the target distribution spreads
            evenly over them, Sports-1M's ~5% multi-label videos).
        from_logits: bool or None (None: True when the model's head has no
            softmax, i.e. ``classifier_activation=None``).

    Returns:
        ``model``.

    Example:
    ```python
    ksn.training.compile_model(model)     # the paper's recipe
    ```
    """
    check_choice("label_mode", label_mode, LABEL_MODES)
    if from_logits is None:
        from_logits = getattr(model, "activation", "softmax") is None
    optimizer = keras.optimizers.SGD(
        learning_rate=recipe.learning_rate, momentum=recipe.momentum, weight_decay=recipe.weight_decay,
        global_clipnorm=recipe.clip_norm,
    )
    if label_mode == "int":
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    else:
        loss = _MultiHotCrossentropy(from_logits=from_logits)
    num_classes = getattr(model, "num_classes", None) or model.output.shape[-1]
    metrics = [HitAtK(1)] + ([HitAtK(5)] if num_classes > 5 else [])
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


@keras.saving.register_keras_serializable(package="keras_sportsnet")
class _MultiHotCrossentropy(keras.losses.CategoricalCrossentropy):
    """Categorical cross-entropy against multi-hot targets normalised to sum to 1."""

    def call(self, y_true, y_pred):
        y_true = keras.ops.cast(y_true, y_pred.dtype)
        y_true = y_true / keras.ops.maximum(keras.ops.sum(y_true, axis=-1, keepdims=True), 1.0)
        return super().call(y_true, y_pred)
