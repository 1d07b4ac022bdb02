"""The synthetic sports dataset: determinism, layout, and the separability it is built for.

The separability checks use small classifiers written here in NumPy (softmax
regression and k-nearest neighbours on hand-made features), independent of
the generator: single-frame features (colour histogram, foreground position
profiles) and temporal features (displacement of the foreground between
frames, from circular cross-correlation of its row / column profiles).
"""

import os
import time

import numpy as np
import pytest

from keras_sportsnet.data import read_clip
from keras_sportsnet.data import read_video_folder
from keras_sportsnet.datasets.synthetic_sports import CLASS_SETS
from keras_sportsnet.datasets.synthetic_sports import CUES
from keras_sportsnet.datasets.synthetic_sports import class_descriptions
from keras_sportsnet.datasets.synthetic_sports import iter_videos
from keras_sportsnet.datasets.synthetic_sports import plot_classes
from keras_sportsnet.datasets.synthetic_sports import render_video
from keras_sportsnet.datasets.synthetic_sports import synthetic_sports
from keras_sportsnet.datasets.synthetic_sports import write_synthetic_sports

SMALL = dict(num_frames=8, size=16)


# --------------------------------------------------------------------------- independent features and classifiers


def frame_features(frame):
    """What one frame shows: colour histogram and moments, and where the foreground is."""
    f = frame.astype(np.float32)
    size = f.shape[0]
    hist = np.concatenate([np.histogram(f[..., c], bins=8, range=(0, 256))[0] for c in range(3)]) / size**2
    median = np.median(f.reshape(-1, 3), axis=0)
    mask = (np.abs(f - median).sum(-1) > 60).astype(np.float32)  # pixels unlike the dominant colour
    cols = mask.sum(0).reshape(8, -1).sum(1) / size**2
    rows = mask.sum(1).reshape(8, -1).sum(1) / size**2
    angle = 2 * np.pi * (np.arange(size) + 0.5) / size
    weight = mask.sum() + 1e-6
    centroid = [(mask.sum(a) * trig(angle)).sum() / weight for a in (0, 1) for trig in (np.cos, np.sin)]
    return np.concatenate([hist, f.mean((0, 1)) / 255, f.std((0, 1)) / 255, cols, rows, centroid, [mask.mean()]])


def _circular_shift(a, b):
    """Sub-pixel circular shift ``s`` per row with ``b(x) ~ a(x - s)``."""
    n = a.shape[-1]
    spectrum = np.fft.rfft(b - b.mean(-1, keepdims=True)) * np.conj(np.fft.rfft(a - a.mean(-1, keepdims=True)))
    c = np.fft.irfft(spectrum, n)
    peak = np.argmax(c, axis=-1)
    r = np.arange(len(peak))
    low, mid, high = c[r, (peak - 1) % n], c[r, peak], c[r, (peak + 1) % n]
    curvature = low - 2 * mid + high
    offset = np.where(np.abs(curvature) > 1e-9, 0.5 * (low - high) / np.where(curvature == 0, 1, curvature), 0.0)
    return (peak + offset + n / 2) % n - n / 2


def motion_features(video, gap=3):
    """How the foreground moves: statistics of its horizontal / vertical displacement over time."""
    v = video.astype(np.float32)
    size = v.shape[1]
    foreground = np.abs(v - np.median(v, axis=0)).sum(-1)  # (T, S, S)
    cols, rows = foreground.sum(1), foreground.sum(2)
    features = []
    for profile in (cols, rows):
        d = _circular_shift(profile[:-gap], profile[gap:]) / (gap * size)
        t = np.arange(len(d)) - (len(d) - 1) / 2
        slope = (d * t).sum() / (t * t).sum()
        sign_changes = np.mean(np.sign(d[1:]) != np.sign(d[:-1]))
        features += [d.mean(), abs(d.mean()), np.abs(d).mean(), d.std(), slope, sign_changes]
    return np.array(features)


def _standardize(train, test):
    mean, std = train.mean(0), train.std(0) + 1e-6
    return (train - mean) / std, (test - mean) / std


def logistic_regression(train_x, train_y, test_x, num_classes, steps=400, lr=0.5, l2=1e-3):
    x, xt = _standardize(train_x, test_x)
    x, xt = np.hstack([x, np.ones((len(x), 1))]), np.hstack([xt, np.ones((len(xt), 1))])
    w = np.zeros((x.shape[1], num_classes))
    onehot = np.eye(num_classes)[train_y]
    for _ in range(steps):
        z = x @ w
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        w -= lr * (x.T @ (p - onehot) / len(x) + l2 * w)
    return np.argmax(xt @ w, 1)


