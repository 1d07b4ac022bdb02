"""`VideoDataset`: the one dataset object of keras_sportsnet.

It owns what is known about the data (the usable videos, the class names,
the scan report, the files skipped before training and those that failed
while decoding, the frozen `PipelineConfig`, the seed) and makes
``tf.data`` pipelines on request; nothing is attached to ``tf.data``
objects, so a user's ``.map()`` loses nothing.

Passes. One pass holds every clip once (``clips_per_video`` clips of every
usable video, or every prepared clip of the shards). Pass ``p`` is a pure
function of ``(seed, p)`` (`keras_sportsnet.data.random`), so

- ``ds.one_pass(p)`` is exactly pass ``p`` (finite, batched on its own:
  ``steps_per_pass`` batches, the last one possibly smaller unless
  ``drop_remainder``): validation after epoch ``e`` scores ``one_pass(e)``
  (`validation_callback`), whatever the process, after any resume;
- ``ds.as_tf_dataset(start_step=s)`` is the endless stream of passes 0, 1,
  2, ... in full batches (running across pass boundaries), from its batch
  ``s``: a run resumed at step ``s`` sees exactly the batches an
  uninterrupted run sees from step ``s`` on.

Failures never escape as ``tf.data`` errors (see `keras_sportsnet.data.sources`):
a video that fails to decode is skipped and recorded in ``failures``
(``on_error="skip"``), or ends the pass (``on_error="raise"``);
`check_failures` then raises the `VideoError` (keras_sportsnet models and
`keras_sportsnet.training.train` call it after ``fit``/``evaluate``/``predict``).

Example:
```python
train = ksn.data.video_dataset_from_directory("videos/", model=model, seed=0, batch_size=8)
model.fit(train.as_tf_dataset(), steps_per_epoch=len(train), epochs=3)
train.check_failures()
```
"""

import warnings

import keras

from keras_sportsnet.data import random
from keras_sportsnet.data.config import PipelineConfig
from keras_sportsnet.utils.checks import check_int
from keras_sportsnet.utils.imports import require_tensorflow

__all__ = ["VideoDataset"]


def _model_classes(model):
    """The number of classes a model predicts, or None when it cannot be told."""
    count = getattr(model, "num_classes", None)
    if isinstance(count, int):
        return count
    try:
        shape = model.output_shape
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(shape, list):
        shape = shape[0] if len(shape) == 1 else None
    return shape[-1] if shape and isinstance(shape[-1], int) else None


