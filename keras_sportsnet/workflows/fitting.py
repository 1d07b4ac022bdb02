"""Train a model and write its preset; fine-tune a trained model on new classes (the paper's regimes).

Example:
```python
from keras_sportsnet import workflows
outcome = workflows.train_and_save(ksn.SlowFusion(classes=3, spec="C(16,5,2)-N-P-FC(64)", input_shape=(10, 64, 64, 3)),
                                   "my_videos/", run_dir="runs/slow", epochs=20, resize_to=72)
print(outcome.summary())   # "Best val_hit_at_1 0.600 at epoch 3; preset written to runs/slow/preset"
```
"""

import dataclasses
import os

__all__ = ["TrainingOutcome", "make_datasets", "train_and_save", "transfer"]


@dataclasses.dataclass
class TrainingOutcome:
    """What `train_and_save` and `transfer` return.

    Attributes:
        model: the trained model, holding its best weights.
        result: the trainer's `TrainingResult` (history, best, best_epoch,
            monitor, stopped, divergence, ...).
        monitor: str. The metric the best epoch was chosen by.
        preset: str or None. The preset folder written; None when the loss
            diverged (`diverged`) or this process is not the chief of a
            distributed run.
        class_names: list of str.
        left_out: dict ``{path: reason}`` of the videos the run could not
            use: unusable at the scan, or failed to decode while training
            (skipped, the next video taking their place).
        num_videos: int or None. Videos the data listed (used or left out);
            None for shards and datasets given as objects.

    Example:
    ```python
    outcome = train_and_save(model, "my_videos/", run_dir="runs/slow", epochs=20)
    print(outcome.summary())
    ```
    """

    model: object
    result: dict
    monitor: str
    preset: str = None
    class_names: list = None
    left_out: dict = dataclasses.field(default_factory=dict)
    num_videos: int = None

    @property
    def best(self):
        """The best value of `monitor` (None when no epoch finished)."""
        return self.result.get("best")

    @property
    def best_epoch(self):
        """The epoch (1-based) of `best`."""
        return self.result.get("best_epoch")

    @property
    def stopped(self):
        """None when the run reached its epochs; else why it stopped early, as the trainer says."""
        return self.result.get("stopped")

    @property
    def diverged(self):
        """True when the trainer saw the loss diverge: such a run writes no preset."""
        return bool(self.result.get("divergence")) or str(self.stopped or "").startswith("diverged")

    def summary(self):
        """One line: the best metric by name and epoch, and where the preset is (or why there is none).

        Example:
        ```python
        outcome.summary()   # 'Best val_hit_at_1 0.600 at epoch 3; preset written to runs/slow/preset'
        ```
        """
        best = "no finished epoch" if self.best is None else (
            f"Best {self.monitor} {self.best:.3f} at epoch {self.best_epoch}")
        if self.diverged:
            reason = self.stopped or (self.result.get("divergence") or {}).get("reason", "the loss diverged")
            return f"{best}. Training stopped: {reason}; no preset written."
        early = f" ({self.stopped})" if self.stopped else ""
        if self.preset is None:
            return f"{best}{early}."
        return f"{best}{early}; preset written to {self.preset}"


def _is_shard_folder(path):
    """Whether ``path`` is a folder written by `prepare_shards` (local, or a tf.io.gfile URI)."""
    from keras_sportsnet.data.shards import INDEX_FILE

    if not isinstance(path, (str, os.PathLike)):
        return False
    path = os.fspath(path)
    index = f"{path.rstrip('/')}/{INDEX_FILE}"
    if "://" in path:
        from keras_sportsnet.utils.imports import require_tensorflow

        return require_tensorflow(f"reading {path}").io.gfile.exists(index)
    return os.path.isfile(index)


def make_datasets(data, *, model, batch_size, seed=0, validation_split=0.2, resize_to=None, clips_per_video=1,
                  distribution=None, verbose=True):
    """Training and validation datasets for ``model`` from a folder of class folders or a `prepare` folder.

    Args:
        data: a folder of class folders (``my_videos/<class>/<video>``), a
            folder written by ``keras-sportsnet prepare`` / `prepare_shards`,
            or a dataset (returned as is, without validation data).
        model: the model to train (its clip geometry picks the frames).
        batch_size: int. The global batch (all replicas together).
        seed: int.
        validation_split: float in [0, 1). Held-out fraction of a folder's
            videos (0: no validation; ignored for shards).
        resize_to: int or None. Centre-square side before cropping (None:
            the model's preprocessor's, else the pipeline's default).
        clips_per_video: int. Clips per video and pass.
        distribution: a `DistributedContext` or None.
        verbose: bool.

    Returns:
        ``(train, validation)``; ``validation`` may be None.

    Example:
    ```python
    train, val = make_datasets("my_videos/", model=model, batch_size=32, seed=0)
    ```
    """
    if not isinstance(data, (str, os.PathLike)):
        return data, None
    per_process = distribution is not None and distribution.input_sharding == "per_process"
    if distribution is not None:
        batch_size = distribution.input_batch_size(batch_size)
    if _is_shard_folder(data):
        from keras_sportsnet.data.shards import shard_dataset

        return shard_dataset(os.fspath(data), batch_size=batch_size, seed=seed,
                             shard=distribution.shard if per_process else None), None
    if per_process:
        raise ValueError("`input_sharding='per_process'` needs a folder of shards (each process reads its own "
                         "shard files); prepare one with `keras-sportsnet prepare`.")
    from keras_sportsnet.data.datasets import video_dataset_from_directory

    common = dict(model=model, batch_size=batch_size, seed=seed, clips_per_video=clips_per_video, verbose=verbose)
    if resize_to is not None:  # else the model's preprocessor decides (video_dataset_from_directory(model=...))
        common["resize_to"] = resize_to
    if validation_split:
        return video_dataset_from_directory(os.fspath(data), validation_split=validation_split, subset="both", **common)
    return video_dataset_from_directory(os.fspath(data), **common), None


