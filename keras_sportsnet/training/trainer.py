"""`train`: the paper's recipe with atomic checkpoints, exact resume and a divergence guard.

A run killed at any point and started again with the same arguments resumes
from its last completed epoch and ends with exactly the weights an
uninterrupted run would have: checkpoints hold every model and optimizer
variable (momentum, iteration count, learning rate, dropout RNG states) and
the learning-rate schedule's state; a keras_sportsnet `VideoDataset` feeds
training through ``dataset.as_tf_dataset(start_step)``, whose batches are a
pure function of the seed and the step, and validates epoch ``e`` on
``dataset.one_pass(e)`` (the dataset's own ``validation_callback``), a
pure function of the seed and the epoch. (Keras' own `BackupAndRestore`
replays a partly done epoch with a new data order; short *virtual* epochs,
set with ``steps_per_epoch``, make the resume granularity as fine as you
like.)

A run whose loss becomes non-finite or explodes is stopped by a
`DivergenceGuard` (``on_divergence="stop"``): the diverged epoch is not
committed, the result says why (``result["stopped"]``), and callers such as
the command line write no preset from it.

Under several devices or processes (`keras_sportsnet.distributed.setup`),
`train` runs inside the context's scope, only the chief (process 0) writes
the run folder (checkpoints, best weights, history, TensorBoard logs), every
process restores from it (so ``run_dir`` must be on storage all processes
share), and the processes check that they resume from the same epoch.
"""

import contextlib
import math
import os
import sys
import tempfile
import time
import warnings

import keras

from keras_sportsnet.data.errors import shard_error_from
from keras_sportsnet.distributed.context import current as current_distribution
from keras_sportsnet.distributed.context import without_distribution
from keras_sportsnet.training import checkpoints
from keras_sportsnet.training.recipe import LABEL_MODES
from keras_sportsnet.training.recipe import PAPER_RECIPE
from keras_sportsnet.training.recipe import TrainingRecipe
from keras_sportsnet.training.recipe import compile_model
from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_float
from keras_sportsnet.utils.checks import check_positive_int

__all__ = [
    "DIVERGENCE_POLICIES",
    "DivergenceGuard",
    "EpochCheckpoint",
    "EpochProgress",
    "TrainingDiverged",
    "TrainingResult",
    "train",
]

DIVERGENCE_POLICIES = ("stop", "continue", "raise")
DEFAULT_DIVERGENCE_FACTOR = 10.0


class TrainingDiverged(FloatingPointError):
    """Raised by `train` with ``on_divergence="raise"`` (after the run folder is saved)."""


