"""Classify videos with a trained model; the paper's video-level evaluation of a labelled folder.

Both resolve ``weights`` once and take their protocol defaults (clips, views,
``resize_to``) from the model, so the command line and Python give the same
numbers.

Example:
```python
from keras_sportsnet import workflows
outcome = workflows.predict(["clip.mp4", "my_folder/"], model="slow_fusion_synthetic", top_k=3)
for prediction in outcome.predictions:
    print(prediction)          # the path, then its top classes (or why it was not classified)
```
"""

import contextlib
import dataclasses
import json
import warnings

__all__ = [
    "DEFAULT_PRESET",
    "EvaluationOutcome",
    "PredictionOutcome",
    "evaluate",
    "predict",
    "read_groups",
    "write_metrics_json",
]

DEFAULT_PRESET = "slow_fusion_synthetic"
"""The shipped preset `predict` uses when no model is given."""


@dataclasses.dataclass
class PredictionOutcome:
    """What `predict` returns.

    Attributes:
        predictions: list of `keras_sportsnet.evaluation.VideoPrediction`, one
            per video in the order given (folders expanded, sorted): its top
            classes, or the ``error`` that kept it from being classified.
        scores: the `VideoScores` of the classified videos (``keep_scores=True``:
            for plots), or None.
        class_names: list of str.

    Example:
    ```python
    outcome = predict(["a.mp4"], model="slow_fusion_synthetic")
    outcome.failures or outcome.predictions[0].top_k
    ```
    """

    predictions: list
    scores: object = None
    class_names: list = None

    @property
    def classified(self):
        """The predictions of the videos that were classified."""
        return [prediction for prediction in self.predictions if prediction.ok]

    @property
    def failures(self):
        """``{path: reason}`` of the videos that could not be classified."""
        return {prediction.path: prediction.error for prediction in self.predictions if not prediction.ok}


@dataclasses.dataclass
class EvaluationOutcome:
    """What `evaluate` returns.

    Attributes:
        scores: `keras_sportsnet.evaluation.VideoScores` (re-scorable, savable).
        metrics: dict. Clip Hit@1, Video Hit@1/5, mAP, mean class accuracy...
        group_map: dict ``{group: mAP}`` (empty without ``groups``).
        skipped: dict ``{path: reason}`` of the videos left out.

    Example:
    ```python
    outcome = evaluate("runs/slow/preset", "test_videos/")
    outcome.metrics["video_hit@1"]
    ```
    """

    scores: object
    metrics: dict
    group_map: dict
    skipped: dict


def predict(videos, *, model=DEFAULT_PRESET, top_k=5, clips_per_video=None, views=None, seed=0,
            on_error="skip", keep_scores=False, max_pixels=None, verbose=True):
    """Classifies each video (files, or folders of videos): the top classes with their probabilities.

    The paper's protocol with the model's preprocessor settings: the numbers
    of `keras_sportsnet.predict_video`, which it calls.

    Args:
        videos: a path or a list of paths: video files and folders (searched recursively).
        model: a model, or its preset (name, ``hf://`` handle, folder), resolved once.
        top_k: int >= 1. Classes per video.
        clips_per_video: int or None (the model's protocol: 20 in the paper).
        views: int in 1..4 or None (4 in the paper).
        seed: int. Clip positions are a function of ``(seed, position of the video)``.
        on_error: ``"skip"`` (the video's prediction carries the error) or ``"raise"``.
        keep_scores: bool. Also return the `VideoScores` (for
            `keras_sportsnet.visualization.plot_video_predictions`).
        max_pixels: int or None. Budget of pixels per decoded frame (None:
            the decoder's default, 4096 x 4096); larger videos fail with a
            `VideoError` that gives the budget they need.
        verbose: bool. Progress on stderr.

    Returns:
        `PredictionOutcome`.

    Example:
    ```python
    outcome = predict("my_folder/", model="runs/slow/preset", top_k=3)
    ```
    """
    from keras_sportsnet.evaluation import evaluate_videos
    from keras_sportsnet.evaluation import predict_video
    from keras_sportsnet.evaluation import predictions_from_scores
    from keras_sportsnet.evaluation.protocol import video_list
    from keras_sportsnet.utils.checks import check_positive_int
    from keras_sportsnet.workflows.model_loading import load_model

    top_k = check_positive_int("top_k", top_k)
    loaded = load_model(model)
    protocol = _protocol(clips_per_video, views)
    if not keep_scores:
        predictions = predict_video(videos, model=loaded.model, top_k=top_k, seed=seed, on_error=on_error,
                                    max_pixels=max_pixels, verbose=verbose, **protocol)
        return PredictionOutcome(predictions, None, loaded.class_names)
    # The same protocol through evaluate_videos, whose VideoScores the figures need; the same predictions.
    listing = video_list(videos, labelled=False)
    with _failures_reported_by_the_outcome():
        scores = evaluate_videos(loaded.model, listing, seed=seed, on_error=on_error, max_pixels=max_pixels,
                                 verbose=verbose, **protocol)
    predictions = predictions_from_scores(scores, top_k=top_k, paths=[*listing.paths, *listing.missing])
    return PredictionOutcome(predictions, scores, loaded.class_names)