def _dataset_name(data):
    if isinstance(data, (str, os.PathLike)):
        return {"name": os.path.basename(os.path.normpath(os.fspath(data))), "path": os.path.abspath(data)}
    return {"name": type(data).__name__}


def train_and_save(
    model,
    data,
    *,
    run_dir,
    epochs,
    validation_data=None,
    validation_split=0.2,
    steps_per_epoch=None,
    recipe=None,
    seed=0,
    resize_to=None,
    clips_per_video=1,
    class_names=None,
    metadata=None,
    preset_dir=None,
    distribution=None,
    verbose="auto",
    tensorboard=True,
):
    """Trains ``model`` with the recipe (resumable in ``run_dir``), keeps its best weights, writes a preset.

    The preset (``run_dir/preset`` unless ``preset_dir``) is written only when
    the loss did not diverge: a run the trainer's divergence guard stopped
    writes none (a run a callback stopped early, e.g. `EarlyStopping`, does).
    Under a distribution every process trains; the chief alone writes.

    Args:
        model: an uncompiled keras_sportsnet classifier (built inside the
            distribution's scope when there is one).
        data: a folder of class folders, a folder of shards (`prepare`), or a
            dataset (then pass ``validation_data`` yourself).
        run_dir: str. Checkpoints, best weights, logs, history; the preset.
        epochs: int >= 1. Total epochs (a resumed run continues up to it).
        validation_data: a dataset, or None (a folder's ``validation_split``).
        validation_split: float in [0, 1). Held-out fraction of a folder.
        steps_per_epoch: int or None (one pass).
        recipe: `TrainingRecipe` or None (the paper's).
        seed: int. Data order, augmentation and the split.
        resize_to: int or None. Centre-square side before cropping: set on
            the model's preprocessor, so that the data and the preset use it
            (None: the model's own).
        clips_per_video: int. Clips per video and pass.
        class_names: list of str or None (default: the model's, else the data's).
        metadata: dict or None. Merged into the preset's metadata.
        preset_dir: str or None. Where to write the preset.
        distribution: `keras_sportsnet.distributed.DistributedContext` or None.
        verbose: as for `model.fit`.
        tensorboard: bool. TensorBoard logs in ``run_dir/logs``.

    Returns:
        `TrainingOutcome`.

    Example:
    ```python
    model = ksn.SlowFusion(classes=3, spec="C(16,5,2)-N-P-FC(64)", input_shape=(10, 64, 64, 3))
    outcome = workflows.train_and_save(model, "my_videos/", run_dir="runs/slow", epochs=20, resize_to=72)
    print(outcome.summary())
    ```
    """
    from keras_sportsnet.models import save_preset
    from keras_sportsnet.training import PAPER_RECIPE
    from keras_sportsnet.training import train
    from keras_sportsnet.distributed import without_distribution
    from keras_sportsnet.utils.checks import check_positive_int

    check_positive_int("epochs", epochs)
    check_positive_int("steps_per_epoch", steps_per_epoch, allow_none=True)
    recipe = recipe or PAPER_RECIPE
    if resize_to is not None:
        _set_resize_to(model, resize_to)  # the data pipeline and the preset take it from the model
    if validation_data is None:
        train_data, validation_data = make_datasets(
            data, model=model, batch_size=recipe.batch_size, seed=seed, validation_split=validation_split,
            clips_per_video=clips_per_video, distribution=distribution, verbose=verbose not in (0, False))
    else:
        train_data = data
    names = list(class_names or getattr(train_data, "class_names", None) or [])
    if names and getattr(model, "class_names", None) is None and len(names) == getattr(model, "num_classes", -1):
        model.class_names = names
    result = train(model, train_data, validation_data, run_dir=run_dir, epochs=epochs,
                   steps_per_epoch=steps_per_epoch, recipe=recipe, distribution=distribution, verbose=verbose,
                   tensorboard=tensorboard)
    monitor = result.get("monitor") or (recipe.monitor if validation_data is not None else "loss")
    outcome = TrainingOutcome(model, result, monitor, class_names=names)
    outcome.left_out, outcome.num_videos = _left_out(train_data, validation_data)
    if outcome.diverged:
        return outcome
    if result.get("best_weights"):
        model.load_weights(result["best_weights"])
    if distribution is not None and not distribution.is_chief:
        return outcome
    metadata = dict(metadata or {})
    metadata.setdefault("dataset", _dataset_name(data))
    metadata["training"] = {
        **recipe.to_dict(), "steps_per_epoch": steps_per_epoch, "seed": seed, "clips_per_video": clips_per_video,
        **(metadata.get("training") or {}),
        "epochs": len(result["history"]), "best_epoch": result.get("best_epoch"), "monitor": monitor,
    }
    if distribution is not None:
        metadata["training"]["distribution"] = {"engine": distribution.engine, "num_replicas": distribution.num_replicas,
                                                "processes": distribution.process_count}
    folder = preset_dir or os.path.join(run_dir, "preset")
    with without_distribution():
        outcome.preset = save_preset(model, folder, overwrite=True, metadata=metadata)
    return outcome


