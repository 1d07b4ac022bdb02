"""keras_sportsnet.evaluation: metrics against independent references, saved scores.

References: scikit-learn (AP, confusion matrix, balanced accuracy), brute-force
Python loops (Hit@k, aggregation), and small examples computed by hand.
"""

import ast
import doctest
import math
import os
import pathlib

import numpy as np
import pytest
from sklearn.metrics import average_precision_score as sk_average_precision
from sklearn.metrics import balanced_accuracy_score as sk_balanced_accuracy
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from keras_sportsnet.data import class_names as dataset_class_names
from keras_sportsnet.data import ucf101_class_groups
from keras_sportsnet import evaluation as ev
from keras_sportsnet.evaluation import metrics as metrics_module
from keras_sportsnet.evaluation import scores as scores_module


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    """Overrides conftest's fixture: nothing here uses Keras (and its clear_session costs ~0.2 s a test)."""
    yield


def _tied_scores(rng, n, c, levels=6):
    """Scores on a coarse grid: many exact ties, within and across classes."""
    return rng.integers(0, levels, size=(n, c)).astype("float32") / levels


def _random_label_tuples(rng, n, c, empty_every=9):
    labels = []
    for i in range(n):
        if i % empty_every == 0:
            labels.append(())
        else:
            count = rng.choice([1, 1, 1, 2, 3])
            labels.append(tuple(int(v) for v in rng.choice(c, size=count, replace=False)))
    return labels


def _softmax_by_hand(row):
    m = max(row)
    e = [math.exp(v - m) for v in row]
    return [v / sum(e) for v in e]


# --------------------------------------------------------------------------- labels


