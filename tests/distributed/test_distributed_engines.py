"""Data-parallel training: several devices in one process, several JAX processes on 127.0.0.1, resume, failures.

Every multi-device or multi-process case runs tests/distributed_worker.py in
fresh interpreters (device counts, XLA flags and TF_CONFIG are fixed when a
backend starts), on free 127.0.0.1 ports, under hard timeouts, killing the
children by handle. The worker trains a tiny EarlyFusion with
`keras_sportsnet.training.train` on prepared shards. Every such case is in
the ``slow`` tier; those also marked ``distributed_slow`` (kill and resume,
per-process file shards, the experimental MultiWorkerMirroredStrategy patch)
take about as long again.
"""

import hashlib
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import keras_sportsnet as ksn
from keras_sportsnet import distributed
from keras_sportsnet.testing.videos import index_frames
from keras_sportsnet.data.encoding import write_video
from conftest import write_class_videos

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed_worker.py")
JOB_TIMEOUT = 300  # seconds, per job (all its processes)
TIGHT = 1e-5  # one device vs several: the same sums in another order


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """24 clips (3 classes x 4 videos x 2 clips) of 4 frames, in 4 shard files."""
    root = write_class_videos(tmp_path_factory.mktemp("dist_videos"), ["archery", "bowling", "curling"], 4,
                              lambda label, video: index_frames(12, 40, 40, seed=10 * label + video))
    out = str(tmp_path_factory.mktemp("dist_shards") / "shards")
    ksn.data.prepare_shards(ksn.data.read_video_folder(str(root)), out, num_frames=4, image_size=32, resize_to=40,
                            clips_per_video=2, num_files=4, seed=0, num_workers=1, verbose=False)
    return out


@pytest.fixture(scope="module")
def frame_shards(shards):
    """The same videos as one-frame clips, for the single-frame network the CLI builds by name."""
    out = os.path.join(os.path.dirname(shards), "frames")
    videos = os.path.join(os.path.dirname(os.path.dirname(shards)), "frame_videos")
    for label, name in enumerate(["archery", "bowling", "curling"]):
        os.makedirs(os.path.join(videos, name))
        for video in range(4):
            write_video(os.path.join(videos, name, f"v{video}.mp4"), index_frames(12, 40, 40, seed=10 * label + video))
    ksn.data.prepare_shards(ksn.data.read_video_folder(videos), out, num_frames=1, image_size=32, resize_to=40,
                            clips_per_video=2, num_files=4, seed=0, num_workers=1, verbose=False)
    return out


def _cli_train(shards, run_dir, *extra):
    return ["train", "--shards", shards, "--classes", "3", "--fusion", "single_frame", "--spec", "C(4,5,2)-N-P-FC(8)",
            "--image-size", "32", "--run-dir", str(run_dir), "--epochs", "2", "--steps-per-epoch", "2",
            "--batch-size", "8", "--learning-rate", "3e-4", "--seed", "0", *extra]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_job(commands, timeout=JOB_TIMEOUT, env=None):
    """Starts every command at once; returns [(returncode, output, seconds until exit)] by command.

    Children still running at ``timeout`` are killed (by handle) and reported with returncode None.
    """
    start = time.monotonic()
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, **(extra or {})})
             for command, extra in zip(commands, env or [None] * len(commands))]
    ended = [None] * len(procs)
    try:
        while any(e is None for e in ended) and time.monotonic() - start < timeout:
            for i, proc in enumerate(procs):
                if ended[i] is None and proc.poll() is not None:
                    ended[i] = time.monotonic() - start
            time.sleep(0.2)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    results = []
    for proc, seconds in zip(procs, ended):
        output, _ = proc.communicate()
        results.append((proc.returncode if seconds is not None else None, output, seconds))
    return results


def _worker(backend, shards, out, run_dir, *extra):
    return [sys.executable, WORKER, "--backend", backend, "--shards", shards, "--out", str(out),
            "--run-dir", str(run_dir), *map(str, extra)]


def _check(results):
    for returncode, output, _ in results:
        assert returncode == 0, "worker failed:\n" + "\n".join(output.splitlines()[-40:])


def _weights(path):
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def _report(path):
    with open(path) as file:
        return json.load(file)


