"""Saved per-view outputs of a video-level evaluation, re-scored without the model.

The paper (Sec. 4.1) predicts a video by averaging the predictions of several
clips, each seen in several views (crops and flips). Running the model is the
expensive part; `VideoScores` keeps every per-view logit so that any number of
clips and views, any aggregation rule and any metric can be computed later,
and several models ensembled (the paper's "CNN Average").

Files are ``.npz`` archives of plain arrays, with the strings and metadata as
UTF-8 JSON in a uint8 array, read with ``allow_pickle=False``
(`keras_sportsnet.evaluation.archive`). Ensembles and Table 1 are in
`keras_sportsnet.evaluation.reports`.
"""

import json
import math

import numpy as np

from keras_sportsnet.evaluation import metrics as _metrics
from keras_sportsnet.evaluation.metrics import AGGREGATION_RULES
from keras_sportsnet.evaluation.metrics import aggregate
from keras_sportsnet.evaluation.metrics import as_multi_hot
from keras_sportsnet.evaluation.archive import read_archive
from keras_sportsnet.evaluation.archive import write_archive
from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_int
from keras_sportsnet.utils.tables import format_markdown_table

__all__ = ["METRICS", "VideoScores", "ViewsTable", "check_rule"]

METRICS = ("clip_hit@1", "video_hit@1", "video_hit@5", "mAP", "mean_class_accuracy")
"""The scalar metrics of `VideoScores.metrics`, in order."""

# Videos per block when aggregating (bounds the float64 temporaries).
_BLOCK_ELEMENTS = 1 << 23


def check_rule(rule):
    """Raises a ValueError naming ``rule`` unless it is one of `AGGREGATION_RULES`.

    Args:
        rule: the aggregation rule received.

    Example:
    >>> check_rule("mean_probability")
    """
    check_choice("rule", rule, AGGREGATION_RULES)


def _check_count(value, name, limit):
    value = check_int(name, value, minimum=1, maximum=limit, allow_none=True)
    return limit if value is None else value


def _string_list(values, name, count):
    if isinstance(values, str) or not hasattr(values, "__len__"):
        raise ValueError(f"`{name}` must be a sequence of str. Received: {name}={values!r}"[:300])
    values = list(values)
    if len(values) != count:
        raise ValueError(f"`{name}` must have {count} entries. Received: {len(values)} entries")
    bad = [v for v in values if not isinstance(v, str)]
    if bad:
        raise ValueError(f"`{name}` must hold only str. Received: {bad[0]!r} ({type(bad[0]).__name__})")
    return values


