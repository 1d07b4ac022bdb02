"""`setup`: one call that joins the job, picks the engine and returns a `DistributedContext`.

The same training script runs unchanged on one device, on one host with
several GPUs, and on several hosts: `setup` reads who this process is from
its arguments or from the environment, in that order:

- ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` (``host:port`` of the coordinator,
  or every process's address separated by commas, the first being the
  coordinator), ``KERAS_DISTRIBUTION_NUM_PROCESSES``,
  ``KERAS_DISTRIBUTION_PROCESS_ID``: the variables of
  `keras.distribution.initialize`;
- under SLURM (``srun``): ``SLURM_NTASKS``, ``SLURM_PROCID`` and the first
  host of ``SLURM_STEP_NODELIST`` (or ``SLURM_JOB_NODELIST``) as coordinator,
  on port ``KERAS_SPORTSNET_COORDINATOR_PORT`` (default 12355);
- ``detect_cluster=True`` (JAX): `jax.distributed.initialize()` with no
  arguments, which finds TPU pods, SLURM, Open MPI and GKE jobs itself.

Engines:

- ``"data_parallel"`` (JAX): `keras.distribution.DataParallel` over every
  device of every process, multi-process through `jax.distributed`. The
  multi-host path.
- ``"mirrored"`` (TensorFlow): `tf.distribute.MirroredStrategy` over the
  local GPUs (or the given devices), one process.
- ``"multi_worker_mirrored"`` (TensorFlow, EXPERIMENTAL): see
  `keras_sportsnet.distributed.multi_worker`.
- ``"none"``: one device, no distribution (what ``"auto"`` picks when there
  is one device and one process).
"""

import contextlib
import os
import re
import sys

import keras

from keras_sportsnet.utils.checks import check_choice
from keras_sportsnet.utils.checks import check_int
from keras_sportsnet.utils.checks import check_positive_int

__all__ = [
    "DistributedContext",
    "cluster_from_environment",
    "current",
    "reset",
    "setup",
    "simulate_cpu_devices",
    "without_distribution",
]

ENGINES = ("auto", "data_parallel", "mirrored", "multi_worker_mirrored", "none")
INPUT_SHARDINGS = ("global", "per_process")
DEFAULT_SLURM_PORT = 12355

_CURRENT = None


def current():
    """The `DistributedContext` made by the last `setup` of this process, or None."""
    return _CURRENT


def reset():
    """Forgets the current context (and on JAX the global Keras distribution); the process stays in its job."""
    global _CURRENT
    if _CURRENT is not None and _CURRENT.engine == "data_parallel":
        keras.distribution.set_distribution(None)
    _CURRENT = None


@contextlib.contextmanager
def without_distribution():
    """Runs the block with no global Keras distribution (for files one process writes alone).

    Keras' ``save_weights`` builds a throwaway optimizer, whose variables a
    multi-process JAX distribution would place with a collective
    (``device_put`` checks the value on every process): on the chief alone
    that collective crashes or hangs. Without the distribution the throwaway
    variables stay local, and the real ones are read from local copies.
    Outside a JAX distribution it does nothing.

    Example:
    ```python
    if context.is_chief:
        with ksn.distributed.without_distribution():
            model.save_weights("final.weights.h5")
    ```
    """
    active = keras.distribution.distribution()
    if active is None:
        yield
        return
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(active)


def _int_env(environ, name):
    value = environ.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"The environment variable {name} must be an integer. Received: {name}={value!r}") from None


def first_slurm_host(nodelist):
    """The first host name of a SLURM node list (``"gpu[07-09,12],cpu3"`` -> ``"gpu07"``).

    Example:
    >>> first_slurm_host("node[003-005]")
    'node003'
    """
    match = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?", nodelist.strip())
    if not match:
        raise ValueError(f"Cannot read the SLURM node list {nodelist!r}.")
    prefix, ranges = match.groups()
    if not ranges:
        return prefix
    return prefix + ranges.split(",")[0].split("-")[0]