def test_as_multi_hot_accepts_every_form():
    expected = np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1]], np.uint8)
    got_tuples = ev.as_multi_hot([(1,), (2, 0), (), (3,)], 4)
    got_mixed = ev.as_multi_hot([1, [0, 2], (), np.int64(3)], 4)
    got_multi_hot = ev.as_multi_hot(expected.astype(bool), 4)
    got_ints = ev.as_multi_hot(np.array([1, 0, 3]), 4)
    for got in (got_tuples, got_mixed, got_multi_hot):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got_ints, [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
    assert ev.as_multi_hot([], 3).shape == (0, 3)


def test_as_multi_hot_builds_through_the_data_packages_one_builder(monkeypatch):
    """Issue 15: one multi-hot builder (`keras_sportsnet.data.multi_hot`); evaluation only validates and calls it."""
    from keras_sportsnet.data import lists
    from keras_sportsnet.evaluation import metrics

    calls = []
    real = lists.multi_hot

    def spy(labels, num_classes, dtype="float32"):
        calls.append(dtype)
        return real(labels, num_classes, dtype=dtype)

    monkeypatch.setattr(metrics, "multi_hot", spy)
    ev.as_multi_hot([(1,), (2, 0)], 3)
    ev.as_multi_hot(np.array([1, 0]), 3)
    assert calls == ["uint8", "uint8"]
    assert not hasattr(metrics, "_multi_hot_from_sequence")
    big = np.random.default_rng(0).integers(0, 487, 200_000)  # Sports-1M's test set size: a vectorised path
    np.testing.assert_array_equal(np.argmax(real(big, 487, dtype="uint8"), axis=1), big)


@pytest.mark.parametrize(
    "labels, fragment",
    [
        ([(0,), (5,)], "class index 5"),
        (np.array([0, -1]), "class index -1"),
        (np.array([0.0, 1.0]), "labels.dtype=float64"),
        (np.zeros((2, 3)), "labels.shape=(2, 3)"),
        (np.array([[0, 2, 0, 0]]), "only 0 and 1"),
        ([(0,), "a"], "labels[1]='a'"),
        (np.zeros((2, 2, 4)), "labels.shape=(2, 2, 4)"),
    ],
)
def test_as_multi_hot_errors_name_the_argument(labels, fragment):
    with pytest.raises(ValueError, match="`labels`") as info:
        ev.as_multi_hot(labels, 4)
    assert fragment in str(info.value)
    assert "Received" in str(info.value)


# --------------------------------------------------------------------------- Hit@k


@pytest.mark.parametrize("multi_label", [False, True])
def test_hit_at_k_matches_brute_force(multi_label):
    rng = np.random.default_rng(0 + multi_label)
    n, c = 150, 7
    scores = _tied_scores(rng, n, c, levels=4)
    labels = _random_label_tuples(rng, n, c) if multi_label else [(int(v),) for v in rng.integers(0, c, n)]
    for k in range(1, c + 2):
        hits = total = 0
        for row, truth in zip(scores.tolist(), labels):
            if not truth:
                continue
            ranked = sorted(range(c), key=lambda j: (-row[j], j))  # ties: lower index first
            total += 1
            hits += any(j in truth for j in ranked[:k])
        assert ev.hit_at_k(scores, labels, k=k) == pytest.approx(hits / total, abs=1e-12), k
    if not multi_label:
        flat = np.array([t[0] for t in labels])
        assert ev.hit_at_k(scores, flat, k=2) == ev.hit_at_k(scores, labels, k=2)


def test_hit_at_k_by_hand_and_ties():
    scores = [[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]
    assert ev.hit_at_k(scores, [1, 1, 0], k=1) == pytest.approx(1 / 3)
    assert ev.hit_at_k(scores, [1, 1, 0], k=2) == pytest.approx(2 / 3)
    assert ev.hit_at_k(scores, [1, 1, 0], k=3) == 1.0
    # Any of the labels counts; unlabelled examples are left out.
    assert ev.hit_at_k(scores, [(0, 1), (2,), ()], k=1) == pytest.approx(1 / 2)
    # A tie goes to the lower class index, deterministically.
    assert ev.hit_at_k([[1.0, 1.0, 0.0]], [0], k=1) == 1.0
    assert ev.hit_at_k([[1.0, 1.0, 0.0]], [1], k=1) == 0.0
    assert ev.hit_at_k([[0.0, 1.0, 1.0]], [2], k=1) == 0.0
    assert ev.hit_at_k([[0.0, 1.0, 1.0, 1.0]], [3], k=2) == 0.0
    assert math.isnan(ev.hit_at_k(scores, [(), (), ()], k=1))


# --------------------------------------------------------------------------- AP


def _sklearn_per_class_ap(scores, multi_hot):
    keep = multi_hot.any(axis=1)
    scores, multi_hot = scores[keep], multi_hot[keep]
    result = []
    for c in range(scores.shape[1]):
        if multi_hot[:, c].sum() == 0:
            result.append(np.nan)
        else:
            result.append(sk_average_precision(multi_hot[:, c], scores[:, c]))
    return np.array(result)


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("levels", [3, 10, None])
def test_average_precision_matches_sklearn(multi_label, levels):
    rng = np.random.default_rng(10 * (levels or 0) + multi_label)
    n, c = 160, 9
    scores = _tied_scores(rng, n, c, levels) if levels else rng.normal(size=(n, c)).astype("float32")
    if multi_label:
        labels = _random_label_tuples(rng, n, c - 1)  # the last class has no positive
    else:
        labels = rng.integers(0, c - 1, n)
    multi_hot = ev.as_multi_hot(labels, c)
    expected = _sklearn_per_class_ap(scores.astype(np.float64), multi_hot)
    got = ev.average_precision(scores, labels)
    assert got.shape == (c,)
    assert np.isnan(got[-1]) and np.isnan(expected[-1])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert ev.mean_average_precision(scores, labels) == pytest.approx(np.nanmean(expected), abs=1e-12)


def test_average_precision_blocks_of_classes_agree(monkeypatch):
    rng = np.random.default_rng(3)
    scores, labels = _tied_scores(rng, 50, 12, 5), _random_label_tuples(rng, 50, 12)
    whole = ev.average_precision(scores, labels)
    monkeypatch.setattr(metrics_module, "_BLOCK_ELEMENTS", 60)  # one class per block
    np.testing.assert_allclose(ev.average_precision(scores, labels), whole, rtol=1e-13)


def test_average_precision_by_hand():
    scores = [[0.9, 0.5], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]]
    # class 0: positives ranked 1st and 3rd -> (1 + 2/3) / 2; class 1: 1st and 4th -> (1 + 2/4) / 2
    np.testing.assert_allclose(ev.average_precision(scores, [0, 1, 1, 0]), [5 / 6, 3 / 4])
    assert ev.mean_average_precision(scores, [0, 1, 1, 0]) == pytest.approx((5 / 6 + 3 / 4) / 2)
    # Tied scores are one threshold: (pos 0.5, neg 0.5, pos 0.1) -> 1/2 * 1/2 + 1/2 * 2/3.
    tie = ev.average_precision([[0.5, 0.0], [0.5, 1.0], [0.1, 0.0]], [0, 1, 0])
    assert tie[0] == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)
    assert tie[1] == pytest.approx(1.0)
    assert math.isnan(ev.mean_average_precision([[0.1, 0.2]], [()]))


# --------------------------------------------------------------------------- class accuracy


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_mean_class_accuracy_matches_sklearn_balanced_accuracy():
    rng = np.random.default_rng(4)
    n, c = 200, 6
    scores = rng.normal(size=(n, c))
    labels = rng.integers(0, c - 1, n)  # class 5 has no example: left out
    expected = sk_balanced_accuracy(labels, scores.argmax(axis=1))
    assert ev.mean_class_accuracy(scores, labels) == pytest.approx(expected, abs=1e-12)
    assert ev.mean_class_accuracy(scores, labels) != pytest.approx(ev.hit_at_k(scores, labels, k=1))


