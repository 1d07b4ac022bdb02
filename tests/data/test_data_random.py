"""The one module that derives random keys: pure functions of (seed, pass, element), independent streams."""

import numpy as np
import pytest

from keras_sportsnet.data import random as keys
from keras_sportsnet.transforms import PaperAugmentation


def test_pass_keys_are_pure_functions_of_seed_and_pass():
    first = [int(keys.pass_key(0, p)) for p in range(5)]
    assert first == [int(keys.pass_key(0, p)) for p in range(5)]
    assert len(set(first)) == 5
    assert int(keys.pass_key(1, 0)) != first[0]


def test_streams_of_a_pass_key_are_independent():
    key = keys.pass_key(3, 2)
    assert len({int(keys.stream_key(key, s)) for s in keys.STREAMS}) == len(keys.STREAMS)
    draws = np.stack([keys.element_draws(key, e).numpy() for e in range(200)])
    assert draws.shape == (200, len(keys.DRAWS)) and draws.min() >= 0 and draws.max() < 2**30
    assert len({tuple(row) for row in draws}) == 200
    # The window shuffle and the element draws use different streams: window w is not element w's draws.
    assert not np.array_equal(keys.window_permutation(key, 0, 8).numpy(), np.argsort(draws[:8, 0], kind="stable"))
    order = keys.permutation(50, key).numpy()
    assert sorted(order) == list(range(50)) and not np.array_equal(order, np.arange(50))
    np.testing.assert_array_equal(order, keys.permutation(50, keys.pass_key(3, 2)).numpy())


def test_split_follows_keras_and_video_and_layer_seeds():
    expected = np.arange(10)
    np.random.RandomState(7).shuffle(expected)
    np.testing.assert_array_equal(keys.split_permutation(7, 10), expected)
    assert keys.video_seed(4, 9) == [4, 9]
    assert (keys.layer_seed(10, "crop"), keys.layer_seed(10, "flip"), keys.layer_seed(None, "flip")) == (10, 11, None)
    layer = PaperAugmentation(30, resize_to=34, seed=10)
    assert (layer.crop.seed, layer.flip.seed) == (10, 11)
    with pytest.raises(ValueError, match=r"`stream` must be one of \['crop', 'flip'\]"):
        keys.layer_seed(1, "colour")


def test_resolve_seed_checks_and_draws():
    assert keys.resolve_seed(5) == 5
    drawn = keys.resolve_seed(None)
    assert isinstance(drawn, int) and 0 <= drawn < 2**31
    with pytest.raises(ValueError, match="`seed` must be an int >= 0. Received: seed=-1"):
        keys.resolve_seed(-1)
