"""Data at scale: shards on a non-local tf.io.gfile filesystem, per-host shares, a pure-TF reader,
prepare in worker processes, up-to-N clips per video, Sports-1M partitions and the by-video split."""

import hashlib
import json
import os
import socket
import uuid
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from keras_sportsnet import data
from keras_sportsnet.cli import main
from keras_sportsnet.data import lists
from keras_sportsnet.testing.videos import frame_code
from keras_sportsnet.testing.videos import index_frames
from keras_sportsnet.data.encoding import write_video

SIZE = 32
PY_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Eight short labelled videos of different lengths (frames encode their index)."""
    root = tmp_path_factory.mktemp("scale_videos")
    paths, labels = [], []
    for v in range(8):
        path = str(root / f"video{v}.mp4")
        write_video(path, index_frames(24 + 4 * v, SIZE, SIZE, seed=v), keyframe_interval=8)
        paths.append(path)
        labels.append((v % 2,))
    return data.VideoList(tuple(paths), tuple(labels), ("even", "odd"))


def _clip_digests(dataset):
    return Counter(hashlib.sha256(np.asarray(clip).tobytes() + np.asarray(label).tobytes()).hexdigest()
                   for clip, label in dataset)


def _records(files):
    """(video path, start) of every example in TFRecord files, in file order."""
    features = {"video_id": tf.io.FixedLenFeature([], tf.string), "start": tf.io.FixedLenFeature([], tf.int64)}
    out = []
    for record in tf.data.TFRecordDataset(files):
        example = tf.io.parse_single_example(record, features)
        out.append((example["video_id"].numpy().decode(), int(example["start"])))
    return out


def test_shards_on_an_in_memory_gfile_filesystem_and_disjoint_per_host_shares(videos):
    out = f"ram://ksn-{uuid.uuid4().hex}/shards"  # TensorFlow's in-memory filesystem: not a local path
    index = data.prepare_shards(videos, out, num_frames=3, image_size=SIZE, resize_to=SIZE, clips_per_video=2,
                                num_files=4, num_workers=2, seed=0, verbose=False)  # ram:// -> threads
    assert index["complete"] and index["clips"] == 16
    names = tf.io.gfile.listdir(out)
    assert "shards.json" in names and sum(n.endswith(".tfrecord") for n in names) == 4
    assert not [n for n in names if "incomplete" in n]  # every rename went through on ram://
    assert not os.path.exists(out) and not os.path.exists("ram:")

    full = _clip_digests(data.shard_dataset(out, batch_size=None, augmentation="deferred", shuffle=False))
    assert sum(full.values()) == 16 and max(full.values()) == 1
    for hosts in (2, 3, 4):
        shares = [data.shard_dataset(out, batch_size=None, augmentation="deferred", shuffle=False, shard=(hosts, i))
                  for i in range(hosts)]
        digests = [_clip_digests(s) for s in shares]
        assert sum(digests, Counter()) == full  # together every clip exactly once
        for i in range(hosts):
            assert len(shares[i]) == sum(digests[i].values()) > 0
            for j in range(i):
                assert not set(digests[i]) & set(digests[j])
    with pytest.raises(ValueError, match=r"shares of .* holds 4 files"):
        data.shard_dataset(out, shard=(5, 0))
    with pytest.raises(ValueError, match=r"shard_index < num_shards\. Received: shard=\(2, 2\)"):
        data.shard_dataset(out, shard=(2, 2))
    with pytest.raises(ValueError, match="ram:// folder"):
        data.prepare_shards(videos, out + "2", num_frames=3, image_size=SIZE, num_workers=2,
                            parallelism="processes", verbose=False)


def _host():
    """This host's name as prepare_shards writes it in temporary names (``.<file>.<host>-<pid>-<token>.incomplete``)."""
    return socket.gethostname().replace("-", "_").replace("/", "_")


def _graph_ops(dataset):
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(dataset._as_serialized_graph().numpy())
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops |= {node.op for node in function.node_def}
    return ops


def test_the_shard_reader_graph_has_no_python_functions(videos, tmp_path):
    out = str(tmp_path / "shards")
    data.prepare_shards(videos, out, num_frames=3, image_size=24, resize_to=SIZE, num_files=2, num_workers=1,
                        seed=0, verbose=False)
    ops = _graph_ops(data.shard_dataset(out, batch_size=4, seed=0, shard=(2, 1)).as_tf_dataset())  # paper augmentation
    assert {"TFRecordDataset", "DecodeJpeg"} <= ops and not ops & PY_OPS
    # The check can fail: the decode-on-the-fly reader calls PyAV through a Python function.
    decoding = data.video_dataset_from_list(videos, num_frames=3,
                                            image_size=24, resize_to=SIZE, batch_size=4, verbose=False)
    assert _graph_ops(decoding.as_tf_dataset()) & PY_OPS


