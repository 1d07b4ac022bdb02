import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Tests never touch the user's ~/.keras or ~/.cache/huggingface, and never reach the network:
# everything Hub-related runs against a throwaway cache (and, in test_hub_server.py, a local server).
_SANDBOX = tempfile.mkdtemp(prefix="keras_sportsnet_tests_")
os.environ["HF_HOME"] = os.path.join(_SANDBOX, "hf_home")
os.environ["HF_HUB_CACHE"] = os.path.join(_SANDBOX, "hf_home", "hub")
os.environ["KERAS_HOME"] = os.path.join(_SANDBOX, "keras_home")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"  # the discard port: nothing real is ever asked

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# A small shorthand with every token kind, used wherever the paper's size is
# not the point of the test.
TINY_SPEC = "C(8,5,2)-N-P-C(12,3,1)-N-P-C(16,3,1)-P-FC(24)-FC(20)"
TINY_SIZE = 40


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    import keras

    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session()


def random_clips(batch, model, seed=0):
    """Raw-pixel clips (0..255) of the model's input shape."""
    shape = (batch, *model.input.shape[1:])
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def assert_same_final_weights(first_run, second_run):
    """The ``final.npz`` weights two training runs saved are bit-identical (the kill/resume tests' check)."""
    import numpy as np

    a, b = np.load(first_run / "final.npz"), np.load(second_run / "final.npz")
    assert len(a.files) == len(b.files) > 0
    for name in a.files:
        np.testing.assert_array_equal(a[name], b[name])


def write_class_videos(root, class_names, videos_per_class, make_frames, **encoding):
    """``root/<class>/v<i>.mp4`` for every class; ``make_frames(label, video)`` gives each video's uint8 frames.

    Returns ``root``. `encoding` goes to `keras_sportsnet.data.encoding.write_video` (codec, keyframe_interval...).
    """
    from keras_sportsnet.data.encoding import write_video

    for label, name in enumerate(class_names):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for video in range(videos_per_class):
            write_video(os.path.join(root, name, f"v{video}.mp4"), make_frames(label, video), **encoding)
    return root


@pytest.fixture(scope="session")
def real_videos():
    """``{name: path}`` of the real sample videos (tests/real_videos.py fetches and caches them; never skipped)."""
    import real_videos as corpus

    try:
        root = corpus.corpus_dir()
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    return {name: os.path.join(root, name) for name in corpus.ALL_VIDEOS}