def nearest_neighbours(train_x, train_y, test_x, num_classes, k=7):
    x, xt = _standardize(train_x, test_x)
    distances = ((xt[:, None] - x[None]) ** 2).sum(-1)
    nearest = np.argsort(distances, 1)[:, :k]
    votes = np.zeros((len(xt), num_classes))
    np.add.at(votes, (np.arange(len(xt))[:, None], train_y[nearest]), 1)
    return np.argmax(votes, 1)


CLASSIFIERS = (logistic_regression, nearest_neighbours)


def _fmt(accuracies):
    return "/".join(f"{a:.3f}" for a in accuracies.values()) + " (logistic/kNN)"


@pytest.fixture(scope="module")
def sports():
    """80 videos per class, 32x32, 24 frames, with one random frame's and the whole clip's features."""
    data = synthetic_sports(80, size=32, num_frames=24, seed=1)
    pick = np.random.default_rng(0).integers(0, 24, len(data))
    frame = np.stack([frame_features(data.videos[k, pick[k]]) for k in range(len(data))])
    motion = np.stack([motion_features(v) for v in data.videos])
    return data, frame, motion


def _accuracies(data, features, classes):
    """Accuracy of each classifier among `classes` only: train on even, test on odd video indices."""
    labels = [data.class_names.index(c) for c in classes]
    chosen = np.isin(data.true_labels, labels)
    y = np.searchsorted(labels, data.true_labels[chosen])
    x = features[chosen]
    train = data.indices[chosen] % 2 == 0
    return {
        clf.__name__: float(np.mean(clf(x[train], y[train], x[~train], len(classes)) == y[~train])) for clf in CLASSIFIERS
    }


# --------------------------------------------------------------------------- determinism and layout


def test_same_arguments_give_bit_identical_videos_and_other_seeds_differ():
    kwargs = dict(SMALL, camera_pan=0.3, camera_zoom=0.2, clutter=2, lighting=0.5, label_noise=0.3)
    a = synthetic_sports(3, seed=5, **kwargs)
    b = synthetic_sports(3, seed=5, **kwargs)
    np.testing.assert_array_equal(a.videos, b.videos)
    np.testing.assert_array_equal(a.labels, b.labels)
    other = synthetic_sports(3, seed=6, **kwargs)
    assert all(not np.array_equal(x, y) for x, y in zip(a.videos, other.videos))


def test_a_video_does_not_depend_on_the_others():
    full = synthetic_sports(4, seed=2, lighting=0.3, clutter=1, **SMALL)
    k = full.class_names.index("gym_bounce") * 4 + 3
    alone = render_video("gym_bounce", 3, seed=2, lighting=0.3, clutter=1, **SMALL)
    np.testing.assert_array_equal(alone, full.videos[k])
    subset = synthetic_sports(4, classes=["soccer", "gym_bounce"], seed=2, lighting=0.3, clutter=1, **SMALL)
    np.testing.assert_array_equal(subset.videos[subset.class_names.index("gym_bounce") * 4 + 3], full.videos[k])
    partial = list(iter_videos(4, positions=[k, 0], seed=2, lighting=0.3, clutter=1, **SMALL))
    assert [c.position for c in partial] == [k, 0]
    np.testing.assert_array_equal(partial[0].frames, full.videos[k])
    np.testing.assert_array_equal(partial[1].frames, full.videos[0])


def test_nuisances_use_their_own_streams():
    clean = synthetic_sports(2, **SMALL)
    noisy_labels = synthetic_sports(2, label_noise=0.5, **SMALL)
    np.testing.assert_array_equal(clean.videos, noisy_labels.videos)  # label noise leaves the frames alone
    # the middle frame of a panning camera is the still camera's view
    still = render_video("soccer", 0, num_frames=9, size=16)
    panned = render_video("soccer", 0, num_frames=9, size=16, camera_pan=0.5)
    np.testing.assert_array_equal(still[4], panned[4])
    assert not np.array_equal(still[0], panned[0])


