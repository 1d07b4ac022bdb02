"""evaluate_videos: the paper's clips x views protocol on decoding threads, checked against a direct computation.

Also: every input form (dataset, VideoList, folder, flat folder, file, list), defaults from the model's
preprocessor (a stand-in object until the models' preprocessor lands), damaged videos in the middle of a run
(skipped with every other result kept, or one VideoError; the process always exits), bounded read-ahead,
decoding overlapped with the model, labels matched to the model's classes, and crash-safe score files.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import keras
import numpy as np
import pytest

import keras_sportsnet as ksn
from keras_sportsnet.data import sampling
from keras_sportsnet.data.decoding import read_clips
from keras_sportsnet.testing.videos import index_frames
from keras_sportsnet.data.encoding import write_video
from keras_sportsnet.transforms import EvaluationViews
from keras_sportsnet.evaluation import EvaluationProtocol
from keras_sportsnet.evaluation import VideoScores
from keras_sportsnet.evaluation import runner
from keras_sportsnet.evaluation.runner import evaluate_videos
from keras_sportsnet.training import transfer
from keras_sportsnet.utils.files import TEMPORARY_MARK
from conftest import write_class_videos

pytestmark = pytest.mark.tensorflow_free  # also runs in the venv without TensorFlow (tests/backends)

SPEC = "C(4,5,2)-N-P-FC(8)"
REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def damaged_mjpeg(path, num_frames=60, bad_frame=33, seed=3):
    """An MJPEG AVI that probes fine but whose frame ``bad_frame`` cannot be decoded (one byte: a DQT table id of 5)."""
    write_video(path, index_frames(num_frames, 48, 64, seed=seed), codec="mjpeg")
    data = bytearray(open(path, "rb").read())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    table = data.index(b"\xff\xdb", starts[bad_frame])
    data[table + 4] = 0x05  # precision 0, table id 5: "invalid" for FFmpeg's MJPEG decoder
    open(path, "wb").write(bytes(data))
    return path


class StandIn:
    """A model seen through duck typing, with a preprocessor that has ``get_config()`` (the contract)."""

    def __init__(self, model, class_names=None, **config):
        self._model = model
        self.class_names = class_names
        self.preprocessor = type("Preprocessor", (), {"get_config": lambda _: dict(config)})()

    def __getattr__(self, name):
        return getattr(self._model, name)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_class_videos(tmp_path_factory.mktemp("eval_videos"), ["jump", "run", "swim"], 2,
                              lambda label, video: index_frames(30 + 5 * video, 48, 64, seed=label * 7 + video))


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    return ksn.SlowFusion(spec=SPEC, input_shape=(10, 32, 32, 3), classes=3)


@pytest.fixture(scope="module")
def mixed(folder, tmp_path_factory):
    """Six good videos and, in the middle, one that probes fine but fails while decoding."""
    root = tmp_path_factory.mktemp("mixed")
    paths = list(ksn.data.read_video_folder(str(folder)).paths)
    bad = damaged_mjpeg(str(root / "damaged.avi"))
    write_video(str(root / "spare.mp4"), index_frames(40, 48, 64, seed=99))
    return paths[:3] + [bad] + paths[3:]


def _ours(caught, text):
    """The warning of ours among those recorded (a backend may add its own DeprecationWarnings)."""
    return next(w for w in caught if issubclass(w.category, UserWarning) and text in str(w.message))


def _direct(model, path, index, clips, views, seed, resize_to=200):
    """The protocol computed directly: clips -> EvaluationViews -> model, log-probabilities (clips, views, C)."""
    info = ksn.data.probe_video(path)
    chosen = sampling.random_clips(info.num_frames, model, clips, [seed, index])
    frames = np.stack(read_clips(path, [list(c.indices) for c in chosen], short_side=resize_to))
    cut = np.round(keras.ops.convert_to_numpy(EvaluationViews((32, 32), resize_to=resize_to)(frames)))
    probabilities = keras.ops.convert_to_numpy(model.predict_on_batch(cut.astype("float32")))
    logits = np.log(np.maximum(probabilities, np.finfo(np.float32).tiny)).reshape(clips, 4, -1)
    return logits[:, :views]


def test_scores_equal_a_direct_computation_of_the_protocol(folder, model):
    scores = evaluate_videos(model, str(folder), clips_per_video=3, views=4, seed=5, batch_size=5, verbose=False)
    assert isinstance(scores, VideoScores) and scores.logits.shape == (6, 3, 4, 3)
    videos = ksn.data.read_video_folder(str(folder))
    assert list(scores.video_ids) == list(videos.paths) and list(scores.class_names) == ["jump", "run", "swim"]
    np.testing.assert_array_equal(scores.labels.argmax(axis=1), [l[0] for l in videos.labels])
    for index in (0, 4):
        np.testing.assert_allclose(scores.logits[index], _direct(model, videos.paths[index], index, 3, 4, 5),
                                   rtol=1e-4, atol=1e-5)
    # Frames larger than resize_to are scaled down while decoding (short side 40): the same as the direct path.
    with pytest.warns(UserWarning, match="resize_to=40"):
        small = evaluate_videos(model, str(folder), clips_per_video=2, views=4, seed=5, resize_to=40, verbose=False)
    np.testing.assert_allclose(small.logits[1], _direct(model, videos.paths[1], 1, 2, 4, 5, resize_to=40),
                               rtol=1e-4, atol=1e-5)
    metrics = scores.metrics()
    assert set(metrics) >= {"clip_hit@1", "video_hit@1", "video_hit@5", "mAP"}
    protocol = scores.metadata["protocol"]
    assert protocol["clips_per_video"] == 3 and protocol["resize_to"] == 200 and protocol["image_size"] == [32, 32]
    assert scores.metadata["videos_per_second"] > 0 and scores.metadata["skipped"] == {}
    assert 0 < scores.metadata["model_seconds"] <= scores.metadata["seconds"]


def test_an_ensemble_of_softmax_models_is_scored_as_probabilities(folder, model):
    other = ksn.SlowFusion(spec=SPEC, input_shape=(10, 32, 32, 3), classes=3)
    ensemble = ksn.CNNAverage([model, other])
    scores = evaluate_videos(ensemble, str(folder), clips_per_video=2, views=2, verbose=False)
    assert scores.metadata["outputs"] == "log-probabilities"
    np.testing.assert_allclose(np.exp(scores.logits).sum(axis=-1), 1.0, rtol=1e-5)
    one = evaluate_videos(model, str(folder), clips_per_video=2, views=2, verbose=False)
    two = evaluate_videos(other, str(folder), clips_per_video=2, views=2, verbose=False)
    np.testing.assert_allclose(np.exp(scores.logits), (np.exp(one.logits) + np.exp(two.logits)) / 2, atol=1e-5)


def test_fewer_views_are_the_first_views_and_the_seed_fixes_the_clips(folder, model):
    four = evaluate_videos(model, str(folder), clips_per_video=2, views=4, seed=1, verbose=False)
    two = evaluate_videos(model, str(folder), clips_per_video=2, views=2, seed=1, batch_size=3, workers=1,
                          verbose=False)
    np.testing.assert_allclose(two.logits, four.logits[:, :, :2], rtol=1e-5, atol=1e-6)
    other = evaluate_videos(model, str(folder), clips_per_video=2, views=1, seed=2, verbose=False)
    assert not np.allclose(other.logits[:, :, 0], four.logits[:, :, 0])


def test_evaluation_clip_seeds_come_from_the_one_key_module(folder, model, monkeypatch):
    """Issue 15: video i's clips are drawn from `keras_sportsnet.data.random.video_seed(seed, i)` (as in shards)."""
    from keras_sportsnet.data import random as keys

    calls = []
    real = keys.video_seed
    monkeypatch.setattr(keys, "video_seed", lambda seed, video: calls.append((seed, video)) or real(seed, video))
    scores = evaluate_videos(model, str(folder), clips_per_video=2, views=1, seed=7, workers=1, verbose=False)
    assert sorted(calls) == [(7, video) for video in range(6)]
    np.testing.assert_allclose(scores.logits[3], _direct(model, scores.video_ids[3], 3, 2, 1, 7),
                               rtol=1e-4, atol=1e-5)