def _committed_files(state):
    """What a consistent run folder's checkpoints/ holds: the last epoch's variables and the best epoch's weights."""
    return sorted([f"epoch-{state['epoch']:06d}.npz", f"best-epoch-{state['best_epoch']:06d}.weights.h5"])


def _max_diff(a, b):
    assert len(a) == len(b)
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def _jax_two_processes(shards, tmp, *extra, die=None):
    port = _free_port()
    commands = []
    for rank in range(2):
        args = ["--port", port, "--num-processes", 2, "--process-id", rank, *extra]
        if die and rank == die[0]:
            args += ["--die-at", die[1]]
        commands.append(_worker("jax", shards, tmp / "out", tmp / "run", *args))
    return _run_job(commands)


@pytest.fixture(scope="module")
def jax_reference(shards, tmp_path_factory):
    """One process, 2 fake JAX devices (DataParallel), then one device: same data, same global batch."""
    tmp = tmp_path_factory.mktemp("jax_reference")
    _check(_run_job([_worker("jax", shards, tmp / "out", tmp / "run", "--devices", 2)]))
    return tmp / "out"


@pytest.fixture(scope="module")
def jax_two_processes(shards, tmp_path_factory):
    """Two JAX processes joined on 127.0.0.1, fed the global batch, uninterrupted."""
    tmp = tmp_path_factory.mktemp("jax_two_processes")
    _check(_jax_two_processes(shards, tmp))
    return tmp


# ---------------------------------------------------------------------------------------------------- in process


def test_environment_is_read_keras_first_then_slurm():
    env = {"SLURM_NTASKS": "4", "SLURM_PROCID": "2", "SLURM_STEP_NODELIST": "gpu[07-10],cpu1"}
    assert distributed.cluster_from_environment(env) == {
        "job_addresses": "gpu07:12355", "num_processes": 4, "process_id": 2, "source": "slurm"}
    env.update(KERAS_DISTRIBUTION_JOB_ADDRESSES="10.0.0.1:1234", KERAS_DISTRIBUTION_NUM_PROCESSES="2",
               KERAS_DISTRIBUTION_PROCESS_ID="1")
    assert distributed.cluster_from_environment(env) == {
        "job_addresses": "10.0.0.1:1234", "num_processes": 2, "process_id": 1, "source": "keras"}
    assert distributed.cluster_from_environment({"SLURM_NTASKS": "1", "SLURM_STEP_NODELIST": "a"})["source"] is None
    with pytest.raises(ValueError, match="KERAS_DISTRIBUTION_NUM_PROCESSES.*'two'"):
        distributed.cluster_from_environment({"KERAS_DISTRIBUTION_NUM_PROCESSES": "two"})


def test_setup_checks_its_arguments_and_explicit_ones_win(monkeypatch):
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "1")
    monkeypatch.setenv("KERAS_DISTRIBUTION_JOB_ADDRESSES", "127.0.0.1:9")
    try:
        with pytest.raises(ValueError, match=r"`engine` must be one of .*Received: engine='downpour'"):
            distributed.setup("downpour")
        with pytest.raises(ValueError, match=r"process_id.*\[0, 2\).*Received: process_id=5"):
            distributed.setup("none", process_id=5)
        with pytest.raises(ValueError, match="runs in one process, but num_processes=2"):
            distributed.setup("none")  # the environment says 2 processes
        with pytest.raises(ValueError, match="keras-team/keras#20585"):
            distributed.setup()  # TensorFlow backend, several processes: MWMS only on request
        with pytest.raises(ValueError, match="needs the JAX backend"):
            distributed.setup("data_parallel", num_processes=1)
        with pytest.raises(ValueError, match="lists 3 addresses but num_processes=2"):
            distributed.setup("none", job_addresses="a:1,b:1,c:1")
        with pytest.raises(ValueError, match="input_sharding"):
            distributed.setup("none", num_processes=1, input_sharding="per_host")
        context = distributed.setup("none", num_processes=1)  # explicit beats the environment
        assert (context.process_count, context.is_chief, context.num_replicas) == (1, True, 1)
        assert distributed.current() is context and ksn.distributed is distributed
    finally:
        distributed.reset()
    assert distributed.current() is None