def cluster_from_environment(environ=None):
    """Who this process is, from the environment: ``dict(job_addresses, num_processes, process_id, source)``.

    Keras' own variables win over SLURM's; values that are not set are None
    (``source`` is then None too).

    Args:
        environ: mapping. Default `os.environ`.

    Returns:
        dict.

    Example:
    ```python
    cluster_from_environment({"SLURM_NTASKS": "4", "SLURM_PROCID": "1", "SLURM_STEP_NODELIST": "gpu[1-4]"})
    # {'job_addresses': 'gpu1:12355', 'num_processes': 4, 'process_id': 1, 'source': 'slurm'}
    ```
    """
    environ = os.environ if environ is None else environ
    keras_env = {
        "job_addresses": environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES") or None,
        "num_processes": _int_env(environ, "KERAS_DISTRIBUTION_NUM_PROCESSES"),
        "process_id": _int_env(environ, "KERAS_DISTRIBUTION_PROCESS_ID"),
    }
    if any(value is not None for value in keras_env.values()):
        return {**keras_env, "source": "keras"}
    tasks = _int_env(environ, "SLURM_NTASKS") or _int_env(environ, "SLURM_NPROCS")
    nodelist = environ.get("SLURM_STEP_NODELIST") or environ.get("SLURM_JOB_NODELIST")
    if tasks and tasks > 1 and nodelist:
        port = _int_env(environ, "KERAS_SPORTSNET_COORDINATOR_PORT") or DEFAULT_SLURM_PORT
        return {"job_addresses": f"{first_slurm_host(nodelist)}:{port}", "num_processes": tasks,
                "process_id": _int_env(environ, "SLURM_PROCID"), "source": "slurm"}
    return {"job_addresses": None, "num_processes": None, "process_id": None, "source": None}


def simulate_cpu_devices(count):
    """Splits the host CPU into ``count`` devices (tests, benchmarks); call before anything touches a device.

    On TensorFlow: ``count`` logical CPUs (``/device:CPU:0``...). On JAX:
    ``count`` CPU devices (the ``jax_num_cpu_devices`` option, like
    ``XLA_FLAGS=--xla_force_host_platform_device_count``).

    Args:
        count: int, at least 1.

    Example:
    ```python
    ksn.distributed.simulate_cpu_devices(2)
    context = ksn.distributed.setup()   # 2 replicas
    ```
    """
    check_positive_int("count", count)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    elif backend == "jax":
        import jax

        jax.config.update("jax_platforms", "cpu")
        jax.config.update("jax_num_cpu_devices", count)
    else:
        raise ValueError(f"`simulate_cpu_devices` supports the 'tensorflow' and 'jax' backends. Received: {backend!r}")