class VideoDataset:
    """Labelled (or unlabelled) video clips, made into ``tf.data`` pipelines on request.

    Made by `video_dataset_from_directory`, `video_dataset_from_list` and
    `shard_dataset`; keras_sportsnet models take it directly in ``fit``,
    ``evaluate`` and ``predict`` (and as ``validation_data``), and
    `keras_sportsnet.training.train` resumes it exactly.

    Args:
        source: where clips come from (`keras_sportsnet.data.sources`).
        config: the `PipelineConfig`.
        class_names: list of str.
        videos: `VideoList` of the usable videos, or None (prepared shards).
        file_paths: list of str: the videos, or the shard files.
        scan_report: the `ScanReport` of the probe, or None.
        skipped: ``{path: reason}`` of the files left out before training.
        failures: ``{path: reason}`` the source records decode failures in.
        index: the shard index (``shards.json``), or None.

    Attributes:
        class_names: list of str, in label order.
        num_classes: int.
        videos: `VideoList` of the usable videos (None for shards).
        file_paths: list of str: the usable videos, or the shard files read.
        scan_report: the `ScanReport` of the probe (None for shards).
        skipped: ``{path: reason}`` of the files left out before training.
        failures: ``{path: reason}`` of the decode failures met while iterating.
        config: the frozen `PipelineConfig`.
        batch_size: int or None.
        seed: int. Every random choice derives from it.
        steps_per_pass: int. Batches in one pass; also ``len(ds)``.
        num_clips: int. Clips in one pass.
        index: the shard manifest (``shards.json``), or None.

    Example:
    ```python
    ds = ksn.data.video_dataset_from_directory("videos/", num_frames=10, image_size=170, seed=0)
    ds.class_names, len(ds), ds.skipped
    for clips, labels in ds.one_pass(0):
        ...
    ```
    """

    def __init__(self, source, config, *, class_names, videos=None, file_paths=(), scan_report=None, skipped=None,
                 failures=None, index=None):
        if not isinstance(config, PipelineConfig):
            raise TypeError(f"`config` must be a PipelineConfig. Received: config={config!r}")
        self._source = source
        self.config = config
        self.class_names = list(class_names)
        self.videos = videos
        self.file_paths = list(file_paths)
        self.scan_report = scan_report
        self.skipped = dict(skipped or {})
        self.failures = failures if failures is not None else {}
        self.index = index
        self._reported = set()

    # --- what the data is -------------------------------------------------

    @property
    def num_classes(self):
        """Number of classes (``len(class_names)``)."""
        return len(self.class_names)

    @property
    def batch_size(self):
        """Clips per batch (None: single clips)."""
        return self.config.batch_size

    @property
    def seed(self):
        """The seed every random choice derives from."""
        return self.config.seed

    @property
    def num_clips(self):
        """Clips in one pass."""
        return self._source.num_elements

    @property
    def steps_per_pass(self):
        """Batches in one pass (the last may be smaller unless ``drop_remainder``)."""
        batch = self.config.batch_size
        if batch is None:
            return self.num_clips
        return self.num_clips // batch if self.config.drop_remainder else -(-self.num_clips // batch)

    def __len__(self):
        return self.steps_per_pass

    def __repr__(self):
        return (
            f"<VideoDataset {self.num_clips} clips per pass ({self.steps_per_pass} batches of "
            f"{self.batch_size}), {self.num_classes} classes, {len(self.file_paths)} files, "
            f"{len(self.skipped)} skipped, {len(self.failures)} failed, seed={self.seed}>"
        )

    def replace(self, **changes):
        """The same data with some `PipelineConfig` fields changed (batch size, augmentation, ...).

        The copy shares the videos, the scan results and the ``failures``
        record. Fields that decide which clips a pass holds
        (``clips_per_video``, ``sampling_mode``, geometry) apply to decoded
        videos only.

        Example:
        ```python
        evaluation = train.replace(augmentation="centre", shuffle=False, sampling_mode="uniform")
        ```
        """
        config = self.config.replace(**changes)
        copy = VideoDataset(
            self._source.with_config(config), config, class_names=self.class_names, videos=self.videos,
            file_paths=self.file_paths, scan_report=self.scan_report, skipped=self.skipped, failures=self.failures,
            index=self.index,
        )
        return copy

    # --- tf.data pipelines -------------------------------------------------

    def _load(self, element, key, *payload):
        import tensorflow as tf
        from keras_sportsnet.transforms import functional

        config = self.config
        draws = random.element_draws(key, element)
        clip, label, ok = self._source.load(element, draws, *payload)
        if config.augmentation == "deferred":
            clip = tf.ensure_shape(clip, (config.num_frames, config.resize_to, config.resize_to, 3))
        else:
            clip = functional.paper_crop_flip(clip, draws[1:], config.image_size,
                                              training=config.augmentation == "paper")
            clip = tf.ensure_shape(clip, (config.num_frames, *config.image_size, 3))
        return (clip, ok) if label is None else (clip, label, ok)

    def _finish(self, elements, drop_remainder):
        """Loads the ``(element, key, *payload)`` of a source in parallel, ends at the first element that could
        not be loaded (``on_error="raise"``), drops the flags, batches at the top (so ``tf.distribute`` and Keras
        distributions see the batch size) and prefetches."""
        import tensorflow as tf

        parallel = self.config.num_parallel_calls or tf.data.AUTOTUNE
        # No AutoGraph: these functions have no tensor-dependent Python control flow, and converting them
        # (its cache is not thread-safe) once mixed up two functions of `keras_sportsnet.data.random`.
        plain = tf.autograph.experimental.do_not_convert
        loaded = elements.map(plain(self._load), num_parallel_calls=parallel, deterministic=True)
        if self._source.can_fail:
            loaded = loaded.take_while(plain(lambda *parts: parts[-1]))
        loaded = loaded.map(plain(lambda *parts: parts[0] if len(parts) == 2 else parts[:2]))
        if self.config.batch_size is not None:
            loaded = loaded.batch(self.config.batch_size, drop_remainder=drop_remainder)
        return loaded.prefetch(tf.data.AUTOTUNE)

    def one_pass(self, index=0):
        """Exactly pass ``index`` (finite): its ``num_clips`` clips in ``steps_per_pass`` batches, keyed by ``(seed, index)``.

        Validation after epoch ``e`` scores ``one_pass(e)`` (`validation_callback`),
        so a resumed run scores the same clips as an uninterrupted one.

        Args:
            index: int >= 0. The pass (epoch) number.

        Returns:
            A ``tf.data.Dataset`` of ``(clips, labels)`` (``clips`` when unlabelled).

        Example:
        ```python
        model.evaluate(val.one_pass(epoch))
        ```
        """
        index = check_int("index", index, minimum=0)
        tf = require_tensorflow("VideoDataset.one_pass")
        key = random.pass_key(self.seed, tf.constant(index, tf.int64))
        dataset = self._finish(self._source.elements(key, 0), self.config.drop_remainder)
        if not self._source.can_fail:
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(self.steps_per_pass))
        return dataset

    def as_tf_dataset(self, start_step=0):
        """The endless stream of passes 0, 1, 2, ... in batches, from batch ``start_step``.

        The clips of pass ``p`` (keyed by ``(seed, p)``) follow those of pass
        ``p - 1``, and batches run across pass boundaries, so every batch is
        full: batch ``s`` holds clips ``s * batch_size`` to
        ``(s + 1) * batch_size - 1`` of the stream, a pure function of
        ``(seed, s)``. A run restarted at step ``s`` continues exactly where
        it stopped; ``steps_per_epoch=len(ds)`` makes an epoch about one pass.

        Args:
            start_step: int >= 0. Batches already consumed (``epoch * steps_per_epoch`` on resume).

        Returns:
            An endless ``tf.data.Dataset`` of ``(clips, labels)``; pass
            ``steps_per_epoch`` to ``fit`` (e.g. ``len(ds)``).

        Example:
        ```python
        model.fit(train.as_tf_dataset(), steps_per_epoch=len(train), epochs=10)
        ```
        """
        start_step = check_int("start_step", start_step, minimum=0)
        tf = require_tensorflow("VideoDataset.as_tf_dataset")
        first_pass, first_skip = divmod(start_step * (self.config.batch_size or 1), self.num_clips)

        def make(index):
            import tensorflow as tf

            skip = tf.where(index == first_pass, tf.constant(first_skip, tf.int64), tf.constant(0, tf.int64))
            return self._source.elements(random.pass_key(self.seed, index), skip)

        elements = tf.data.Dataset.range(first_pass, 2**62).flat_map(tf.autograph.experimental.do_not_convert(make))
        dataset = self._finish(elements, drop_remainder=True)  # endless: every batch is full
        if not self._source.can_fail:
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY))
        return dataset

    def __iter__(self):
        """Iterates pass 0 (`one_pass`); use ``one_pass(p)`` for the others."""
        return iter(self.one_pass(0))

    # --- failures -----------------------------------------------------------

    @property
    def stopped(self):
        """True when a decode failure ended the data (``on_error="raise"``); `check_failures` raises it."""
        return getattr(self._source, "stop", None) is not None

    def callback(self):
        """A Keras callback that ends ``fit``/``evaluate``/``predict`` once a decode failure stopped this data.

        With ``on_error="raise"`` the stream ends at the damaged video; Keras
        would start the next epoch on an empty stream. The callback stops
        training there (``model.stop_training``), so `check_failures` can
        raise the error right after. keras_sportsnet models and
        `keras_sportsnet.training.train` add it themselves.

        Example:
        ```python
        model.fit(train.as_tf_dataset(), steps_per_epoch=len(train), callbacks=[train.callback()])
        train.check_failures()
        ```
        """
        return _StopOnFailure(self)

    def validation_callback(self, steps=None):
        """A Keras callback that scores pass ``e`` of this data after epoch ``e`` and adds ``val_*`` to the logs.

        Keras' own ``validation_data`` restarts its iterator every epoch, so an
        endless stream would score its first pass every time, and a finite
        dataset cannot know the epoch. This callback evaluates
        ``one_pass(epoch)`` (Keras' absolute epoch, so a resumed run scores
        the same clips as an uninterrupted one) and writes the results into
        the epoch's logs, where every later callback (checkpoints, learning
        rate schedules, History, the progress bar) reads them. Put it first
        among the callbacks, and do not pass ``validation_data`` as well.

        Args:
            steps: int or None. Batches to score (default: the whole pass).

        Example:
        ```python
        model.fit(train.as_tf_dataset(), steps_per_epoch=len(train), epochs=5,
                  callbacks=[val.validation_callback()])      # history: loss, val_loss, ...
        ```
        """
        steps = check_int("steps", steps, minimum=1, allow_none=True)
        return _EpochValidation(self, steps)

    # --- checks -----------------------------------------------------------

    def check_model(self, model):
        """Refuses, before any training, a model whose class count or clip geometry does not match the data.

        Args:
            model: a keras_sportsnet model (read by duck typing: ``num_classes``
                or the output shape, ``clip_geometry``).

        Raises:
            ValueError: naming both numbers and the fix.

        Example:
        ```python
        train.check_model(model)   # before model.fit(train, ...)
        ```
        """
        classes = _model_classes(model)
        if self.config.label_mode is not None and classes is not None and classes != self.num_classes:
            raise ValueError(
                f"The model predicts {classes} classes but the data has {self.num_classes} "
                f"({', '.join(self.class_names[:8])}{', ...' if self.num_classes > 8 else ''}). Build the model "
                f"with {self.num_classes} classes (e.g. `classes={self.num_classes}`), or give it a new head "
                f"(`model.reset_classifier({self.num_classes})`)."
            )
        geometry = getattr(model, "clip_geometry", None)
        if geometry:
            expected = (geometry.get("num_frames"), tuple(geometry.get("image_size") or ()))
            if self.config.augmentation == "deferred":
                return
            found = (self.config.num_frames, tuple(self.config.image_size))
            if expected[0] is not None and expected[1] and expected != found:
                raise ValueError(
                    f"The model reads clips of {expected[0]} frames of {expected[1]} but the data makes clips of "
                    f"{found[0]} frames of {found[1]}. Make the data with `model=model` (it then takes the model's "
                    "clip geometry)."
                )

    def check_failures(self):
        """After a run: raises the `VideoError` that stopped it, else warns once about the videos skipped.

        A pass ends early when a video fails to decode with
        ``on_error="raise"`` (or when several videos in a row fail): this
        raises that error (one line, naming the file and the damage) and
        clears it. Videos skipped with ``on_error="skip"`` are counted in one
        warning (each new failure is warned about once).

        Returns:
            ``failures``: ``{path: reason}`` of every decode failure so far.

        Example:
        ```python
        model.fit(train.as_tf_dataset(), steps_per_epoch=len(train))
        train.check_failures()
        ```
        """
        stop = getattr(self._source, "stop", None)
        if stop is not None:
            self._source.reset_stop()
            self._reported.update(self.failures)
            raise stop
        new = {p: r for p, r in self.failures.items() if p not in self._reported}
        if new:
            self._reported.update(new)
            listing = "\n".join(f"  {p}: {r}" for p, r in sorted(new.items()))
            warnings.warn(
                f"{len(new)} video(s) failed to decode and were skipped (the next video took their place):\n{listing}",
                UserWarning,
                stacklevel=2,
            )
        return dict(self.failures)