def test_mean_class_accuracy_by_hand():
    scores = [[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.3, 0.7, 0.0], [0.1, 0.2, 0.7]]
    assert ev.mean_class_accuracy(scores, [0, 0, 0, 0]) == pytest.approx(2 / 4)  # top-1: 0, 0, 1, 2
    assert ev.mean_class_accuracy(scores, [0, 1, 1, 2]) == pytest.approx((1 + 1 / 2 + 1) / 3)
    # Multi-label: example 1 (top-1 class 0) counts under classes 0 and 1 and is a hit for both;
    # example 3 (top-1 class 2) under classes 1 and 2, a hit for both.
    # class 0: examples 0, 1 -> 2/2; class 1: examples 1, 2, 3 -> 3/3; class 2: example 3 -> 1/1.
    assert ev.mean_class_accuracy(scores, [(0,), (0, 1), (1,), (1, 2)]) == pytest.approx(1.0)
    # Now example 2 (top-1 class 1) is labelled 0: class 0: 2/3, class 1: 2/2, class 2: 1/1.
    assert ev.mean_class_accuracy(scores, [(0,), (0, 1), (0,), (1, 2)]) == pytest.approx((2 / 3 + 1 + 1) / 3)


# --------------------------------------------------------------------------- groups


def test_group_map_accepts_ucf101_class_groups():
    names = dataset_class_names("ucf101")
    groups = ucf101_class_groups()
    rng = np.random.default_rng(5)
    ap = rng.uniform(size=len(names))
    ap[7] = np.nan
    got = ev.group_mean_average_precision(ap, groups, names)
    assert len(got) == 5 and set(got) == set(groups.values())
    for group, value in got.items():
        members = [ap[i] for i, name in enumerate(names) if groups[name] == group and not np.isnan(ap[i])]
        assert value == pytest.approx(sum(members) / len(members), abs=1e-12)


def test_group_map_by_hand():
    ap = [0.2, 0.4, np.nan, 1.0]
    names = ["w", "x", "y", "z"]
    assert ev.group_mean_average_precision(ap, {"a": ["w", "z"], "b": [1, 2]}, names) == {
        "a": pytest.approx(0.6),
        "b": pytest.approx(0.4),
    }
    inverted = ev.group_mean_average_precision(ap, {"w": "a", "x": "b", "y": "c", "z": "a"}, names)
    assert list(inverted) == ["a", "b", "c"]
    assert inverted["a"] == pytest.approx(0.6) and inverted["b"] == pytest.approx(0.4)
    assert math.isnan(inverted["c"])
    with pytest.raises(ValueError, match="`class_names` is required"):
        ev.group_mean_average_precision(ap, {"a": ["w"]})
    with pytest.raises(ValueError, match="`groups` names a class .* 'q'"):
        ev.group_mean_average_precision(ap, {"a": ["q"]}, names)
    with pytest.raises(ValueError, match=r"`groups` must name class indices in \[0, 4\)"):
        ev.group_mean_average_precision(ap, {"a": [4]}, names)


# --------------------------------------------------------------------------- confusion


def test_confusion_matrix_matches_sklearn():
    rng = np.random.default_rng(6)
    n, c = 300, 5
    scores = rng.normal(size=(n, c))
    labels = rng.integers(0, c, n)
    expected = sk_confusion_matrix(labels, scores.argmax(axis=1), labels=list(range(c)))
    np.testing.assert_array_equal(ev.confusion_matrix(scores, labels, c), expected)
    np.testing.assert_array_equal(ev.confusion_matrix(scores.argmax(axis=1), labels, c), expected)


def test_confusion_matrix_multi_label_uses_the_first_label():
    scores = [[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.0, 0.1, 0.9], [0.0, 0.1, 0.9]]
    got = ev.confusion_matrix(scores, [(2, 0), (1,), (), (0, 2)], 3)
    expected = np.zeros((3, 3), int)
    expected[2, 0] = expected[1, 1] = expected[0, 2] = 1  # the unlabelled example is left out
    np.testing.assert_array_equal(got, expected)
    # A multi-hot row has no order: its lowest class index is used.
    multi_hot = ev.as_multi_hot([(2, 0), (1,), (), (0, 2)], 3)
    expected_mh = np.zeros((3, 3), int)
    expected_mh[0, 0] = expected_mh[1, 1] = expected_mh[0, 2] = 1
    np.testing.assert_array_equal(ev.confusion_matrix(scores, multi_hot, 3), expected_mh)