def test_prepare_in_worker_processes_matches_one_process_and_resumes(videos, tmp_path):
    bad = str(tmp_path / "broken.mp4")
    with open(bad, "w") as f:
        f.write("not a video")
    listed = data.VideoList(videos.paths + (bad,), videos.labels + ((0,),), videos.class_names)
    kwargs = dict(num_frames=3, image_size=SIZE, resize_to=SIZE, clips_per_video=2, num_files=3, seed=4,
                  verbose=False)
    reference = str(tmp_path / "reference")
    data.prepare_shards(listed, reference, num_workers=1, **kwargs)
    out = str(tmp_path / "processes")
    with pytest.warns(UserWarning, match="skipped 1 video"):
        index = data.prepare_shards(listed, out, num_workers=2, parallelism="processes", **kwargs)
    assert index["complete"] and index["clips"] == 16 and list(index["skipped"]) == [bad]
    assert "not a video" in index["skipped"][bad]
    files = [f"clips-{i:05d}-of-00003.tfrecord" for i in range(3)]
    for name in files:
        assert open(os.path.join(out, name), "rb").read() == open(os.path.join(reference, name), "rb").read()

    # Lose two files (one with its done mark, one only half-written): the re-run redoes just those, in processes.
    kept = os.path.getmtime(os.path.join(out, files[0]))
    os.remove(os.path.join(out, "clips-00001-of-00003.json"))
    os.remove(os.path.join(out, "shards.json"))
    os.rename(os.path.join(out, files[2]), os.path.join(out, f".{files[2]}.{_host()}-999999-0a1b2c3d.incomplete"))
    with pytest.warns(UserWarning, match="skipped 1 video"):
        again = data.prepare_shards(listed, out, num_workers=2, parallelism="processes", **kwargs)
    assert again["complete"] and again["clips"] == 16
    assert os.path.getmtime(os.path.join(out, files[0])) == kept
    assert not [n for n in os.listdir(out) if "incomplete" in n]
    for name in files:
        assert open(os.path.join(out, name), "rb").read() == open(os.path.join(reference, name), "rb").read()


