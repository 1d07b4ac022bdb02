"""Epochs whose every random choice is a pure function of the seed and the pass.

A dataset is built from ``one_pass(key, skip)``: a `tf.data.Dataset` of one
pass over the data (an epoch), every random choice in it (order, clip
positions, crops, flips) drawn statelessly from ``key``, a scalar int64
tensor. Two ways to chain passes:

- `passes_per_iteration`: what `model.fit(dataset, epochs=...)` sees. Each
  new iterator (Keras makes one per epoch) draws a fresh key from a seeded
  `tf.data.Dataset.random`, so epochs differ and the sequence of epochs is
  fixed by the seed.
- `stream`: an endless sequence of passes, pass ``p`` keyed by
  ``pass_key(seed, p)``, that can start at any batch. Training with
  ``steps_per_epoch`` over a stream, a run restarted at step ``s`` sees
  exactly the batches an uninterrupted run sees from step ``s`` on.

`augment_clip` is the paper's random crop and flip for one clip, drawn from a
key, so augmentation is part of the pure function too (the Keras layers of
`transforms` keep their own seed state and serve the on-accelerator path).
"""

import tensorflow as tf

__all__ = ["pass_key", "element_key", "permutation", "window_shuffle", "passes_per_iteration", "stream", "augment_clip"]


def pass_key(seed, index):
    """The int64 key of pass ``index`` of a stream seeded ``seed`` (a stateless Philox draw)."""
    pair = tf.stack([tf.constant(int(seed) % (2**63), tf.int64), tf.cast(index, tf.int64)])
    return tf.random.stateless_uniform([], seed=pair, minval=None, maxval=None, dtype=tf.int64)


def element_key(key, element):
    """The stateless-RNG seed pair of one element of a pass: ``(key, element)``."""
    return tf.stack([tf.cast(key, tf.int64), tf.cast(element, tf.int64)])


def permutation(count, key):
    """A permutation of ``range(count)`` drawn from ``key`` (stateless: argsort of Philox draws)."""
    draws = tf.random.stateless_uniform([count], seed=tf.stack([tf.cast(key, tf.int64), tf.constant(0x5F, tf.int64)]))
    return tf.cast(tf.argsort(draws, stable=True), tf.int64)


def window_shuffle(dataset, window, key):
    """Shuffles a dataset within consecutive windows of ``window`` elements, drawn from ``key``.

    A stateless, keyed stand-in for `tf.data.Dataset.shuffle` (whose seed
    must be a Python int): element order inside each window is a permutation
    drawn from ``(key, window index)``.
    """

    def permute(index, elements):
        count = tf.shape(elements)[0]
        draws = tf.random.stateless_uniform([count], seed=tf.stack([tf.cast(key, tf.int64), index]))
        return tf.gather(elements, tf.argsort(draws, stable=True))

    return dataset.batch(window).enumerate().map(permute).unbatch()


def passes_per_iteration(seed, one_pass):
    """One pass per iterator, keyed by a seeded per-iteration random draw (epochs differ)."""
    keys = tf.data.Dataset.random(seed=int(seed), rerandomize_each_iteration=True).take(1)
    return keys.flat_map(lambda key: one_pass(key, tf.constant(0, tf.int64)))


def stream(seed, one_pass, pass_length, start_position=0):
    """Endless passes; element ``start_position`` (counted over all passes) first.

    Args:
        seed: int.
        one_pass: ``(key, skip) -> Dataset`` of one pass without its first ``skip`` elements.
        pass_length: int. Elements per pass.
        start_position: int. Elements already consumed (e.g. ``steps * batch_size``).
    """
    first_pass, first_skip = divmod(int(start_position), int(pass_length))

    def make(index):
        skip = tf.where(index == first_pass, tf.constant(first_skip, tf.int64), tf.constant(0, tf.int64))
        return one_pass(pass_key(seed, index), skip)

    return tf.data.Dataset.range(first_pass, 2**62).flat_map(make)


def augment_clip(clip, key, crop_size, training):
    """The paper's augmentation of one clip ``(T, H, W, C)``: one crop window and one flip for all frames.

    Args:
        clip: tensor ``(T, H, W, C)``.
        key: seed pair from `element_key` (ignored when not training).
        crop_size: ``(height, width)``.
        training: bool. True: random crop + flip with p = 0.5; False: centre crop.
    """
    height, width = crop_size
    shape = tf.shape(clip)
    if not training:
        top, left = (shape[1] - height) // 2, (shape[2] - width) // 2
        return clip[:, top : top + height, left : left + width, :]
    draws = tf.random.stateless_uniform([3], seed=key, minval=0, maxval=2**30, dtype=tf.int32)
    top = draws[0] % (shape[1] - height + 1)
    left = draws[1] % (shape[2] - width + 1)
    cropped = clip[:, top : top + height, left : left + width, :]
    flip = draws[2] % 2 == 1
    return tf.cond(flip, lambda: tf.reverse(cropped, axis=[2]), lambda: cropped)
