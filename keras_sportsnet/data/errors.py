"""The error types the data package raises: unusable videos, damaged prepared shards."""

import os
import re

__all__ = ["ShardError", "VideoError", "graph_sentence", "shard_error_from"]

# A keras_sportsnet sentence raised inside a TensorFlow graph (tf.debugging.Assert in the shard reader), as TensorFlow
# frames it: "Graph execution error: / Detected at node ... / assertion failed: [keras_sportsnet: SENTENCE] / [[{{node".
_GRAPH_SENTENCE = re.compile(r"^(?:assertion failed: )?\[keras_sportsnet: (?P<sentence>.+)\]\s*$", re.M)


class VideoError(ValueError):
    """A video that cannot be used: its path and the problem, in one message.

    Raised for every unreadable input (missing, empty, truncated, not a video,
    audio-only, too short for the clip asked for, damaged stream ...).

    Attributes:
        path: str. The file.
        problem: str. What is wrong with it, in words.

    Example:
    ```python
    try:
        ksn.data.read_clip("broken.mp4", [0, 1, 2])
    except ksn.data.VideoError as error:
        print(error.path, error.problem)
    ```
    """

    def __init__(self, path, problem):
        self.path = os.fspath(path)
        self.problem = str(problem)
        super().__init__(f"{self.path}: {self.problem}")

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.path, self.problem))


class ShardError(ValueError):
    """A prepared shard that does not hold what its manifest lists (emptied, cut, or damaged inside).

    The message names the shard file and how to rewrite it.

    Example:
    ```python
    try:
        ksn.training.train(model, ksn.data.shard_dataset("shards/"), run_dir="runs/a", epochs=2)
    except ksn.data.ShardError as error:
        print(error)   # shard shards/clips-00001-of-00002.tfrecord is damaged: it gave 7 clips, ...
    ```
    """


def graph_sentence(error):
    """Our own sentence inside a TensorFlow error's framing (node names, stack notes, op names), or None.

    Args:
        error: an exception.

    Example:
    ```python
    graph_sentence(error)   # "shard .../clips-00001-of-00002.tfrecord is damaged: ..." or None
    ```
    """
    if not any(cls.__name__ == "OpError" for cls in type(error).__mro__):
        return None
    found = _GRAPH_SENTENCE.search(str(error))
    return found.group("sentence").strip() if found else None


def shard_error_from(error):
    """The `ShardError` a TensorFlow error from the shard reader carries, or None for any other error.

    Args:
        error: an exception.

    Example:
    ```python
    except Exception as error:
        replacement = shard_error_from(error)
        if replacement is not None:
            raise replacement from None
        raise
    ```
    """
    sentence = graph_sentence(error)
    return ShardError(sentence) if sentence and sentence.startswith("shard ") else None