class DistributedContext:
    """Where this process stands in a data-parallel job; made by `setup`.

    Attributes:
        backend: ``"jax"``, ``"tensorflow"``...
        engine: ``"data_parallel"``, ``"mirrored"``, ``"multi_worker_mirrored"`` or ``"none"``.
        process_count, process_index: the job's processes and this one's rank.
        is_chief: bool. Rank 0: the one process that writes files.
        num_replicas: int. Devices over all processes (each holds a copy of the model).
        local_num_replicas: int. Devices of this process.
        input_sharding: ``"global"`` (feed every process the global batch;
            Keras keeps this process's part) or ``"per_process"`` (each process
            reads its own files, see `shard`, with `per_process_batch_size`).
        strategy: the `tf.distribute.Strategy` (TensorFlow engines) or None.
        distribution: the `keras.distribution.Distribution` (JAX) or None.
    """

    def __init__(self, *, backend, engine, process_count, process_index, num_replicas, local_num_replicas,
                 input_sharding, strategy=None, distribution=None, source=None):
        self.backend, self.engine = backend, engine
        self.process_count, self.process_index = process_count, process_index
        self.num_replicas, self.local_num_replicas = num_replicas, local_num_replicas
        self.input_sharding, self.strategy, self.distribution, self.source = input_sharding, strategy, distribution, source

    @property
    def is_chief(self):
        return self.process_index == 0

    @property
    def is_multi_process(self):
        return self.process_count > 1

    @property
    def shard(self):
        """``(process_count, process_index)``: the ``shard=`` of `keras_sportsnet.data.shard_dataset`."""
        return (self.process_count, self.process_index)

    def scope(self):
        """The context to build and compile models in (a TF strategy's scope; on JAX the distribution's)."""
        if self.strategy is not None:
            return self.strategy.scope()
        if self.distribution is not None:
            return self.distribution.scope()
        return contextlib.nullcontext()

    def global_batch_size(self, per_replica_batch_size):
        """Clips per optimizer step over the whole job: ``per_replica_batch_size * num_replicas``."""
        check_positive_int("per_replica_batch_size", per_replica_batch_size)
        return per_replica_batch_size * self.num_replicas

    def per_replica_batch_size(self, global_batch_size):
        """The clips each device sees per step; ``global_batch_size`` must divide evenly."""
        return self._divide("global_batch_size", global_batch_size, self.num_replicas, "num_replicas")

    def per_process_batch_size(self, global_batch_size):
        """The clips this process feeds per step (``"per_process"`` input); must divide evenly."""
        return self._divide("global_batch_size", global_batch_size, self.process_count, "process_count")

    def input_batch_size(self, global_batch_size):
        """The ``batch_size`` to build this process's dataset with, for either `input_sharding`."""
        if self.input_sharding == "per_process":
            return self.per_process_batch_size(global_batch_size)
        self.per_replica_batch_size(global_batch_size)  # checks divisibility
        return global_batch_size

    @staticmethod
    def _divide(name, value, by, by_name):
        check_positive_int(name, value)
        if value % by:
            raise ValueError(f"`{name}` must be a multiple of {by_name}={by}. Received: {name}={value}")
        return value // by

    def barrier(self, name="keras_sportsnet"):
        """Waits until every process gets here (a no-op in one process)."""
        if self.process_count == 1:
            return
        if self.backend == "jax":
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices(name)
        else:
            self.all_values(0)

    def all_values(self, value):
        """This integer from every process, as a list by rank (``[value]`` in one process)."""
        value = int(value)
        if self.process_count == 1:
            return [value]
        import numpy as np

        if self.backend == "jax":
            from jax.experimental import multihost_utils

            gathered = multihost_utils.process_allgather(np.asarray([value], np.int64))
            return [int(v) for v in np.asarray(gathered).reshape(-1)]
        import tensorflow as tf

        # One-hot by rank, summed over workers: every worker learns every value.
        def gather():
            context = tf.distribute.get_replica_context()
            row = tf.one_hot(self.process_index, self.process_count, dtype=tf.int64) * value
            return context.all_reduce("sum", row)

        result = self.strategy.run(gather)
        local = self.strategy.experimental_local_results(result)[0].numpy()
        # Each worker's row was summed once per local replica.
        return [int(v) // self.local_num_replicas for v in local]

    def __repr__(self):
        return (f"DistributedContext(backend={self.backend!r}, engine={self.engine!r}, process_index={self.process_index}, "
                f"process_count={self.process_count}, num_replicas={self.num_replicas}, "
                f"input_sharding={self.input_sharding!r})")


def setup(
    engine="auto",
    *,
    job_addresses=None,
    num_processes=None,
    process_id=None,
    devices=None,
    input_sharding="global",
    detect_cluster=False,
    heartbeat_timeout_seconds=30,
    initialization_timeout_seconds=300,
    seed=None,
    allow_untested_keras=False,
):
    """Joins the job (if there are several processes) and sets up data-parallel training.

    Call it once at the start of a process, before building a model; build
    and compile inside ``context.scope()`` (needed on TensorFlow; harmless on
    JAX). `keras_sportsnet.training.train` picks the context up by itself.

    Args:
        engine: one of ``"auto"``, ``"data_parallel"`` (JAX), ``"mirrored"``
            (TensorFlow, one host), ``"multi_worker_mirrored"`` (TensorFlow,
            several hosts, EXPERIMENTAL, a version-pinned patch of Keras) or
            ``"none"``. ``"auto"``: ``"data_parallel"`` on JAX, ``"mirrored"``
            on TensorFlow with several local devices, else ``"none"``.
        job_addresses: str. ``"host:port"`` of the coordinator (process 0),
            or every process's address, comma-separated. Default: environment.
        num_processes: int. Processes in the job. Default: environment, else 1.
        process_id: int. This process's rank, ``0 <= process_id < num_processes``.
        devices: list of device names (e.g. ``["/gpu:0", "/gpu:1"]`` on
            TensorFlow, or `keras.distribution.list_devices()` entries on JAX),
            or None for every device.
        input_sharding: ``"global"`` or ``"per_process"``: how processes are
            fed (see `DistributedContext`). Only matters with several processes.
        detect_cluster: bool. JAX: when neither the arguments nor the
            environment name a job, let `jax.distributed.initialize()` detect
            one (TPU pods, SLURM, Open MPI, GKE).
        heartbeat_timeout_seconds: int. JAX: a process that stops answering
            for this long (killed, hung, preempted) ends the whole job, so a
            dead worker never leaves the others waiting forever.
        initialization_timeout_seconds: int. JAX: how long to wait for every
            process to join.
        seed: int or None. Sets `keras.utils.set_random_seed` on every process
            (all processes must build identical initial weights). None with
            several processes: process 0 draws a seed from Python's `random`
            (which an earlier `keras.utils.set_random_seed` seeds, so a seeded
            script stays reproducible) and every process sets it.
        allow_untested_keras: bool. ``"multi_worker_mirrored"`` only: run the
            patch on a Keras version it was not tested with.

    Returns:
        `DistributedContext`.

    Example:
    ```python
    # same script on every host; KERAS_DISTRIBUTION_* (or SLURM) say who is who
    import keras_sportsnet as ksn
    context = ksn.distributed.setup()
    with context.scope():
        model = ksn.SlowFusion(classes=487)
    train = ksn.data.shard_dataset("gs://bucket/sports1m_shards", batch_size=context.input_batch_size(256),
                                   shard=context.shard if context.input_sharding == "per_process" else None, seed=0)
    ksn.training.train(model, train, run_dir="gs://bucket/runs/slow", epochs=100, steps_per_epoch=1000)
    ```
    """
    global _CURRENT
    check_choice("engine", engine, ENGINES)
    check_choice("input_sharding", input_sharding, INPUT_SHARDINGS)
    check_positive_int("heartbeat_timeout_seconds", heartbeat_timeout_seconds)
    check_positive_int("initialization_timeout_seconds", initialization_timeout_seconds)
    check_int("seed", seed, allow_none=True)
    backend = keras.backend.backend()
    env = cluster_from_environment()
    job_addresses = job_addresses if job_addresses is not None else env["job_addresses"]
    num_processes = num_processes if num_processes is not None else env["num_processes"]
    process_id = process_id if process_id is not None else env["process_id"]
    source = "arguments" if env["source"] is None else env["source"]
    if num_processes is not None:
        check_positive_int("num_processes", num_processes)
    if num_processes and num_processes > 1:
        if process_id is None or not isinstance(process_id, int) or not 0 <= process_id < num_processes:
            raise ValueError(
                f"`process_id` must be an integer in [0, {num_processes}) for num_processes={num_processes} "
                f"(argument or KERAS_DISTRIBUTION_PROCESS_ID / SLURM_PROCID). Received: process_id={process_id!r}")
        if not job_addresses and not (engine == "multi_worker_mirrored" and os.environ.get("TF_CONFIG")):
            raise ValueError(
                "`job_addresses` (the coordinator's 'host:port', or KERAS_DISTRIBUTION_JOB_ADDRESSES) is required "
                f"with num_processes={num_processes}. Received: job_addresses={job_addresses!r}")
        if job_addresses and "," in job_addresses and len(job_addresses.split(",")) != num_processes:
            raise ValueError(
                f"`job_addresses` lists {len(job_addresses.split(','))} addresses but num_processes={num_processes}. "
                f"Received: job_addresses={job_addresses!r}")
    multi_process = bool(num_processes and num_processes > 1)
    if engine == "auto":
        engine = _auto_engine(backend, multi_process, devices)
    if engine == "data_parallel" and backend != "jax":
        raise ValueError(f"`engine`='data_parallel' needs the JAX backend (KERAS_BACKEND=jax). Received: backend={backend!r}")
    if engine in ("mirrored", "multi_worker_mirrored") and backend != "tensorflow":
        raise ValueError(f"`engine`={engine!r} needs the TensorFlow backend. Received: backend={backend!r}")
    if engine in ("mirrored", "none") and multi_process:
        raise ValueError(
            f"`engine`={engine!r} runs in one process, but num_processes={num_processes}. Use engine='data_parallel' "
            "(JAX, the supported multi-host path) or 'multi_worker_mirrored' (TensorFlow, experimental).")
    if _CURRENT is not None:
        reset()

    if engine == "data_parallel":
        context = _setup_jax(multi_process=multi_process, job_addresses=job_addresses, num_processes=num_processes,
                             process_id=process_id, devices=devices, input_sharding=input_sharding,
                             detect_cluster=detect_cluster, heartbeat_timeout=heartbeat_timeout_seconds,
                             initialization_timeout=initialization_timeout_seconds, seed=seed, source=source)
    elif engine == "mirrored":
        import tensorflow as tf

        _seed(seed)
        strategy = tf.distribute.MirroredStrategy(devices=devices)
        replicas = strategy.num_replicas_in_sync
        context = DistributedContext(backend=backend, engine=engine, process_count=1, process_index=0,
                                     num_replicas=replicas, local_num_replicas=replicas, input_sharding="global",
                                     strategy=strategy, source=source)
    elif engine == "multi_worker_mirrored":
        from keras_sportsnet.distributed import multi_worker

        _seed(seed)
        strategy, rank, count = multi_worker.multi_worker_mirrored_strategy(
            job_addresses=job_addresses, num_processes=num_processes or 1, process_id=process_id or 0,
            allow_untested_keras=allow_untested_keras)
        replicas = strategy.num_replicas_in_sync
        context = DistributedContext(backend=backend, engine=engine, process_count=count, process_index=rank,
                                     num_replicas=replicas, local_num_replicas=replicas // count,
                                     input_sharding="global", strategy=strategy, source=source)
    else:
        _seed(seed)
        context = DistributedContext(backend=backend, engine="none", process_count=1, process_index=0,
                                     num_replicas=1, local_num_replicas=1, input_sharding="global", source=source)
    _CURRENT = context
    return context


def _auto_engine(backend, multi_process, devices):
    if backend == "jax":
        return "data_parallel"
    if backend == "tensorflow":
        if multi_process:
            raise ValueError(
                "Several processes on the TensorFlow backend: stock Keras 3 cannot train with "
                "MultiWorkerMirroredStrategy (keras-team/keras#20585). Use KERAS_BACKEND=jax (engine='data_parallel'), "
                "or ask for the experimental patch explicitly with engine='multi_worker_mirrored'.")
        import tensorflow as tf

        count = len(devices) if devices else len(tf.config.list_logical_devices("GPU"))
        if count <= 1 and not devices:
            count = len(tf.config.list_logical_devices("CPU"))  # logical CPUs (tests) count, one real CPU does not
        return "mirrored" if count > 1 else "none"
    return "none"


def _seed(seed):
    if seed is not None:
        keras.utils.set_random_seed(seed)


def _setup_jax(*, multi_process, job_addresses, num_processes, process_id, devices, input_sharding, detect_cluster,
               heartbeat_timeout, initialization_timeout, seed, source):
    import jax

    if multi_process or detect_cluster:
        if not jax.distributed.is_initialized():
            kwargs = dict(initialization_timeout=initialization_timeout, heartbeat_timeout_seconds=heartbeat_timeout)
            if multi_process:
                kwargs.update(coordinator_address=job_addresses.split(",")[0], num_processes=num_processes,
                              process_id=process_id)
            else:
                source = "jax cluster detection"
            jax.distributed.initialize(**kwargs)
    process_count, process_index = jax.process_count(), jax.process_index()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    elif process_count > 1:
        # Every process must build the same initial weights: process 0 draws a seed from Python's generator
        # (seeded by an earlier `keras.utils.set_random_seed`, else by the system) and sends it to all.
        import random

        import numpy as np
        from jax.experimental import multihost_utils

        local = np.asarray(random.randint(1, 2**31 - 1), np.int64)
        keras.utils.set_random_seed(int(multihost_utils.broadcast_one_to_all(local)))
    all_devices = devices or keras.distribution.list_devices()
    distribution = keras.distribution.DataParallel(
        devices=all_devices, auto_shard_dataset=(input_sharding == "global"))
    keras.distribution.set_distribution(distribution)
    local_ids = {f"{d.platform}:{d.id}" for d in jax.local_devices()}
    local = sum(1 for name in all_devices if str(name).lower() in local_ids) or len(jax.local_devices())
    if process_count > 1:
        print(f"keras_sportsnet.distributed: process {process_index} of {process_count} "
              f"({len(all_devices)} devices, {source})", file=sys.stderr)
    return DistributedContext(backend="jax", engine="data_parallel", process_count=process_count,
                              process_index=process_index, num_replicas=len(all_devices), local_num_replicas=local,
                              input_sharding=input_sharding if process_count > 1 else "global",
                              distribution=distribution, source=source)
