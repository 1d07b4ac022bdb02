"""The one error type the data package raises for unusable videos."""

import os

__all__ = ["VideoError"]


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
