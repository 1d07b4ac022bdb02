"""Prepare and shards under faults (issue 17, items 9-11): workers die with their parent and leave Ctrl-C to it,
concurrent prepares do not collide, and the reader checks every shard against the manifest, naming the bad one."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import tensorflow as tf

from keras_sportsnet import data
from keras_sportsnet.data.encoding import write_video
from keras_sportsnet.testing.videos import index_frames

SIZE = 32
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KWARGS = dict(num_frames=2, image_size=SIZE, resize_to=SIZE, clips_per_video=2, num_files=3, seed=0, verbose=False)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("shard_videos")
    paths = []
    for v in range(6):
        paths.append(str(root / f"v{v}.mp4"))
        write_video(paths[-1], index_frames(12, SIZE, SIZE, seed=v))
    return data.VideoList(tuple(paths), tuple((v % 2,) for v in range(6)), ("even", "odd"))


def _prepared(videos, folder):
    index = data.prepare_shards(videos, str(folder), num_workers=1, **KWARGS)
    assert index["complete"] and all(s["bytes"] > 0 for s in index["shards"])
    return index


def test_two_concurrent_prepares_into_one_folder_do_not_collide(videos, tmp_path):
    reference = tmp_path / "reference"
    _prepared(videos, reference)
    out = tmp_path / "shared"
    errors = []

    def run():
        try:
            data.prepare_shards(videos, str(out), num_workers=1, **KWARGS)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    names = sorted(os.listdir(out))
    assert not [n for n in names if "incomplete" in n]
    for name in names:
        if name.endswith(".tfrecord"):
            assert (out / name).read_bytes() == (reference / name).read_bytes()
    assert len(data.shard_dataset(str(out), batch_size=None)) == 12


def test_an_emptied_or_cut_shard_is_refused_before_training_naming_it(videos, tmp_path):
    out = tmp_path / "shards"
    _prepared(videos, out)
    shard = out / "clips-00001-of-00003.tfrecord"
    original = shard.read_bytes()
    first_record = 16 + int.from_bytes(original[:8], "little")  # length, length crc, data, data crc
    for damaged in (b"", original[:first_record], original[:-7]):
        shard.write_bytes(damaged)
        with pytest.raises(ValueError, match=r"(?s)clips-00001-of-00003.tfrecord: \d+ bytes, the manifest lists "
                                             rf"{len(original)}.*run prepare again"):
            data.shard_dataset(str(out), batch_size=None)
    os.remove(shard)
    with pytest.raises(ValueError, match=r"clips-00001-of-00003.tfrecord: missing"):
        data.shard_dataset(str(out), batch_size=None)


def test_a_shard_that_gives_another_clip_count_stops_naming_it(videos, tmp_path):
    out = tmp_path / "shards"
    _prepared(videos, out)
    shard = out / "clips-00002-of-00003.tfrecord"
    original = shard.read_bytes()
    first_record = 16 + int.from_bytes(original[:8], "little")
    # A manifest from before sizes were recorded: only the count read back can tell.
    index = json.loads((out / "shards.json").read_text())
    for record in index["shards"]:
        record.pop("bytes")
    (out / "shards.json").write_text(json.dumps(index))
    shard.write_bytes(original[:first_record])  # cut at a record boundary: 1 of its 4 clips
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"keras_sportsnet: shard .*clips-00002-of-00003"
                                                             r".tfrecord is damaged: it gave 1 clips, its manifest"
                                                             r" lists 4"):
        list(data.shard_dataset(str(out), batch_size=None, shuffle=False).one_pass(0))
    # Same size, one flipped byte inside a record's data: the record's CRC fails; the count names the shard.
    flipped = bytearray(original)
    flipped[first_record // 2] ^= 0xFF
    shard.write_bytes(bytes(flipped))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"clips-00002-of-00003.tfrecord is damaged: it gave [0-3] clips"):
        list(data.shard_dataset(str(out), batch_size=None, shuffle=False).one_pass(0))
    shard.write_bytes(original)
    assert len(list(data.shard_dataset(str(out), batch_size=None).one_pass(0))) == 12


def test_training_on_a_damaged_shard_raises_our_shard_error_not_tensorflows_framing(videos, tmp_path):
    import keras_sportsnet as ksn

    out = tmp_path / "shards"
    _prepared(videos, out)
    shard = out / "clips-00002-of-00003.tfrecord"
    original = bytearray(shard.read_bytes())
    first_record = 16 + int.from_bytes(original[:8], "little")
    original[first_record // 2] ^= 0xFF  # same size, one flipped byte: only the clip count read back tells
    shard.write_bytes(bytes(original))
    model = ksn.EarlyFusion(spec="C(4,5,2)-N-P-FC(8)", input_shape=(2, SIZE, SIZE, 3), classes=2)
    train = data.shard_dataset(str(out), batch_size=4, seed=0)
    with pytest.raises(data.ShardError) as caught:
        ksn.training.train(model, train, run_dir=str(tmp_path / "run"), epochs=1, steps_per_epoch=3, verbose=0)
    message = str(caught.value)
    assert message.startswith("shard ") and "clips-00002-of-00003.tfrecord is damaged: it gave" in message
    assert "Graph execution" not in message and "node" not in message and caught.value.__suppress_context__


@pytest.mark.slow
def test_a_script_without_a_main_guard_prepares_with_worker_processes(videos, tmp_path):
    """Spawned workers used to re-run such a script, fail, and be replaced for ever (a hang)."""
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        from keras_sportsnet import data
        videos = data.VideoList({tuple(videos.paths)!r}, {tuple(videos.labels)!r}, {tuple(videos.class_names)!r})
        index = data.prepare_shards(videos, {str(tmp_path / "out")!r}, num_workers=2, parallelism="processes",
                                    num_frames=2, image_size={SIZE}, resize_to={SIZE}, clips_per_video=2,
                                    num_files=3, seed=0, verbose=False)
        print("complete", index["complete"])
    """))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env,
                            cwd=str(tmp_path))
    assert result.returncode == 0 and "complete True" in result.stdout, result.stderr[-3000:]
    assert "Traceback" not in result.stderr


