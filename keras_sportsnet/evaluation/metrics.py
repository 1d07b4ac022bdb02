"""Video-level metrics of Karpathy et al. (CVPR 2014), in plain NumPy.

Hit@k (Sec. 4.1: a video counts as correct when any of its ground-truth labels
is among the top k predictions), average precision and mAP (Table 4's UCF-101
numbers, also per action type), mean class accuracy, confusion matrices and
the per-class AP comparison of Table 2, plus the rules that combine per-view
and per-clip outputs into one prediction per video.

Labels may be given in any of three forms, normalised by `as_multi_hot`:

- an int array ``(N,)``: one label per example (UCF-101);
- a Python sequence of tuples of ints: the labels of each example (Sports-1M
  is multi-label; ``keras_sportsnet.data.VideoList.labels`` has this form).
  An empty tuple means "no label": the example is left out of every metric;
- a multi-hot array ``(N, C)`` of 0/1 (an all-zero row is "no label").

A NumPy array with two dimensions is always read as multi-hot; a Python
sequence always holds class indices.

Nothing here imports Keras, TensorFlow or scikit-learn.
"""

import math
import numbers

import numpy as np

from keras_sportsnet.data.lists import multi_hot
from keras_sportsnet.utils.checks import check_class_names as _check_class_names
from keras_sportsnet.utils.tables import format_markdown_table
from keras_sportsnet.utils.checks import check_positive_int as _check_positive_int
from keras_sportsnet.utils.checks import is_int as _is_int

__all__ = [
    "AGGREGATION_RULES",
    "aggregate",
    "as_multi_hot",
    "average_precision",
    "compare_per_class_ap",
    "confusion_matrix",
    "format_markdown_table",
    "group_mean_average_precision",
    "hit_at_k",
    "mean_average_precision",
    "mean_class_accuracy",
    "most_confused_pairs",
    "softmax",
]

AGGREGATION_RULES = ("mean_probability", "mean_logit", "max")
"""The rules of `aggregate`, in the order the documentation lists them."""

# Upper bound on the elements of the temporaries of `average_precision` and
# `hit_at_k` (they work on blocks of classes / examples).
_BLOCK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------- checks


def _check_scores(scores, name="scores"):
    """``(N, C)`` float64 scores without NaN."""
    try:
        array = np.asarray(scores)
    except Exception as error:  # ragged lists and the like
        raise ValueError(f"`{name}` must be an array (N, num_classes). Received: {name}={scores!r}") from error
    if array.ndim != 2 or array.shape[1] < 1:
        raise ValueError(
            f"`{name}` must be a 2-D array (num_examples, num_classes). Received: {name}.shape={array.shape}"
        )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) or np.iscomplexobj(array):
        raise ValueError(f"`{name}` must hold real numbers. Received: {name}.dtype={array.dtype}")
    array = array.astype(np.float64, copy=False)
    if np.isnan(array).any():
        raise ValueError(f"`{name}` must not contain NaN. Received: {int(np.isnan(array).sum())} NaN values")
    return array


def _check_lengths(scores, labels, scores_name="scores"):
    if scores.shape[0] != labels.shape[0]:
        raise ValueError(
            f"`{scores_name}` and `labels` must describe the same examples. Received: "
            f"{scores_name}.shape[0]={scores.shape[0]}, len(labels)={labels.shape[0]}"
        )


# --------------------------------------------------------------------------- labels


