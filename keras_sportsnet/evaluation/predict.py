"""One call classifies videos: `predict_video`, and `decode_predictions` for raw model outputs.

`predict_video` runs the paper's video-level protocol (random clips x views,
averaged; `keras_sportsnet.evaluation.runner`) with the settings of the
model's preprocessor, and returns one `VideoPrediction` per video: its top-k
class names with probabilities, or why it could not be read. It needs no
TensorFlow: decoding runs on threads, the model on any Keras backend.
"""

import dataclasses
import os

import numpy as np

from keras_sportsnet.evaluation.metrics import softmax
from keras_sportsnet.evaluation.protocol import EvaluationProtocol
from keras_sportsnet.evaluation.protocol import video_list
from keras_sportsnet.evaluation.runner import ON_ERROR_POLICIES
from keras_sportsnet.evaluation.runner import missing_videos
from keras_sportsnet.evaluation.runner import run_protocol
from keras_sportsnet.evaluation.scores import VideoScores
from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_positive_int

__all__ = ["VideoPrediction", "decode_predictions", "predict_video", "predictions_from_scores"]


@dataclasses.dataclass(frozen=True)
class VideoPrediction:
    """What `predict_video` says about one video.

    Attributes:
        path: str. The video.
        top_k: tuple of ``(class_name, probability)`` pairs, most probable
            first; empty when the video could not be read.
        error: str or None. Why the video could not be read (None when it was
            classified).

    Example:
    ```python
    prediction = ksn.predict_video("clip.mp4", model="slow_fusion_synthetic")[0]
    prediction.label, prediction.probability        # ('gym_roll_fast', 0.988)
    print(prediction)                               # the path, then one line per class
    ```
    """

    path: str
    top_k: tuple = ()
    error: str = None

    @property
    def ok(self):
        """True when the video was classified."""
        return self.error is None

    @property
    def label(self):
        """The most probable class name (None for a video that could not be read)."""
        return self.top_k[0][0] if self.top_k else None

    @property
    def probability(self):
        """The probability of `label` (None for a video that could not be read)."""
        return self.top_k[0][1] if self.top_k else None

    def to_dict(self):
        """JSON-ready: ``{"video", "top": [{"class", "probability"}], "error"}``.

        Example:
        ```python
        json.dumps([p.to_dict() for p in predictions])
        ```
        """
        return {
            "video": self.path,
            "top": [{"class": name, "probability": probability} for name, probability in self.top_k],
            "error": self.error,
        }

    def __str__(self):
        if not self.ok:
            return f"{self.path}: not classified: {self.error}"
        width = max(len(name) for name, _ in self.top_k)
        lines = [self.path] + [
            f"  {rank}. {name:<{width}s}  {probability:.3f}" for rank, (name, probability) in enumerate(self.top_k, 1)
        ]
        return "\n".join(lines)


def _class_names_of(source, num_classes):
    """Class names from a list, a model (its ``class_names``) or None ("0", "1", ...)."""
    if source is not None and not isinstance(source, (str, bytes, list, tuple, np.ndarray)):
        source = getattr(source, "class_names", None)
    if source is None:
        return [str(i) for i in range(num_classes)]
    if isinstance(source, (str, bytes)):
        raise ValueError(f"`class_names` must be a list of str, a model or None. Received: class_names={source!r}")
    names = [str(name) for name in source]
    if len(names) != num_classes:
        raise ValueError(
            f"`class_names` has {len(names)} names but the predictions have {num_classes} classes. "
            "Pass the names of the model's classes (or the model itself)."
        )
    return names


def decode_predictions(probabilities, class_names=None, top=5):
    """The ``top`` classes of each prediction, by name (keras.applications style).

    Args:
        probabilities: array ``(N, num_classes)`` or ``(num_classes,)`` of
            probabilities (or any scores: only their order matters), e.g. the
            output of ``model.predict``; or a `VideoScores` (its video-level
            probabilities and class names).
        class_names: a list of ``num_classes`` names, a model (its
            ``class_names``), or None (the `VideoScores`' names, else ``"0"``,
            ``"1"``, ...).
        top: int >= 1. Classes per prediction (at most ``num_classes``).

    Returns:
        list (one per row) of lists of ``(class_name, probability)`` tuples,
        highest first (ties: the lower class index first).

    Example:
    ```python
    clip = ksn.data.read_clip("clip.mp4", range(10))[None]
    decode_predictions(model.predict(clip), model)        # [[('gym_roll_fast', 0.97), ...]]
    ```
    """
    if hasattr(probabilities, "video_scores") and hasattr(probabilities, "class_names"):
        if class_names is None:
            class_names = list(probabilities.class_names)
        probabilities = probabilities.video_scores()
    try:
        array = np.asarray(probabilities, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"`probabilities` must be an array (N, num_classes). Received: {type(probabilities).__name__}"
        ) from error
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] < 1:
        raise ValueError(
            f"`probabilities` must have shape (N, num_classes) or (num_classes,). Received: shape {array.shape}"
        )
    if np.isnan(array).any():
        raise ValueError("`probabilities` must not contain NaN (the model's weights may have diverged).")
    top = check_positive_int("top", top)
    names = _class_names_of(class_names, array.shape[1])
    order = np.argsort(-array, axis=1, kind="stable")[:, :top]
    return [[(names[i], float(row[i])) for i in indices] for row, indices in zip(array, order)]


