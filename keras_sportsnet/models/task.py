"""What every keras_sportsnet classifier does beyond its graph: raw clips in, datasets in.

`VideoTask` is mixed into `SportsNetVideoClassifier` and `CNNAverage` (both
functional `keras.Model` subclasses). It gives them:

- **raw clips through the preprocessor.** ``model(clips)``, ``model.predict``,
  ``evaluate`` and ``fit`` apply ``model.preprocessor`` first when the clips
  are raw: frames of another size than the model's (uint8 straight from the
  decoder, or float). Clips whose frames already are the model's size (what
  the data pipelines and the evaluation give, uint8 or float) go straight to
  the network, cast to float32. Inside a compiled function whose frame size
  is dynamic (TensorFlow generalises ``predict`` to any size after a second
  size), the same choice is made at run time. This happens in ``call`` (and in
  ``compute_output_spec`` for symbolic inputs), so it works on every backend,
  inside ``predict``'s compiled step and in a functional graph
  (``model(keras.Input((10, 240, 320, 3), dtype="uint8"))``).
- **a `keras_sportsnet.data.VideoDataset` as ``x`` or ``validation_data``.**
  Recognised by duck typing (``hasattr(x, "as_tf_dataset")``), checked
  against the model (``x.check_model(model)``, which raises before any work
  when the class count or clip geometry differ), and converted: ``fit`` reads
  the endless ``x.as_tf_dataset(start_step=initial_epoch * len(x))`` with
  ``steps_per_epoch=len(x)`` (epoch e is pass e); validation is scored by
  ``validation_data.validation_callback()`` (validation at epoch e is
  ``one_pass(e)``, also after a resume); ``evaluate``/``predict`` read
  ``x.one_pass(0)``. A decode failure that stopped the data
  (``on_error="raise"``) ends the call and is raised as its `VideoError`
  (``check_failures``).
"""

import inspect

import keras
from keras import ops

__all__ = ["VideoTask", "is_video_dataset"]


def is_video_dataset(value):
    """True for a `keras_sportsnet.data.VideoDataset` (or anything with ``as_tf_dataset``).

    Example:
    >>> is_video_dataset([1, 2])
    False
    """
    return hasattr(value, "as_tf_dataset") and not isinstance(value, (str, bytes))


_FIT = inspect.signature(keras.Model.fit)
_EVALUATE = inspect.signature(keras.Model.evaluate)
_PREDICT = inspect.signature(keras.Model.predict)


def _bind(signature, model, args, kwargs):
    bound = signature.bind(model, *args, **kwargs)
    arguments = dict(bound.arguments)
    arguments.pop("self", None)
    extra = arguments.pop("kwargs", {})
    return {**arguments, **extra}


def _steps(dataset):
    steps = getattr(dataset, "steps_per_pass", None)
    return int(steps) if steps is not None else len(dataset)


def _checked(dataset, model, argument):
    check = getattr(dataset, "check_model", None)
    if check is not None:
        check(model)
    if _steps(dataset) < 1:
        raise ValueError(f"`{argument}` has no batches (steps_per_pass=0): no usable videos.")
    return dataset


