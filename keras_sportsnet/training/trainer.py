"""`train`: the paper's recipe with atomic checkpoints and exact resume.

A run killed at any point and started again with the same arguments resumes
from its last completed epoch and ends with exactly the weights an
uninterrupted run would have: checkpoints hold every model and optimizer
variable (momentum, iteration count, learning rate, dropout RNG states) and
the learning-rate schedule's state, and keras_sportsnet datasets
(`keras_sportsnet.data.VideoDataset`) feed training through
``dataset.as_tf_dataset(start_step)``, whose batches are a pure function of
the seed and the step; validation after epoch ``e`` scores pass ``e`` of the
validation data (its ``one_pass(e)``), whatever the process. (Keras' own `BackupAndRestore` replays a
partly done epoch with a new data order; short *virtual* epochs, set with
``steps_per_epoch``, make the resume granularity as fine as you like.)

Under several devices or processes (`keras_sportsnet.distributed.setup`),
`train` runs inside the context's scope, only the chief (process 0) writes
the run folder (checkpoints, best weights, history, TensorBoard logs), every
process restores from it (so ``run_dir`` must be on storage all processes
share), and the processes check that they resume from the same epoch.
"""

import contextlib
import os
import sys
import tempfile
import time
import warnings

import keras

from keras_sportsnet.training import checkpoints
from keras_sportsnet.training.recipe import PAPER_RECIPE
from keras_sportsnet.training.recipe import compile_model

__all__ = ["train", "TrainingResult", "EpochCheckpoint"]


class EpochCheckpoint(keras.callbacks.Callback):
    """Writes the run state at the end of every epoch; keeps the best weights.

    Args:
        run_dir: str. The run folder.
        monitor: str. Metric deciding the best epoch (e.g. ``"val_hit_at_1"``).
        mode: ``"max"`` or ``"min"``.
        plateau: the `keras.callbacks.ReduceLROnPlateau` whose state is saved.
        state: dict. The state restored at the start (history, best value), or empty.
        extra: dict. Fixed entries of every state (recipe, seed, steps per epoch).
        is_chief: bool. Only the chief writes files.
    """

    def __init__(self, run_dir, monitor, mode, plateau, state, extra, is_chief=True):
        super().__init__()
        self.run_dir, self.monitor, self.mode, self.plateau = run_dir, monitor, mode, plateau
        self.history = list(state.get("history", []))
        self.best = state.get("best")
        self.best_epoch = state.get("best_epoch")
        self.extra, self.is_chief = dict(extra), is_chief
        self.collective_saves = False  # set by `train` under a TF multi-worker strategy

    def _improved(self, value):
        if value is None:
            return False
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = {key: float(value) for key, value in (logs or {}).items()}
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        logs["seconds"] = time.perf_counter() - getattr(self, "_epoch_start", time.perf_counter())
        completed = epoch + 1
        self.history.append({"epoch": completed, **logs})
        value = logs.get(self.monitor)
        if self.monitor not in logs and completed == 1:
            warnings.warn(
                f"The monitored metric {self.monitor!r} is not in the logs ({sorted(logs)}): no best "
                "checkpoint is kept. Pass `validation_data` or another `monitor`.",
                stacklevel=2,
            )
        improved = self._improved(value)
        if improved:
            self.best, self.best_epoch = value, completed
        if not self.is_chief:
            if improved and self.collective_saves:
                # Keras' save_weights makes variables, which a TF multi-worker strategy creates with a
                # collective: the other workers take part, writing to a scratch file they then delete.
                with tempfile.TemporaryDirectory() as scratch:
                    self.model.save_weights(os.path.join(scratch, "scratch.weights.h5"))
            return
        os.makedirs(os.path.join(self.run_dir, checkpoints.CHECKPOINT_DIR), exist_ok=True)
        if improved:
            with _without_distribution():
                checkpoints.atomic_write(os.path.join(self.run_dir, checkpoints.BEST_WEIGHTS), self.model.save_weights)
        # The arrays first, then state.json (the commit point), then clean-up.
        checkpoints.save_variables(self.model, checkpoints.checkpoint_path(self.run_dir, completed))
        state = {
            **self.extra,
            "epoch": completed,
            "history": self.history,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "monitor": self.monitor,
            "plateau": {"wait": self.plateau.wait, "best": _finite(self.plateau.best),
                        "cooldown_counter": self.plateau.cooldown_counter},
        }
        checkpoints.write_state(self.run_dir, state)
        checkpoints.remove_older_checkpoints(self.run_dir, completed)
        checkpoints.write_history_csv(self.run_dir, self.history)
        if improved:
            checkpoints.write_json(os.path.join(self.run_dir, checkpoints.BEST_INFO), {"epoch": completed, self.monitor: value})