def test_up_to_max_clips_per_video_distinct_clips(videos, tmp_path):
    out = str(tmp_path / "capped")
    index = data.prepare_shards(videos, out, num_frames=4, frame_stride=2, image_size=SIZE, resize_to=SIZE,
                                max_clips_per_video=4, num_files=2, num_workers=1, seed=1, verbose=False)
    span = 7
    records = _records([os.path.join(out, s["file"]) for s in index["shards"]])
    per_video = Counter(path for path, _ in records)
    for v, path in enumerate(videos.paths):
        frames = 24 + 4 * v
        assert per_video[path] == min(4, frames // span)  # up to 4, fewer for short videos
        starts = [s for p, s in records if p == path]
        assert len(set(starts)) == len(starts) and max(starts) <= frames - span
    assert index["clips"] == sum(per_video.values()) and index["settings"]["max_clips_per_video"] == 4
    ds = data.shard_dataset(out, batch_size=None, augmentation="deferred", shuffle=False)
    for clip, _ in ds.one_pass(0).take(3):
        first = frame_code(np.asarray(clip[0]))
        assert [frame_code(np.asarray(f)) for f in clip] == [first + 2 * t for t in range(4)]
    with pytest.raises(ValueError, match="either `clips_per_video`.*Received: clips_per_video=2, max_clips_per_video=4"):
        data.prepare_shards(videos, out, num_frames=4, image_size=SIZE, clips_per_video=2, max_clips_per_video=4)
    with pytest.raises(ValueError, match="max_clips_per_video=0"):
        data.prepare_shards(videos, out, num_frames=4, image_size=SIZE, max_clips_per_video=0)


def test_by_video_split_is_seeded_stable_and_seventy_ten_twenty():
    ids = [f"yt{i:06d}" for i in range(20000)]
    parts = [data.video_split(i) for i in ids]
    counts = Counter(parts)
    assert abs(counts["train"] / 20000 - 0.7) < 0.015 and abs(counts["validation"] / 20000 - 0.1) < 0.01
    assert abs(counts["test"] / 20000 - 0.2) < 0.012
    assert parts == [data.video_split(i, seed=0) for i in ids]  # deterministic
    other = [data.video_split(i, seed=1) for i in ids]
    assert sum(a != b for a, b in zip(parts, other)) > 5000  # another seed, another split
    assert {data.video_split(i, fractions=(0, 0, 1)) for i in ids[:50]} == {"test"}
    with pytest.raises(ValueError, match=r"summing to 1.*Received: fractions=\(0\.7, 0\.2, 0\.2\)"):
        data.video_split("x", fractions=(0.7, 0.2, 0.2))

    paths = tuple(f"/videos/{i}.mp4" for i in ids[:300])
    listing = data.VideoList(paths, tuple((0,) for _ in paths), ("a",),
                             missing=tuple(f"https://www.youtube.com/watch?v={i}" for i in ids[300:400]))
    split = {s: data.split_videos(listing, s) for s in ("train", "validation", "test")}
    assert sorted(sum((split[s].paths for s in split), ())) == sorted(paths)
    assert sorted(sum((split[s].missing for s in split), ())) == sorted(listing.missing)
    for s, part in split.items():
        assert all(data.video_split(os.path.basename(p)[:-4]) == s for p in part.paths)
        assert all(data.video_split(m.rsplit("=", 1)[1]) == s for m in part.missing)
    # Adding videos never moves the others.
    grown = data.VideoList(paths + ("/videos/new1.mp4",), tuple((0,) for _ in range(301)), ("a",))
    assert set(split["test"].paths) <= set(data.split_videos(grown, "test").paths)
    with pytest.raises(ValueError, match="`subset` must be one of"):
        data.split_videos(listing, "val")


@pytest.fixture()
def sports1m(tmp_path):
    """A fake Sports-1M download: a partition file, videos flat and in label folders, some gone."""
    ids = [f"vid{i:04d}abc" for i in range(40)]
    by_part = {s: [i for i in ids if lists.video_split(i) == s] for s in ("train", "validation", "test")}
    present = by_part["test"][:2] + by_part["train"][:2] + by_part["validation"][:1]
    gone = by_part["test"][2:4] + by_part["train"][2:3]
    root = tmp_path / "sports1m"
    for n, video_id in enumerate(present):
        folder = root / ("" if n % 2 else f"label{n}")  # flat and nested layouts
        os.makedirs(folder, exist_ok=True)
        write_video(str(folder / f"{video_id}.mp4"), index_frames(20 + 10 * n, SIZE, SIZE, seed=n))
    partition = tmp_path / "train_partition.txt"
    partition.write_text("".join(f"https://www.youtube.com/watch?v={i} {n},{n + 1}\n"
                                 for n, i in enumerate(present + gone)))
    return root, partition, by_part, present, gone


def test_sports1m_partition_nested_layout_split_cap_and_missing_list(sports1m, tmp_path, capsys):
    root, partition, by_part, present, gone = sports1m
    videos = data.read_sports1m_partition([str(partition)], str(root))
    assert sorted(os.path.basename(p)[:-4] for p in videos.paths) == sorted(present)
    assert any(os.sep + "label0" + os.sep in p for p in videos.paths)
    assert len(videos.missing) == 3 and len(videos.class_names) == 487

    out = str(tmp_path / "test_shards")
    report = str(tmp_path / "report.json")
    code = main(["prepare", str(root), out, "--sports1m-partition", str(partition), "--split", "test",
                 "--num-frames", "4", "--image-size", "24", "--resize-to", str(SIZE), "--workers", "1",
                 "--report", report])
    assert code == 0
    captured = capsys.readouterr()
    assert "2 listed video(s) not found" in captured.err and "up to 100 clips" in captured.err
    assert "2 missing" in captured.out
    missing = open(os.path.join(out, "missing_videos.txt")).read().split()
    assert sorted(missing) == sorted(f"https://www.youtube.com/watch?v={i}" for i in by_part["test"][2:4])
    index = json.load(open(os.path.join(out, "shards.json")))
    assert index["settings"]["max_clips_per_video"] == 100
    kept = Counter(os.path.basename(p)[:-4] for p, _ in _records([os.path.join(out, s["file"]) for s in index["shards"]]))
    frames = {i: 20 + 10 * n for n, i in enumerate(present)}
    assert kept == {i: frames[i] // 4 for i in by_part["test"][:2]}  # only test videos, every clip that fits
    written = json.load(open(report))
    assert written["complete"] and written["clips"] == index["clips"] and sorted(written["missing"]) == sorted(missing)


def test_prepare_command_as_independent_jobs(sports1m, tmp_path, capsys):
    root, partition, *_ = sports1m
    out = str(tmp_path / "jobs")
    common = ["prepare", str(root), out, "--sports1m-partition", str(partition), "--num-frames", "2",
              "--image-size", "24", "--resize-to", str(SIZE), "--clips-per-video", "1", "--num-files", "3",
              "--workers", "1", "--num-shards", "2"]
    assert main(common + ["--shard-index", "1"]) == 0
    assert "in 1 of 3 files (shard 1 of 2)" in capsys.readouterr().out
    assert not os.path.exists(os.path.join(out, "shards.json"))
    assert main(common + ["--shard-index", "0"]) == 0
    assert "Wrote 5 clips in 3 files" in capsys.readouterr().out
    assert len(data.shard_dataset(out, batch_size=None)) == 5
    assert main(common + ["--shard-index", "2"]) == 2
    assert "shard_index < num_shards" in capsys.readouterr().err
