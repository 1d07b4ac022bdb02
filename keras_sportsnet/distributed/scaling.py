"""The learning rate for a larger global batch: the linear scaling rule with a gradual warmup.

Synchronous data parallelism over ``n`` replicas of ``b`` clips each takes
one optimizer step per global batch of ``n * b`` clips. Goyal et al. 2017
("Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour",
arXiv:1706.02677) keep the training curve of the small batch by multiplying
the learning rate by the same factor as the batch (``lr * n * b / 32`` from
the paper's batches of 32), reaching it by a linear warmup over the first
steps (5 epochs in their ImageNet runs), where the large rate would otherwise
diverge.
"""

import keras

from keras_sportsnet.utils.checks import check_float
from keras_sportsnet.utils.checks import check_positive_int

__all__ = ["linear_scaling", "LinearWarmup"]


def linear_scaling(learning_rate, global_batch_size, reference_batch_size=32):
    """``learning_rate * global_batch_size / reference_batch_size`` (Goyal et al. 2017).

    Args:
        learning_rate: float. The rate tuned for ``reference_batch_size`` (the paper: 1e-3 at 32).
        global_batch_size: int. Clips per step over all replicas.
        reference_batch_size: int. The batch ``learning_rate`` was tuned for.

    Returns:
        float.

    Example:
    >>> linear_scaling(1e-3, 256)
    0.008
    """
    check_float("learning_rate", learning_rate, 0, low_open=True)
    check_positive_int("global_batch_size", global_batch_size)
    check_positive_int("reference_batch_size", reference_batch_size)
    return learning_rate * global_batch_size / reference_batch_size


class LinearWarmup(keras.callbacks.Callback):
    """Ramps the learning rate linearly to ``target`` over the first ``warmup_steps`` optimizer steps.

    The rate of step ``i`` is ``target * (i + 1) / warmup_steps`` (a function of
    the optimizer's iteration count, which checkpoints hold, so a resumed run
    continues the ramp exactly); after the warmup the callback leaves the rate
    to the schedule (e.g. the recipe's plateau reductions).

    Args:
        target: float. The rate reached at the end (e.g. `linear_scaling(...)`).
        warmup_steps: int. Steps of the ramp.

    Example:
    ```python
    lr = ksn.distributed.linear_scaling(1e-3, context.global_batch_size(32))
    recipe = dataclasses.replace(ksn.training.PAPER_RECIPE, learning_rate=lr)
    ksn.training.train(model, data, run_dir=..., recipe=recipe, callbacks=[ksn.distributed.LinearWarmup(lr, 500)])
    ```
    """

    def __init__(self, target, warmup_steps):
        super().__init__()
        self.target = check_float("target", target, 0, low_open=True)
        self.warmup_steps = check_positive_int("warmup_steps", warmup_steps)

    def on_train_batch_begin(self, batch, logs=None):
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        if step < self.warmup_steps:
            self.model.optimizer.learning_rate.assign(self.target * (step + 1) / self.warmup_steps)
