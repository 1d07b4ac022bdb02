"""The one place that derives random keys: every random choice of the data is a function of (seed, pass, step).

A dataset has one int ``seed`` (`resolve_seed` draws one from the OS when
None is given; the dataset reports it as ``ds.seed``). Everything random is
derived from it here, statelessly, so that any pass and any element can be
recomputed in any process, after a resume, on any number of workers:

| choice | key |
|---|---|
| pass ``p`` | ``pass_key(seed, p)``: a stateless Philox draw (int64) of ``(seed, p)``. Training data: pass ``p`` is the ``p``-th pass of ``ds.as_tf_dataset()``; validation data: the pass scored after epoch ``p`` is ``ds.one_pass(p)``. |
| order of a pass | ``permutation(count, pass_key)`` (stream ``"order"``): videos x clips, or shard files. |
| shuffling windows | ``window_permutation(pass_key, w, size)`` (stream ``"window"``): the clips of prepared shards, within window ``w`` of consecutive clips. |
| element ``e`` | ``element_draws(pass_key, e)`` (stream ``"element"``): four ints in ``[0, 2**30)``, ``[clip start, crop top, crop left, flip]`` (`DRAWS`). The clip start is ``draw % valid_starts`` (random sampling); the crop and flip are `keras_sportsnet.transforms.functional.paper_crop_flip`. |
| validation split | ``split_permutation(seed, count)``: NumPy ``RandomState(seed)``, Keras' convention (``image_dataset_from_directory``); the last files validate. |
| clips of one video | ``video_seed(seed, video)``: the NumPy seed ``[seed, video]`` of the evaluation clips and of the clips of prepared shards (`random_clips`). |
| Keras layers | no derived key: each random layer of `keras_sportsnet.transforms` holds one `keras.random.SeedGenerator` seeded by its own ``seed`` (`PaperAugmentation`: the crop offsets, then the flips, drawn in turn from it). |

Outside this module, only these draw random numbers, none of them a key
of its own (``tests/data/test_data_random.py`` keeps the list): `sampling`
turns a `video_seed` (or a caller's own seed or Generator) into a NumPy
Generator; `keras_sportsnet.datasets.synthetic_sports` draws the embedded
dataset's pixels from ``(seed, class, index)``;
`keras_sportsnet.distributed.setup` with ``seed=None`` on several
processes draws one shared weight seed on process 0; and
`keras_sportsnet.testing` (test helpers, never imported by the library).

Nothing keeps state between calls: no per-process counter, no
``tf.data.Dataset.random``. TensorFlow is imported by the functions that
need it (the ``tf.data`` keys, traced inside ``tf.data`` graphs), never at
import time.

Example:
```python
from keras_sportsnet.data import random as keys
key = keys.pass_key(seed=0, index=3)           # pass 3 of a dataset seeded 0
draws = keys.element_draws(key, 17)            # element 17 of that pass
```
"""

import numpy as np

from keras_sportsnet.utils.checks import check_int
from keras_sportsnet.utils.checks import check_choice

__all__ = [
    "DRAWS",
    "STREAMS",
    "element_draws",
    "pass_key",
    "permutation",
    "resolve_seed",
    "split_permutation",
    "stream_key",
    "video_seed",
    "window_permutation",
]

DRAWS = ("clip_start", "crop_top", "crop_left", "flip")
"""What the draws of `element_draws` decide, in order."""

STREAMS = {"order": 0x5F, "window": 0x77, "element": 0xE1}
"""The independent streams derived from a pass key (constants mixed into the Philox seed)."""

def resolve_seed(seed, argument="seed"):
    """``seed`` as an int, or a fresh one from OS entropy when None (report it so the run can be repeated).

    Args:
        seed: int >= 0 or None.
        argument: str. The argument's name, for the error.

    Example:
    >>> resolve_seed(7)
    7
    """
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**31))
    return check_int(argument, seed, minimum=0)


def pass_key(seed, index):
    """The int64 key of pass ``index`` of data seeded ``seed``: a stateless Philox draw of ``(seed, index)``.

    Args:
        seed: int.
        index: int or int64 scalar tensor. The pass (epoch) number.

    Returns:
        An int64 scalar tensor.

    Example:
    ```python
    pass_key(0, 3)   # the same number in every process, every time
    ```
    """
    import tensorflow as tf
    pair = tf.stack([tf.constant(int(seed) % (2**63), tf.int64), tf.cast(index, tf.int64)])
    return tf.random.stateless_uniform([], seed=pair, minval=None, maxval=None, dtype=tf.int64)


def stream_key(key, stream):
    """The key of one independent stream (`STREAMS`) of a pass key.

    Example:
    ```python
    stream_key(pass_key(0, 3), "order")
    ```
    """
    import tensorflow as tf
    check_choice("stream", stream, tuple(STREAMS))
    pair = tf.stack([tf.cast(key, tf.int64), tf.constant(STREAMS[stream], tf.int64)])
    return tf.random.stateless_uniform([], seed=pair, minval=None, maxval=None, dtype=tf.int64)


def _philox_seed(key, stream, index):
    import tensorflow as tf
    return tf.stack([stream_key(key, stream), tf.cast(index, tf.int64)])


def permutation(count, key):
    """A permutation of ``range(count)`` drawn from a pass key (argsort of Philox draws; int64).

    Example:
    ```python
    order = permutation(9, pass_key(0, 1))
    ```
    """
    import tensorflow as tf
    draws = tf.random.stateless_uniform([count], seed=_philox_seed(key, "order", 0))
    return tf.cast(tf.argsort(draws, stable=True), tf.int64)


def window_permutation(key, window, size):
    """A permutation of ``range(size)`` for shuffling window ``window`` of a pass.

    Example:
    ```python
    order = window_permutation(pass_key(0, 1), 4, 2048)
    ```
    """
    import tensorflow as tf
    draws = tf.random.stateless_uniform([size], seed=_philox_seed(key, "window", window))
    return tf.argsort(draws, stable=True)


def element_draws(key, element):
    """The four draws of one element of a pass: ints in ``[0, 2**30)``, meaning `DRAWS`.

    Args:
        key: the pass key (`pass_key`).
        element: int or int64 tensor: the element's position in the unshuffled pass
            (video x clip, or clip of a shard share).

    Returns:
        An int32 tensor of shape ``(4,)``.

    Example:
    ```python
    start_draw, top, left, flip = element_draws(pass_key(0, 0), 5)
    ```
    """
    import tensorflow as tf
    return tf.random.stateless_uniform(
        [len(DRAWS)], seed=_philox_seed(key, "element", element), minval=0, maxval=2**30, dtype=tf.int32
    )


def split_permutation(seed, count):
    """The file order of a ``validation_split``: ``RandomState(seed)`` (Keras' convention); the last files validate.

    Example:
    >>> split_permutation(0, 4).tolist()
    [2, 3, 1, 0]
    """
    return np.random.RandomState(seed).permutation(count)


def video_seed(seed, video):
    """The NumPy seed of the clips of one video: ``[seed, video]`` (for `random_clips`).

    Used for the evaluation clips and the clips of prepared shards: a video's
    clips depend on nothing but the seed and its index, whichever worker
    samples it.

    Example:
    >>> video_seed(0, 7)
    [0, 7]
    """
    return [check_int("seed", seed, minimum=0), check_int("video", video, minimum=0)]
