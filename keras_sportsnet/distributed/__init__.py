"""Data-parallel training on several devices and hosts, on engines Keras maintains.

- `setup()`: joins the job described by the arguments or the environment
  (``KERAS_DISTRIBUTION_*``, SLURM; TPU pods with ``detect_cluster=True``),
  picks the engine (JAX `keras.distribution.DataParallel`, TensorFlow
  `MirroredStrategy`) and returns a `DistributedContext`, which
  `keras_sportsnet.training.train` uses by itself: one process writes the
  checkpoints, every process restores them. `without_distribution()`: a block
  where one process writes files alone (no JAX collectives).
- `linear_scaling`, `LinearWarmup`: the learning rate for a larger global batch.
- `multi_worker`: EXPERIMENTAL TensorFlow `MultiWorkerMirroredStrategy`
  through a version-pinned patch of Keras (keras-team/keras#20585).

The paper's asynchronous Downpour SGD has no maintained Keras 3 engine;
synchronous data parallelism replaces it (see docs/training_at_scale.md).
"""

from keras_sportsnet.distributed import multi_worker
from keras_sportsnet.distributed.context import DistributedContext
from keras_sportsnet.distributed.context import cluster_from_environment
from keras_sportsnet.distributed.context import current
from keras_sportsnet.distributed.context import reset
from keras_sportsnet.distributed.context import setup
from keras_sportsnet.distributed.context import simulate_cpu_devices
from keras_sportsnet.distributed.context import without_distribution
from keras_sportsnet.distributed.scaling import LinearWarmup
from keras_sportsnet.distributed.scaling import linear_scaling

__all__ = [
    "DistributedContext",
    "LinearWarmup",
    "cluster_from_environment",
    "current",
    "linear_scaling",
    "multi_worker",
    "reset",
    "setup",
    "simulate_cpu_devices",
    "without_distribution",
]