class VideoTask:
    """Mixin: raw clips through ``self.preprocessor``; `VideoDataset` inputs for fit/evaluate/predict.

    The host class sets ``self.preprocessor`` (a `VideoPreprocessor`) after
    ``keras.Model.__init__``; it is stored outside Keras' layer tracking, so it
    adds nothing to ``model.layers``, ``model.weights`` or weight files.
    """

    # --------------------------------------------------------- preprocessor
    @property
    def preprocessor(self):
        """The model's `VideoPreprocessor`: what turns decoded clips into its input."""
        return self.__dict__.get("_video_preprocessor")

    def __setattr__(self, name, value):
        if name == "preprocessor":
            from keras_sportsnet.models.preprocessor import VideoPreprocessor

            if not isinstance(value, VideoPreprocessor):
                raise TypeError(
                    "`preprocessor` must be a keras_sportsnet VideoPreprocessor. "
                    f"Received: preprocessor of type {type(value).__name__}"
                )
            # Not a tracked sub-layer: weight files and `model.layers` stay those of the network.
            object.__setattr__(self, "_video_preprocessor", value)
            return
        super().__setattr__(name, value)

    def _raw(self, clips):
        preprocessor = self.preprocessor
        return preprocessor is not None and preprocessor.needs_preprocessing(clips)

    def _prepare(self, clips, training):
        """``clips`` as the network's input: preprocessed when raw; decided at run time when the size is dynamic."""
        preprocessor = self.preprocessor
        shape = tuple(clips.shape)
        if preprocessor is None or len(shape) != 5:
            return clips
        if shape[2] is None or shape[3] is None:  # e.g. a tf.function generalised to any frame size
            height, width = preprocessor.image_size
            dynamic = ops.shape(clips)
            ready = ops.logical_and(ops.equal(dynamic[2], height), ops.equal(dynamic[3], width))
            clips = ops.cond(
                ready,
                lambda: ops.cast(clips, preprocessor.compute_dtype),
                lambda: preprocessor(clips, training=training),
            )
            return ops.reshape(clips, (-1, shape[1], height, width, shape[4]))
        if preprocessor.needs_preprocessing(clips):
            return preprocessor(clips, training=training)
        return clips

    @property
    def input_spec(self):
        # Clips of any frame size and dtype are accepted (raw ones are preprocessed in `call`).
        return [keras.layers.InputSpec(ndim=5)]

    @input_spec.setter
    def input_spec(self, value):
        pass

    def _check_frames(self, clips):
        frames = tuple(clips.shape)[1]
        expected = self.input.shape[1]
        if frames is not None and expected is not None and frames != expected:
            raise ValueError(
                f"{self.name!r} reads clips of {expected} frames (input {tuple(self.input.shape)}). "
                f"Received: clips.shape={tuple(clips.shape)}"
            )

    def call(self, inputs, training=None, mask=None, **kwargs):
        inputs = self._prepare(inputs, training)
        self._check_frames(inputs)
        return super().call(inputs, training=training, mask=mask, **kwargs)

    def compute_output_spec(self, inputs, training=None, mask=None):
        if self._raw(inputs):
            inputs = self.preprocessor.compute_output_spec(inputs)
        self._check_frames(inputs)
        return super().compute_output_spec(inputs, training=training, mask=mask)

    # ------------------------------------------------------------- datasets
    def fit(self, *args, **kwargs):
        arguments = _bind(_FIT, self, args, kwargs)
        x, validation = arguments.get("x"), arguments.get("validation_data")
        initial_epoch = arguments.get("initial_epoch") or 0
        datasets = [d for d in (x, validation) if is_video_dataset(d)]
        callbacks = list(arguments.get("callbacks") or [])
        if is_video_dataset(x):
            if arguments.get("y") is not None:
                raise ValueError("`y` must be None when `x` is a VideoDataset (it holds the labels).")
            _checked(x, self, "x")
            if arguments.get("steps_per_epoch") is None:
                arguments["steps_per_epoch"] = _steps(x)
            arguments["x"] = x.as_tf_dataset(start_step=initial_epoch * arguments["steps_per_epoch"])
            arguments.setdefault("shuffle", False)  # the dataset's own order: a function of (seed, pass, step)
        if is_video_dataset(validation):
            _checked(validation, self, "validation_data")
            scorer = getattr(validation, "validation_callback", None)
            if scorer is not None:
                # Keras restarts validation iterators every epoch: the callback scores one_pass(epoch) itself,
                # first, so epoch e scores pass e (also after a resume) and later callbacks read its val_* logs.
                callbacks.insert(0, scorer(steps=arguments.get("validation_steps")))
                arguments["validation_data"] = arguments["validation_steps"] = None
            else:
                if arguments.get("validation_steps") is None:
                    arguments["validation_steps"] = _steps(validation)
                arguments["validation_data"] = validation.as_tf_dataset(
                    start_step=initial_epoch * arguments["validation_steps"])
        callbacks += [d.callback() for d in datasets if hasattr(d, "callback")]  # ends the run on a stopping failure
        if datasets:
            arguments["callbacks"] = callbacks
        history = super().fit(**arguments)
        for dataset in datasets:
            if hasattr(dataset, "check_failures"):
                dataset.check_failures()  # raises the VideoError that stopped the run (on_error="raise")
        return history

    def evaluate(self, *args, **kwargs):
        arguments = _bind(_EVALUATE, self, args, kwargs)
        x = arguments.get("x")
        if is_video_dataset(x):
            if arguments.get("y") is not None:
                raise ValueError("`y` must be None when `x` is a VideoDataset (it holds the labels).")
            arguments["x"] = _checked(x, self, "x").one_pass(0)
            return self._with_failure_checks(x, super().evaluate, arguments)
        return super().evaluate(**arguments)

    def predict(self, *args, **kwargs):
        arguments = _bind(_PREDICT, self, args, kwargs)
        x = arguments.get("x")
        if is_video_dataset(x):
            arguments["x"] = _checked(x, self, "x").one_pass(0)
            return self._with_failure_checks(x, super().predict, arguments)
        return super().predict(**arguments)

    @staticmethod
    def _with_failure_checks(dataset, run, arguments):
        """``run(**arguments)`` stopped by the dataset's failure callback; then its failures are checked."""
        if hasattr(dataset, "callback"):
            arguments["callbacks"] = list(arguments.get("callbacks") or []) + [dataset.callback()]
        results = run(**arguments)
        if hasattr(dataset, "check_failures"):
            dataset.check_failures()
        return results
