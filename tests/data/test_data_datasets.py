"""VideoDataset from folders, lists and prepared shards, on videos the tests write."""

import gzip
import json
import os

import numpy as np
import pytest
import tensorflow as tf

import keras_sportsnet as ksn
from keras_sportsnet import data
from keras_sportsnet.testing.videos import frame_code
from keras_sportsnet.testing.videos import index_frames
from keras_sportsnet.data.encoding import write_video
from conftest import write_class_videos

SIZE = 64  # square frames: the centre-square crop keeps the whole frame code


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory):
    return write_class_videos(tmp_path_factory.mktemp("videos"), ["archery", "bowling", "curling"], 3,
                              lambda label, video: index_frames(40 + 8 * video, SIZE, SIZE, seed=label * 10 + video),
                              keyframe_interval=10)


def codes(clip):
    return [frame_code(np.asarray(frame)) for frame in clip]


def test_directory_dataset_labels_geometry_and_exact_frames(video_folder):
    ds = data.video_dataset_from_directory(
        str(video_folder), batch_size=None, shuffle=False, num_frames=2, frame_stride=15,
        image_size=SIZE, resize_to=SIZE, augmentation="deferred", sampling_mode="uniform", verbose=False,
    )
    assert ds.class_names == ["archery", "bowling", "curling"]
    assert len(ds.file_paths) == 9 and len(ds) == ds.steps_per_pass == ds.num_clips == 9
    assert ds.one_pass(0).cardinality().numpy() == 9
    labels = []
    for clip, label in ds:
        assert clip.shape == (2, SIZE, SIZE, 3) and clip.dtype == tf.uint8
        first, second = codes(clip)
        assert second - first == 15
        labels.append(int(label))
    assert labels == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_fit_on_a_folder_with_model_geometry_and_validation_split(video_folder):
    model = ksn.SlowFusion(spec="C(4,5,2)-N-P-FC(8)", input_shape=(10, 32, 32, 3), classes=3)
    train, val = data.video_dataset_from_directory(
        str(video_folder), model=model, batch_size=4, validation_split=0.34, subset="both", seed=3,
        resize_to=40, verbose=False,
    )
    assert len(train.file_paths) == 6 and len(val.file_paths) == 3
    assert not set(train.file_paths) & set(val.file_paths)
    x, y = next(iter(train))
    assert x.shape == (4, 10, 32, 32, 3) and x.dtype == tf.uint8
    assert (train.config.augmentation, train.config.sampling_mode, train.config.shuffle) == ("paper", "random", True)
    assert (val.config.augmentation, val.config.sampling_mode, val.config.shuffle) == ("centre", "uniform", False)
    train.check_model(model)
    model.compile("sgd", "sparse_categorical_crossentropy")
    history = model.fit(train.as_tf_dataset(), steps_per_epoch=len(train), validation_data=val.one_pass(0),
                        epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_seeded_passes_are_reproducible_and_differ(video_folder):
    def passes(seed):
        ds = data.video_dataset_from_directory(
            str(video_folder), batch_size=None, num_frames=3, image_size=48, resize_to=SIZE,
            seed=seed, clips_per_video=2, verbose=False,
        )
        return [[(hash(c.numpy().tobytes()), int(l)) for c, l in ds.one_pass(p)] for p in range(2)]

    first, again = passes(5), passes(5)
    assert first == again
    assert first[0] != first[1]
    assert len(first[0]) == 18
    assert passes(6) != first


def _batches(dataset, count):
    return [tuple(np.asarray(part).tobytes() for part in batch) for batch in dataset.take(count)]


def test_as_tf_dataset_resumes_at_any_step_with_the_same_batches(video_folder):
    def build():
        return data.video_dataset_from_directory(
            str(video_folder), batch_size=4, num_frames=3, image_size=48, resize_to=SIZE,
            seed=11, clips_per_video=2, verbose=False,
        )

    # 18 clips per pass, batches of 4: one_pass has 5 batches (the last of 2 clips); the stream's are all full.
    ds = build()
    assert (ds.num_clips, len(ds)) == (18, 5)
    full = _batches(ds.as_tf_dataset(), 12)
    assert _batches(build().as_tf_dataset(start_step=3), 9) == full[3:]  # a fresh process resuming at step 3
    assert _batches(build().as_tf_dataset(start_step=7), 5) == full[7:]  # ... inside pass 1
    assert len(set(full)) == 12  # passes differ
    assert all(len(np.frombuffer(labels, np.int32)) == 4 for _, labels in full)

    def clips(batches):
        return np.concatenate([np.asarray(c) for c, _ in batches])

    stream = clips(build().as_tf_dataset().take(9))
    passes = np.concatenate([clips(build().one_pass(p)) for p in (0, 1)])
    np.testing.assert_array_equal(stream, passes)  # the stream is pass 0 then pass 1, clip for clip
    assert [len(l) for _, l in build().one_pass(0)] == [4, 4, 4, 4, 2]
    assert [len(l) for _, l in build().replace(drop_remainder=True).one_pass(0)] == [4, 4, 4, 4]


def test_shard_stream_resumes_at_any_step(tmp_path, video_folder):
    out = str(tmp_path / "shards")
    data.prepare_shards(data.read_video_folder(str(video_folder)), out, num_frames=2, image_size=48,
                        resize_to=SIZE, clips_per_video=2, num_files=3, seed=0, num_workers=1, verbose=False)
    full = _batches(data.shard_dataset(out, batch_size=4, seed=3).as_tf_dataset(), 8)
    assert _batches(data.shard_dataset(out, batch_size=4, seed=3).as_tf_dataset(start_step=5), 3) == full[5:]
    assert _batches(data.shard_dataset(out, batch_size=4, seed=4).as_tf_dataset(), 8) != full
    assert _batches(data.shard_dataset(out, batch_size=4, seed=3).one_pass(0), 4) == full[:4]  # 18 clips: 4 full batches


def test_bad_and_short_videos_are_reported_then_skipped_or_raised(tmp_path):
    root = tmp_path / "videos"
    os.makedirs(root / "a")
    write_video(str(root / "a" / "good.mp4"), index_frames(30, SIZE, SIZE))
    write_video(str(root / "a" / "short.mp4"), index_frames(4, SIZE, SIZE))
    (root / "a" / "empty.mp4").write_bytes(b"")
    (root / "a" / "text.avi").write_text("not a video")
    with pytest.warns(UserWarning, match="Skipping 3 of 4 videos") as caught:
        ds = data.video_dataset_from_directory(
            str(root), num_frames=10, image_size=SIZE, resize_to=SIZE, short_video_policy="skip",
            batch_size=None, verbose=False,
        )
    message = next(str(w.message) for w in caught if "Skipping" in str(w.message))
    assert any("one class sub-folder ('a')" in str(w.message) for w in caught)
    for name in ("empty.mp4", "text.avi", "short.mp4: too short: 4 frames"):
        assert name in message
    assert [os.path.basename(p) for p in ds.file_paths] == ["good.mp4"]
    assert set(map(os.path.basename, ds.skipped)) == {"empty.mp4", "text.avi", "short.mp4"}
    with pytest.raises(data.VideoError, match="3 unusable video"):
        data.video_dataset_from_directory(
            str(root), num_frames=10, image_size=SIZE, short_video_policy="skip", on_error="raise", verbose=False,
        )
    looped = data.video_dataset_from_directory(
        str(root), num_frames=10, image_size=SIZE, resize_to=SIZE, short_video_policy="loop",
        batch_size=None, shuffle=False, sampling_mode="uniform", augmentation="deferred", verbose=False,
    )
    clips = {os.path.basename(p): codes(c) for p, (c, _) in zip(looped.file_paths, looped)}
    assert clips["short.mp4"] == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]