def test_most_confused_pairs_by_hand():
    matrix = [[5, 3, 0, 1], [1, 4, 0, 0], [0, 2, 2, 0], [0, 0, 3, 1]]
    got = ev.most_confused_pairs(matrix, ["a", "b", "c", "d"], top=3)
    assert got == [("a", "b", 3, 3 / 9), ("d", "c", 3, 3 / 4), ("c", "b", 2, 2 / 4)]
    everything = ev.most_confused_pairs(matrix, ["a", "b", "c", "d"], top=None)
    assert [(t, p) for t, p, _, _ in everything] == [("a", "b"), ("d", "c"), ("c", "b"), ("a", "d"), ("b", "a")]
    assert all(t != p for t, p, _, _ in everything)


# --------------------------------------------------------------------------- Table 2


def test_compare_per_class_ap_by_hand():
    names = ["s", "t", "u", "v", "w", "x"]
    a = [0.9, 0.5, 0.2, 0.8, np.nan, 0.3]
    b = [0.6, 0.5, 0.7, 0.1, 0.4, 0.4]
    a_better, b_better = ev.compare_per_class_ap(a, b, names, top=5)
    assert [row[0] for row in a_better] == ["v", "s"]
    assert a_better[0][1:] == pytest.approx((0.8, 0.1, 0.7))
    assert [row[0] for row in b_better] == ["u", "x"]
    assert b_better[0][1:] == pytest.approx((0.2, 0.7, -0.5))
    top_one = ev.compare_per_class_ap(a, b, names, top=1)
    assert [r[0] for r in top_one[0]] == ["v"] and [r[0] for r in top_one[1]] == ["u"]


# --------------------------------------------------------------------------- aggregation


def test_aggregate_rules_by_hand():
    logits = [[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]]
    p = [_softmax_by_hand(row) for row in logits]
    np.testing.assert_allclose(ev.aggregate(logits), [(p[0][j] + p[1][j]) / 2 for j in range(3)], rtol=1e-12)
    np.testing.assert_allclose(ev.aggregate(logits, "mean_logit"), [0.5, 1.0, 1.5])
    np.testing.assert_allclose(ev.aggregate(logits, "max"), [max(p[0][j], p[1][j]) for j in range(3)], rtol=1e-12)
    probabilities = [[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]]
    np.testing.assert_allclose(ev.aggregate(probabilities, from_logits=False), [0.3, 0.7])
    np.testing.assert_allclose(ev.aggregate(probabilities, "max", from_logits=False), [0.6, 0.9])
    # axis and mask: (videos, clips, views, classes); a masked-out clip is never read.
    x = np.zeros((2, 2, 1, 2))
    x[0, 0, 0] = [0.0, math.log(3.0)]  # softmax: [1/4, 3/4]
    x[0, 1, 0] = [np.nan, np.nan]
    x[1, :, 0] = [[math.log(3.0), 0.0], [0.0, 0.0]]  # [3/4, 1/4] and [1/2, 1/2]
    mask = np.array([[True, False], [True, True]])[:, :, None]
    np.testing.assert_allclose(ev.aggregate(x, axis=(1, 2), mask=mask), [[0.25, 0.75], [0.625, 0.375]])
    np.testing.assert_allclose(ev.aggregate(x, "max", axis=(1, 2), mask=mask), [[0.25, 0.75], [0.75, 0.5]])


def test_aggregate_softmax_is_stable():
    huge = np.array([[1000.0, 999.0], [-1000.0, -1001.0]])
    e = math.exp(-1.0)
    np.testing.assert_allclose(ev.aggregate(huge), [1 / (1 + e), e / (1 + e)], rtol=1e-12)
    np.testing.assert_allclose(ev.softmax(np.float32([[80.0, 80.0]])), [[0.5, 0.5]])


