"""scan_videos and its manifest, and the `keras-sportsnet scan` / `prepare` commands."""

import json
import os

import numpy as np
import pytest

from keras_sportsnet import data
from keras_sportsnet.cli import main
from keras_sportsnet.data import decoding
from keras_sportsnet.testing.videos import frame_code
from keras_sportsnet.testing.videos import index_frames
from keras_sportsnet.data.encoding import write_video

SIZE = 48


@pytest.fixture()
def collection(tmp_path):
    """Two classes of good videos plus every kind of bad file a scan must report."""
    root = tmp_path / "videos"
    for label, name in enumerate(("diving", "rowing")):
        os.makedirs(root / name)
        for video in range(2):
            write_video(str(root / name / f"v{video}.mp4"), index_frames(24 + 4 * video, SIZE, SIZE, seed=label))
    write_video(str(root / "rowing" / "short.mp4"), index_frames(3, SIZE, SIZE))
    (root / "rowing" / "empty.mp4").write_bytes(b"")
    (root / "diving" / "notes.avi").write_text("not a video\n" * 50)
    (root / "diving" / "readme.txt").write_text("not picked up: not a video extension")
    return root


def test_report_lists_every_bad_file_with_its_reason(collection):
    report = data.scan_videos(str(collection), min_frames=10, verbose=False)
    assert report.total == 7 and len(report.good) == 4
    reasons = {os.path.basename(path): reason for path, reason in report.bad}
    assert set(reasons) == {"short.mp4", "empty.mp4", "notes.avi"}
    assert "too short: 3 frames" in reasons["short.mp4"]
    assert "empty file" in reasons["empty.mp4"] and "not a video" in reasons["notes.avi"]
    assert [info.num_frames for info in report.good] == [24, 28, 24, 28]
    text = str(report)
    assert text.startswith("Scanned 7 files: 4 good, 3 bad") and "notes.avi: not a video" in text
    again = data.ScanReport.from_json(report.to_json())
    assert again.good == report.good and again.bad == report.bad