class TrainingResult(dict):
    """What `train` returns (a dict).

    Keys:
        history: list of dict, one per committed epoch (restored ones included):
            ``epoch`` (1-based), the training and validation logs,
            ``learning_rate``, ``seconds``.
        best, best_epoch: the best value of the monitored metric and its epoch (None if never measured).
        best_weights: path of ``best.weights.h5``, or None.
        monitor: the metric that chose the best epoch.
        resumed_from: the epoch the run resumed after, or None.
        epochs_completed: int. Committed epochs.
        stopped: None when the run reached ``epochs``; else why it stopped
            early: ``"diverged: ..."`` (the `DivergenceGuard`),
            ``"stopped during epoch N after k of S steps; ..."`` (a stop
            request in the middle of an epoch: epoch N is not committed, the
            same call resumes and redoes it; the model keeps the weights it
            reached) or ``"stopped by a callback after epoch N"`` (e.g.
            `EarlyStopping`).
        divergence: None, or dict ``{"epoch", "batch", "loss", "reason"}``
            for the first divergence seen (also with ``on_divergence="continue"``).
        run_dir: str.

    Example:
    ```python
    result = ksn.training.train(model, train, val, run_dir="runs/a", epochs=10)
    if result.diverged:
        print(result["stopped"])
    ```
    """

    @property
    def diverged(self):
        """True when the run saw its loss diverge (stopped or not)."""
        return self.get("divergence") is not None


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training when the loss is not finite or explodes.

    The rule, checked on the running training loss after every batch:

    - the loss is NaN or infinite; or
    - the loss exceeds ``factor`` times its reference, the larger of the run's
      first batch loss and the loss of a uniform guess, ``ln(num_classes)``.

    A healthy run never trips it: its loss falls from the first batch on, and a
    loss ten times both where it started and chance is no model at all. A run
    that explodes trips it within the epoch where it does (e.g. 17.6 -> 333 on 4
    classes: the limit is 176).

    Args:
        factor: float > 1. How many times the reference the loss may reach (10).
        num_classes: int or None. For the chance-level floor of the reference.
        reference: float or None. A reference kept from an earlier part of
            the run (resume); None: the first batch's loss.
        on_divergence: ``"stop"`` (set ``model.stop_training``), ``"continue"``
            (warn once and carry on) or ``"raise"`` (stop; `train` raises
            `TrainingDiverged` after saving the run folder).
        verbose: bool. Print the message to stderr when it trips.

    Attributes:
        divergence: None, or dict ``{"epoch", "batch", "loss", "reason"}`` (epoch 1-based).
        stopping: bool. True once it has asked training to stop.
        reference: float or None.

    Example:
    ```python
    guard = ksn.training.DivergenceGuard(num_classes=4)
    model.fit(train, epochs=10, callbacks=[guard])
    if guard.divergence:
        print(guard.divergence["reason"])
    ```
    """

    def __init__(self, factor=DEFAULT_DIVERGENCE_FACTOR, *, num_classes=None, reference=None, on_divergence="stop",
                 verbose=True):
        super().__init__()
        self.factor = check_float("divergence_factor", factor, 1, low_open=True)
        check_positive_int("num_classes", num_classes, allow_none=True)
        check_choice("on_divergence", on_divergence, DIVERGENCE_POLICIES)
        self.chance = math.log(num_classes) if num_classes and num_classes > 1 else 0.0
        self.reference = check_float("reference", reference, 0, allow_none=True)
        self.on_divergence, self.verbose = on_divergence, verbose
        self.divergence, self.stopping = None, False
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check(batch, (logs or {}).get("loss"))

    def on_epoch_end(self, epoch, logs=None):
        self._check(None, (logs or {}).get("loss"))

    def limit(self):
        """The loss above which the run counts as diverged (None before the first batch)."""
        if self.reference is None:
            return None
        return self.factor * max(self.reference, self.chance)

    def _check(self, batch, loss):
        if loss is None or self.divergence is not None:
            return
        loss = float(loss)
        if math.isfinite(loss) and self.reference is None:
            self.reference = loss
            return
        where = f"epoch {self.epoch + 1}" + (f", batch {batch + 1}" if batch is not None else "")
        if not math.isfinite(loss):
            reason = f"the training loss became {loss} at {where}"
        elif loss > self.limit():
            reason = (f"the training loss reached {loss:.4g} at {where}, more than {self.factor:g}x its reference "
                      f"{max(self.reference, self.chance):.4g} (the larger of the first batch's loss, "
                      f"{self.reference:.4g}, and chance, {self.chance:.4g})")
        else:
            return
        self.divergence = {"epoch": self.epoch + 1, "batch": None if batch is None else batch + 1,
                           "loss": loss if math.isfinite(loss) else str(loss), "reason": reason}
        if self.on_divergence == "continue":
            message = f"Training diverged: {reason}. on_divergence='continue': training goes on."
        else:
            self.stopping = True
            self.model.stop_training = True
            message = f"Training diverged: {reason}. Stopping."
        if self.verbose:
            print(message, file=sys.stderr, flush=True)


class EpochProgress(keras.callbacks.Callback):
    """Counts the training steps of the current epoch and says whether the epoch may be committed.

    An epoch is whole when all its ``steps_per_epoch`` steps ran and the
    `DivergenceGuard` did not trip. An epoch cut short (a callback's stop
    request, or training data that stopped: a decode failure with
    ``on_error="raise"``, a stream that ran out) is not: committing it would
    make a resumed run skip its remaining steps.

    Args:
        steps_per_epoch: int. Steps in a whole epoch.
        guard: the `DivergenceGuard`, or None.

    Attributes:
        steps: int. Steps done in the current epoch.

    Example:
    ```python
    # made by `train`; `EpochCheckpoint` and the learning-rate schedule consult it
    progress = EpochProgress(steps_per_epoch=100, guard=guard)
    ```
    """

    def __init__(self, *, steps_per_epoch, guard=None):
        super().__init__()
        self.steps_per_epoch = check_positive_int("steps_per_epoch", steps_per_epoch)
        self.guard, self.steps = guard, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps = batch + 1  # Keras passes the last step of the call (steps_per_execution > 1 included)

    @property
    def diverged(self):
        """True when the guard stopped this epoch."""
        return self.guard is not None and self.guard.stopping

    @property
    def cut_short(self):
        """True when the epoch ended before its last step."""
        return self.steps < self.steps_per_epoch

    @property
    def whole(self):
        """True when the epoch may be committed (every step ran, no divergence)."""
        return not self.diverged and not self.cut_short


class _ResumablePlateau(keras.callbacks.ReduceLROnPlateau):
    """`ReduceLROnPlateau` whose counters can be restored from ``state.json`` (its ``on_train_begin`` resets them).

    Only public attributes are read and set: ``wait``, ``best``, ``cooldown_counter``. An epoch that is not
    committed (diverged or cut short: ``progress.whole`` is False) is not scored.
    """

    def __init__(self, *, progress, saved=None, **kwargs):
        super().__init__(**kwargs)
        self.progress, self.saved = progress, saved

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.saved:
            self.wait = self.saved["wait"]
            self.cooldown_counter = self.saved["cooldown_counter"]
            if self.saved["best"] is not None:
                self.best = self.saved["best"]

    def on_epoch_end(self, epoch, logs=None):
        if self.progress.whole:
            super().on_epoch_end(epoch, logs)

    def state(self):
        """The counters, for ``state.json``."""
        return {"wait": self.wait, "best": _finite(self.best), "cooldown_counter": self.cooldown_counter}


class EpochCheckpoint(keras.callbacks.Callback):
    """Commits the run state at the end of every epoch; keeps the best weights (see `checkpoints`).

    Args:
        run_dir: str. The run folder.
        monitor: str. Metric deciding the best epoch (e.g. ``"val_hit_at_1"``).
        mode: ``"max"`` or ``"min"``.
        plateau: the learning-rate schedule callback, with a ``state()`` method.
        guard: the `DivergenceGuard`: a diverged epoch is recorded, not committed.
        progress: the `EpochProgress`, or None: an epoch cut short (fewer
            steps than ``steps_per_epoch``: a stop request, training data
            that stopped) is not committed, so the same call resumes by
            redoing it; ``cut_short`` then says ``{"epoch", "steps"}``.
        state: dict. The state restored at the start (history, best value), or empty.
        extra: dict. Fixed entries of every state (recipe, steps per epoch, monitor).
        is_chief: bool. Only the chief writes files.
        collective_saves: bool. Under a TF multi-worker strategy, the other
            workers join the chief's weight saves (Keras makes variables with
            a collective there).

    Example:
    ```python
    # made by `train`; not needed directly
    ```
    """

    def __init__(self, *, run_dir, monitor, mode, plateau, guard, state, extra, progress=None, is_chief=True,
                 collective_saves=False):
        super().__init__()
        self.run_dir, self.monitor, self.mode = run_dir, monitor, mode
        self.plateau, self.guard, self.progress = plateau, guard, progress
        self.cut_short = None
        self.history = list(state.get("history", []))
        self.best = state.get("best")
        self.best_epoch = state.get("best_epoch")
        self.best_weights = state.get("best_weights")
        self.committed = dict(state)
        self.extra, self.is_chief, self.collective_saves = dict(extra), is_chief, collective_saves
        self._epoch_start = None

    def _improved(self, value):
        if value is None or not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        completed = epoch + 1
        if self.guard.stopping:
            self._record_divergence()
            return
        if self.progress is not None and self.progress.cut_short:
            self.cut_short = {"epoch": completed, "steps": self.progress.steps}
            return  # the run folder keeps the last whole epoch: resuming redoes this one from its first step
        logs = {key: float(value) for key, value in (logs or {}).items()}
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        logs["seconds"] = time.perf_counter() - (self._epoch_start or time.perf_counter())
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
        # The arrays first, then state.json (the commit point), then the published files and clean-up.
        if improved:
            with without_distribution():
                self.best_weights = checkpoints.save_best_weights(self.model, self.run_dir, completed)
        checkpoints.save_variables(self.model, checkpoints.checkpoint_path(self.run_dir, completed))
        state = {
            **self.extra,
            "epoch": completed,
            "history": self.history,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_weights": self.best_weights,
            "plateau": self.plateau.state(),
            "divergence_reference": self.guard.reference,
        }
        if self.guard.divergence is not None:
            state["divergence"] = self.guard.divergence
        checkpoints.write_state(self.run_dir, state)
        self.committed = state
        checkpoints.publish_best(self.run_dir, state)
        checkpoints.remove_uncommitted(self.run_dir, state)
        checkpoints.write_history_csv(self.run_dir, self.history)

    def _record_divergence(self):
        """Keeps the last committed epoch and notes why the run stopped (no weights are written)."""
        if not self.is_chief:
            return
        state = {**self.extra, "epoch": 0, "history": [], "best": None, "best_epoch": None, "best_weights": None,
                 **self.committed}
        state.update(stopped=f"diverged: {self.guard.divergence['reason']}", divergence=self.guard.divergence)
        checkpoints.write_state(self.run_dir, state)
        self.committed = state


def _finite(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


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
    on_divergence="stop",
    divergence_factor=DEFAULT_DIVERGENCE_FACTOR,
    is_chief=None,
    distribution=None,
    verbose="auto",
):
    """Trains ``model`` with the paper's recipe, checkpointing every epoch; resumes exactly.

    Args:
        model: a keras_sportsnet classifier (or any Keras classifier).
        train_data: a keras_sportsnet `VideoDataset` (`video_dataset_from_directory`,
            `video_dataset_from_list`, `shard_dataset`: exact resume through
            ``as_tf_dataset(start_step)``), or any `tf.data.Dataset` (resumed
            at the epoch boundary, but its data order is its own: a warning
            says so).
        validation_data: None, a `VideoDataset` (epoch ``e``, 0-based, is
            scored on ``one_pass(e)`` by its ``validation_callback``: the same
            clips whether the run was resumed or not), or anything Keras'
            ``fit(validation_data=...)`` takes (a `tf.data.Dataset`, a tuple
            of arrays: used as is every epoch).
            The recipe's ``monitor`` (``val_hit_at_1``) needs it.
        run_dir: str. Folder for checkpoints, best weights, logs. Created if needed.
        epochs: int >= 1. Total epochs (a resumed run continues up to it).
        steps_per_epoch: int or None. Batches per (virtual) epoch; default one
            pass over ``train_data``. Smaller values make checkpoints (and so
            the resume points) more frequent.
        validation_steps: int or None. Batches of each validation (default: all).
        recipe: `TrainingRecipe`.
        label_mode: ``"int"``, ``"categorical"`` or ``"multi_hot"`` (for the loss).
        compile: bool. Compile with the recipe (False: keep the model's compilation).
        resume: bool. Continue from ``run_dir/state.json`` if present.
        monitor, mode: metric for the best checkpoint and the schedule
            (default ``recipe.monitor``, or ``"loss"`` without validation data)
            and ``"max"``/``"min"`` (default: ``"min"`` for losses).
        callbacks: more Keras callbacks (run after the package's own).
        tensorboard: bool. TensorBoard logs in ``run_dir/logs``.
        on_divergence: what to do when the `DivergenceGuard` trips (a
            non-finite loss, or one above ``divergence_factor`` times the
            larger of the first batch's loss and ``ln(num_classes)``):
            ``"stop"`` (default: the diverged epoch is not committed, the
            model gets back the last committed epoch's variables, and
            ``result["stopped"]`` says why), ``"raise"`` (the same, then
            `TrainingDiverged`) or ``"continue"`` (a warning; every epoch is
            committed). A stopped run folder is not resumed (it would diverge
            again, step for step): start a new one with a lower learning rate.
        divergence_factor: float > 1. See ``on_divergence`` (10).
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

    Raises:
        ValueError: bad arguments, a model that does not fit the data, or a
            run folder that cannot be resumed with these arguments (the
            message says why and what to do).
        OSError: the run folder cannot be written (e.g. the disk is full:
            checked before each large write; the folder keeps the last
            completed epoch, and the same call resumes once there is space).
        TrainingDiverged: ``on_divergence="raise"`` and the loss diverged.

    Example:
    ```python
    model = ksn.SlowFusion(classes=len(train.class_names))
    result = ksn.training.train(model, train, val, run_dir="runs/slow", epochs=30, steps_per_epoch=500)
    if result["stopped"]:
        print(result["stopped"])
    model.load_weights(result["best_weights"])
    ```
    """
    if not isinstance(run_dir, (str, os.PathLike)) or not os.fspath(run_dir):
        raise ValueError(f"`run_dir` must be a folder path. Received: run_dir={run_dir!r}")
    check_positive_int("epochs", epochs)
    check_positive_int("steps_per_epoch", steps_per_epoch, allow_none=True)
    check_positive_int("validation_steps", validation_steps, allow_none=True)
    if not isinstance(recipe, TrainingRecipe):
        raise ValueError(f"`recipe` must be a TrainingRecipe. Received: recipe={recipe!r}")
    check_choice("label_mode", label_mode, LABEL_MODES)
    check_choice("on_divergence", on_divergence, DIVERGENCE_POLICIES)
    check_float("divergence_factor", divergence_factor, 1, low_open=True)
    if mode is not None:
        check_choice("mode", mode, ("min", "max"))
    if distribution is None:
        distribution = current_distribution()
    if is_chief is None:
        is_chief = distribution.is_chief if distribution is not None else True
    scope = distribution.scope() if distribution is not None else contextlib.nullcontext()
    with scope:
        result = _train(
            model=model, train_data=train_data, validation_data=validation_data, run_dir=os.fspath(run_dir),
            epochs=epochs, steps_per_epoch=steps_per_epoch, validation_steps=validation_steps, recipe=recipe,
            label_mode=label_mode, compile=compile, resume=resume, monitor=monitor, mode=mode, callbacks=callbacks,
            tensorboard=tensorboard, on_divergence=on_divergence, divergence_factor=divergence_factor,
            is_chief=is_chief, distribution=distribution, verbose=verbose,
        )
    if on_divergence == "raise" and result["stopped"] and result["stopped"].startswith("diverged"):
        raise TrainingDiverged(f"{result['run_dir']}: training {result['stopped']}")
    return result


def _train(*, model, train_data, validation_data, run_dir, epochs, steps_per_epoch, validation_steps, recipe,
           label_mode, compile, resume, monitor, mode, callbacks, tensorboard, on_divergence, divergence_factor,
           is_chief, distribution, verbose):
    _check_strategy(model, distribution)
    _check_precision(model, recipe)
    _warn_per_replica_clipping(recipe, distribution)
    for data in (train_data, validation_data):
        if hasattr(data, "check_model"):
            data.check_model(model)  # class count and clip geometry, before any work
    os.makedirs(run_dir, exist_ok=True)
    if compile:
        compile_model(model, recipe, label_mode=label_mode)
    if monitor is None:
        monitor = recipe.monitor if validation_data is not None else "loss"
    mode = mode or ("min" if "loss" in monitor else "max")
    steps_per_epoch = _steps_per_epoch(train_data, steps_per_epoch, distribution)
    on_disk = checkpoints.load_state(run_dir)
    state = (on_disk if resume else None) or checkpoints.RunState()
    _check_resumable(state, run_dir=run_dir, steps_per_epoch=steps_per_epoch, recipe=recipe,
                     on_divergence=on_divergence)
    initial_epoch = _agree(
        distribution, f"the epoch to resume {run_dir} from", state.epoch,
        "`run_dir` must be one folder that every process reads (shared storage), not a local folder per host.")
    _agree(distribution, "steps_per_epoch", steps_per_epoch, "Pass the same `steps_per_epoch` to every process.")
    if is_chief:
        for repair in checkpoints.tidy_run_folder(run_dir, on_disk):
            print(f"{run_dir}: {repair}", file=sys.stderr)
    if distribution is not None:
        distribution.barrier("keras_sportsnet.train.tidy")  # nobody reads the folder while the chief tidies it
    _build_optimizer(model)
    if initial_epoch:
        checkpoints.restore_variables(model, checkpoints.checkpoint_path(run_dir, initial_epoch))
        print(f"Resuming {run_dir} after epoch {initial_epoch} of {epochs}.", file=sys.stderr)

    guard = DivergenceGuard(divergence_factor, num_classes=_num_classes(model), reference=state.get("divergence_reference"),
                            on_divergence=on_divergence, verbose=verbose != 0)
    if state.get("divergence"):
        guard.divergence = state["divergence"]  # seen before (on_divergence="continue"): reported once
    progress = EpochProgress(steps_per_epoch=steps_per_epoch, guard=guard)
    plateau = _ResumablePlateau(
        progress=progress, saved=state.get("plateau"), monitor=monitor, mode=mode, factor=recipe.reduce_factor,
        patience=recipe.patience, min_lr=recipe.min_learning_rate, verbose=0,
    )
    extra = {"recipe": recipe.to_dict(), "steps_per_epoch": steps_per_epoch, "monitor": monitor}
    checkpoint = EpochCheckpoint(
        run_dir=run_dir, monitor=monitor, mode=mode, plateau=plateau, guard=guard, state=state, extra=extra,
        progress=progress, is_chief=is_chief,
        collective_saves=distribution is not None and distribution.engine == "multi_worker_mirrored",
    )
    chain = [progress, guard]
    # A VideoDataset whose decode failure stopped it (on_error="raise") ends fit; check_failures raises it below.
    chain += [data.callback() for data in (train_data, validation_data) if hasattr(data, "callback")]
    validation = {}
    if hasattr(validation_data, "validation_callback"):
        # A VideoDataset scores its pass e after epoch e (exact across resumes): its own callback, first among
        # those that read val_* (schedule, checkpoint, logs).
        chain.append(validation_data.validation_callback(steps=validation_steps))
    elif validation_data is not None:
        validation = {"validation_data": validation_data, "validation_steps": validation_steps}  # Keras' own
    chain += [plateau, checkpoint]
    if tensorboard and is_chief:
        chain.append(keras.callbacks.TensorBoard(os.path.join(run_dir, "logs")))
    chain += list(callbacks)

    data = _training_batches(train_data, start_step=initial_epoch * steps_per_epoch, resumed=bool(initial_epoch))
    if distribution is not None and distribution.engine == "multi_worker_mirrored":
        data = _shard_by_data(data)
    if initial_epoch < epochs:
        try:
            model.fit(
                data,
                epochs=epochs,
                initial_epoch=initial_epoch,
                steps_per_epoch=steps_per_epoch,
                callbacks=chain,
                verbose=verbose,
                shuffle=False,  # the data's order is the dataset's own (seeded), never Keras'
                **validation,
            )
        except Exception as error:
            shard_error = shard_error_from(error)  # a damaged shard: our sentence, not TensorFlow's framing
            if shard_error is None:
                raise
            raise shard_error from None
    for data in (train_data, validation_data):
        if hasattr(data, "check_failures"):
            data.check_failures()  # the VideoError that stopped the run (on_error="raise"); skipped videos counted
    if distribution is not None:
        distribution.barrier("keras_sportsnet.train.end")  # the chief's last files exist before anyone returns
    completed = len(checkpoint.history)
    if guard.stopping and completed:
        # The model holds the diverged weights: give it back the last committed epoch's.
        checkpoints.restore_variables(model, checkpoints.checkpoint_path(run_dir, completed))
    stopped = None
    if guard.stopping:
        stopped = f"diverged: {guard.divergence['reason']}"
    elif checkpoint.cut_short:
        cut = checkpoint.cut_short
        stopped = (f"stopped during epoch {cut['epoch']} after {cut['steps']} of {steps_per_epoch} steps; that "
                   f"epoch is not committed (the run folder holds epoch {completed}): the same call resumes and "
                   f"redoes epoch {cut['epoch']}")
        if verbose != 0:
            print(f"{run_dir}: training {stopped}.", file=sys.stderr)
    elif completed < epochs:
        stopped = f"stopped by a callback after epoch {completed}"
    best_weights = os.path.join(run_dir, checkpoints.BEST_WEIGHTS)
    return TrainingResult(
        history=checkpoint.history,
        best=checkpoint.best,
        best_epoch=checkpoint.best_epoch,
        best_weights=best_weights if checkpoint.best_epoch is not None and os.path.exists(best_weights) else None,
        monitor=monitor,
        resumed_from=initial_epoch or None,
        epochs_completed=completed,
        stopped=stopped,
        divergence=guard.divergence,
        run_dir=run_dir,
    )


def _num_classes(model):
    classes = getattr(model, "num_classes", None)
    if classes is None:
        try:
            classes = model.output.shape[-1]
        except (AttributeError, ValueError):
            return None
    return int(classes) if classes else None


def _check_precision(model, recipe):
    wanted = f"mixed_{recipe.mixed_precision}" if recipe.mixed_precision else "float32"
    if model.dtype_policy.name != wanted:
        raise ValueError(
            f"The recipe asks for mixed_precision={recipe.mixed_precision!r} but the model was built with the "
            f"{model.dtype_policy.name!r} dtype policy. Build it inside "
            f"`with keras_sportsnet.training.mixed_precision({recipe.mixed_precision!r}):`."
        )


def _warn_per_replica_clipping(recipe, distribution):
    strategy = getattr(distribution, "strategy", None)
    if recipe.clip_norm is not None and strategy is not None and distribution.num_replicas > 1:
        warnings.warn(
            f"clip_norm={recipe.clip_norm} under {type(strategy).__name__}: Keras clips each replica's share of the "
            "gradient before summing them, so a step where the clip acts differs from the same step on one device. "
            "The JAX backend (engine='data_parallel') clips the global gradient, like one device; clip_norm=None "
            "turns clipping off.",
            stacklevel=4,
        )


def _check_strategy(model, distribution):
    """Under a TF strategy, the model's variables must have been made in its scope (public TF API)."""
    strategy = getattr(distribution, "strategy", None)
    if strategy is None or not model.weights:
        return
    if not strategy.extended.variable_created_in_scope(model.weights[0].value):
        raise ValueError(
            f"The model was not built inside the distribution's scope ({type(strategy).__name__}); its variables "
            "would live on one device. Build (and load) it inside `with context.scope():`, where "
            "`context = keras_sportsnet.distributed.setup(...)`."
        )


def _steps_per_epoch(train_data, steps_per_epoch, distribution):
    if steps_per_epoch is not None:
        return steps_per_epoch
    if hasattr(train_data, "steps_per_pass"):
        steps = int(train_data.steps_per_pass)
    elif hasattr(train_data, "cardinality"):
        steps = int(train_data.cardinality())
    else:
        steps = -1
    if steps < 1:
        raise ValueError(
            "`steps_per_epoch` is required: `train_data` has an unknown, infinite or empty length "
            f"({type(train_data).__name__}, {steps} batches).")
    if distribution is not None and distribution.process_count > 1:
        # Per-process inputs may hold different numbers of batches; every process must step together.
        steps = min(distribution.all_values(steps))
    return steps


def _check_resumable(state, *, run_dir, steps_per_epoch, recipe, on_divergence):
    if not state:
        return
    if (state.get("stopped") or "").startswith("diverged") and on_divergence != "continue":
        raise ValueError(
            f"{run_dir} stopped because training {state['stopped']}. Resuming would repeat the same steps and "
            "diverge again. Start a new run_dir (or delete this one) with a lower learning rate (the recipe's "
            "`learning_rate`) or a gradient clip (`clip_norm`); or pass on_divergence='continue' to resume anyway.")
    if state.get("steps_per_epoch") != steps_per_epoch:
        raise ValueError(
            f"{run_dir} was trained with steps_per_epoch={state.get('steps_per_epoch')}; resuming with "
            f"steps_per_epoch={steps_per_epoch} would change every later batch. Use the same value or a new run_dir."
        )
    saved, given = state.get("recipe") or {}, recipe.to_dict()
    changed = [name for name in given if name in saved and saved[name] != given[name]]
    if changed:
        was = ", ".join(f"{name}={saved[name]!r}" for name in changed)
        now = ", ".join(f"{name}={given[name]!r}" for name in changed)
        raise ValueError(
            f"{run_dir} was trained with {was}; resuming with {now} would mix two recipes (and a checkpoint restores "
            "the optimizer's own learning rate). Use the same recipe, or a new run_dir.")


def _agree(distribution, name, value, reason):
    """The value every process has; raises if the processes disagree."""
    if distribution is None or distribution.process_count == 1:
        return value
    values = distribution.all_values(value)
    if len(set(values)) != 1:
        raise ValueError(f"The processes disagree on {name}: {values} (by process). {reason}")
    return value


def _training_batches(train_data, *, start_step, resumed):
    """The endless batches ``fit`` reads, from global step ``start_step``."""
    if hasattr(train_data, "as_tf_dataset"):  # a VideoDataset: batch n is a function of (seed, n)
        return train_data.as_tf_dataset(start_step=start_step)
    if resumed:
        warnings.warn(
            "`train_data` is not a keras_sportsnet dataset: the resumed run restarts its own data order, "
            "so it will not match an uninterrupted run batch for batch.",
            stacklevel=3,
        )
    return train_data.repeat()


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