def test_every_form_of_videos_gives_the_same_scores(folder, model, tmp_path):
    videos = ksn.data.read_video_folder(str(folder))
    reference = evaluate_videos(model, videos, clips_per_video=2, views=1, verbose=False)
    dataset = ksn.data.video_dataset_from_directory(str(folder), model=model, batch_size=2, verbose=False)
    from_dataset = evaluate_videos(model, dataset, clips_per_video=2, views=1, verbose=False)
    np.testing.assert_array_equal(from_dataset.logits, reference.logits)
    assert list(from_dataset.class_names) == dataset.class_names
    # A list of paths and a flat folder are unlabelled; the same clips (same positions in the list).
    from_list = evaluate_videos(model, list(videos.paths), clips_per_video=2, views=1, verbose=False)
    np.testing.assert_array_equal(from_list.logits, reference.logits)
    assert from_list.labels.sum() == 0 and list(from_list.video_ids) == list(videos.paths)
    flat = tmp_path / "flat"
    flat.mkdir()
    for number, path in enumerate(videos.paths[:2]):
        shutil.copy(path, flat / f"video_{number}.mp4")
    from_flat = evaluate_videos(model, str(flat), clips_per_video=2, views=1, verbose=False)
    assert from_flat.num_videos == 2 and from_flat.labels.sum() == 0
    single = evaluate_videos(model, videos.paths[0], clips_per_video=2, views=1, verbose=False)
    np.testing.assert_array_equal(single.logits[0], reference.logits[0])
    with pytest.raises(ValueError, match="does not exist"):
        evaluate_videos(model, str(tmp_path / "nothing"), verbose=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty holds no video files"):
        evaluate_videos(model, str(tmp_path / "empty"), verbose=False)
    with pytest.raises(ValueError, match="more than once"):
        evaluate_videos(model, [videos.paths[0], videos.paths[0]], verbose=False)
    with pytest.raises(TypeError, match="`videos` must be"):
        evaluate_videos(model, 3, verbose=False)


def test_loose_videos_beside_class_folders_are_reported(folder, model, tmp_path):
    root = tmp_path / "classes"
    shutil.copytree(folder, root)
    shutil.copy(ksn.data.read_video_folder(str(folder)).paths[0], root / "loose.mp4")
    with pytest.warns(UserWarning, match=r"1 video\(s\) directly inside it .*'loose.mp4'"):
        scores = evaluate_videos(model, str(root), clips_per_video=1, views=1, verbose=False)
    assert scores.num_videos == 6


def test_defaults_come_from_the_preprocessor_and_a_disagreeing_argument_warns(folder, model):
    stand_in = StandIn(model, resize_to=40, clips_per_video=2, views=3, num_frames=10, image_size=(32, 32))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        scores = evaluate_videos(stand_in, str(folder), verbose=False)
    assert scores.logits.shape == (6, 2, 3, 3)
    assert scores.metadata["protocol"]["resize_to"] == 40
    with pytest.warns(UserWarning, match=r"`resize_to=40` disagrees .* \(resize_to=200"):  # its own preprocessor's
        explicit = evaluate_videos(model, str(folder), clips_per_video=2, views=3, resize_to=40, verbose=False)
    np.testing.assert_array_equal(scores.logits, explicit.logits)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # fewer clips or views: the protocol's speed trade-off, no warning
        fewer = evaluate_videos(stand_in, str(folder), clips_per_video=1, views=1, verbose=False)
    assert fewer.logits.shape == (6, 1, 1, 3)
    with pytest.warns(UserWarning, match=r"`resize_to=200` disagrees with the model's preprocessor \(resize_to=40") as caught:
        other = evaluate_videos(stand_in, str(folder), resize_to=200, verbose=False)
    assert _ours(caught, "disagrees").filename == __file__  # the warning points at the caller's line
    assert other.metadata["protocol"]["resize_to"] == 200 and not np.allclose(other.logits, scores.logits)
    # A model built from scratch: its default preprocessor, the paper's protocol.
    protocol = EvaluationProtocol.for_model(model)
    assert (protocol.clips_per_video, protocol.views, protocol.resize_to) == (20, 4, (200, 200))
    with pytest.raises(ValueError, match=r"`resize_to` must be at least the model's frame size \(32, 32\)"):
        EvaluationProtocol.for_model(model, resize_to=16)
    with pytest.raises(ValueError, match=r"`views` must be an int in \[1, 4\]"):
        evaluate_videos(model, str(folder), views=5)


def test_labels_are_matched_to_the_model_classes_by_name(folder, model, tmp_path):
    videos = ksn.data.read_video_folder(str(folder))
    named = StandIn(model, class_names=["swim", "jump", "run"])
    scores = evaluate_videos(named, str(folder), clips_per_video=1, views=1, verbose=False)
    assert list(scores.class_names) == ["swim", "jump", "run"]
    expected = [["jump", "run", "swim"][l[0]] for l in videos.labels]
    assert [scores.class_names[i] for i in scores.labels.argmax(axis=1)] == expected
    subset = tmp_path / "subset"
    shutil.copytree(folder / "run", subset / "run")
    assert evaluate_videos(named, str(subset), clips_per_video=1, views=1, verbose=False).labels[:, 2].all()
    with pytest.raises(ValueError, match=r"classes \['jump', 'run', 'swim'\] are not classes .* Did you mean 'swam' for 'swim'\?"):
        evaluate_videos(StandIn(model, class_names=["a", "b", "swam"]), str(folder), verbose=False)
    two_outputs = ksn.SlowFusion(spec=SPEC, input_shape=(10, 32, 32, 3), classes=2)
    start = time.monotonic()
    with pytest.raises(ValueError, match="The videos have 3 classes but the model .* has 2"):
        evaluate_videos(two_outputs, str(folder), verbose=False)
    assert time.monotonic() - start < 5  # refused before any decoding


def test_a_damaged_video_is_skipped_and_every_other_result_kept(mixed, model, folder):
    with pytest.warns(UserWarning, match=r"Leaving 1 of 7 videos out") as caught:
        scores = evaluate_videos(model, mixed, clips_per_video=2, views=2, workers=2, verbose=False)
    assert "damaged.avi" in str(_ours(caught, "Leaving").message)
    assert list(scores.video_ids) == mixed[:3] + mixed[4:]
    assert set(scores.metadata["skipped"]) == {mixed[3]} and re.search("damaged|decod", scores.metadata["skipped"][mixed[3]])
    # The same list with a good video at the damaged one's place: the other rows are identical (clips are
    # keyed by position in the list).
    replaced = mixed[:3] + [os.path.join(os.path.dirname(mixed[3]), "spare.mp4")] + mixed[4:]
    clean = evaluate_videos(model, replaced, clips_per_video=2, views=2, verbose=False)
    np.testing.assert_array_equal(scores.logits, np.delete(clean.logits, 3, axis=0))
    with pytest.raises(ksn.data.VideoError, match="damaged.avi"):
        evaluate_videos(model, mixed, clips_per_video=2, views=2, on_error="raise", verbose=False)
    with pytest.raises(ValueError, match=r"No video could be evaluated: all 1 failed:\n  .*damaged.avi"):
        evaluate_videos(model, [mixed[3]], verbose=False)


def test_bad_and_short_videos_are_reported(folder, model, tmp_path):
    root = tmp_path / "mixed"
    shutil.copytree(folder, root)
    (root / "run" / "broken.mp4").write_bytes(b"\x00" * 100)
    write_video(str(root / "swim" / "short.mp4"), index_frames(4, 48, 64))
    with pytest.warns(UserWarning, match=r"Leaving 2 of 8 videos out") as caught:
        scores = evaluate_videos(model, str(root), clips_per_video=2, views=1, short_video_policy="skip",
                                 verbose=False)
    message = str(_ours(caught, "Leaving").message)
    assert "broken.mp4" in message and "short.mp4: too short" in message
    assert len(scores.video_ids) == 6 and len(scores.metadata["skipped"]) == 2
    # A folder listed as a video is reported with the others, never silently dropped.
    (root / "folder.mp4").mkdir()
    listing = ksn.data.VideoList((str(root / "folder.mp4"), scores.video_ids[0]), ((0,), (0,)), ("jump",))
    with pytest.warns(UserWarning, match=r"Leaving 1 of 2 videos out .*\n  .*folder.mp4: "):
        evaluate_videos(model, listing, clips_per_video=1, views=1, verbose=False)
    # A list whose file is missing: reported with the others (skip) or raised before any work (raise).
    listed = ksn.data.VideoList((scores.video_ids[0],), ((0,),), ("jump",), missing=(str(root / "gone.mp4"),))
    with pytest.warns(UserWarning, match=r"Leaving 1 of 2 videos out .*\n  .*gone.mp4: file not found"):
        found = evaluate_videos(model, listed, clips_per_video=1, views=1, verbose=False)
    assert found.num_videos == 1 and "gone.mp4" in next(iter(found.metadata["skipped"]))
    with pytest.raises(ksn.data.VideoError, match="gone.mp4: file not found"):
        evaluate_videos(model, listed, on_error="raise", verbose=False)
    with pytest.raises(ValueError, match=r"lists 1 file\(s\), none of which exists"):
        evaluate_videos(model, ksn.data.VideoList((), (), (), missing=("gone.mp4",)), verbose=False)


SCRIPT = """
import os, sys, warnings
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
import keras_sportsnet as ksn
paths = sys.argv[2:]
keras.utils.set_random_seed(0)
model = ksn.SlowFusion(spec={spec!r}, input_shape=(10, 32, 32, 3), classes=3)
if sys.argv[1] == "caught":
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = ksn.evaluate_videos(model, paths, clips_per_video=2, views=2, verbose=False)
    print("skip", scores.num_videos, len(scores.metadata["skipped"]), sum(w.category is UserWarning for w in caught))
    predictions = ksn.predict_video(paths, model=model, clips_per_video=2, views=2)
    print("predict", sum(p.ok for p in predictions), [p.path for p in predictions if not p.ok])
    try:
        ksn.evaluate_videos(model, paths, clips_per_video=2, views=2, on_error="raise", verbose=False)
    except ksn.data.VideoError as error:
        print("raised", type(error).__name__, os.path.basename(error.path))
else:
    ksn.evaluate_videos(model, paths, clips_per_video=2, views=2, on_error="raise", verbose=False)
"""


def _run_script(tmp_path, mode, paths, timeout=240):
    script = tmp_path / "evaluate_script.py"
    script.write_text(SCRIPT.format(spec=SPEC))
    environment = {**os.environ, "PYTHONPATH": REPOSITORY + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.monotonic()
    done = subprocess.run([sys.executable, str(script), mode, *paths], capture_output=True, text=True,
                          timeout=timeout, env=environment)
    return done, time.monotonic() - start


def test_a_damaged_video_in_a_subprocess_neither_hangs_nor_prints_a_framework_traceback(mixed, tmp_path):
    done, seconds = _run_script(tmp_path, "caught", mixed)
    assert done.returncode == 0 and seconds < 200, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "skip 6 1 1" and lines[1] == f"predict 6 [{mixed[3]!r}]"
    assert lines[2] == "raised VideoError damaged.avi"
    assert "Traceback" not in done.stderr and "InvalidArgumentError" not in done.stderr
    # Uncaught: the process ends at once with the one VideoError (exit code 1), not a hang.
    done, seconds = _run_script(tmp_path, "uncaught", mixed)
    assert done.returncode == 1 and seconds < 200 and "VideoError: " in done.stderr and "damaged.avi" in done.stderr.splitlines()[-1]
    assert done.stderr.count("Traceback") == 1 and "tensorflow" not in done.stderr.lower().split("traceback")[-1]


def test_decoding_reads_ahead_a_bounded_number_of_videos_and_overlaps_the_model(folder, model, monkeypatch):
    listing = list(ksn.data.read_video_folder(str(folder)).paths)
    state = {"decoding": 0, "decoded": 0, "consumed": 0, "ahead": 0, "overlaps": 0}
    lock = threading.Lock()
    decode = runner.decode_video

    def slow_decode(path, index, protocol, **options):
        with lock:
            state["decoding"] += 1
        try:
            time.sleep(0.05)
            return decode(path, index, protocol, **options)
        finally:
            with lock:
                state["decoding"] -= 1
                state["decoded"] += 1
                state["ahead"] = max(state["ahead"], state["decoded"] - state["consumed"])

    class Slow(StandIn):
        def predict_on_batch(self, batch):
            with lock:
                state["overlaps"] += state["decoding"] > 0
            time.sleep(0.05)
            result = self._model.predict_on_batch(batch)
            with lock:
                state["consumed"] += 1  # one video per batch below (batch_size == views per video)
            return result

    monkeypatch.setattr(runner, "decode_video", slow_decode)
    scores = evaluate_videos(Slow(model), listing, clips_per_video=2, views=2, batch_size=4, workers=1,
                             verbose=False)
    assert scores.num_videos == 6
    assert state["ahead"] <= 1 + 2 + 1  # workers + 2 queued, plus the batch in the model
    assert state["overlaps"] >= 2  # the next videos were decoded while the model ran


def test_scores_stream_to_disk_and_load_back(folder, model, tmp_path):
    path = str(tmp_path / "scores" / "slow.npz")
    scores = evaluate_videos(model, str(folder), clips_per_video=2, views=1, seed=0, scores_path=path, verbose=False)
    assert os.path.exists(path) and os.path.exists(path[:-4] + ".npy")
    assert sorted(os.listdir(tmp_path / "scores")) == ["slow.npy", "slow.npz"]
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o666 & ~_umask())  # normal permissions, not mkstemp's 0600
    loaded = VideoScores.load(path)
    np.testing.assert_array_equal(loaded.logits, np.asarray(scores.logits))
    np.testing.assert_array_equal(np.load(path[:-4] + ".npy"), loaded.logits)
    assert loaded.metrics() == scores.metrics()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_score_files_of_failed_videos_hold_only_the_kept_rows(mixed, model, tmp_path):
    path = str(tmp_path / "mixed.npz")
    with pytest.warns(UserWarning, match="Leaving 1 of 7"):
        scores = evaluate_videos(model, mixed, clips_per_video=2, views=2, scores_path=path, verbose=False)
    on_disk = np.load(path[:-4] + ".npy")
    assert on_disk.shape == (6, 2, 2, 3)
    np.testing.assert_array_equal(on_disk, scores.logits)
    np.testing.assert_array_equal(VideoScores.load(path).logits, scores.logits)


def test_an_interrupted_evaluation_leaves_nothing_and_a_killed_one_is_cleaned_on_the_next_start(folder, model,
                                                                                                tmp_path):
    path = str(tmp_path / "run" / "scores.npz")

    class Failing(StandIn):
        calls = 0

        def predict_on_batch(self, batch):
            Failing.calls += 1
            if Failing.calls == 2:
                raise RuntimeError("interrupted")
            return self._model.predict_on_batch(batch)

    with pytest.raises(RuntimeError, match="interrupted"):
        evaluate_videos(Failing(model), str(folder), clips_per_video=2, views=1, batch_size=2, scores_path=path,
                        verbose=False)
    assert os.listdir(tmp_path / "run") == []
    # A kill -9 in the middle of the run leaves a temporary .npy; an older crash left a .npy without its .npz.
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(f"""
        import os, signal, keras, keras_sportsnet as ksn
        model = ksn.SlowFusion(spec={SPEC!r}, input_shape=(10, 32, 32, 3), classes=3)
        original = model.predict_on_batch
        calls = []
        def predict_on_batch(batch):
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return original(batch)
        model.predict_on_batch = predict_on_batch
        ksn.evaluate_videos(model, {str(folder)!r}, clips_per_video=2, views=1, batch_size=2,
                            scores_path={path!r}, verbose=False)
    """))
    environment = {**os.environ, "PYTHONPATH": REPOSITORY + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240, env=environment)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    leftovers = os.listdir(tmp_path / "run")
    assert len(leftovers) == 1 and leftovers[0].startswith(".scores.npy.") and TEMPORARY_MARK in leftovers[0]
    np.save(str(tmp_path / "run" / "scores.npy"), np.zeros(3))  # the orphan of an older version's crash
    other = tmp_path / "run" / ".other.npy.0123abcd.incomplete.npy"  # not this path's: left alone
    other.write_bytes(b"")
    evaluate_videos(model, str(folder), clips_per_video=2, views=1, scores_path=path, verbose=False)
    assert sorted(os.listdir(tmp_path / "run")) == [other.name, "scores.npy", "scores.npz"]
    assert np.load(str(tmp_path / "run" / "scores.npy")).shape == (6, 2, 1, 3)