def test_manifest_is_reused_while_files_are_unchanged(collection, tmp_path, monkeypatch):
    manifest = str(tmp_path / "manifest.json")
    first = data.scan_videos(str(collection), manifest=manifest, verbose=False)
    assert first.reused == 0 and json.load(open(manifest))["version"] == data.scan.MANIFEST_VERSION
    probes = []
    real = decoding.PyAVDecoder._build_index
    monkeypatch.setattr(decoding.PyAVDecoder, "_build_index", lambda self, p, *a: probes.append(p) or real(self, p, *a))
    decoding.get_decoder().cache_clear()
    second = data.scan_videos(str(collection), manifest=manifest, verbose=False)
    # Everything but the empty file (rejected by a stat alone, never stored) comes from the manifest.
    assert probes == [] and second.reused == first.total - 1
    assert second.good == first.good and second.bad == first.bad
    # A changed file is probed again; the others still come from the manifest.
    changed = str(collection / "diving" / "v0.mp4")
    write_video(changed, index_frames(40, SIZE, SIZE))
    os.utime(changed, ns=(10**18, 10**18))
    third = data.scan_videos(str(collection), manifest=manifest, verbose=False)
    assert probes == [changed] and third.reused == first.total - 2
    assert {i.path: i.num_frames for i in third.good}[changed] == 40
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_unreadable_manifest_is_rebuilt_with_a_warning(collection, tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{ half a manifest")
    with pytest.warns(UserWarning, match="Ignoring unreadable scan manifest"):
        report = data.scan_videos(str(collection), manifest=str(manifest), verbose=False)
    assert report.reused == 0 and json.load(open(manifest))["entries"]


def test_listed_files_are_probed_whatever_their_name_and_missing_ones_reported(collection, tmp_path):
    named_oddly = tmp_path / "clip.data"
    write_video(str(tmp_path / "clip.mp4"), index_frames(12, SIZE, SIZE))
    os.rename(tmp_path / "clip.mp4", named_oddly)
    report = data.scan_videos([str(named_oddly), str(tmp_path / "gone.mp4")], verbose=False)
    assert [info.num_frames for info in report.good] == [12]
    assert report.bad == [(str(tmp_path / "gone.mp4"), "file not found")]
    with pytest.raises(ValueError, match="min_frames"):
        data.scan_videos(str(collection), min_frames=-1)


def test_a_missing_folder_is_an_error_naming_it(tmp_path):
    missing = str(tmp_path / "no_such_dir")
    for argument in (missing, [missing + "/"], [str(tmp_path / "videos")]):
        with pytest.raises(FileNotFoundError, match="does not exist") as caught:
            data.scan_videos(argument, verbose=False)
        assert "no_such_dir" in str(caught.value) or "videos" in str(caught.value)


def _damage_keyframe(path, destination, frame_number):
    """Zeroes the middle of the keyframe packet shown as ``frame_number`` (an MP4 sample)."""
    import av

    with av.open(path) as container:
        packets = [(p.pos, p.size, p.pts) for p in container.demux(container.streams.video[0]) if p.size]
    pts = sorted(p[2] for p in packets)[frame_number]
    position, size, _ = next(p for p in packets if p[2] == pts)
    data = bytearray(open(path, "rb").read())
    data[position + size // 3 : position + size // 3 + 24] = bytes(24)
    with open(destination, "wb") as file:
        file.write(bytes(data))
    return str(destination)


def test_scan_decodes_a_few_frames_so_damage_there_is_reported_up_front(tmp_path):
    """The probe is a decodability test: a damaged keyframe in the middle is found by the scan, not by training."""
    good = write_video(str(tmp_path / "good.mp4"), index_frames(60, SIZE, SIZE), keyframe_interval=10)
    bad = _damage_keyframe(good, tmp_path / "bad.mp4", 30)
    report = data.scan_videos([good, bad], verbose=False)
    assert [info.path for info in report.good] == [good]
    [(path, reason)] = report.bad
    assert path == bad and reason.startswith("damaged: frame 30 (at 1.20 s) cannot be decoded correctly")
    keep, counts, problems, _ = data.scan.usable_videos([good, bad], span=4)
    assert keep == [0] and counts == [60] and problems == {bad: reason}


def test_every_listed_path_is_usable_or_a_problem(collection, tmp_path):
    """A folder (or FIFO) named in a list is a problem with its reason, never walked, never dropped silently."""
    folder = str(collection / "diving")
    fifo = str(tmp_path / "pipe.mp4")
    os.mkfifo(fifo)
    video = str(collection / "rowing" / "v0.mp4")
    keep, counts, problems, _ = data.scan.usable_videos([folder, video, fifo], span=4, verbose=False)
    assert keep == [1] and counts == [24]
    assert "is a directory" in problems[folder] and "named pipe" in problems[fifo]


def test_scan_command_prints_the_report_writes_json_and_strict_fails(collection, tmp_path, capsys):
    out = str(tmp_path / "report.json")
    assert main(["scan", str(collection), "--min-frames", "10", "--json", out, "--quiet"]) == 1  # bad files found
    printed = capsys.readouterr().out
    assert "Scanned 7 files: 4 good, 3 bad" in printed and "short.mp4: too short" in printed
    assert len(json.load(open(out))["bad"]) == 3
    good = [str(collection / "diving" / "v0.mp4")]
    assert main(["scan", *good, "--quiet"]) == 0


def test_prepare_command_writes_shards_a_reader_reads(collection, tmp_path, capsys):
    out = str(tmp_path / "shards")
    code = main(["prepare", str(collection), out, "--num-frames", "4", "--image-size", "40",
                 "--resize-to", str(SIZE), "--clips-per-video", "2", "--num-files", "2", "--workers", "1",
                 "--short-video-policy", "skip", "--seed", "3"])
    assert code == 1  # finished, but 3 videos were skipped
    printed = capsys.readouterr().out
    assert "Wrote 8 clips in 2 files" in printed and "3 video(s) skipped" in printed
    ds = data.shard_dataset(out, batch_size=None, augmentation="deferred", shuffle=False)
    assert ds.class_names == ["diving", "rowing"]
    for clip, label in ds:
        first = frame_code(np.asarray(clip[0]))
        assert [frame_code(np.asarray(f)) for f in clip] == list(range(first, first + 4))
    index = json.load(open(os.path.join(out, "shards.json")))
    assert index["settings"]["image_size"] == [40, 40] and index["clips"] == 8


def test_prepare_command_takes_the_geometry_of_a_fusion(collection, tmp_path, capsys):
    out = str(tmp_path / "late")
    assert main(["prepare", str(collection), out, "--fusion", "late", "--resolution", "multires",
                 "--num-files", "1", "--resize-to", "200", "--workers", "1"]) == 1  # 2 videos skipped
    settings = json.load(open(os.path.join(out, "shards.json")))["settings"]
    assert (settings["num_frames"], settings["frame_stride"], settings["image_size"]) == (2, 15, [178, 178])
    assert main(["prepare", str(collection), out, "--fusion", "sideways"]) == 2
    assert "--fusion" in capsys.readouterr().err
    assert main(["prepare", str(tmp_path / "nowhere"), out, "--num-frames", "2"]) == 2
    assert "nowhere does not exist" in capsys.readouterr().err


def test_a_listed_directory_or_missing_file_is_reported_not_dropped(collection, tmp_path):
    """Issue 13.9h: a CSV list (read with the default check_files=True) naming a directory and a missing file: the
    dataset warns naming both and counts them as skipped; evaluation says 'is a directory', not 'not found'."""
    import warnings

    import keras_sportsnet as ksn

    (tmp_path / "dir.mp4").mkdir()
    good = [str(collection / "diving" / "v0.mp4"), str(collection / "rowing" / "v0.mp4")]
    listing = tmp_path / "list.csv"
    listing.write_text(f"{good[0]},diving\n{tmp_path / 'dir.mp4'},diving\n{good[1]},rowing\n"
                       f"{tmp_path / 'gone.mp4'},rowing\n")
    videos = data.read_video_list(str(listing))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = data.video_dataset_from_list(videos, num_frames=4, image_size=SIZE, resize_to=SIZE, batch_size=2,
                                          verbose=False)
    messages = [str(w.message) for w in caught if "Skipping" in str(w.message)]
    assert len(messages) == 1 and messages[0].startswith("Skipping 2 of 4 videos:"), [str(w.message) for w in caught]
    assert f"{tmp_path / 'dir.mp4'}: is a directory, not a video file" in messages[0]
    assert f"{tmp_path / 'gone.mp4'}: file not found" in messages[0]
    assert "2 files, 2 skipped" in repr(ds) and set(ds.skipped) == {str(tmp_path / "dir.mp4"), str(tmp_path / "gone.mp4")}
    from keras_sportsnet.evaluation.runner import missing_videos

    reasons = missing_videos(videos, "skip")
    assert reasons[str(tmp_path / "dir.mp4")].startswith("is a directory, not a video file")
    assert reasons[str(tmp_path / "gone.mp4")].startswith("file not found")
    del ksn