@pytest.mark.parametrize(
    "kwargs, argument, allowed",
    [
        ({"rule": "median"}, "rule", "'mean_probability', 'mean_logit', 'max'"),
        ({"axis": -1}, "axis", "last (class) axis"),
        ({"axis": 5}, "axis", "[-2, 1]"),
        ({"rule": "mean_logit", "from_logits": False}, "from_logits", "from_logits=True"),
        ({"mask": np.ones(3, bool)}, "mask", "scores.shape[:-1]=(2,)"),
        ({"mask": np.zeros(2, bool)}, "mask", "at least one entry"),
    ],
)
def test_aggregate_errors_name_the_argument(kwargs, argument, allowed):
    with pytest.raises(ValueError, match=f"`{argument}") as info:
        ev.aggregate([[1.0, 2.0], [0.0, 1.0]], **kwargs)
    assert allowed in str(info.value) and "Received" in str(info.value)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, argument, fragment",
    [
        (lambda: ev.hit_at_k([[0.1, 0.2]], [0], k=0), "k", "k=0"),
        (lambda: ev.hit_at_k([[0.1, 0.2]], [0], k=1.0), "k", "k=1.0"),
        (lambda: ev.hit_at_k([0.1, 0.2], [0]), "scores", "scores.shape=(2,)"),
        (lambda: ev.hit_at_k([[0.1, np.nan]], [0]), "scores", "1 NaN"),
        (lambda: ev.hit_at_k([[0.1, 0.2]], [0, 1]), "scores", "len(labels)=2"),
        (lambda: ev.average_precision([[0.1, 0.2]], [2]), "labels", "num_classes=2"),
        (lambda: ev.mean_class_accuracy([[0.1, 0.2]], np.ones((1, 3))), "labels", "labels.shape=(1, 3)"),
        (lambda: ev.confusion_matrix([[0.1, 0.2]], [0], 3), "scores", "scores.shape=(1, 2)"),
        (lambda: ev.confusion_matrix([[0.1, 0.2]], [0], 0), "num_classes", "num_classes=0"),
        (lambda: ev.most_confused_pairs([[1, 2]], ["a"]), "matrix", "matrix.shape=(1, 2)"),
        (lambda: ev.most_confused_pairs([[1]], ["a", "b"]), "class_names", "2 entries"),
        (lambda: ev.most_confused_pairs([[1]], ["a"], top=0), "top", "top=0"),
        (lambda: ev.compare_per_class_ap([0.1], [0.1, 0.2], ["a"]), "ap_b", "ap_b.shape=(2,)"),
        (lambda: ev.group_mean_average_precision([[0.1]], {}), "per_class_ap", "per_class_ap.shape=(1, 1)"),
        (lambda: ev.group_mean_average_precision([0.1], ["a"]), "groups", "groups=['a']"),
        (lambda: ev.format_markdown_table(["a", "b"], [[1]]), "rows", "rows[0] has 1"),
    ],
)
def test_errors_name_the_argument(call, argument, fragment):
    with pytest.raises(ValueError, match=f"`{argument}`") as info:
        call()
    assert fragment in str(info.value) and "Received" in str(info.value)


def test_format_markdown_table_by_hand():
    got = ev.format_markdown_table(["model", "hit@1", "n"], [["a|b", 0.5, 3], ["late", float("nan"), None]], ".2f")
    assert got == "| model | hit@1 | n |\n| --- | ---: | --- |\n| a\\|b | 0.50 | 3 |\n| late | - |  |"


# --------------------------------------------------------------------------- VideoScores


def _video_scores(seed=0, videos=6, clips=3, views=4, classes=5, valid=True, labels=None, model="m"):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(videos, clips, views, classes)).astype("float32")
    mask = None
    if valid:
        mask = np.ones((videos, clips), bool)
        mask[1, 1:] = False  # a short video: one clip
        mask[2, 0] = False  # a video whose first clip is missing
        logits[~mask] = np.nan  # never read
    if labels is None:
        labels = [int(v) for v in rng.integers(0, classes, videos)]
    return ev.VideoScores(
        logits,
        labels,
        class_names=[f"class_{i}" for i in range(classes)],
        video_ids=[f"video_{i}" for i in range(videos)],
        valid=mask,
        metadata={"model": model, "seed": seed, "protocol": {"clips": clips, "views": views}},
    )


def _by_hand_video_probabilities(scores, clips=None, views=None):
    """Mean softmax over each video's first `clips` valid clips and first `views` views, by loops."""
    out = []
    for v in range(scores.num_videos):
        used = [c for c in range(scores.num_clips) if scores.valid is None or scores.valid[v, c]]
        used = used[: clips or len(used)]
        rows = [_softmax_by_hand(scores.logits[v, c, w].tolist()) for c in used for w in range(views or scores.num_views)]
        out.append([sum(r[j] for r in rows) / len(rows) for j in range(scores.num_classes)])
    return np.array(out)


def test_save_load_round_trip_is_exact(tmp_path):
    scores = _video_scores(labels=[(0, 3), (), (1,), (4,), (2, 1), (0,)])
    scores = ev.VideoScores(
        scores.logits,
        scores.labels,
        class_names=["Rådhus", "ski-jumping", "a|b", "日本", "x y"],
        video_ids=[f"https://youtu.be/{i}" for i in range(6)],
        valid=scores.valid,
        metadata={"model": "slow_fusion", "seed": 7, "protocol": {"clips": 3, "views": 4}, "note": None},
    )
    path = tmp_path / "scores.npz"
    assert scores.save(path) == str(path)
    assert sorted(os.listdir(tmp_path)) == ["scores.npz"]  # no temporary file left
    loaded = ev.VideoScores.load(path)
    assert loaded.logits.dtype == np.float32 and loaded.labels.dtype == np.uint8
    np.testing.assert_array_equal(loaded.logits.view(np.uint32), scores.logits.view(np.uint32))  # bit for bit, NaN too
    np.testing.assert_array_equal(loaded.labels, scores.labels)
    np.testing.assert_array_equal(loaded.valid, scores.valid)
    assert loaded.class_names == scores.class_names and loaded.video_ids == scores.video_ids
    assert loaded.metadata == scores.metadata and loaded.clip_level
    assert loaded.metrics() == scores.metrics()
    # Without a valid mask, None round-trips.
    plain = _video_scores(valid=False)
    plain.save(tmp_path / "plain.npz")
    assert ev.VideoScores.load(tmp_path / "plain.npz").valid is None
    with np.load(path, allow_pickle=False) as archive:  # plain arrays only
        assert all(archive[name].dtype != object for name in archive.files)