@contextlib.contextmanager
def _failures_reported_by_the_outcome():
    """No "Leaving N videos out" warning inside: the outcome lists each such video with its reason."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Leaving \d+ of \d+ videos out", category=UserWarning)
        yield


def _protocol(clips_per_video, views):
    options = {}
    if clips_per_video is not None:
        options["clips_per_video"] = clips_per_video
    if views is not None:
        options["views"] = views
    return options


def read_groups(groups):
    """Class groups for per-group mAP: ``"ucf101"``, a JSON file ``{group: [class names]}``, a dict or None.

    Args:
        groups: ``"ucf101"`` (UCF-101's groups), the path of a JSON file, a dict, or None.

    Returns:
        dict ``{group: [class names]}`` or None.

    Example:
    ```python
    read_groups("ucf101")["Sports"][:3]
    ```
    """
    if groups is None or isinstance(groups, dict):
        return groups
    if groups == "ucf101":
        from keras_sportsnet.data.lists import ucf101_class_groups

        return ucf101_class_groups()
    from keras_sportsnet.utils.files import read_json

    return read_json(groups, what="class-groups file (--groups)")


def evaluate(model, videos, *, clips_per_video=None, views=None, seed=0, batch_size=32, scores_path=None,
             groups=None, on_error="skip", max_pixels=None, verbose=True):
    """The paper's video-level evaluation: random clips x views per video, averaged; Hit@k, mAP.

    Args:
        model: a model, or its preset (name, ``hf://`` handle, folder), resolved once.
        videos: a folder of class folders, a `VideoList` or a dataset.
        clips_per_video: int or None (the model's protocol: 20 in the paper).
        views: int in 1..4 or None (4).
        seed: int.
        batch_size: int >= 1. Views per model call.
        scores_path: str or None. Save the per-view scores (``.npz``) to re-score later.
        groups: class groups for per-group mAP (see `read_groups`).
        on_error: ``"skip"`` or ``"raise"``.
        max_pixels: int or None. Budget of pixels per decoded frame (None: the decoder's default).
        verbose: bool.

    Returns:
        `EvaluationOutcome`.

    Example:
    ```python
    outcome = evaluate("runs/slow/preset", "test_videos/", scores_path="runs/slow/test.npz")
    print(outcome.metrics)
    ```
    """
    from keras_sportsnet.evaluation import evaluate_videos
    from keras_sportsnet.utils.checks import check_positive_int
    from keras_sportsnet.workflows.model_loading import load_model

    check_positive_int("batch_size", batch_size)
    groups = read_groups(groups)
    loaded = load_model(model)
    with _failures_reported_by_the_outcome():
        scores = evaluate_videos(loaded.model, videos, seed=seed, scores_path=scores_path, batch_size=batch_size,
                                 on_error=on_error, max_pixels=max_pixels, verbose=verbose,
                                 **_protocol(clips_per_video, views))
    metrics = scores.metrics(groups=groups)
    group_map = metrics.pop("group_mAP", {})
    return EvaluationOutcome(scores, metrics, group_map, dict(scores.metadata.get("skipped", {})))


def write_metrics_json(path, outcome):
    """Writes an `EvaluationOutcome`'s metrics (and the scores' metadata) as JSON, atomically.

    Args:
        path: str. The JSON file.
        outcome: `EvaluationOutcome`.

    Example:
    ```python
    write_metrics_json("metrics.json", evaluate(model, "test_videos/"))
    ```
    """
    from keras_sportsnet.utils.files import write_json

    write_json(path, json.loads(json.dumps({**outcome.metrics, "group_mAP": outcome.group_map,
                                             "metadata": outcome.scores.metadata}, default=float)), indent=2)