class _StopOnFailure(keras.callbacks.Callback):
    """Stops Keras' loops once the dataset was stopped by a decode failure (see `VideoDataset.callback`)."""

    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset

    def _check(self, flag):
        if self.dataset.stopped and self.model is not None:
            setattr(self.model, flag, True)

    def on_epoch_begin(self, epoch, logs=None):
        self._check("stop_training")

    def on_epoch_end(self, epoch, logs=None):
        self._check("stop_training")

    def on_train_batch_end(self, batch, logs=None):
        self._check("stop_training")

    def on_test_batch_end(self, batch, logs=None):
        self._check("stop_evaluating")

    def on_test_end(self, logs=None):
        self._check("stop_training")

    def on_predict_batch_end(self, batch, logs=None):
        self._check("stop_predicting")


class _EpochValidation(keras.callbacks.Callback):
    """Scores pass ``epoch`` of the validation data after every epoch (see `VideoDataset.validation_callback`)."""

    def __init__(self, dataset, steps):
        super().__init__()
        self.dataset, self.steps = dataset, steps

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training and self.dataset.stopped:
            return
        data = self.dataset.one_pass(epoch)
        if self.steps is not None:
            data = data.take(self.steps)
        results = self.model.evaluate(data, verbose=0, return_dict=True, callbacks=[self.dataset.callback()])
        if logs is not None:
            logs.update({f"val_{name}": value for name, value in results.items()})
        if self.dataset.stopped:
            self.model.stop_training = True