def test_load_refuses_pickle(tmp_path, monkeypatch):
    scores = _video_scores()
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"logits": scores.logits}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="when allow_pickle=False"):
        ev.VideoScores.load(objects)
    # An archive with the right members, one of them an object array.
    crafted = tmp_path / "crafted.npz"
    np.savez(crafted, logits=scores.logits, labels=scores.labels, header=np.array([{"format": "x"}], dtype=object))
    with pytest.raises(ValueError, match="when allow_pickle=False"):
        ev.VideoScores.load(crafted)
    # And `load` asks NumPy for no pickling at all.
    calls = []
    real_load = np.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    scores.save(tmp_path / "good.npz")
    monkeypatch.setattr(scores_module.np, "load", recording_load)
    ev.VideoScores.load(tmp_path / "good.npz")
    assert calls == [False]
    monkeypatch.undo()
    single = tmp_path / "single.npy"
    np.save(single, scores.logits)
    with pytest.raises(ValueError, match="single array"):
        ev.VideoScores.load(single)
    not_ours = tmp_path / "other.npz"
    np.savez(not_ours, logits=scores.logits, labels=scores.labels, header=np.frombuffer(b'{"format": "x"}', np.uint8))
    with pytest.raises(ValueError, match="not a VideoScores file"):
        ev.VideoScores.load(not_ours)


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "scores.npz"
    old = _video_scores(seed=1)
    old.save(path)
    before = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(scores_module.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        _video_scores(seed=2).save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["scores.npz"]


def test_first_clip_first_view_equals_that_view_alone():
    scores = _video_scores(valid=False)
    got = scores.video_scores(clips=1, views=1)
    expected = np.array([_softmax_by_hand(row) for row in scores.logits[:, 0, 0].tolist()])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    for rule in ("mean_logit", "max"):
        np.testing.assert_allclose(
            scores.video_scores(clips=1, views=1, rule=rule),
            scores.logits[:, 0, 0] if rule == "mean_logit" else expected,
            rtol=1e-12,
        )
    # With a valid mask, "the first clip" is a video's first valid clip.
    masked = _video_scores(valid=True)
    first = [int(np.flatnonzero(masked.valid[v])[0]) for v in range(masked.num_videos)]
    expected = np.array([_softmax_by_hand(masked.logits[v, c, 0].tolist()) for v, c in enumerate(first)])
    np.testing.assert_allclose(masked.video_scores(clips=1, views=1), expected, rtol=1e-12)


def test_video_scores_respect_valid_and_match_loops(monkeypatch):
    scores = _video_scores(valid=True)
    for clips, views in [(None, None), (2, 3), (1, 4), (3, 1)]:
        np.testing.assert_allclose(
            scores.video_scores(clips, views), _by_hand_video_probabilities(scores, clips, views), rtol=1e-12
        )
    whole = scores.video_scores()
    monkeypatch.setattr(scores_module, "_BLOCK_ELEMENTS", 1)  # one video per block
    np.testing.assert_array_equal(scores.video_scores(), whole)


def test_clip_scores_and_metrics_by_hand():
    # 3 videos, 2 clips, 2 views, 3 classes; video 2 has only its first clip.
    logits = np.zeros((3, 2, 2, 3), "float32")
    logits[0, 0] = [[4, 0, 0], [4, 0, 0]]  # video 0 (label 0): clip 0 right
    logits[0, 1] = [[0, 3, 0], [0, 3, 0]]  # clip 1 wrong (class 1), less sure
    logits[1, 0] = [[0, 0, 4], [0, 0, 4]]  # video 1 (label 1): both clips say 2
    logits[1, 1] = [[0, 0, 4], [0, 3, 0]]
    logits[2, 0] = [[0, 0, 4], [0, 0, 4]]  # video 2 (label 2): right
    valid = np.array([[True, True], [True, True], [True, False]])
    scores = ev.VideoScores(logits, [0, 1, 2], class_names=["a", "b", "c"], valid=valid)
    clip_probabilities, clip_labels = scores.clip_scores()
    assert clip_probabilities.shape == (5, 3)
    np.testing.assert_array_equal(clip_labels.argmax(axis=1), [0, 0, 1, 1, 2])
    np.testing.assert_allclose(clip_probabilities[3], np.mean([_softmax_by_hand([0, 0, 4]), _softmax_by_hand([0, 3, 0])], axis=0))
    result = scores.metrics(groups={"ab": ["a", "b"], "c": ["c"]})
    # Clips: right, wrong, wrong, wrong, right; videos: right, wrong, right.
    assert result["clip_hit@1"] == pytest.approx(2 / 5)
    assert result["video_hit@1"] == pytest.approx(2 / 3)
    assert result["video_hit@5"] == 1.0
    assert result["mean_class_accuracy"] == pytest.approx((1 + 0 + 1) / 3)
    ap = scores.per_class_ap()
    np.testing.assert_allclose(ap, ev.average_precision(scores.video_scores(), [0, 1, 2]))
    assert result["mAP"] == pytest.approx(ap.mean())
    assert result["group_mAP"] == {"ab": pytest.approx((ap[0] + ap[1]) / 2), "c": pytest.approx(ap[2])}
    assert set(result) == set(ev.METRICS) | {"group_mAP"}
    assert scores.metrics(clips=1)["clip_hit@1"] == pytest.approx(2 / 3)


def test_accuracy_vs_views_monotonic_example():
    # Label 0 for videos A, B, C; label 2 for D. "wrong" says class 1, "right" the label.
    wrong, right, right_d = [0, 5, 0], [10, 0, 0], [0, 0, 5]
    logits = np.array(
        [
            [[wrong, right], [right, right]],  # A: only clip 0 view 0 is wrong
            [[wrong, wrong], [right, right]],  # B: clip 0 is wrong
            [[wrong, wrong], [wrong, wrong]],  # C: always wrong
            [[right_d, right_d], [right_d, right_d]],  # D: always right
        ],
        "float32",
    )
    scores = ev.VideoScores(logits, [0, 0, 0, 2])
    table = scores.accuracy_vs_views()
    assert [(c, v) for c, v, _ in table.rows] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    np.testing.assert_allclose(table.values, [[1 / 4, 2 / 4], [3 / 4, 3 / 4]])
    assert np.all(np.diff(table.values, axis=0) >= 0) and np.all(np.diff(table.values, axis=1) >= 0)
    lines = table.format(".2f").splitlines()
    assert lines[0] == "| video_hit@1: clips \\ views | 1 | 2 |"
    assert lines[2:] == ["| 1 | 0.25 | 0.50 |", "| 2 | 0.75 | 0.75 |"]
    small = scores.accuracy_vs_views(max_clips=1, max_views=1, metric="mAP")
    assert small.rows == [(1, 1, pytest.approx(scores.metrics(clips=1, views=1)["mAP"]))]


def test_ensemble_of_two_equals_averaging_probabilities_by_hand():
    labels = [0, 1, 2, 3, 4, 0]
    a = _video_scores(seed=1, labels=labels, model="early")
    b = _video_scores(seed=2, labels=labels, model="late")
    expected = (_by_hand_video_probabilities(a) + _by_hand_video_probabilities(b)) / 2
    average = ev.ensemble([a, b])
    assert average.logits.shape == (6, 1, 1, 5) and not average.clip_level
    np.testing.assert_allclose(average.video_scores(), expected, rtol=1e-5)
    result = average.metrics()
    assert math.isnan(result["clip_hit@1"])
    assert result["video_hit@1"] == pytest.approx(ev.hit_at_k(expected, labels, k=1))
    assert result["mAP"] == pytest.approx(ev.mean_average_precision(expected, labels))
    assert [m["model"] for m in average.metadata["members"]] == ["early", "late"]
    with pytest.raises(ValueError, match="no clip scores"):
        average.clip_scores()
    # With a single clip and view, every rule ranks classes the same.
    for rule in ev.AGGREGATION_RULES:
        np.testing.assert_array_equal(average.video_scores(rule=rule).argmax(axis=1), expected.argmax(axis=1))
    table = ev.summary_table({"Early": a, "CNN Average": average})
    rows = table.splitlines()
    assert rows[0] == "| Model | Clip Hit@1 | Video Hit@1 | Video Hit@5 |"
    assert rows[3].startswith("| CNN Average | - | ")
    assert rows[2] == "| Early | {:.1f} | {:.1f} | {:.1f} |".format(
        *(100 * a.metrics()[k] for k in ("clip_hit@1", "video_hit@1", "video_hit@5"))
    )


def test_ensemble_checks_its_members():
    labels = [0, 1, 2, 3, 4, 0]
    a = _video_scores(seed=1, labels=labels)
    other_ids = ev.VideoScores(a.logits, a.labels, a.class_names, [f"v{i}" for i in range(6)], a.valid)
    reordered = ev.VideoScores(a.logits, a.labels, a.class_names, list(reversed(a.video_ids)), a.valid)
    other_labels = _video_scores(seed=2, labels=[1, 1, 2, 3, 4, 0])
    other_classes = ev.VideoScores(a.logits, a.labels, ["q"] * 5, a.video_ids, a.valid)
    with pytest.raises(ValueError, match=r"`scores\[1\]` must have the video_ids .* only one of them"):
        ev.ensemble([a, other_ids])
    with pytest.raises(ValueError, match="different order"):
        ev.ensemble([a, reordered])
    with pytest.raises(ValueError, match=r"`scores\[1\]` must have the labels .* 'video_0'"):
        ev.ensemble([a, other_labels])
    with pytest.raises(ValueError, match=r"`scores\[1\]` must have the class_names"):
        ev.ensemble([a, other_classes])
    with pytest.raises(ValueError, match="`scores` must be a non-empty list"):
        ev.ensemble([])
    with pytest.raises(ValueError, match=r"`scores` must hold VideoScores. Received: scores\[1\]"):
        ev.ensemble([a, "b"])


@pytest.mark.parametrize(
    "call, argument, fragment",
    [
        (lambda s: s.video_scores(clips=4), "clips", "[1, 3] or None. Received: clips=4"),
        (lambda s: s.video_scores(views=0), "views", "[1, 4] or None. Received: views=0"),
        (lambda s: s.video_scores(rule="vote"), "rule", "Received: rule='vote'"),
        (lambda s: s.accuracy_vs_views(metric="hit@1"), "metric", "'video_hit@1'"),
        (lambda s: ev.VideoScores(s.logits[0], s.labels), "logits", "logits.shape=(3, 4, 5)"),
        (lambda s: ev.VideoScores(s.logits, s.labels[:2]), "labels", "len(labels)=2"),
        (lambda s: ev.VideoScores(s.logits, s.labels, valid=np.zeros((6, 3), bool)), "valid", "no valid clip"),
        (lambda s: ev.VideoScores(s.logits, s.labels, valid=s.valid[:, :2]), "valid", "valid.shape=(6, 2)"),
        (lambda s: ev.VideoScores(s.logits, s.labels, video_ids=["a"] * 6, valid=s.valid), "video_ids", "'a' more than once"),
        (lambda s: ev.VideoScores(s.logits, s.labels, class_names=["a"], valid=s.valid), "class_names", "1 entries"),
        (lambda s: ev.VideoScores(s.logits, s.labels, valid=s.valid, metadata={"f": object()}), "metadata", "JSON"),
        (lambda s: ev.VideoScores(s.logits, s.labels), "logits", "NaN or infinite"),
        (lambda s: ev.summary_table([s]), "results", "Received"),
    ],
)
def test_video_scores_errors_name_the_argument(call, argument, fragment):
    scores = _video_scores(valid=True)
    with pytest.raises(ValueError, match=f"`{argument}`") as info:
        call(scores)
    assert fragment in str(info.value) and "Received" in str(info.value)


# --------------------------------------------------------------------------- the package


def test_evaluation_imports_only_numpy_and_the_standard_library():
    # The metrics and scores modules (runner.py, which runs models, is not checked here).
    folder = pathlib.Path(metrics_module.__file__).parent
    allowed = {"numpy", "keras_sportsnet", "json", "math", "numbers", "os", "tempfile"}
    for file in [folder / name for name in ("__init__.py", "metrics.py", "scores.py")]:
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
                if node.module and node.module.startswith("keras_sportsnet"):
                    # the package's own argument checks and its one multi-hot builder are NumPy-only too
                    assert node.module.startswith(("keras_sportsnet.evaluation", "keras_sportsnet.utils")) or (
                        node.module == "keras_sportsnet.data.lists"), (file.name, node.module)
            for name in names:
                assert name.split(".")[0] in allowed, (file.name, name)


@pytest.mark.parametrize("module", [metrics_module, scores_module])
def test_docstring_examples(module):
    result = doctest.testmod(module, extraglobs={"np": np}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_every_public_function_documents_args_returns_and_an_example():
    import inspect

    for name in ev.__all__:
        item = getattr(ev, name)
        if not callable(item) or item is ev.ViewsTable:
            continue
        doc = item.__doc__ or ""
        if isinstance(item, type):
            assert ("Args:" in doc or "Attributes:" in doc) and "Example:" in doc, name
            for method, member in vars(item).items():
                if method.startswith("_") or not inspect.isfunction(getattr(member, "__func__", member)):
                    continue
                method_doc = getattr(item, method).__doc__ or ""
                assert "Example:" in method_doc, (name, method)
                if method in ("save", "load", "video_scores", "clip_scores", "per_class_ap", "metrics", "accuracy_vs_views"):
                    assert all(s in method_doc for s in ("Args:", "Returns:")), (name, method)
            continue
        assert all(s in doc for s in ("Args:", "Returns:", "Example:")), name