def as_multi_hot(labels, num_classes):
    """Normalises labels of any accepted form to a multi-hot array.

    Args:
        labels: an int array ``(N,)`` (one class index per example), a
            Python sequence whose items are ints or sequences of ints (the
            class indices of each example; ``()`` = no label), or a multi-hot
            array ``(N, num_classes)`` of 0/1 or bool. A 2-D NumPy array is
            always multi-hot; a Python list is always class indices.
        num_classes: int >= 1. The number of classes.

    Returns:
        uint8 array ``(N, num_classes)``: ``1`` where the example has the
        class. Rows of unlabelled examples are all zero.

    Example:
    >>> as_multi_hot([(0, 2), (), 1], num_classes=3)
    array([[1, 0, 1],
           [0, 0, 0],
           [0, 1, 0]], dtype=uint8)
    """
    num_classes = _check_positive_int("num_classes", num_classes)
    if isinstance(labels, (list, tuple)):
        tuples = _label_tuples(labels)
        _check_label_range([index for example in tuples for index in example], num_classes)
        return multi_hot(tuples, num_classes, dtype="uint8")
    try:
        array = np.asarray(labels)
    except Exception as error:
        raise ValueError(_labels_form_message(labels)) from error
    if array.ndim == 1:
        if array.size == 0:
            return np.zeros((0, num_classes), np.uint8)
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(
                "`labels` given as a 1-D array must hold integer class indices. "
                f"Received: labels.dtype={array.dtype}"
            )
        _check_label_range(array, num_classes)
        return multi_hot(array, num_classes, dtype="uint8")
    if array.ndim == 2:
        if array.shape[1] != num_classes:
            raise ValueError(
                f"`labels` given as a multi-hot array must have num_classes={num_classes} columns. "
                f"Received: labels.shape={array.shape}"
            )
        if array.dtype == bool:
            return array.astype(np.uint8)
        if not np.issubdtype(array.dtype, np.number) or not np.isin(array, (0, 1)).all():
            raise ValueError(
                "`labels` given as a multi-hot array must hold only 0 and 1. "
                f"Received: values {np.unique(array)[:8].tolist()} (dtype {array.dtype})"
            )
        return array.astype(np.uint8)
    raise ValueError(_labels_form_message(labels, array.shape))


def _labels_form_message(labels, shape=None):
    received = f"labels.shape={shape}" if shape is not None else f"labels={labels!r}"[:200]
    return (
        "`labels` must be an int array (N,), a sequence of tuples of ints, or a multi-hot "
        f"array (N, num_classes). Received: {received}"
    )


def _check_label_range(indices, num_classes):
    indices = np.asarray(indices)
    bad = indices[(indices < 0) | (indices >= num_classes)]
    if bad.size:
        raise ValueError(
            f"`labels` must be class indices in [0, num_classes={num_classes}). "
            f"Received: class index {int(bad[0])}"
        )


def _example_indices(item, position):
    """The class indices of one item of a Python label sequence."""
    if _is_int(item):
        return (int(item),)
    if isinstance(item, np.ndarray):
        item = item.tolist() if item.ndim == 1 else item
    if isinstance(item, (list, tuple)) and all(_is_int(v) for v in item):
        return tuple(int(v) for v in item)
    raise ValueError(
        "`labels` given as a sequence must hold ints or tuples of ints (class indices). "
        f"Received: labels[{position}]={item!r}"[:300]
    )


def _label_tuples(labels):
    return [_example_indices(item, i) for i, item in enumerate(labels)]


# --------------------------------------------------------------------------- Hit@k