@pytest.mark.parametrize("class_set", CLASS_SETS)
def test_shapes_counts_names_and_class_info(class_set):
    data = synthetic_sports(3, class_set=class_set, num_frames=6, size=18)
    descriptions = class_descriptions(class_set)
    n = len(descriptions)
    assert data.videos.shape == (3 * n, 6, 18, 18, 3) and data.videos.dtype == np.uint8
    assert data.labels.shape == (3 * n,) and np.issubdtype(data.labels.dtype, np.integer)
    assert np.bincount(data.true_labels, minlength=n).tolist() == [3] * n
    assert data.class_names == sorted(data.class_names) == list(descriptions)
    assert set(data.class_info) == set(data.class_names) and set(data.class_info.values()) <= set(CUES)
    groups = data.class_groups
    assert sorted(c for members in groups.values() for c in members) == data.class_names
    assert len(groups["appearance"]) >= 2 and len(groups["motion"]) >= 3
    assert data.videos.std() > 10  # not blank


def test_class_sets_are_disjoint_and_sized_like_their_roles():
    sports, transfer = class_descriptions("sports"), class_descriptions("transfer")
    assert not set(sports) & set(transfer)
    assert not {d["scene"] for d in sports.values()} & {d["scene"] for d in transfer.values()}
    assert 8 <= len(sports) <= 12 and 5 <= len(transfer) <= 6
    assert {d["cue"] for d in sports.values()} == set(CUES)


def test_label_noise_fraction_is_close_to_requested():
    data = synthetic_sports(100, num_frames=2, size=16, label_noise=0.3, seed=3)
    flipped = np.mean(data.labels != data.true_labels)
    assert 0.25 < flipped < 0.35, flipped
    assert np.all(data.true_labels == np.repeat(np.arange(len(data.class_names)), 100))
    assert np.all(synthetic_sports(5, **SMALL).labels == synthetic_sports(5, **SMALL).true_labels)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"class_set": "ucf"}, "`class_set` must be one of ['sports', 'transfer']. Received: class_set='ucf'"),
        ({"size": 15}, "`size` must be an even int >= 16. Received: size=15"),
        ({"num_frames": 1}, "`num_frames` must be an int >= 2. Received: num_frames=1"),
        ({"label_noise": 1.5}, "`label_noise` must be a number in [0.0, 1.0]. Received: label_noise=1.5"),
        ({"clutter": -1}, "`clutter` must be an int >= 0. Received: clutter=-1"),
        ({"classes": ["pool_up"]}, "Received: classes=['pool_up']"),
    ],
)
def test_errors_name_the_argument_the_allowed_values_and_the_value(kwargs, message):
    with pytest.raises(ValueError) as error:
        synthetic_sports(1, **kwargs)
    assert message in str(error.value)


# --------------------------------------------------------------------------- what each model can see


def test_single_frames_separate_appearance_classes_but_not_motion_classes(sports, capsys):
    data, frame, _ = sports
    groups = data.class_groups
    everything = _accuracies(data, frame, data.class_names)
    appearance = _accuracies(data, frame, groups["appearance"])
    motion = _accuracies(data, frame, groups["motion"])
    both = _accuracies(data, frame, groups["both"])
    with capsys.disabled():
        print(f"\nsingle frame: all classes {_fmt(everything)}; appearance {_fmt(appearance)}; ", end="")
        print(f"motion-only {_fmt(motion)}; both {_fmt(both)}")
    assert min(appearance.values()) > 0.9  # chance 1/3
    chance = 1 / len(groups["motion"])
    assert max(abs(a - chance) for a in motion.values()) < 0.1, motion  # at chance, for both classifiers
    assert max(abs(a - 0.5) for a in both.values()) < 0.12, both  # appearance half of the factorial only


def test_motion_features_separate_motion_classes(sports, capsys):
    data, frame, motion = sports
    groups = data.class_groups
    motion_only = _accuracies(data, motion, groups["motion"])
    both = _accuracies(data, np.hstack([frame, motion]), groups["both"])
    with capsys.disabled():
        print(f"\ntemporal: motion-only {_fmt(motion_only)}; frame + temporal on both {_fmt(both)}")
    assert min(motion_only.values()) > 0.85  # chance 1/4
    assert min(both.values()) > 0.85  # chance 1/4


# --------------------------------------------------------------------------- files