def _resolve_model(model):
    if isinstance(model, (str, os.PathLike)):
        from keras_sportsnet import from_preset  # lazily: evaluation never imports the models at import time

        return from_preset(os.fspath(model))
    if not hasattr(model, "predict_on_batch"):
        raise TypeError(
            "`model` must be a keras_sportsnet model or a preset name (e.g. 'slow_fusion_synthetic', a preset "
            f"folder or 'hf://org/repo'). Received: {type(model).__name__}"
        )
    return model


def predict_video(
    video_or_videos,
    *,
    model,
    top_k=5,
    clips_per_video=None,
    views=None,
    resize_to=None,
    seed=0,
    batch_size=32,
    short_video_policy="loop",
    on_error="skip",
    workers=None,
    max_pixels=None,
    verbose=False,
):
    """Classifies videos with the paper's protocol: top-k class names and probabilities per video.

    Each video is scored on ``clips_per_video`` random clips seen in
    ``views`` crops/flips, averaged (the preprocessor's ``aggregation``);
    every default comes from the model's preprocessor, so a preset scores
    as it was trained and evaluated. Decoding runs on threads, overlapped
    with the model; no TensorFlow needed.

    Args:
        video_or_videos: a video file, a folder (every video in it and its
            sub-folders), a list of files and folders, or a
            `keras_sportsnet.data.VideoList`.
        model: a keras_sportsnet classifier, or a preset name / folder /
            ``hf://`` address (loaded with `keras_sportsnet.from_preset`).
        top_k: int >= 1. Classes per video (at most the model's class count).
        clips_per_video, views, resize_to: None for the preprocessor's value;
            a ``resize_to`` that disagrees with it is used, with a `UserWarning`.
        seed: int. Clip positions are a pure function of ``(seed, position
            of the video in the list)``.
        batch_size: int. Views per model call.
        short_video_policy: one of `keras_sportsnet.data.SHORT_VIDEO_POLICIES`.
        on_error: ``"skip"``: a video that cannot be read gets a
            `VideoPrediction` with its ``error``; ``"raise"``: the first such
            video raises its `VideoError`.
        workers: int or None. Decoding threads.
        max_pixels: int or None. Budget of pixels per frame (None: the
            decoder's default, 4096 x 4096).
        verbose: bool. A progress line on stderr.

    Returns:
        list of `VideoPrediction`, one per video, in the order given
        (folders expanded in sorted order; the missing files of a
        `VideoList` last).

    Example:
    ```python
    for prediction in ksn.predict_video("my_videos/", model="slow_fusion_synthetic", top_k=3):
        print(prediction)
    ```
    """
    check_choice("on_error", on_error, ON_ERROR_POLICIES)
    top_k = check_positive_int("top_k", top_k)
    listing = video_list(video_or_videos, labelled=False)
    missing = missing_videos(listing, on_error)
    model = _resolve_model(model)
    protocol = EvaluationProtocol.for_model(
        model,
        clips_per_video=clips_per_video,
        views=views,
        resize_to=resize_to,
        seed=seed,
        short_video_policy=short_video_policy,
        stacklevel=2,
    )
    logits, kept, failures = run_protocol(model, listing.paths, protocol, batch_size=batch_size, on_error=on_error,
                                          workers=workers, max_pixels=max_pixels, verbose=verbose)
    scores = VideoScores(
        logits, [()] * len(kept), class_names=_class_names_of(model, logits.shape[-1]),
        video_ids=[listing.paths[index] for index in kept],
        metadata={"protocol": protocol.to_dict(), "skipped": {**failures, **missing}},
    )
    return predictions_from_scores(scores, top_k=top_k, paths=[*listing.paths, *missing])


def predictions_from_scores(scores, *, top_k=5, paths=None, failures=None):
    """One `VideoPrediction` per video of an evaluation: its top classes, or why it was not classified.

    The one place predictions are made (`predict_video` and
    `keras_sportsnet.workflows.predict` use it): each video's clip-views are
    combined by the protocol's ``aggregation`` (from
    ``scores.metadata["protocol"]``; mean probability by default).

    Args:
        scores: a `VideoScores` (e.g. from `evaluate_videos`).
        top_k: int >= 1. Classes per video (at most the class count).
        paths: list of str or None. The videos, in the order wanted; those
            not in ``scores.video_ids`` carry their failure. Default: the
            scored videos, then the failed ones.
        failures: ``{path: reason}`` or None (default:
            ``scores.metadata["skipped"]``, as `evaluate_videos` records them).

    Returns:
        list of `VideoPrediction`.

    Example:
    ```python
    scores = ksn.evaluate_videos(model, ["a.mp4", "b.mp4"])
    for prediction in predictions_from_scores(scores, top_k=3):
        print(prediction)
    ```
    """
    top_k = check_positive_int("top_k", top_k)
    failures = dict(scores.metadata.get("skipped", {}) if failures is None else failures)
    scored = list(scores.video_ids)
    if paths is None:
        paths = scored + [path for path in failures if path not in set(scored)]
    decoded = {}
    if scored:
        rule = (scores.metadata.get("protocol") or {}).get("aggregation", "mean_probability")
        per_video = scores.video_scores(rule=rule)
        if rule == "mean_logit":
            per_video = softmax(per_video)
        top = min(top_k, len(scores.class_names))
        decoded = dict(zip(scored, decode_predictions(per_video, list(scores.class_names), top=top)))
    return [
        VideoPrediction(path, top_k=tuple(decoded[path]))
        if path in decoded
        else VideoPrediction(path, error=failures.get(path, "not classified"))
        for path in paths
    ]