def hit_at_k(scores, labels, k=1):
    """Hit@k: the fraction of examples with a ground-truth label in the top k.

    The paper's measure (Sec. 4.1): an example is a hit when ANY of its labels
    is among its `k` highest scores. Ties are broken deterministically: among
    equal scores the lower class index ranks first (a stable argsort on
    ``-scores``). Unlabelled examples are left out.

    Args:
        scores: array ``(N, num_classes)``: logits, probabilities or any
            scores where higher means more likely.
        labels: the labels, in any form `as_multi_hot` accepts.
        k: int >= 1. A `k` of at least `num_classes` makes every labelled
            example a hit.

    Returns:
        float in [0, 1]; NaN when no example is labelled.

    Example:
    >>> scores = [[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]
    >>> hit_at_k(scores, [1, 1, 0], k=1)
    0.3333333333333333
    >>> hit_at_k(scores, [1, 1, 0], k=2)
    0.6666666666666666
    """
    scores = _check_scores(scores)
    labels = as_multi_hot(labels, scores.shape[1])
    _check_lengths(scores, labels)
    k = min(_check_positive_int("k", k), scores.shape[1])
    keep = labels.any(axis=1)
    if not keep.any():
        return math.nan
    scores, labels = scores[keep], labels[keep]
    hits = 0
    step = max(1, _BLOCK_ELEMENTS // scores.shape[1])
    for start in range(0, scores.shape[0], step):
        block, truth = scores[start : start + step], labels[start : start + step]
        if k == 1:
            top = np.argmax(block, axis=1)[:, None]  # the first maximum: the stable order's first entry
        else:
            top = np.argsort(-block, axis=1, kind="stable")[:, :k]
        hits += int(np.take_along_axis(truth, top, axis=1).any(axis=1).sum())
    return hits / scores.shape[0]


# --------------------------------------------------------------------------- average precision


def average_precision(scores, labels):
    """Per-class average precision, the definition of scikit-learn.

    For each class, examples are ranked by decreasing score and
    ``AP = sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds
    (no interpolation): equal scores form a single threshold, exactly as
    ``sklearn.metrics.average_precision_score``. Unlabelled examples are left
    out; every other example is a positive of its classes and a negative of
    the rest.

    Args:
        scores: array ``(N, num_classes)``.
        labels: the labels, in any form `as_multi_hot` accepts.

    Returns:
        float64 array ``(num_classes,)``; NaN for classes without positives.

    Example:
    >>> scores = [[0.9, 0.5], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]]
    >>> average_precision(scores, [0, 1, 1, 0]).round(4)   # positives ranked 1st, 3rd / 1st, 4th
    array([0.8333, 0.75  ])
    """
    scores = _check_scores(scores)
    labels = as_multi_hot(labels, scores.shape[1])
    _check_lengths(scores, labels)
    keep = labels.any(axis=1)
    scores, labels = scores[keep], labels[keep].astype(bool)
    num_classes = scores.shape[1]
    result = np.full(num_classes, np.nan)
    if scores.shape[0] == 0:
        return result
    step = max(1, _BLOCK_ELEMENTS // scores.shape[0])
    for start in range(0, num_classes, step):
        stop = min(start + step, num_classes)
        result[start:stop] = _average_precision_columns(scores[:, start:stop], labels[:, start:stop])
    return result


def _average_precision_columns(scores, labels):
    """AP of every column of ``scores`` (n, c) against boolean ``labels`` (n, c)."""
    n = scores.shape[0]
    order = np.argsort(-scores, axis=0, kind="stable")
    ranked = np.take_along_axis(scores, order, axis=0)
    positive = np.take_along_axis(labels, order, axis=0)
    true_positives = np.cumsum(positive, axis=0)
    # The last row of each run of equal scores closes a threshold; every row
    # takes the precision at the end of its run.
    closes = np.ones(ranked.shape, bool)
    closes[:-1] = ranked[1:] != ranked[:-1]
    rows = np.broadcast_to(np.arange(n)[:, None], ranked.shape)
    end = np.minimum.accumulate(np.where(closes, rows, n)[::-1], axis=0)[::-1]
    precision = np.take_along_axis(true_positives, end, axis=0) / (end + 1.0)
    count = true_positives[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = np.where(positive, precision, 0.0).sum(axis=0) / count
    return np.where(count > 0, ap, np.nan)


def _nanmean(values):
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else math.nan


def mean_average_precision(scores, labels):
    """mAP: the mean of `average_precision` over the classes with positives.

    Args:
        scores: array ``(N, num_classes)``.
        labels: the labels, in any form `as_multi_hot` accepts.

    Returns:
        float; NaN when no class has a positive.

    Example:
    >>> scores = [[0.9, 0.5], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]]
    >>> round(mean_average_precision(scores, [0, 1, 1, 0]), 4)
    0.7917
    """
    return _nanmean(average_precision(scores, labels))


# --------------------------------------------------------------------------- class accuracy


def mean_class_accuracy(scores, labels):
    """Top-1 accuracy of each class, averaged over the classes with examples.

    Every labelled example counts under each of its classes, and is a hit
    when its top-1 prediction (ties: the lower class index) is any of its
    labels; for single-label data this is the usual per-class recall mean.

    Args:
        scores: array ``(N, num_classes)``.
        labels: the labels, in any form `as_multi_hot` accepts.

    Returns:
        float in [0, 1]; NaN when no example is labelled.

    Example:
    >>> scores = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]
    >>> mean_class_accuracy(scores, [0, 0, 0])   # one class, 2 of 3 right
    0.6666666666666666
    >>> mean_class_accuracy(scores, [0, 1, 1])   # class 0: 1/1, class 1: 1/2
    0.75
    """
    scores = _check_scores(scores)
    labels = as_multi_hot(labels, scores.shape[1])
    _check_lengths(scores, labels)
    top = np.argmax(scores, axis=1)
    hit = labels[np.arange(labels.shape[0]), top].astype(bool)
    counts = labels.sum(axis=0, dtype=np.int64)
    hits = labels[hit].sum(axis=0, dtype=np.int64)
    present = counts > 0
    if not present.any():
        return math.nan
    return float(np.mean(hits[present] / counts[present]))


# --------------------------------------------------------------------------- groups


def _group_members(groups, class_names, num_classes):
    """{group: [class index]} from either accepted form of `groups`."""
    if not hasattr(groups, "items"):
        raise ValueError(
            "`groups` must be a dict {group: [class names or indices]} or {class name: group}. "
            f"Received: groups={groups!r}"[:300]
        )
    if groups and all(isinstance(v, str) for v in groups.values()):
        # {class name: group name}: the form of keras_sportsnet.data.ucf101_class_groups().
        inverted = {}
        for member, group in groups.items():
            inverted.setdefault(group, []).append(member)
        groups = inverted
    index = None
    if class_names is not None:
        names = _check_class_names(class_names, num_classes)
        index = {name: i for i, name in enumerate(names)}
    members = {}
    for group, entries in groups.items():
        if isinstance(entries, (str, bytes)) or not hasattr(entries, "__iter__"):
            raise ValueError(
                f"`groups` must map each group to a list of class names or indices. "
                f"Received: groups[{group!r}]={entries!r}"[:300]
            )
        resolved = []
        for entry in entries:
            if _is_int(entry):
                if not 0 <= entry < num_classes:
                    raise ValueError(
                        f"`groups` must name class indices in [0, {num_classes}). "
                        f"Received: {entry!r} in groups[{group!r}]"
                    )
                resolved.append(int(entry))
            elif isinstance(entry, str):
                if index is None:
                    raise ValueError(
                        "`class_names` is required when `groups` names classes. "
                        f"Received: class_names=None and {entry!r} in group {group!r}"
                    )
                if entry not in index:
                    raise ValueError(
                        f"`groups` names a class that is not in `class_names`. Received: {entry!r} in group {group!r}"
                    )
                resolved.append(index[entry])
            else:
                raise ValueError(
                    f"`groups` entries must be class names (str) or indices (int). "
                    f"Received: {entry!r} in group {group!r}"
                )
        members[group] = resolved
    return members


def group_mean_average_precision(per_class_ap, groups, class_names=None):
    """mAP of each group of classes (Table 4's action types of UCF-101).

    Args:
        per_class_ap: array ``(num_classes,)`` from `average_precision`.
        groups: dict ``{group name: [class names or indices]}``, or
            ``{class name: group name}`` (the form
            ``keras_sportsnet.data.ucf101_class_groups()`` returns).
        class_names: sequence of str, one per class; required when `groups`
            names classes.

    Returns:
        dict ``{group name: mAP}`` in the order the groups first appear; the
        mean ignores NaN entries (classes without positives); NaN for a group
        with no finite AP.

    Example:
    >>> group_mean_average_precision([0.5, 1.0, float("nan")], {"a": [0, 1], "b": ["z"]}, ["x", "y", "z"])
    {'a': 0.75, 'b': nan}
    """
    ap = np.asarray(per_class_ap, np.float64)
    if ap.ndim != 1:
        raise ValueError(f"`per_class_ap` must be a 1-D array (num_classes,). Received: per_class_ap.shape={ap.shape}")
    members = _group_members(groups, class_names, ap.shape[0])
    return {group: _nanmean(ap[indices]) for group, indices in members.items()}


# --------------------------------------------------------------------------- confusion


def _first_labels(labels, num_classes):
    """One class per example (-1 = unlabelled): the first of a tuple, else the lowest index."""
    table = as_multi_hot(labels, num_classes)  # validates every form
    if isinstance(labels, (list, tuple)):
        return np.array([t[0] if t else -1 for t in _label_tuples(labels)], np.int64)
    first = np.argmax(table, axis=1).astype(np.int64)
    first[~table.any(axis=1)] = -1
    return first


def confusion_matrix(scores, labels, num_classes):
    """Counts of (true class, top-1 predicted class).

    Single-label examples use their label; multi-label examples their first
    label (the first of the tuple, or the lowest class index of a multi-hot
    row). Unlabelled examples are left out.

    Args:
        scores: array ``(N, num_classes)`` (the top-1 prediction is the
            highest score; ties: the lower index), or an int array ``(N,)``
            of predicted classes.
        labels: the labels, in any form `as_multi_hot` accepts.
        num_classes: int >= 1.

    Returns:
        int64 array ``(num_classes, num_classes)``: rows are true classes,
        columns predicted classes.

    Example:
    >>> confusion_matrix([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]], [0, 1, 1], num_classes=2)
    array([[1, 0],
           [1, 1]])
    """
    num_classes = _check_positive_int("num_classes", num_classes)
    array = np.asarray(scores)
    if array.ndim == 1:
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise ValueError(
                f"`scores` given as a 1-D array must hold predicted class indices (ints). Received: scores.dtype={array.dtype}"
            )
        predicted = array.astype(np.int64)
        bad = predicted[(predicted < 0) | (predicted >= num_classes)]
        if bad.size:
            raise ValueError(
                f"`scores` given as predicted classes must be in [0, num_classes={num_classes}). Received: {int(bad[0])}"
            )
    else:
        array = _check_scores(array)
        if array.shape[1] != num_classes:
            raise ValueError(
                f"`scores` must have num_classes={num_classes} columns. Received: scores.shape={array.shape}"
            )
        predicted = np.argmax(array, axis=1)
    true = _first_labels(labels, num_classes)
    if true.shape[0] != predicted.shape[0]:
        raise ValueError(
            "`scores` and `labels` must describe the same examples. Received: "
            f"len(scores)={predicted.shape[0]}, len(labels)={true.shape[0]}"
        )
    keep = true >= 0
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (true[keep], predicted[keep]), 1)
    return matrix


def most_confused_pairs(matrix, class_names, top=10):
    """The largest off-diagonal entries of a confusion matrix.

    Args:
        matrix: square array ``(C, C)`` from `confusion_matrix` (rows true).
        class_names: sequence of ``C`` str.
        top: int >= 1, or None for every non-zero pair.

    Returns:
        list of ``(true name, predicted name, count, fraction)`` with
        ``fraction = count / (examples of the true class)``, sorted by
        decreasing count (ties: by true, then predicted class index); zero
        counts are left out.

    Example:
    >>> most_confused_pairs([[5, 3, 0], [1, 4, 0], [0, 0, 2]], ["a", "b", "c"])
    [('a', 'b', 3, 0.375), ('b', 'a', 1, 0.2)]
    """
    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"`matrix` must be a square 2-D array. Received: matrix.shape={counts.shape}")
    if counts.size and not (np.issubdtype(counts.dtype, np.number) and np.isfinite(counts).all() and (counts >= 0).all()):
        raise ValueError("`matrix` must hold non-negative counts. Received: negative or non-finite entries")
    names = _check_class_names(class_names, counts.shape[0])
    top = _check_positive_int("top", top, allow_none=True)
    off = counts.astype(np.float64).copy()
    np.fill_diagonal(off, 0)
    true, predicted = np.nonzero(off)
    values = off[true, predicted]
    order = np.lexsort((predicted, true, -values))
    if top is not None:
        order = order[:top]
    totals = counts.sum(axis=1)
    result = []
    for i in order:
        t, p = int(true[i]), int(predicted[i])
        count = counts[t, p].item()
        result.append((names[t], names[p], count, float(count / totals[t])))
    return result


# --------------------------------------------------------------------------- Table 2


def compare_per_class_ap(ap_a, ap_b, class_names, top=10):
    """The classes where model A beats model B most, and the reverse (Table 2).

    Classes where either AP is NaN are left out.

    Args:
        ap_a: array ``(num_classes,)``: per-class AP of model A.
        ap_b: array ``(num_classes,)``: per-class AP of model B.
        class_names: sequence of str, one per class.
        top: int >= 1, or None for every class that differs. Rows per list.

    Returns:
        ``(a_better, b_better)``: two lists of rows
        ``(class name, ap_a, ap_b, ap_a - ap_b)``; `a_better` holds the
        classes with a positive difference, largest first; `b_better` those
        with a negative difference, most negative first (ties: class order).

    Example:
    >>> a_better, b_better = compare_per_class_ap([0.9, 0.5, 0.2], [0.6, 0.5, 0.7], ["x", "y", "z"])
    >>> [(name, round(d, 2)) for name, _, _, d in a_better], [(name, round(d, 2)) for name, _, _, d in b_better]
    ([('x', 0.3)], [('z', -0.5)])
    """
    a = np.asarray(ap_a, np.float64)
    b = np.asarray(ap_b, np.float64)
    if a.ndim != 1:
        raise ValueError(f"`ap_a` must be a 1-D array (num_classes,). Received: ap_a.shape={a.shape}")
    if b.shape != a.shape:
        raise ValueError(f"`ap_b` must have the shape of `ap_a`. Received: ap_a.shape={a.shape}, ap_b.shape={b.shape}")
    names = _check_class_names(class_names, a.shape[0])
    top = _check_positive_int("top", top, allow_none=True)
    difference = a - b
    valid = ~np.isnan(difference)
    indices = np.arange(a.shape[0])

    def rows(mask, key):
        chosen = indices[mask]
        chosen = chosen[np.argsort(key[mask], kind="stable")]
        if top is not None:
            chosen = chosen[:top]
        return [(names[i], float(a[i]), float(b[i]), float(difference[i])) for i in chosen]

    return rows(valid & (difference > 0), -difference), rows(valid & (difference < 0), difference)


# --------------------------------------------------------------------------- aggregation


def softmax(logits, axis=-1):
    """Numerically stable softmax (the maximum is subtracted first), in float64.

    Args:
        logits: array.
        axis: int. The class axis.

    Returns:
        float64 array of the shape of `logits`, summing to 1 along `axis`.

    Example:
    >>> softmax([1000.0, 1000.0])
    array([0.5, 0.5])
    """
    x = np.asarray(logits, np.float64)
    with np.errstate(invalid="ignore"):
        shifted = x - np.max(x, axis=axis, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=axis, keepdims=True)


def _normalise_axis(axis, ndim):
    axes = axis if isinstance(axis, tuple) else (axis,)
    if not axes or not all(_is_int(a) for a in axes):
        raise ValueError(f"`axis` must be an int or a tuple of ints. Received: axis={axis!r}")
    normalised = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"`axis` must be in [{-ndim}, {ndim - 1}] for {ndim}-D scores. Received: axis={axis!r}")
        normalised.append(a % ndim)
    if ndim - 1 in normalised:
        raise ValueError(f"`axis` must not include the last (class) axis. Received: axis={axis!r} for {ndim}-D scores")
    if len(set(normalised)) != len(normalised):
        raise ValueError(f"`axis` must not repeat an axis. Received: axis={axis!r}")
    return tuple(normalised)