@contextlib.contextmanager
def _without_distribution():
    """No global Keras distribution inside (the chief writes alone).

    Keras' ``save_weights`` builds a throwaway optimizer, whose variables a
    multi-process JAX distribution would place with a collective
    (``device_put`` checks the value on every process): on the chief alone
    that collective crashes or hangs. Without the distribution the throwaway
    variables stay local, and the real ones are read from local copies.
    """
    active = keras.distribution.distribution()
    if active is None:
        yield
        return
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(active)


def _finite(value):
    if value is None:
        return None
    value = float(value)
    return value if abs(value) != float("inf") else None


class TrainingResult(dict):
    """What `train` returns: ``history`` (every epoch, restored ones included), ``best``,
    ``best_epoch``, ``best_weights`` (path), ``resumed_from`` (epoch or None), ``run_dir``."""


def train(
    model,
    train_data,
    validation_data=None,
    *,
    run_dir,
    epochs,
    steps_per_epoch=None,
    validation_steps=None,
    recipe=PAPER_RECIPE,
    label_mode="int",
    compile=True,
    resume=True,
    monitor=None,
    mode=None,
    callbacks=(),
    tensorboard=True,
    is_chief=None,
    distribution=None,
    verbose="auto",
):
    """Trains ``model`` with the paper's recipe, checkpointing every epoch; resumes exactly.

    Args:
        model: a keras_sportsnet classifier (or any Keras classifier).
        train_data: a `keras_sportsnet.data.VideoDataset` (`video_dataset_from_directory`,
            `video_dataset_from_list`, `shard_dataset`: exact resume through
            its ``as_tf_dataset``), or any `tf.data.Dataset` (resumed at the epoch
            boundary, but its data order is its own: a warning says so).
        validation_data: a `VideoDataset` (epoch ``e`` scores its pass ``e``),
            a `tf.data.Dataset`, or None. Evaluated after every epoch; the
            recipe's ``monitor`` (``val_hit_at_1``) needs it.
        run_dir: str. Folder for checkpoints, best weights, logs. Created if needed.
        epochs: int. Total epochs (a resumed run continues up to it).
        steps_per_epoch: int or None. Batches per (virtual) epoch; default one
            pass over ``train_data``. Smaller values make checkpoints (and so
            the resume points) more frequent.
        validation_steps: int or None.
        recipe: `TrainingRecipe`.
        label_mode: ``"int"``, ``"categorical"`` or ``"multi_hot"`` (for the loss).
        compile: bool. Compile with the recipe (False: keep the model's compilation).
        resume: bool. Continue from ``run_dir/state.json`` if present.
        monitor, mode: metric for the best checkpoint and the schedule
            (default ``recipe.monitor``, or ``"loss"`` without validation data)
            and ``"max"``/``"min"`` (default: ``"min"`` for losses).
        callbacks: more Keras callbacks (run after the package's own).
        tensorboard: bool. TensorBoard logs in ``run_dir/logs``.
        is_chief: bool or None. Whether this process writes files (one writer
            per job). Default: the distribution's chief (process 0), else True.
        distribution: a `keras_sportsnet.distributed.DistributedContext`, or
            None for the one `keras_sportsnet.distributed.setup` made in this
            process (if any). Build the model inside its ``scope()``. With
            ``input_sharding="per_process"``, each process's ``train_data``
            holds its own part of the global batch, and ``steps_per_epoch``
            defaults to the shortest process's pass.
        verbose: as for `model.fit`.

    Returns:
        `TrainingResult`.

    Example:
    ```python
    model = ksn.SlowFusion(classes=len(train.class_names))
    result = ksn.training.train(model, train, val, run_dir="runs/slow", epochs=30, steps_per_epoch=500)
    model.load_weights(result["best_weights"])
    ```
    """
    if distribution is None:
        from keras_sportsnet import distributed

        distribution = distributed.current()
    if is_chief is None:
        is_chief = distribution.is_chief if distribution is not None else True
    scope = distribution.scope() if distribution is not None else contextlib.nullcontext()
    with scope:
        return _train(model, train_data, validation_data, run_dir, epochs, steps_per_epoch, validation_steps, recipe,
                      label_mode, compile, resume, monitor, mode, callbacks, tensorboard, is_chief, distribution,
                      verbose)


