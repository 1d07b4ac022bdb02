"""Deprecated home of the test-video helpers; kept only so that code written against it keeps importing.

- `write_video`, `CODECS` moved to `keras_sportsnet.data.encoding`;
- `index_frames`, `frame_code` moved to `keras_sportsnet.testing.videos`.

Importing a name from here still works, with a `DeprecationWarning` naming its new home. Nothing in the package
imports this module; it goes once no caller is left.
"""

import importlib
import warnings

__all__ = []

_MOVED = {
    "CODECS": "keras_sportsnet.data.encoding",
    "write_video": "keras_sportsnet.data.encoding",
    "frame_code": "keras_sportsnet.testing.videos",
    "index_frames": "keras_sportsnet.testing.videos",
}


def __getattr__(name):
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"keras_sportsnet.data.synthetic.{name} moved to {_MOVED[name]}.{name}; import it from there.",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(_MOVED[name]), name)