def _left_out(*datasets):
    """``({path: reason}, number of videos)`` of the videos ``datasets`` left out (scan) or skipped (decoding)."""
    left_out, videos = {}, set()
    for dataset in datasets:
        for attribute in ("skipped", "failures"):
            found = getattr(dataset, attribute, None)
            if isinstance(found, dict):
                left_out.update(found)
        if getattr(dataset, "videos", None) is not None:  # a folder's videos (shards have none)
            videos.update(dataset.file_paths)
    return left_out, (len(videos | set(left_out)) if videos else None)


def _set_resize_to(model, resize_to):
    """Gives ``model`` a preprocessor that resizes to ``resize_to`` (its other settings kept)."""
    from keras_sportsnet.data.config import preprocessor_settings
    from keras_sportsnet.models import VideoPreprocessor
    from keras_sportsnet.utils.checks import check_resize

    current = getattr(model, "preprocessor", None)
    if current is None:
        raise ValueError(f"`resize_to` needs a keras_sportsnet classifier (with a preprocessor); {model.name!r} "
                         "has none.")
    check_resize(current.get_config()["image_size"], resize_to)  # the data pipeline's message, before any work
    if preprocessor_settings(model).get("resize_to") != resize_to:
        model.preprocessor = VideoPreprocessor.from_config({**current.get_config(), "resize_to": resize_to})


def transfer(
    source,
    data,
    *,
    run_dir,
    epochs,
    regime="top3",
    dropout=None,
    resize_to=None,
    metadata=None,
    **train_kwargs,
):
    """Fine-tunes a trained model on the classes of ``data`` (the paper's regimes) and writes a preset.

    Args:
        source: the trained model: a preset name, ``hf://`` handle or preset
            folder (resolved once), or a model in memory.
        data: a folder of class folders of the new task (or a dataset).
        run_dir: str.
        epochs: int >= 1.
        regime: ``"top"``, ``"top3"``, ``"all"`` or ``"scratch"``.
        dropout: float in [0, 1) or None (the library's default,
            `keras_sportsnet.training.DEFAULT_TRANSFER_DROPOUT`: 0.5).
        resize_to: int or None (default: the source's preprocessor's: what it was trained on).
        metadata: dict or None. Merged into the preset's metadata (``name``,
            ``description``...; the regime, dropout and source are added to
            ``training``).
        **train_kwargs: passed to `train_and_save` (``validation_split``,
            ``steps_per_epoch``, ``recipe``, ``seed``, ``verbose`` ...).

    Returns:
        `TrainingOutcome`.

    Example:
    ```python
    outcome = workflows.transfer("runs/slow/preset", "new_task/", run_dir="runs/new_top3", epochs=10)
    ```
    """
    from keras_sportsnet.data.lists import read_video_folder
    from keras_sportsnet.training.transfer import transfer_model
    from keras_sportsnet.workflows.model_loading import load_model

    loaded = load_model(source)
    if isinstance(data, (str, os.PathLike)) and not _is_shard_folder(data):
        names = list(read_video_folder(os.fspath(data)).class_names)
    else:
        names = list(getattr(data, "class_names", None) or [])
    if not names:
        raise ValueError(f"`data` {data!r} has no classes: put the videos in one sub-folder per class "
                         "(new_task/<class>/<video>).")
    if dropout is None:
        from keras_sportsnet.training import DEFAULT_TRANSFER_DROPOUT as dropout
    # The new model keeps the source's preprocessor: clips made as the source was trained on.
    model = transfer_model(loaded.model, len(names), regime=regime, dropout=dropout, class_names=names)
    metadata = dict(metadata or {})
    metadata["training"] = {**(metadata.get("training") or {}), "regime": regime, "dropout": dropout,
                            "transfer_from": loaded.source or getattr(loaded.model, "name", None)}
    return train_and_save(model, data, run_dir=run_dir, epochs=epochs, resize_to=resize_to, class_names=names,
                          metadata=metadata, **train_kwargs)
