"""The one progress line of the package: throttled, on stderr, closed with a final count.

Example:
```python
from keras_sportsnet.utils.progress import Progress
with Progress("scanning", total=100, unit="files") as progress:
    for path in paths:
        ...
        progress.update(extra="3 bad")
```
"""

import sys
import time

__all__ = ["Progress"]


class Progress:
    """A ``label: done/total unit (rate/s, about N s left)`` line, redrawn at most every ``interval`` s.

    Nothing is printed for work that ends within ``delay`` seconds, or when
    ``enabled`` is False. On a terminal the line is redrawn in place; in a
    log file one line is written per redraw.

    Args:
        label: str. What is being done ("scanning", "evaluating").
        total: int or None. Units of work, if known.
        unit: str. What is counted ("files", "videos", "clips").
        enabled: bool.
        interval: float. Seconds between redraws.
        delay: float. Seconds before the first line.
        stream: file object (default: sys.stderr).

    Example:
    ```python
    progress = Progress("probing", total=len(paths), unit="files")
    for path in paths:
        progress.update()
    progress.close()
    ```
    """

    def __init__(self, label, total=None, unit="items", enabled=True, interval=0.5, delay=1.0, stream=None):
        self.label, self.total, self.unit = label, total, unit
        self.enabled, self.interval, self.delay = enabled, interval, delay
        self.stream = stream or sys.stderr
        self.done = 0
        self.extra = ""
        self.start = self.last = time.monotonic()
        self.shown = False
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def update(self, count=1, extra=None):
        """Adds ``count`` units done; ``extra`` (str) is appended to the line."""
        self.done += count
        if extra is not None:
            self.extra = extra
        now = time.monotonic()
        if self.enabled and now - self.start >= self.delay and now - self.last >= self.interval:
            self.last = now
            self._draw(now)

    def _line(self, now):
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        count = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"
        text = f"{self.label}: {count} {self.unit} ({rate:.1f}/s"
        if self.total and self.done and self.done < self.total:
            text += f", about {(self.total - self.done) / rate:.0f} s left"
        text += ")"
        if self.extra:
            text += f", {self.extra}"
        return text

    def _draw(self, now):
        line = self._line(now)
        if self._tty:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.shown = True

    def close(self):
        """Writes the final line if any line was shown."""
        if self.shown:
            line = self._line(time.monotonic())
            self.stream.write(("\r" + line + "\x1b[K\n") if self._tty else line + "\n")
            self.stream.flush()
            self.shown = False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