def _children(pid):
    """The pids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


PREPARE = textwrap.dedent("""
    import sys
    from keras_sportsnet import data
    from keras_sportsnet.data.encoding import write_video
    from keras_sportsnet.testing.videos import index_frames

    folder, out = sys.argv[1], sys.argv[2]
    paths = []
    for v in range(8):  # long enough that the workers are busy when the parent is stopped
        paths.append(f"{folder}/v{v}.mp4")
        write_video(paths[-1], index_frames(240, 160, 120, seed=v))
    videos = data.VideoList(tuple(paths), tuple((v % 2,) for v in range(8)), ("even", "odd"))
    print("preparing", flush=True)
    try:
        data.prepare_shards(videos, out, num_frames=4, image_size=64, resize_to=96, clips_per_video=300,
                            num_files=4, num_workers=2, parallelism="processes", seed=0, verbose=False)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
""")


def _start_prepare(tmp_path):
    script = tmp_path / "prepare.py"
    script.write_text(PREPARE)
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path), str(tmp_path / "shards")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True)
    deadline = time.monotonic() + 180
    workers = []
    while time.monotonic() < deadline and len(workers) < 2:
        time.sleep(0.5)
        workers = [p for p in _children(process.pid) if "multiprocessing" in open(f"/proc/{p}/cmdline").read()
                   and "resource_tracker" not in open(f"/proc/{p}/cmdline").read()]
        assert process.poll() is None, process.communicate()
    assert len(workers) == 2, "the worker processes never started"
    time.sleep(3)  # the workers are decoding
    return process, _children(process.pid)


def _wait_gone(pids, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if _alive(p)]


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_killed_prepare(tmp_path):
    process, children = _start_prepare(tmp_path)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    left = _wait_gone(children, 30)  # a shard task here takes minutes: orphans would still be at work
    for pid in left:  # do not leave them behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} of {len(children)} worker/tracker processes outlived their parent"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_prepare_without_worker_tracebacks(tmp_path):
    process, children = _start_prepare(tmp_path)
    os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
    out, err = process.communicate(timeout=60)
    left = _wait_gone(children, 30)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert "interrupted" in out and not left
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