def test_batch_size_helpers_divide_or_say_why():
    context = distributed.DistributedContext(backend="jax", engine="data_parallel", process_count=2, process_index=1,
                                             num_replicas=8, local_num_replicas=4, input_sharding="per_process")
    assert context.global_batch_size(32) == 256 and context.per_replica_batch_size(256) == 32
    assert context.per_process_batch_size(256) == 128 and context.input_batch_size(256) == 128
    assert context.shard == (2, 1) and not context.is_chief
    with pytest.raises(ValueError, match="multiple of num_replicas=8. Received: global_batch_size=12"):
        context.per_replica_batch_size(12)
    with pytest.raises(ValueError, match=r"must be an int >= 1. Received: per_replica_batch_size=0"):
        context.global_batch_size(0)


def test_linear_scaling_rule_and_warmup_ramp():
    import keras

    assert distributed.linear_scaling(1e-3, 256) == pytest.approx(8e-3)
    assert distributed.linear_scaling(0.1, 64, reference_batch_size=256) == pytest.approx(0.025)
    with pytest.raises(ValueError, match="global_batch_size"):
        distributed.linear_scaling(1e-3, 0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(1.0), "mse")
    seen = []
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(
        float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))))
    x = np.zeros((6, 3), "float32")
    model.fit(x, x[:, :1], batch_size=1, epochs=1, verbose=0, callbacks=[distributed.LinearWarmup(0.4, 4), record])
    assert seen == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4])


def test_mwms_patch_refuses_untested_keras_versions(monkeypatch):
    import keras

    monkeypatch.setattr(keras, "__version__", "3.99.0")
    with pytest.raises(RuntimeError, match=r"tested with Keras \['3.15.1'\].*allow_untested_keras=True"):
        distributed.multi_worker.apply_patches()
    assert json.loads(distributed.multi_worker.tf_config("h0:1,h1:2", 1)) == {
        "cluster": {"worker": ["h0:1", "h1:2"]}, "task": {"type": "worker", "index": 1}}


def test_model_built_outside_the_strategy_scope_is_refused(tmp_path, shards):
    context = distributed.setup("mirrored", devices=["/cpu:0"])
    try:
        model = ksn.EarlyFusion(spec="C(4,5,2)-N-P-FC(8)", input_shape=(4, 32, 32, 3), classes=3)
        with pytest.raises(ValueError, match=r"not built inside the distribution's scope"):
            ksn.training.train(model, ksn.data.shard_dataset(shards, batch_size=8, seed=0), run_dir=str(tmp_path),
                               epochs=1, steps_per_epoch=1, verbose=0)
        assert context.num_replicas == 1
    finally:
        distributed.reset()


def _clip_digests(dataset):
    return [hashlib.sha1(clip.numpy().tobytes()).hexdigest() for clip, _ in dataset]


def test_per_process_file_shards_are_disjoint_and_cover_every_clip(shards):
    whole = _clip_digests(ksn.data.shard_dataset(shards, batch_size=None, augmentation="deferred", shuffle=False))
    parts = [_clip_digests(ksn.data.shard_dataset(shards, batch_size=None, augmentation="deferred", shuffle=False,
                                                  shard=(2, rank))) for rank in range(2)]
    assert len(whole) == len(set(whole)) == 24
    assert not set(parts[0]) & set(parts[1])
    assert sorted(parts[0] + parts[1]) == sorted(whole) and all(len(part) == 12 for part in parts)


# ------------------------------------------------------------------------------------------ fresh interpreters


@pytest.mark.slow
def test_tf_mirrored_strategy_on_two_logical_cpus_matches_one_device(shards, tmp_path):
    _check(_run_job([_worker("tensorflow", shards, tmp_path / "out", tmp_path / "run", "--devices", 2)]))
    mirrored, single = (_report(tmp_path / "out" / f"{tag}.json") for tag in ("mirrored2", "none1"))
    assert (mirrored["engine"], mirrored["num_replicas"], mirrored["copies"]) == ("mirrored", 2, 2)
    assert mirrored["replica_spread"] == 0.0  # the two copies of every variable are bitwise equal
    assert mirrored["loss"][-1] < 0.5 * mirrored["loss"][0]  # it trained
    np.testing.assert_allclose(mirrored["loss"], single["loss"], rtol=TIGHT)
    w2, w1 = (_weights(tmp_path / "out" / f"{tag}.npz") for tag in ("mirrored2", "none1"))
    assert _max_diff(w2, w1) < 1e-4
    # The chief's files: one complete run folder, one TensorBoard writer.
    run = tmp_path / "run" / "replicated"
    state = json.load(open(run / "state.json"))
    assert state["epoch"] == 3 and (run / "best.weights.h5").exists()
    assert sorted(os.listdir(run / "checkpoints")) == _committed_files(state)