def test_write_gives_decodable_class_folders_and_skips_on_rerun(tmp_path, capsys):
    data = synthetic_sports(2, num_frames=12, size=32, seed=4, label_noise=0.2)
    videos = data.write(str(tmp_path))
    assert len(videos) == len(data) and videos.class_names == tuple(data.class_names)
    assert [l for (l,) in videos.labels] == data.labels.tolist()
    for k, path in enumerate(videos.paths):
        name = data.class_names[data.labels[k]]
        assert path == os.path.join(str(tmp_path), name, f"{name}_{k:05d}.mp4")
    folder = read_video_folder(str(tmp_path))
    assert folder.class_names == tuple(data.class_names)
    assert dict(zip(folder.paths, folder.labels)) == dict(zip(videos.paths, videos.labels))
    errors = []
    for k in (0, len(data) // 2, len(data) - 1):
        decoded = read_clip(videos.paths[k], range(12))
        assert decoded.shape == data.videos[k].shape
        errors.append(np.abs(decoded.astype(np.int16) - data.videos[k]).mean())
    with capsys.disabled():
        print(f"\nh264 round trip: mean absolute error {np.round(errors, 2).tolist()} (of 255)")
    assert max(errors) < 6
    stamps = {p: os.stat(p).st_mtime_ns for p in videos.paths}
    assert data.write(str(tmp_path)) == videos
    assert {p: os.stat(p).st_mtime_ns for p in videos.paths} == stamps  # nothing re-encoded
    # the streaming writer produces the same content: it skips too
    assert write_synthetic_sports(str(tmp_path), 2, num_frames=12, size=32, seed=4, label_noise=0.2) == videos
    assert {p: os.stat(p).st_mtime_ns for p in videos.paths} == stamps
    # a damaged file is rewritten; a smaller dataset removes the files it no longer has
    assert data.labels[0] == 0  # video 0 keeps its path in the smaller dataset
    with open(videos.paths[0], "r+b") as f:
        f.truncate(100)
    smaller = synthetic_sports(1, num_frames=12, size=32, seed=4, classes=data.class_names[:1]).write(str(tmp_path))
    assert read_clip(smaller.paths[0], [11]).shape == (1, 32, 32, 3)
    assert sorted(read_video_folder(str(tmp_path)).paths) == sorted(smaller.paths)
    leftovers = [f for _, _, files in os.walk(tmp_path) for f in files if ".tmp" in f]
    assert not leftovers


def test_plot_classes_saves_a_png(tmp_path):
    path = tmp_path / "classes.png"
    figure = plot_classes(str(path), class_set="transfer", num_frames_shown=3, num_frames=8, size=16)
    assert len(figure.axes) == len(class_descriptions("transfer")) * 4
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_generation_speed_is_reported(capsys):
    start = time.perf_counter()
    clips = sum(1 for _ in iter_videos(10, num_frames=40, size=64))
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    noisy = sum(1 for _ in iter_videos(5, num_frames=40, size=64, camera_pan=0.3, camera_zoom=0.2, clutter=3, lighting=0.5))
    noisy_seconds = time.perf_counter() - start
    with capsys.disabled():
        print(
            f"\ngeneration 64x64x40 (one core): {clips / seconds * 60:.0f} clips/minute; "
            f"with camera motion, clutter and lighting: {noisy / noisy_seconds * 60:.0f} clips/minute"
        )


def test_rewriting_a_smaller_dataset_leaves_no_stale_class_folder(tmp_path):
    folder = str(tmp_path / "videos")
    synthetic_sports(1, classes=["soccer", "tennis"], num_frames=4, size=16).write(folder)
    assert list(read_video_folder(folder).class_names) == ["soccer", "tennis"]
    synthetic_sports(1, classes=["soccer"], num_frames=4, size=16).write(folder)
    assert list(read_video_folder(folder).class_names) == ["soccer"]


def test_load_data_splits_every_class_by_video_index_like_keras_datasets():
    from keras_sportsnet.datasets.synthetic_sports import load_data
    from keras_sportsnet.datasets.synthetic_sports import synthetic_sports as render

    (x_train, y_train), (x_test, y_test) = load_data(2, 1, class_set="transfer", num_frames=4, size=16, seed=3)
    assert x_train.shape == (12, 4, 16, 16, 3) and x_test.shape == (6, 4, 16, 16, 3) and x_train.dtype == np.uint8
    assert np.bincount(y_train).tolist() == [2] * 6 and np.bincount(y_test).tolist() == [1] * 6
    full = render(3, class_set="transfer", num_frames=4, size=16, seed=3)
    np.testing.assert_array_equal(x_test, full.videos[full.indices == 2])  # the third video of every class
    assert not any((x_test[i] == x_train).all(axis=(1, 2, 3, 4)).any() for i in range(len(x_test)))
    with pytest.raises(ValueError, match="`test_videos_per_class` must be an int >= 1"):
        load_data(2, 0)