def _check_strategy(model, distribution):
    strategy = getattr(distribution, "strategy", None)
    if strategy is not None and getattr(model, "_distribute_strategy", None) is not strategy:
        raise ValueError(
            f"The model was not built inside the distribution's scope ({type(strategy).__name__}); its variables "
            "would live on one device. Build (and load) it inside `with context.scope():`, where "
            "`context = keras_sportsnet.distributed.setup(...)`."
        )


def _agree(distribution, name, value, reason):
    """The value every process has; raises if the processes disagree."""
    if distribution is None or distribution.process_count == 1:
        return value
    values = distribution.all_values(value)
    if len(set(values)) != 1:
        raise ValueError(f"The processes disagree on {name}: {values} (by process). {reason}")
    return value


def _train(model, train_data, validation_data, run_dir, epochs, steps_per_epoch, validation_steps, recipe,
           label_mode, compile, resume, monitor, mode, callbacks, tensorboard, is_chief, distribution, verbose):
    _check_strategy(model, distribution)
    os.makedirs(run_dir, exist_ok=True)
    wanted = f"mixed_{recipe.mixed_precision}" if recipe.mixed_precision else "float32"
    if model.dtype_policy.name != wanted:
        raise ValueError(
            f"The recipe asks for mixed_precision={recipe.mixed_precision!r} but the model was built with the "
            f"{model.dtype_policy.name!r} dtype policy. Build it inside "
            f"`with keras_sportsnet.training.mixed_precision({recipe.mixed_precision!r}):`."
        )
    if compile:
        compile_model(model, recipe, label_mode=label_mode)
    if monitor is None:
        monitor = recipe.monitor if validation_data is not None else "loss"
    mode = mode or ("min" if "loss" in monitor else "max")
    if hasattr(train_data, "check_model"):
        train_data.check_model(model)
    if steps_per_epoch is None:
        steps_per_epoch = len(train_data) if hasattr(train_data, "as_tf_dataset") else int(train_data.cardinality())
        if steps_per_epoch < 0:
            raise ValueError("`steps_per_epoch` is required for a dataset of unknown or infinite length.")
        if distribution is not None and distribution.process_count > 1:
            # Per-process inputs may hold different numbers of batches; every process must step together.
            steps_per_epoch = min(distribution.all_values(steps_per_epoch))
    state = (checkpoints.load_state(run_dir) if resume else None) or checkpoints.RunState()
    extra = {"recipe": recipe.to_dict(), "steps_per_epoch": steps_per_epoch, "monitor": monitor}
    if state and state.get("steps_per_epoch") != steps_per_epoch:
        raise ValueError(
            f"{run_dir} was trained with steps_per_epoch={state.get('steps_per_epoch')}; resuming with "
            f"steps_per_epoch={steps_per_epoch} would change every later batch. Use the same value or a new run_dir."
        )
    initial_epoch = _agree(
        distribution, f"the epoch to resume {run_dir} from", state.epoch,
        "`run_dir` must be one folder that every process reads (shared storage), not a local folder per host.")
    _agree(distribution, "steps_per_epoch", steps_per_epoch, "Pass the same `steps_per_epoch` to every process.")
    _build_optimizer(model)
    if initial_epoch:
        checkpoints.restore_variables(model, checkpoints.checkpoint_path(run_dir, initial_epoch))
        print(f"Resuming {run_dir} after epoch {initial_epoch} of {epochs}.", file=sys.stderr)
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor=monitor, mode=mode, factor=recipe.reduce_factor, patience=recipe.patience,
        min_lr=recipe.min_learning_rate, verbose=0,
    )
    saved_plateau = state.get("plateau")
    if saved_plateau:
        plateau._reset()
        plateau.wait = saved_plateau["wait"]
        plateau.cooldown_counter = saved_plateau["cooldown_counter"]
        if saved_plateau["best"] is not None:
            plateau.best = saved_plateau["best"]
        plateau._restored = True
    checkpoint = EpochCheckpoint(run_dir, monitor, mode, plateau, state, extra, is_chief=is_chief)
    checkpoint.collective_saves = distribution is not None and distribution.engine == "multi_worker_mirrored"
    chain = [_RestoredPlateau(plateau), checkpoint]
    if tensorboard and is_chief:
        chain.append(keras.callbacks.TensorBoard(os.path.join(run_dir, "logs")))
    chain += list(callbacks)
    validation_source = validation_data
    if hasattr(validation_data, "validation_callback"):
        # Epoch e scores pass e of the validation data (one_pass(e)), whatever the process: a resumed run scores
        # the clips an uninterrupted one does. First in the chain: every later callback reads the val_* logs.
        chain.insert(0, validation_data.validation_callback(steps=validation_steps))
        validation_data = validation_steps = None
    if hasattr(train_data, "callback"):
        chain.append(train_data.callback())  # ends fit once a decode failure stopped the data (on_error="raise")
    if hasattr(train_data, "as_tf_dataset"):
        data = train_data.as_tf_dataset(start_step=initial_epoch * steps_per_epoch)
    else:
        if initial_epoch:
            warnings.warn(
                "`train_data` is not a keras_sportsnet dataset: the resumed run restarts its own data order, "
                "so it will not match an uninterrupted run batch for batch.",
                stacklevel=2,
            )
        data = train_data.repeat()
    if distribution is not None and distribution.engine == "multi_worker_mirrored":
        data = _shard_by_data(data)
    if initial_epoch < epochs:
        model.fit(
            data,
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            validation_data=validation_data,
            validation_steps=validation_steps,
            callbacks=chain,
            verbose=verbose,
            shuffle=False,  # the data's order is the dataset's own (seeded), never Keras'
        )
    for source in (train_data, validation_source):
        if hasattr(source, "check_failures"):
            source.check_failures()  # a decode failure that stopped the run (on_error="raise") is raised here
    if distribution is not None:
        distribution.barrier("keras_sportsnet.train.end")  # the chief's last files exist before anyone returns
    best_weights = os.path.join(run_dir, checkpoints.BEST_WEIGHTS)
    return TrainingResult(
        history=checkpoint.history,
        best=checkpoint.best,
        best_epoch=checkpoint.best_epoch,
        best_weights=best_weights if os.path.exists(best_weights) else None,
        resumed_from=initial_epoch or None,
        run_dir=run_dir,
    )


def _shard_by_data(dataset):
    """Every worker reads the whole stream and keeps its part of each global batch (not whole files)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _build_optimizer(model):
    """Creates the optimizer's variables now, so a checkpoint can be restored into them."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


class _RestoredPlateau(keras.callbacks.Callback):
    """Runs a `ReduceLROnPlateau` whose counters were restored (its `on_train_begin` would reset them)."""

    def __init__(self, plateau):
        super().__init__()
        self.plateau = plateau

    def set_model(self, model):
        super().set_model(model)
        self.plateau.set_model(model)

    def on_train_begin(self, logs=None):
        if not getattr(self.plateau, "_restored", False):
            self.plateau.on_train_begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        self.plateau.on_epoch_end(epoch, logs)