@pytest.mark.slow
def test_jax_data_parallel_on_two_fake_devices_matches_one_device(jax_reference):
    parallel, single = (_report(jax_reference / f"{tag}.json") for tag in ("data_parallel2", "none1"))
    assert (parallel["engine"], parallel["num_replicas"], parallel["copies"]) == ("data_parallel", 2, 2)
    assert parallel["replica_spread"] == 0.0
    assert parallel["loss"][-1] < 0.5 * parallel["loss"][0]
    np.testing.assert_allclose(parallel["loss"], single["loss"], rtol=TIGHT)
    w2, w1 = (_weights(jax_reference / f"{tag}.npz") for tag in ("data_parallel2", "none1"))
    assert _max_diff(w2, w1) < 1e-5


@pytest.mark.slow
def test_two_jax_processes_end_identical_and_equal_to_one_process(jax_two_processes, jax_reference):
    out = jax_two_processes / "out"
    reports = [_report(out / f"process{rank}.json") for rank in range(2)]
    weights = [_weights(out / f"process{rank}.npz") for rank in range(2)]
    assert [r["is_chief"] for r in reports] == [True, False] and reports[0]["num_replicas"] == 2
    assert _max_diff(weights[0], weights[1]) == 0.0  # bitwise identical
    single = _report(jax_reference / "none1.json")
    np.testing.assert_allclose(reports[0]["loss"], single["loss"], rtol=TIGHT)
    reference = _weights(jax_reference / "none1.npz")
    assert _max_diff(weights[0], reference) < 1e-5
    assert _max_diff(reference, _weights(jax_reference / "data_parallel2.npz")) < 1e-5
    # Keras kept a different half of each global batch on each process; together they are the global batch.
    halves = [r["first_batch"] for r in reports]
    assert len(halves[0]) == len(halves[1]) == 4 and not set(halves[0]) & set(halves[1])
    assert halves[0] + halves[1] == single["first_batch"]
    # Only the chief wrote: one complete run folder, one TensorBoard event file.
    run = jax_two_processes / "run"
    state = json.load(open(run / "state.json"))
    assert state["epoch"] == 3 and sorted(os.listdir(run / "checkpoints")) == _committed_files(state)
    events = [name for _, _, names in os.walk(run / "logs") for name in names if "tfevents" in name]
    assert len(events) == 1
    assert not [name for _, _, names in os.walk(run) for name in names if ".incomplete" in name]


# -------------------------------------------------------------------------------------------------- slow tier


@pytest.mark.slow
@pytest.mark.distributed_slow
def test_a_killed_worker_ends_the_job_fast_and_the_rerun_resumes_exactly(shards, tmp_path, jax_two_processes):
    # Worker 1 dies mid-epoch (epoch 2 of 3, after its second batch): like a lost host, no clean-up.
    killed = _jax_two_processes(shards, tmp_path, die=(1, "1:1"))
    (chief_rc, chief_log, chief_end), (victim_rc, victim_log, victim_end) = killed
    assert victim_rc == 17, victim_log[-2000:]
    assert chief_rc not in (0, None), "the surviving worker should fail, not finish or hang:\n" + chief_log[-3000:]
    print(f"killed worker: survivor exited {chief_end - victim_end:.1f} s after the victim (rc {chief_rc})")
    assert chief_end - victim_end < 60, f"the survivor took {chief_end - victim_end:.0f} s to notice"
    state = json.load(open(tmp_path / "run" / "state.json"))
    assert state["epoch"] == 1  # the last epoch the chief completed
    # Both workers start again with the same command: they resume from the shared run folder.
    _check(_jax_two_processes(shards, tmp_path))
    reports = [_report(tmp_path / "out" / f"process{rank}.json") for rank in range(2)]
    assert [r["resumed_from"] for r in reports] == [1, 1] and reports[0]["iterations"] == 9
    resumed = [_weights(tmp_path / "out" / f"process{rank}.npz") for rank in range(2)]
    uninterrupted = _weights(jax_two_processes / "out" / "process0.npz")
    assert _max_diff(resumed[0], resumed[1]) == 0.0
    assert _max_diff(resumed[0], uninterrupted) == 0.0
    assert reports[0]["loss"] == _report(jax_two_processes / "out" / "process0.json")["loss"]


