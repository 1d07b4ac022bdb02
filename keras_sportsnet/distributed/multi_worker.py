"""EXPERIMENTAL: TensorFlow `MultiWorkerMirroredStrategy` for Keras 3, through a version-pinned patch.

Stock Keras 3 cannot `fit` under `tf.distribute.MultiWorkerMirroredStrategy`
(keras-team/keras#20585, open; tensorflow/tensorflow#72388). Two places of
Keras' TensorFlow trainer fail when the strategy spans several workers:

1. ``TensorFlowTrainer._maybe_symbolic_build`` averages the first
   *distributed* batch with ``strategy.reduce("MEAN", (x, y), axis=None)``
   to learn its shapes; a collective all-reduce strategy cannot reduce a
   nested structure (``ValueError: Attempt to convert a value (PerReplica...)``).
   The patch builds from this worker's first local replica batch instead:
   only shapes and dtypes matter for the build.
2. Every train/test step reduces its per-replica outputs with
   ``reduce_per_replica(..., "auto")``, which across workers becomes
   ``strategy.reduce("MEAN", scalar, axis=0)`` (``Invalid reduction
   dimension 0 for input with 0 dimensions``). The patch reduces ``"auto"``
   and ``"mean"`` with ``axis=None`` (a cross-worker mean of the scalars)
   when the strategy is multi-worker, and leaves every other case to Keras.

Both patches replace *private* Keras functions, so they are applied only on
the Keras versions in `TESTED_KERAS_VERSIONS` (where the slow test tier
checks that two workers end bitwise identical and equal to one process);
other versions are refused unless ``allow_untested_keras=True``. The
supported multi-host path is JAX (`keras_sportsnet.distributed.setup` with
``engine="data_parallel"``).

Checkpoints: Keras' `ModelCheckpoint`/`BackupAndRestore` are not safe with
several workers on one folder; `keras_sportsnet.training.train` writes from
the chief only.
"""

import json
import os
import warnings

import keras

__all__ = ["TESTED_KERAS_VERSIONS", "apply_patches", "multi_worker_mirrored_strategy"]

TESTED_KERAS_VERSIONS = ("3.15.1",)
_APPLIED = []


def _check_version(allow_untested_keras):
    if keras.__version__ in TESTED_KERAS_VERSIONS:
        return
    message = (
        f"The MultiWorkerMirroredStrategy patch was tested with Keras {list(TESTED_KERAS_VERSIONS)}; this is Keras "
        f"{keras.__version__}. It replaces private Keras functions that may have changed. Check whether "
        "keras-team/keras#20585 is fixed in your version (then you need no patch), use the JAX backend "
        "(engine='data_parallel'), or pass allow_untested_keras=True to try anyway."
    )
    if not allow_untested_keras:
        raise RuntimeError(message)
    warnings.warn(message, stacklevel=3)


def apply_patches(allow_untested_keras=False):
    """Installs the two patches (idempotent). Returns the names of those installed by this process.

    Args:
        allow_untested_keras: bool. Patch a Keras version not in `TESTED_KERAS_VERSIONS`.

    Example:
    ```python
    keras_sportsnet.distributed.multi_worker.apply_patches()
    ```
    """
    _check_version(allow_untested_keras)
    if _APPLIED:
        return list(_APPLIED)
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    multi_worker = tf_trainer._collective_all_reduce_multi_worker
    stock_build = tf_trainer.TensorFlowTrainer._maybe_symbolic_build
    stock_reduce = tf_trainer.reduce_per_replica

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if strategy is None or iterator is None or not multi_worker(strategy):
            return stock_build(self, iterator=iterator, data_batch=data_batch)

        def local(value):
            if isinstance(value, tf.distribute.DistributedValues):
                return strategy.experimental_local_results(value)[0]
            return value

        for _, _, batches in iterator:
            data_batch = tree.map_structure(local, next(batches))
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and multi_worker(strategy):
            return tree.map_structure(lambda value: strategy.reduce("MEAN", value, axis=None), values)
        return stock_reduce(values, strategy, reduction)

    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    tf_trainer.reduce_per_replica = reduce_per_replica
    _APPLIED.extend(["TensorFlowTrainer._maybe_symbolic_build", "reduce_per_replica"])
    return list(_APPLIED)


def tf_config(job_addresses, process_id):
    """The ``TF_CONFIG`` JSON of worker ``process_id`` of the comma-separated ``job_addresses``."""
    workers = [address.strip() for address in job_addresses.split(",") if address.strip()]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": int(process_id)}})


def multi_worker_mirrored_strategy(job_addresses=None, num_processes=1, process_id=0, allow_untested_keras=False):
    """EXPERIMENTAL. Patches Keras, then makes a `MultiWorkerMirroredStrategy` (RING collectives).

    The cluster comes from ``TF_CONFIG`` if set; otherwise from
    ``job_addresses``, which must then list every worker (``"h0:p,h1:p"``).
    Call it before any other TensorFlow op of the process.

    Args:
        job_addresses: str or None. Every worker's ``host:port``, comma-separated.
        num_processes: int. Workers in the job.
        process_id: int. This worker's index.
        allow_untested_keras: bool. See `apply_patches`.

    Returns:
        ``(strategy, process_index, process_count)``.

    Example:
    ```python
    context = ksn.distributed.setup("multi_worker_mirrored", job_addresses="h0:2222,h1:2222",
                                    num_processes=2, process_id=0)
    ```
    """
    apply_patches(allow_untested_keras)
    import tensorflow as tf

    if "TF_CONFIG" not in os.environ:
        if num_processes > 1:
            if not job_addresses or len(job_addresses.split(",")) != num_processes:
                raise ValueError(
                    "engine='multi_worker_mirrored' needs TF_CONFIG or `job_addresses` listing all "
                    f"{num_processes} workers ('host:port,host:port,...'). Received: job_addresses={job_addresses!r}")
            os.environ["TF_CONFIG"] = tf_config(job_addresses, process_id)
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    resolver = strategy.cluster_resolver
    count = max(1, len(resolver.cluster_spec().as_dict().get("worker", []))) if resolver else 1
    rank = int(resolver.task_id or 0) if resolver and resolver.task_type else 0
    return strategy, rank, count
