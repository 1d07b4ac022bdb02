"""Combining and tabulating evaluations: the paper's CNN Average (`ensemble`) and Table 1 (`summary_table`).

Both work on saved `VideoScores`, so models evaluated once (and in separate
runs) are combined and compared without running them again.
"""

import numpy as np

from keras_sportsnet.evaluation.scores import VideoScores
from keras_sportsnet.evaluation.scores import check_rule
from keras_sportsnet.utils.tables import format_markdown_table

__all__ = ["ensemble", "summary_table"]


def ensemble(scores, rule="mean_probability", clips=None, views=None):
    """Averages the video predictions of several models (the paper's CNN Average).

    Each member's per-video prediction is computed with `rule` (and `clips`,
    `views`), then the predictions are averaged over the members: mean
    probabilities for ``"mean_probability"`` and ``"max"``, mean logits for
    ``"mean_logit"``.

    Args:
        scores: sequence of `VideoScores` over the same videos (same
            `video_ids` in the same order), labels and `class_names`.
        rule: the aggregation rule (see `VideoScores.video_scores`).
        clips: None or int, clips per member video.
        views: None or int, views per member clip.

    Returns:
        A `VideoScores` with one clip and one view per video and
        ``clip_level=False``; its logits are the log of the averaged
        probabilities (the averaged logits for ``"mean_logit"``), so its
        ``video_scores()`` (default rule) equals the averaged prediction of
        ``"mean_probability"`` and every rule ranks classes the same. Its
        metadata lists the members' metadata under ``"members"``.

    Example:
    ```python
    average = ensemble([single_frame, early, late, slow])
    average.metrics()["video_hit@1"]
    ```
    """
    check_rule(rule)
    if isinstance(scores, VideoScores) or not hasattr(scores, "__len__") or len(scores) == 0:
        raise ValueError(f"`scores` must be a non-empty list of VideoScores. Received: scores={scores!r}"[:300])
    members = list(scores)
    for i, member in enumerate(members):
        if not isinstance(member, VideoScores):
            raise ValueError(f"`scores` must hold VideoScores. Received: scores[{i}] of type {type(member).__name__}")
    first = members[0]
    for i, member in enumerate(members[1:], 1):
        if member.video_ids != first.video_ids:
            if set(member.video_ids) != set(first.video_ids):
                only = sorted(set(member.video_ids) ^ set(first.video_ids))[:3]
                detail = f"videos {only} are in only one of them"
            else:
                detail = "they hold the same videos in a different order"
            raise ValueError(f"`scores[{i}]` must have the video_ids of scores[0]. Received: {detail}")
        if member.class_names != first.class_names:
            raise ValueError(
                f"`scores[{i}]` must have the class_names of scores[0]. Received: {member.num_classes} "
                f"classes (scores[0]: {first.num_classes}), first difference "
                f"{next((a, b) for a, b in zip(member.class_names + ('',), first.class_names + ('',)) if a != b)}"
            )
        if not np.array_equal(member.labels, first.labels):
            video = first.video_ids[int(np.flatnonzero((member.labels != first.labels).any(axis=1))[0])]
            raise ValueError(f"`scores[{i}]` must have the labels of scores[0]. Received: different labels for video {video!r}")
    mean = np.mean([m.video_scores(clips, views, rule) for m in members], axis=0)
    if rule == "mean_logit":
        logits = mean
    else:
        with np.errstate(divide="ignore"):
            logits = np.log(mean)
        # A probability that underflowed to 0 becomes the float32 minimum, not -inf.
        logits = np.maximum(logits, np.finfo(np.float32).min)
    metadata = {"ensemble": {"rule": rule, "clips": clips, "views": views}, "members": [m.metadata for m in members]}
    return VideoScores(
        logits[:, None, None, :],
        first.labels,
        class_names=first.class_names,
        video_ids=first.video_ids,
        metadata=metadata,
        clip_level=False,
    )


def summary_table(results, clips=None, views=None, rule="mean_probability", percent=True):
    """A Markdown table shaped like the paper's Table 1.

    Args:
        results: dict ``{model name: VideoScores}``, in row order.
        clips, views, rule: as for `VideoScores.metrics`.
        percent: bool. Percentages with one decimal (as the paper), or
            fractions with four.

    Returns:
        str: columns Model, Clip Hit@1, Video Hit@1, Video Hit@5 (``-`` for
        the Clip Hit@1 of an ensemble).

    Example:
    ```python
    print(summary_table({"Slow Fusion": slow, "CNN Average": ensemble([single, early, late, slow])}))
    ```
    """
    if not hasattr(results, "items"):
        raise ValueError(f"`results` must be a dict {{model name: VideoScores}}. Received: results={results!r}"[:300])
    if not isinstance(percent, (bool, np.bool_)):
        raise ValueError(f"`percent` must be a bool. Received: percent={percent!r}")
    scale = 100.0 if percent else 1.0
    rows = []
    for name, scores in results.items():
        if not isinstance(scores, VideoScores):
            raise ValueError(f"`results` must map names to VideoScores. Received: results[{name!r}] of type {type(scores).__name__}")
        m = scores.metrics(clips=clips, views=views, rule=rule)
        rows.append([str(name)] + [scale * m[k] for k in ("clip_hit@1", "video_hit@1", "video_hit@5")])
    header = ["Model", "Clip Hit@1", "Video Hit@1", "Video Hit@5"]
    return format_markdown_table(header, rows, float_format=".1f" if percent else ".4f")