def test_an_unwritable_scores_path_is_refused_before_the_work(folder, model, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="`scores_path`"):
        evaluate_videos(model, str(folder), scores_path=str(blocker / "scores.npz"), verbose=False)


@pytest.mark.slow
def test_evaluation_and_prediction_need_no_tensorflow(folder, tmp_path):
    script = tmp_path / "no_tensorflow.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "tensorflow":
                    raise ImportError("TensorFlow is blocked in this test")
        sys.meta_path.insert(0, Block())
        import keras, keras_sportsnet as ksn
        assert keras.backend.backend() == "jax"
        model = ksn.SlowFusion(spec={SPEC!r}, input_shape=(10, 32, 32, 3), classes=3)
        scores = ksn.evaluate_videos(model, {str(folder)!r}, clips_per_video=2, views=2, verbose=False)
        predictions = ksn.predict_video({str(folder)!r}, model=model, clips_per_video=2, top_k=2)
        print(scores.logits.shape, len(predictions), predictions[0].top_k[0][0], "tensorflow" in sys.modules)
    """))
    environment = {**os.environ, "KERAS_BACKEND": "jax",
                   "PYTHONPATH": REPOSITORY + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("(6, 2, 2, 3) 6 ") and last.endswith(" False"), last


def test_transfer_regimes_freeze_the_right_layers_and_copy_the_weights(model):
    expected_trainable = {
        "top": {"predictions"},
        "top3": {"fc_0", "predictions"},
        "all": {"full_0_conv", "fc_0", "predictions"},
        "scratch": {"full_0_conv", "fc_0", "predictions"},
    }
    for regime, trainable in expected_trainable.items():
        tuned = transfer.transfer_model(model, 5, regime=regime)
        names = {v.path.split("/")[-2] for v in tuned.trainable_variables}
        assert names == trainable, regime
        copied = np.array_equal(tuned.backbone.get_layer("full_0_conv").get_weights()[0],
                                model.backbone.get_layer("full_0_conv").get_weights()[0])
        assert copied == (regime != "scratch"), regime
        assert tuned.num_classes == 5 and tuned.dropout == pytest.approx(transfer.DEFAULT_TRANSFER_DROPOUT)
        has_fc_dropout = any(layer.name == "fc_0_dropout" for layer in tuned.backbone.layers)
        assert has_fc_dropout == (regime != "top"), regime
    with pytest.raises(ValueError, match=r"`regime` must be one of \['top', 'top3', 'all', 'scratch'\]"):
        transfer.transfer_model(model, 5, regime="half")
