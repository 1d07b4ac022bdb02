"""One process of a distributed test (run by tests/test_distributed.py in a fresh interpreter).

Device counts, XLA flags and TF_CONFIG are fixed when a backend starts, so
every distributed case runs here, in its own process:

    python tests/distributed_worker.py --backend jax --shards DIR --out DIR --run-dir DIR
        [--devices 2]                        split the CPU into 2 devices, train on both, then on one
        [--engine auto|none|multi_worker_mirrored]
        [--port P --num-processes 2 --process-id I]   one process of a job on 127.0.0.1:P
        [--input-sharding global|per_process]
        [--die-at EPOCH:BATCH]               os._exit(17) there (a killed worker)

It trains a tiny EarlyFusion with `keras_sportsnet.training.train` on
prepared shards and writes ``OUT/<tag>.npz`` (final weights) and
``OUT/<tag>.json`` (losses, replica spread, first local batch digest...).
"""

import argparse
import hashlib
import json
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--backend", required=True)
parser.add_argument("--shards", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--run-dir", required=True)
parser.add_argument("--devices", type=int, default=1)
parser.add_argument("--engine", default="auto")
parser.add_argument("--port", type=int)
parser.add_argument("--num-processes", type=int, default=1)
parser.add_argument("--process-id", type=int, default=0)
parser.add_argument("--input-sharding", default="global")
parser.add_argument("--die-at")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--steps-per-epoch", type=int, default=3)
parser.add_argument("--global-batch", type=int, default=8)
parser.add_argument("--heartbeat", type=int, default=10)
parser.add_argument("--learning-rate", type=float, default=3e-4)
args = parser.parse_args()

os.environ["KERAS_BACKEND"] = args.backend
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dataclasses  # noqa: E402

import keras  # noqa: E402
keras.config.disable_traceback_filtering()
import numpy as np  # noqa: E402

import keras_sportsnet as ksn  # noqa: E402
from keras_sportsnet import distributed  # noqa: E402

if args.backend == "tensorflow":
    import tensorflow as tf

    tf.config.set_visible_devices([], "GPU")
if args.devices > 1:
    distributed.simulate_cpu_devices(args.devices)

SPEC = "C(4,5,2)-N-P-FC(8)"
# clip_norm=None: the paper's recipe exactly. Under tf.distribute Keras clips each replica's share of the gradient,
# so a clipped run could not match the one-device reference bit for bit (see training/recipe.py).
RECIPE = dataclasses.replace(ksn.training.PAPER_RECIPE, learning_rate=args.learning_rate, batch_size=args.global_batch,
                             clip_norm=None)


class Die(keras.callbacks.Callback):
    """Kills this process (no clean-up, like a lost host) at ``epoch:batch``."""

    def __init__(self, at):
        super().__init__()
        self.epoch, self.batch = map(int, at.split(":"))

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            print(f"[worker {args.process_id}] killed at epoch {self.epoch} batch {batch} t={time.time():.3f}",
                  flush=True)
            os._exit(17)


def replica_spread(model, context):
    """Largest difference between the copies of any variable on this process's devices."""
    spread = 0.0
    for variable in model.weights:
        value = variable.value
        if context.strategy is not None:
            copies = [np.asarray(c) for c in context.strategy.experimental_local_results(value)]
        elif hasattr(value, "addressable_shards"):
            copies = [np.asarray(shard.data) for shard in value.addressable_shards]
        else:
            copies = [np.asarray(value)]
        spread = max([spread] + [float(np.max(np.abs(c - copies[0]))) for c in copies])
    return spread, len(copies)


def digest(array):
    return [hashlib.sha1(np.ascontiguousarray(row).tobytes()).hexdigest()[:16] for row in np.asarray(array)]


def run(context, tag, run_dir):
    keras.utils.set_random_seed(7)
    with context.scope():
        model = ksn.EarlyFusion(spec=SPEC, input_shape=(4, 32, 32, 3), classes=3)
    sharded = context.input_sharding == "per_process"
    data = ksn.data.shard_dataset(args.shards, batch_size=context.input_batch_size(args.global_batch), seed=0,
                                  shard=context.shard if sharded else None)
    # The clips this process feeds at step 0 (after Keras' own per-process split in "global" mode).
    first = data.as_tf_dataset()
    if context.distribution is not None and context.process_count > 1 and not sharded:
        first = context.distribution.distribute_dataset(first)
    first_clips = next(iter(first))[0].numpy()
    callbacks = [Die(args.die_at)] if args.die_at else []
    result = ksn.training.train(model, data, run_dir=run_dir, epochs=args.epochs,
                                steps_per_epoch=args.steps_per_epoch, recipe=RECIPE, tensorboard=True,
                                callbacks=callbacks, verbose=0)
    spread, copies = replica_spread(model, context)
    weights = [keras.ops.convert_to_numpy(w.value) for w in model.weights]
    np.savez(os.path.join(args.out, f"{tag}.npz"), *weights)
    report = {
        "loss": [row["loss"] for row in result["history"]],
        "resumed_from": result["resumed_from"],
        "replica_spread": spread,
        "copies": copies,
        "num_replicas": context.num_replicas,
        "engine": context.engine,
        "is_chief": context.is_chief,
        "first_batch": digest(first_clips),
        "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
    }
    with open(os.path.join(args.out, f"{tag}.json"), "w") as file:
        json.dump(report, file)
    print(f"[{tag}] {report['engine']} replicas={context.num_replicas} loss={np.round(report['loss'], 6).tolist()} "
          f"spread={spread}", flush=True)


os.makedirs(args.out, exist_ok=True)
if args.num_processes > 1:
    context = distributed.setup(args.engine, job_addresses=f"127.0.0.1:{args.port}" if args.port else None,
                                num_processes=args.num_processes, process_id=args.process_id,
                                input_sharding=args.input_sharding, heartbeat_timeout_seconds=args.heartbeat)
    run(context, f"process{args.process_id}", args.run_dir)
else:
    context = distributed.setup(args.engine)
    run(context, f"{context.engine}{context.num_replicas}", os.path.join(args.run_dir, "replicated"))
    if context.num_replicas > 1:  # the one-device reference, same global batch, same process
        distributed.reset()
        run(distributed.setup("none"), "none1", os.path.join(args.run_dir, "single"))