@pytest.mark.slow
@pytest.mark.distributed_slow
def test_two_jax_processes_reading_their_own_shard_files(shards, tmp_path):
    _check(_jax_two_processes(shards, tmp_path, "--input-sharding", "per_process"))
    reports = [_report(tmp_path / "out" / f"process{rank}.json") for rank in range(2)]
    assert _max_diff(*[_weights(tmp_path / "out" / f"process{rank}.npz") for rank in range(2)]) == 0.0
    assert reports[0]["loss"] == reports[1]["loss"] and reports[0]["loss"][-1] < reports[0]["loss"][0]
    # Each process fed 4 clips of its own files per step: disjoint halves of the global batch of 8.
    assert len(reports[0]["first_batch"]) == len(reports[1]["first_batch"]) == 4
    assert not set(reports[0]["first_batch"]) & set(reports[1]["first_batch"])


@pytest.mark.slow
@pytest.mark.distributed_slow
def test_tf_multi_worker_mirrored_through_the_pinned_patch(shards, tmp_path):
    ports = [_free_port() for _ in range(2)]
    cluster = ",".join(f"127.0.0.1:{port}" for port in ports)
    commands = [_worker("tensorflow", shards, tmp_path / "out", tmp_path / "run", "--engine", "multi_worker_mirrored",
                        "--num-processes", 2, "--process-id", rank) for rank in range(2)]
    envs = [{"TF_CONFIG": distributed.multi_worker.tf_config(cluster, rank)} for rank in range(2)]
    _check(_run_job(commands, env=envs))
    _check(_run_job([_worker("tensorflow", shards, tmp_path / "ref", tmp_path / "ref_run", "--engine", "none")]))
    reports = [_report(tmp_path / "out" / f"process{rank}.json") for rank in range(2)]
    assert [(r["engine"], r["num_replicas"], r["is_chief"]) for r in reports] == [
        ("multi_worker_mirrored", 2, True), ("multi_worker_mirrored", 2, False)]
    weights = [_weights(tmp_path / "out" / f"process{rank}.npz") for rank in range(2)]
    assert _max_diff(weights[0], weights[1]) == 0.0
    reference = _report(tmp_path / "ref" / "none1.json")
    np.testing.assert_allclose(reports[0]["loss"], reference["loss"], rtol=TIGHT)
    assert _max_diff(weights[0], _weights(tmp_path / "ref" / "none1.npz")) < 1e-4


def test_cli_train_under_a_mirrored_strategy_writes_the_preset(frame_shards, tmp_path):
    from keras_sportsnet.cli import main

    try:
        assert main(_cli_train(frame_shards, tmp_path / "run", "--distribute", "mirrored")) == 0
    finally:
        distributed.reset()
    metadata = json.load(open(tmp_path / "run" / "preset" / "metadata.json"))
    assert metadata["training"]["distribution"] == {"engine": "mirrored", "num_replicas": 1, "processes": 1}
    assert json.load(open(tmp_path / "run" / "state.json"))["epoch"] == 2


@pytest.mark.slow
@pytest.mark.distributed_slow
def test_cli_train_on_two_jax_processes_from_the_environment(frame_shards, tmp_path):
    port = _free_port()
    commands, envs = [], []
    for rank in range(2):
        commands.append([sys.executable, "-m", "keras_sportsnet", *_cli_train(
            frame_shards, tmp_path / "run", "--distribute", "auto", "--input-sharding", "per_process")])
        envs.append({"KERAS_BACKEND": "jax", "CUDA_VISIBLE_DEVICES": "", "KERAS_DISTRIBUTION_JOB_ADDRESSES":
                     f"127.0.0.1:{port}", "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
                     "KERAS_DISTRIBUTION_PROCESS_ID": str(rank)})
    results = _run_job(commands, env=envs)
    _check(results)
    assert "preset written to" in results[0][1] and "preset written to" not in results[1][1]
    metadata = json.load(open(tmp_path / "run" / "preset" / "metadata.json"))
    assert metadata["training"]["distribution"] == {"engine": "data_parallel", "num_replicas": 2, "processes": 2}
    assert json.load(open(tmp_path / "run" / "state.json"))["epoch"] == 2