def test_workers_get_disjoint_shards_of_the_videos(video_folder):
    kwargs = dict(num_frames=1, image_size=32, batch_size=None, seed=0, verbose=False)
    parts = [data.video_dataset_from_directory(str(video_folder), shard=(2, i), **kwargs).file_paths for i in (0, 1)]
    assert len(parts[0]) + len(parts[1]) == 9 and not set(parts[0]) & set(parts[1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"validation_split": 0.2, "subset": "training", "shuffle": True}, "`seed` is required"),
        ({"validation_split": 1.5, "subset": "training", "seed": 1}, r"`validation_split` must be a finite number in \(0, 1\)"),
        ({"subset": "training"}, "`validation_split` must be set"),
        ({"label_mode": "sparse"}, r"`label_mode` must be one of \['int', 'categorical', 'multi_hot', None\]"),
        ({"augmentation": "heavy"}, r"`augmentation` must be one of"),
        ({"short_video_policy": "stretch"}, r"`short_video_policy` must be one of \['loop', 'repeat_last', 'pad', 'skip'\]"),
        ({"class_names": ["zebra"]}, r"`class_names` \['zebra'\] are not sub-folders"),
    ],
)
def test_argument_errors(video_folder, kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.video_dataset_from_directory(str(video_folder), num_frames=1, image_size=32, verbose=False, **kwargs)


def test_csv_list_multi_hot_and_unlabelled(tmp_path, video_folder):
    listing = tmp_path / "list.csv"
    listing.write_text(
        "path,labels\n"
        f"{video_folder}/archery/v0.mp4,archery,curling\n"
        f"{video_folder}/bowling/v1.mp4,bowling\n"
        f"{video_folder}/missing.mp4,bowling\n"
    )
    videos = data.read_video_list(str(listing), class_list=["archery", "bowling", "curling"])
    assert videos.multi_label and videos.labels == ((0, 2), (1,))
    assert [os.path.basename(m) for m in videos.missing] == ["missing.mp4"]
    ds = data.video_dataset_from_list(
        videos, label_mode="multi_hot", num_frames=1, image_size=32, batch_size=None, shuffle=False, verbose=False
    )
    assert [l.numpy().tolist() for _, l in ds] == [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    with pytest.raises(ValueError, match="multi-label: use 'multi_hot'"):
        data.video_dataset_from_list(videos, label_mode="int", num_frames=1, image_size=32, verbose=False)
    unlabelled = data.video_dataset_from_list(
        [f"{video_folder}/archery/v0.mp4"], label_mode=None, num_frames=1, image_size=32, batch_size=2, verbose=False
    )
    assert next(iter(unlabelled)).shape == (1, 1, 32, 32, 3)


def test_ucf101_official_splits_and_sports1m_partition(tmp_path):
    train = data.read_ucf101_split(str(tmp_path), fold=1, subset="train", check_files=False)
    test = data.read_ucf101_split(str(tmp_path), fold=1, subset="test", check_files=False)
    assert (len(train), len(test)) == (9537, 3783)
    assert len(train.class_names) == 101 and train.class_names[0] == "ApplyEyeMakeup"
    push = [l for p, l in zip(test.paths, test.labels) if "HandstandPushups" in p]
    assert push and {l for (l,) in push} == {train.class_names.index("HandstandPushups")}
    assert not set(map(os.path.basename, train.paths)) & set(map(os.path.basename, test.paths))
    assert len(data.read_ucf101_split(str(tmp_path), fold=1, subset="test").missing) == 3783
    groups = data.ucf101_class_groups()
    assert len(groups) == 101 and len(set(groups.values())) == 5
    root = tmp_path / "sports1m"
    os.makedirs(root)
    write_video(str(root / "UDqivjS-lpI.mp4"), index_frames(12, 32, 32))
    partition = tmp_path / "train_partition.txt.gz"
    with gzip.open(partition, "wt") as f:
        f.write("https://www.youtube.com/watch?v=UDqivjS-lpI 168,169\nhttps://www.youtube.com/watch?v=absent00000 3\n")
    videos = data.read_sports1m_partition(str(partition), str(root))
    assert videos.labels == ((168, 169),) and len(videos.class_names) == 487
    assert videos.missing == ("https://www.youtube.com/watch?v=absent00000",)


def test_prepared_shards_round_trip_resume_and_fit(tmp_path, video_folder):
    videos = data.VideoList(
        paths=tuple(str(video_folder / c / f"v{v}.mp4") for c in ("archery", "bowling", "curling") for v in range(3)),
        labels=tuple((l,) for l in range(3) for _ in range(3)),
        class_names=("archery", "bowling", "curling"),
    )
    out = str(tmp_path / "shards")
    index = data.prepare_shards(
        videos, out, num_frames=4, image_size=SIZE, clips_per_video=2, resize_to=SIZE, num_files=3,
        seed=0, num_workers=1, verbose=False,
    )
    assert index["clips"] == 18 and index["complete"]
    files = sorted(os.listdir(out))
    assert files == sorted(
        [f"clips-0000{i}-of-00003.{ext}" for i in range(3) for ext in ("json", "tfrecord")] + ["shards.json"]
    )
    ds = data.shard_dataset(out, batch_size=None, augmentation="deferred", shuffle=False)
    assert len(ds) == 18 and ds.class_names == list(videos.class_names) and ds.videos is None
    for clip, label in ds:
        assert clip.shape == (4, SIZE, SIZE, 3)
        first = codes(clip)
        assert first == list(range(first[0], first[0] + 4))
    # A second run with the same settings keeps the complete shards.
    before = {f: os.path.getmtime(os.path.join(out, f)) for f in files if f.endswith(".tfrecord")}
    data.prepare_shards(
        videos, out, num_frames=4, image_size=SIZE, clips_per_video=2, resize_to=SIZE, num_files=3,
        seed=0, num_workers=1, verbose=False,
    )
    assert before == {f: os.path.getmtime(os.path.join(out, f)) for f in before}
    batched = data.shard_dataset(out, batch_size=4, seed=1)
    model = ksn.EarlyFusion(spec="C(4,5,2)-N-P-FC(8)", input_shape=(4, SIZE, SIZE, 3), classes=3)
    model.compile("sgd", "sparse_categorical_crossentropy")
    assert np.isfinite(model.fit(batched.as_tf_dataset(), steps_per_epoch=len(batched), epochs=1,
                                 verbose=0).history["loss"][0])
    assert json.load(open(os.path.join(out, "shards.json")))["settings"]["num_frames"] == 4


def _shard_videos(video_folder):
    return data.read_video_folder(str(video_folder))


def test_interrupted_prepare_leaves_whole_shards_and_resumes_to_the_same_bytes(tmp_path, video_folder, monkeypatch):
    from keras_sportsnet.data import shards

    videos = _shard_videos(video_folder)
    kwargs = dict(num_frames=3, image_size=SIZE, clips_per_video=2, resize_to=SIZE, num_files=3, seed=5,
                  num_workers=1, verbose=False)
    reference = str(tmp_path / "reference")
    data.prepare_shards(videos, reference, **kwargs)

    out = str(tmp_path / "interrupted")
    real = shards._sample_video

    def dies_in_shard_1(path, *args):
        if videos.paths.index(path) % 3 == 1:
            raise KeyboardInterrupt  # the job is killed while writing shard 1
        return real(path, *args)

    monkeypatch.setattr(shards, "_sample_video", dies_in_shard_1)
    with pytest.raises(KeyboardInterrupt):
        data.prepare_shards(videos, out, **kwargs)
    left = sorted(os.listdir(out))
    assert "shards.json" not in left
    assert "clips-00000-of-00003.json" in left and "clips-00001-of-00003.json" not in left
    with pytest.raises(ValueError, match="interrupted, run it again"):
        data.shard_dataset(out)

    monkeypatch.setattr(shards, "_sample_video", real)
    kept = os.path.getmtime(os.path.join(out, "clips-00000-of-00003.tfrecord"))
    index = data.prepare_shards(videos, out, **kwargs)
    assert index["complete"] and index["clips"] == 18
    assert os.path.getmtime(os.path.join(out, "clips-00000-of-00003.tfrecord")) == kept
    assert not [name for name in os.listdir(out) if "incomplete" in name]
    for shard in range(3):
        name = f"clips-0000{shard}-of-00003.tfrecord"
        assert open(os.path.join(out, name), "rb").read() == open(os.path.join(reference, name), "rb").read()


def test_prepare_redoes_shards_when_the_video_list_changes(tmp_path, video_folder):
    videos = _shard_videos(video_folder)
    kwargs = dict(num_frames=2, image_size=SIZE, resize_to=SIZE, num_files=2, seed=0, num_workers=1, verbose=False)
    out = str(tmp_path / "shards")
    data.prepare_shards(videos, out, **kwargs)
    fewer = data.VideoList(videos.paths[:-1], videos.labels[:-1], videos.class_names)
    index = data.prepare_shards(fewer, out, **kwargs)
    assert index["clips"] == len(videos) - 1
    assert len(data.shard_dataset(out, batch_size=None)) == len(videos) - 1


def test_independent_jobs_write_disjoint_shards_and_the_last_writes_the_index(tmp_path, video_folder):
    videos = _shard_videos(video_folder)
    kwargs = dict(num_frames=2, image_size=SIZE, resize_to=SIZE, num_files=3, seed=0, num_workers=1, verbose=False)
    out = str(tmp_path / "shards")
    first = data.prepare_shards(videos, out, shard=(2, 0), **kwargs)
    assert not first["complete"] and [s["file"] for s in first["shards"]] == [
        "clips-00000-of-00003.tfrecord", "clips-00002-of-00003.tfrecord"]
    assert not os.path.exists(os.path.join(out, "shards.json"))
    second = data.prepare_shards(videos, out, shard=(2, 1), **kwargs)
    assert second["complete"] and second["clips"] == len(videos)
    assert os.path.exists(os.path.join(out, "shards.json"))
    with pytest.raises(ValueError, match="shard"):
        data.prepare_shards(videos, out, shard=(2, 2), **kwargs)


def test_read_video_folder_labels_like_keras(tmp_path, video_folder):
    videos = data.read_video_folder(str(video_folder))
    assert videos.class_names == ("archery", "bowling", "curling")
    assert len(videos) == 9 and videos.labels[0] == (0,) and videos.labels[-1] == (2,)
    picked = data.read_video_folder(str(video_folder), class_names=["curling", "archery"])
    assert picked.class_names == ("curling", "archery") and len(picked) == 6
    assert all(l == (0,) for p, l in zip(picked.paths, picked.labels) if "/curling/" in p)
    unlabelled = data.read_video_folder(str(video_folder), labels=None)
    assert len(unlabelled) == 9 and set(unlabelled.labels) == {()}
    with pytest.raises(ValueError, match="not sub-folders"):
        data.read_video_folder(str(video_folder), class_names=["rowing"])
    with pytest.raises(ValueError, match="nowhere' does not exist"):
        data.read_video_folder(str(tmp_path / "nowhere"))
    (tmp_path / "a_file.txt").write_text("x")
    with pytest.raises(ValueError, match="is not a folder"):
        data.read_video_folder(str(tmp_path / "a_file.txt"))
