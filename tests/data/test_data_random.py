"""The one module that derives random keys: pure functions of (seed, pass, element), independent streams."""

import numpy as np
import pytest

from keras_sportsnet.data import random as keys


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


def test_split_follows_keras_and_video_seeds():
    expected = np.arange(10)
    np.random.RandomState(7).shuffle(expected)
    np.testing.assert_array_equal(keys.split_permutation(7, 10), expected)
    assert keys.video_seed(4, 9) == [4, 9]


def test_resolve_seed_checks_and_draws():
    assert keys.resolve_seed(5) == 5
    drawn = keys.resolve_seed(None)
    assert isinstance(drawn, int) and 0 <= drawn < 2**31
    with pytest.raises(ValueError, match="`seed` must be an int >= 0. Received: seed=-1"):
        keys.resolve_seed(-1)


# Every use of a random source outside the key module, and why it is not a key of its own (issue 15: "one place
# that derives every random key"). A new entry needs a reason here and in the module's docstring.
RANDOM_SOURCE_EXCEPTIONS = {
    "data/sampling.py": "turns a seed made by this module (`video_seed`), or a caller's own seed or Generator, "
                        "into a NumPy Generator: it derives no key",
    "datasets/synthetic_sports.py": "the embedded dataset's pixels, a pure function of (seed, class, index) "
                                    "given to `load_data`: content, not a pipeline choice",
    "distributed/context.py": "setup(seed=None) on several processes: process 0 draws the shared seed of the "
                              "initial weights and broadcasts it (an explicit seed skips the draw)",
    "testing/": "helpers for users' tests, never imported by the library",
}


def test_every_random_source_goes_through_the_key_module_or_is_a_documented_exception():
    import os
    import re

    import keras_sportsnet

    package = os.path.dirname(keras_sportsnet.__file__)
    pattern = re.compile(r"np\.random|numpy\.random|RandomState|default_rng|SeedSequence|^\s*import random\b|"
                         r"^\s*from random import|tf\.random\.", re.MULTILINE)
    found = set()
    for folder, _, files in os.walk(package):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, package).replace(os.sep, "/")
                with open(path, encoding="utf-8") as handle:
                    if pattern.search(handle.read()) and relative != "data/random.py":
                        found.add(relative)
    unexplained = {path for path in found if not any(path.startswith(known) for known in RANDOM_SOURCE_EXCEPTIONS)}
    assert not unexplained, f"random sources outside keras_sportsnet/data/random.py: {sorted(unexplained)}"
    assert "evaluation/runner.py" not in found  # evaluation clip seeds: `video_seed` (issue 15)