def aggregate(scores, rule="mean_probability", axis=-2, from_logits=True, mask=None):
    """Combines per-view or per-clip outputs into one prediction.

    Args:
        scores: array ``(..., num_classes)`` of logits (`from_logits`) or
            probabilities; the class axis is the last one.
        rule: ``"mean_probability"`` (softmax of the logits if `from_logits`,
            then the mean: the paper's averaging of clip predictions),
            ``"mean_logit"`` (the mean of the logits; needs
            ``from_logits=True``), or ``"max"`` (the per-class maximum of the
            probabilities).
        axis: int or tuple of ints: the axes combined (never the last one).
            The default, -2, combines the rows of a ``(views, classes)`` or
            ``(batch, views, classes)`` array.
        from_logits: bool. Whether `scores` are logits.
        mask: optional bool array broadcastable to ``scores.shape[:-1]``:
            entries that are False are left out (e.g. the missing clips of a
            short video); each combined group must keep at least one entry.

    Returns:
        float64 array: `scores` without the `axis` axes. Probabilities for
        ``"mean_probability"``, per-class maximum probabilities for
        ``"max"``, mean logits for ``"mean_logit"``.

    Example:
    >>> aggregate([[0.0, 0.0], [2.0, 0.0]], rule="mean_logit")
    array([1., 0.])
    >>> aggregate([[0.2, 0.8], [0.6, 0.4]], rule="max", from_logits=False)
    array([0.6, 0.8])
    """
    if rule not in AGGREGATION_RULES:
        raise ValueError(f"`rule` must be one of {list(AGGREGATION_RULES)}. Received: rule={rule!r}")
    if not isinstance(from_logits, (bool, np.bool_)):
        raise ValueError(f"`from_logits` must be a bool. Received: from_logits={from_logits!r}")
    x = np.asarray(scores)
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool) or np.iscomplexobj(x):
        raise ValueError(f"`scores` must hold real numbers. Received: scores.dtype={x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"`scores` must have at least 2 dimensions (..., num_classes). Received: scores.shape={x.shape}")
    axes = _normalise_axis(axis, x.ndim)
    if rule == "mean_logit":
        if not from_logits:
            raise ValueError(
                "`rule='mean_logit'` averages logits and needs `from_logits=True`. Received: from_logits=False"
            )
        values = x.astype(np.float64)
    else:
        values = softmax(x) if from_logits else x.astype(np.float64)
    if mask is None:
        out = values.max(axis=axes) if rule == "max" else values.mean(axis=axes)
    else:
        m = np.asarray(mask)
        if m.dtype != bool:
            raise ValueError(f"`mask` must be a bool array. Received: mask.dtype={m.dtype}")
        try:
            m = np.broadcast_to(m, x.shape[:-1])[..., None]
        except ValueError:
            raise ValueError(
                f"`mask` must broadcast to scores.shape[:-1]={x.shape[:-1]}. Received: mask.shape={np.shape(mask)}"
            ) from None
        kept = m.sum(axis=axes)
        if (kept == 0).any():
            raise ValueError("`mask` must keep at least one entry of every combined group. Received: a group with none")
        if rule == "max":
            out = np.where(m, values, -np.inf).max(axis=axes)
        else:
            out = np.where(m, values, 0.0).sum(axis=axes) / kept
    if np.isnan(out).any():
        raise ValueError("`scores` must be finite where they are used. Received: NaN or infinite values")
    return out