class VideoScores:
    """The per-view outputs of a video-level evaluation.

    Args:
        logits: array ``(num_videos, clips, views, num_classes)``, stored as
            float32: the model's output for every view of every clip.
        labels: the labels of the videos, in any form
            `keras_sportsnet.evaluation.as_multi_hot` accepts (int array,
            tuples of ints, multi-hot); stored multi-hot uint8
            ``(num_videos, num_classes)``. Unlabelled videos (all zero) are
            left out of the metrics.
        class_names: sequence of ``num_classes`` str; default ``"0"``,
            ``"1"``, ...
        video_ids: sequence of ``num_videos`` distinct str (paths or YouTube
            ids); default ``"0"``, ``"1"``, ...
        valid: optional bool array ``(num_videos, clips)``: False for clips a
            video does not have (a video too short for all of them); their
            logits are never read. Every video needs one valid clip.
        metadata: JSON-serialisable dict (model name, seed, protocol, ...);
            JSON turns tuples into lists.
        clip_level: bool. False for scores that are already one prediction
            per video (`ensemble`): there are no clips to score, and
            ``clip_hit@1`` is NaN.

    Attributes:
        logits, labels, class_names, video_ids, valid, metadata, clip_level:
            the constructor arguments (tuples for `class_names` and
            `video_ids`); also `num_videos`, `num_clips`, `num_views`, `num_classes`.

    Example:
    >>> logits = np.zeros((2, 3, 4, 5), "float32"); logits[0, ..., 1] = 1; logits[1, ..., 3] = 1
    >>> scores = VideoScores(logits, labels=[1, 2], video_ids=["a", "b"], metadata={"model": "slow"})
    >>> scores.metrics()["video_hit@1"]
    0.5
    """

    def __init__(self, logits, labels, class_names=None, video_ids=None, valid=None, metadata=None, clip_level=True):
        logits = np.asarray(logits)
        if logits.ndim != 4 or 0 in logits.shape[1:]:
            raise ValueError(
                "`logits` must be a 4-D array (num_videos, clips, views, num_classes) with at least one "
                f"clip, view and class. Received: logits.shape={logits.shape}"
            )
        if not np.issubdtype(logits.dtype, np.number) or np.iscomplexobj(logits):
            raise ValueError(f"`logits` must hold real numbers. Received: logits.dtype={logits.dtype}")
        self.logits = np.ascontiguousarray(logits, dtype=np.float32)
        num_videos, num_clips, _, num_classes = self.logits.shape
        self.labels = as_multi_hot(labels, num_classes)
        if self.labels.shape[0] != num_videos:
            raise ValueError(
                f"`labels` must have one entry per video. Received: len(labels)={self.labels.shape[0]}, "
                f"logits.shape[0]={num_videos}"
            )
        if class_names is None:
            class_names = [str(i) for i in range(num_classes)]
        self.class_names = tuple(_string_list(class_names, "class_names", num_classes))
        if video_ids is None:
            video_ids = [str(i) for i in range(num_videos)]
        self.video_ids = tuple(_string_list(video_ids, "video_ids", num_videos))
        if len(set(self.video_ids)) != num_videos:
            seen, duplicate = set(), None
            for v in self.video_ids:
                if v in seen:
                    duplicate = v
                    break
                seen.add(v)
            raise ValueError(f"`video_ids` must be distinct. Received: {duplicate!r} more than once")
        if valid is not None:
            valid = np.asarray(valid)
            if valid.dtype != bool or valid.shape != (num_videos, num_clips):
                raise ValueError(
                    f"`valid` must be a bool array (num_videos, clips)={(num_videos, num_clips)}. "
                    f"Received: valid.shape={valid.shape}, valid.dtype={valid.dtype}"
                )
            empty = np.flatnonzero(~valid.any(axis=1))
            if empty.size:
                raise ValueError(
                    "`valid` must mark at least one clip of every video. Received: no valid clip for "
                    f"video_ids {[self.video_ids[i] for i in empty[:5]]}"
                )
            valid = valid.copy()
        self.valid = valid
        used = self.logits if valid is None else self.logits[valid]
        if not np.isfinite(used).all():
            raise ValueError("`logits` must be finite (where `valid`). Received: NaN or infinite values")
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict):
            raise ValueError(f"`metadata` must be a dict. Received: metadata={metadata!r}"[:300])
        try:
            self.metadata = json.loads(json.dumps(metadata, allow_nan=True))
        except (TypeError, ValueError) as error:
            raise ValueError(f"`metadata` must be JSON-serialisable. Received: {error}") from None
        if not isinstance(clip_level, (bool, np.bool_)):
            raise ValueError(f"`clip_level` must be a bool. Received: clip_level={clip_level!r}")
        self.clip_level = bool(clip_level)

    # ------------------------------------------------------------------ shape

    @property
    def num_videos(self):
        return self.logits.shape[0]

    @property
    def num_clips(self):
        return self.logits.shape[1]

    @property
    def num_views(self):
        return self.logits.shape[2]

    @property
    def num_classes(self):
        return self.logits.shape[3]

    def __len__(self):
        return self.num_videos

    def __repr__(self):
        name = self.metadata.get("model", "")
        return (
            f"VideoScores({name + ', ' if name else ''}videos={self.num_videos}, clips={self.num_clips}, "
            f"views={self.num_views}, classes={self.num_classes})"
        )

    # ------------------------------------------------------------------ files

    def save(self, path):
        """Writes the scores to an ``.npz`` file, atomically.

        The archive is written to a temporary file in the same folder and
        moved over `path` (`keras_sportsnet.utils.files.atomic_write`): a
        reader never sees a partial file, and a failed save leaves an
        existing file as it was. Nothing is
        pickled: the strings and the metadata are UTF-8 JSON in a uint8
        array.

        Args:
            path: str or path-like; written exactly there (no suffix added).

        Returns:
            The path, as str.

        Example:
        ```python
        scores.save("slow_fusion_ucf101_split1.npz")
        ```
        """
        arrays = {"logits": self.logits, "labels": self.labels}
        if self.valid is not None:
            arrays["valid"] = self.valid
        header = {
            "class_names": list(self.class_names),
            "video_ids": list(self.video_ids),
            "metadata": self.metadata,
            "clip_level": self.clip_level,
        }
        return write_archive(path, arrays, header)

    @classmethod
    def load(cls, path):
        """Reads scores written by `save` (``np.load(..., allow_pickle=False)``).

        Args:
            path: str or path-like.

        Returns:
            A `VideoScores` equal to the one saved.

        Raises:
            ValueError: the file is not a `VideoScores` archive (including any
                file that would need unpickling).

        Example:
        ```python
        scores = VideoScores.load("slow_fusion_ucf101_split1.npz")
        ```
        """
        arrays, header = read_archive(path)
        return cls(
            arrays["logits"],
            arrays["labels"],
            class_names=header["class_names"],
            video_ids=header["video_ids"],
            valid=arrays.get("valid"),
            metadata=header["metadata"],
            clip_level=header["clip_level"],
        )

    # ------------------------------------------------------------------ scoring

    def _used_clips(self, clips):
        """bool (num_videos, num_clips): the first `clips` valid clips of each video."""
        clips = _check_count(clips, "clips", self.num_clips)
        if self.valid is None:
            used = np.zeros((self.num_videos, self.num_clips), bool)
            used[:, :clips] = True
            return used
        return self.valid & (np.cumsum(self.valid, axis=1) <= clips)

    def _aggregated(self, clips, views, rule, per_clip):
        check_rule(rule)
        views = _check_count(views, "views", self.num_views)
        used = self._used_clips(clips)
        last = int(np.flatnonzero(used.any(axis=0)).max()) + 1  # clips beyond are never used
        used = used[:, :last]
        per_video = last * views * self.num_classes
        step = max(1, _BLOCK_ELEMENTS // per_video)
        blocks = []
        for start in range(0, self.num_videos, step):
            logits = self.logits[start : start + step, :last, :views]
            if per_clip:
                # Only the used clips: the logits of invalid ones may be anything.
                blocks.append(aggregate(logits[used[start : start + step]], rule=rule, axis=1))
            else:
                mask = used[start : start + step, :, None]
                blocks.append(aggregate(logits, rule=rule, axis=(1, 2), mask=mask))
        return np.concatenate(blocks), used

    def video_scores(self, clips=None, views=None, rule="mean_probability"):
        """One prediction per video from its first clips and views.

        Args:
            clips: None (all) or int: the first `clips` valid clips of each
                video (all its valid clips when it has fewer).
            views: None (all) or int: the first `views` views of each clip.
            rule: how the clip-views are combined, as in
                `keras_sportsnet.evaluation.aggregate` (``"mean_probability"``,
                ``"mean_logit"``, ``"max"``).

        Returns:
            float64 array ``(num_videos, num_classes)``: probabilities for
            ``"mean_probability"``, per-class maximum probabilities for
            ``"max"``, mean logits for ``"mean_logit"``.

        Example:
        >>> scores = VideoScores(np.zeros((2, 3, 4, 5), "float32"), labels=[1, 2])
        >>> scores.video_scores(clips=1, views=2).shape
        (2, 5)
        """
        return self._aggregated(clips, views, rule, per_clip=False)[0]

    def clip_scores(self, clips=None, views=None, rule="mean_probability"):
        """One prediction per clip (its views combined), for Clip Hit@1.

        Args:
            clips: None (all) or int: the first `clips` valid clips per video.
            views: None (all) or int: the first `views` views of each clip.
            rule: the aggregation rule over views (see `video_scores`).

        Returns:
            ``(scores, labels)``: float64 ``(num_used_clips, num_classes)``
            and uint8 multi-hot ``(num_used_clips, num_classes)``, the clips
            of video 0 first, then video 1, ...

        Example:
        >>> scores = VideoScores(np.zeros((2, 3, 4, 5), "float32"), labels=[1, 2])
        >>> [a.shape for a in scores.clip_scores(clips=2)]
        [(4, 5), (4, 5)]
        """
        if not self.clip_level:
            raise ValueError(
                "These scores hold one prediction per video (clip_level=False, e.g. an ensemble); "
                "they have no clip scores."
            )
        per_clip, used = self._aggregated(clips, views, rule, per_clip=True)
        return per_clip, np.repeat(self.labels, used.sum(axis=1), axis=0)

    def per_class_ap(self, clips=None, views=None, rule="mean_probability"):
        """Per-class average precision of the video predictions.

        Args:
            clips, views, rule: as for `video_scores`.

        Returns:
            float64 array ``(num_classes,)``, NaN for classes without a
            positive video.

        Example:
        ```python
        ap = scores.per_class_ap()
        dict(zip(scores.class_names, ap))
        ```
        """
        return _metrics.average_precision(self.video_scores(clips, views, rule), self.labels)

    def _metric(self, name, clips, views, rule):
        if name == "clip_hit@1":
            if not self.clip_level:
                return math.nan
            return _metrics.hit_at_k(*self.clip_scores(clips, views, rule), k=1)
        video = self.video_scores(clips, views, rule)
        if name == "video_hit@1":
            return _metrics.hit_at_k(video, self.labels, k=1)
        if name == "video_hit@5":
            return _metrics.hit_at_k(video, self.labels, k=5)
        if name == "mAP":
            return _metrics.mean_average_precision(video, self.labels)
        return _metrics.mean_class_accuracy(video, self.labels)

    def metrics(self, clips=None, views=None, rule="mean_probability", groups=None):
        """The evaluation's numbers.

        Args:
            clips, views, rule: as for `video_scores` (Clip Hit@1 uses the
                same clips and views).
            groups: optional class groups for per-group mAP, in either form
                `keras_sportsnet.evaluation.group_mean_average_precision`
                accepts (e.g. ``keras_sportsnet.data.ucf101_class_groups()``).

        Returns:
            dict with float values ``"clip_hit@1"`` (NaN when not
            `clip_level`), ``"video_hit@1"``, ``"video_hit@5"`` (Hit@k: any
            label in the top k), ``"mAP"``, ``"mean_class_accuracy"``, and
            with `groups`, ``"group_mAP"``: a dict ``{group: mAP}``.

        Example:
        ```python
        scores.metrics(clips=20, views=4, groups=ksn.data.ucf101_class_groups())
        ```
        """
        video = self.video_scores(clips, views, rule)
        result = {
            "clip_hit@1": self._metric("clip_hit@1", clips, views, rule),
            "video_hit@1": _metrics.hit_at_k(video, self.labels, k=1),
            "video_hit@5": _metrics.hit_at_k(video, self.labels, k=5),
            "mAP": _metrics.mean_average_precision(video, self.labels),
            "mean_class_accuracy": _metrics.mean_class_accuracy(video, self.labels),
        }
        if groups is not None:
            ap = _metrics.average_precision(video, self.labels)
            result["group_mAP"] = _metrics.group_mean_average_precision(ap, groups, self.class_names)
        return result

    def accuracy_vs_views(self, max_clips=None, max_views=None, metric="video_hit@1", rule="mean_probability"):
        """A metric for every number of clips and views.

        Args:
            max_clips: None (all) or int: clips 1 .. `max_clips`.
            max_views: None (all) or int: views 1 .. `max_views`.
            metric: one of `METRICS`.
            rule: the aggregation rule (see `video_scores`).

        Returns:
            A `ViewsTable`: ``rows`` of ``(clips, views, value)`` and
            ``format()`` as Markdown (clips as rows, views as columns).

        Example:
        ```python
        print(scores.accuracy_vs_views(max_clips=4).format())
        ```
        """
        if metric not in METRICS:
            raise ValueError(f"`metric` must be one of {list(METRICS)}. Received: metric={metric!r}")
        check_rule(rule)
        max_clips = _check_count(max_clips, "max_clips", self.num_clips)
        max_views = _check_count(max_views, "max_views", self.num_views)
        values = np.empty((max_clips, max_views))
        for c in range(1, max_clips + 1):
            for v in range(1, max_views + 1):
                values[c - 1, v - 1] = self._metric(metric, c, v, rule)
        return ViewsTable(metric, values)


class ViewsTable:
    """A metric for every (clips, views) pair, from `VideoScores.accuracy_vs_views`.

    Attributes:
        metric: str, the metric's name.
        values: float64 array ``(max_clips, max_views)``; ``values[c - 1, v - 1]``
            uses `c` clips and `v` views.
        rows: list of ``(clips, views, value)`` for every pair, clips major.
    """

    def __init__(self, metric, values):
        self.metric = metric
        self.values = np.asarray(values, np.float64)
        self.rows = [
            (c + 1, v + 1, float(self.values[c, v]))
            for c in range(self.values.shape[0])
            for v in range(self.values.shape[1])
        ]

    def format(self, float_format=".4f"):
        """The table as Markdown: one row per number of clips, one column per number of views.

        Args:
            float_format: str, a `format` spec for the values.

        Returns:
            str.
        """
        header = [f"{self.metric}: clips \\ views"] + [str(v) for v in range(1, self.values.shape[1] + 1)]
        rows = [[c + 1] + [float(x) for x in self.values[c]] for c in range(self.values.shape[0])]
        return format_markdown_table(header, rows, float_format=float_format)

    def __str__(self):
        return self.format()

    def __repr__(self):
        return f"ViewsTable({self.metric!r}, clips={self.values.shape[0]}, views={self.values.shape[1]})"
