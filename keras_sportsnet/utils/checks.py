"""Argument checks: every error names the argument, the allowed values and what was received.

Example:
```python
from keras_sportsnet.utils.checks import check_choice, check_int
check_choice("fusion", "slow", ("single_frame", "early", "late", "slow"))
check_int("batch_size", 32, minimum=1)
```
"""

import difflib
import math
import numbers
import os

import numpy as np

__all__ = [
    "check_choice",
    "check_class_names",
    "check_float",
    "check_int",
    "check_positive_int",
    "check_resize",
    "check_size",
    "closest",
    "did_you_mean",
    "is_int",
]


def is_int(value):
    """True for Python and NumPy integers, False for bools.

    Example:
    >>> is_int(3), is_int(True), is_int(3.0)
    (True, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def closest(value, choices, cutoff=0.6):
    """The choice closest to ``value`` by spelling, or None when none is close.

    Args:
        value: the misspelt value (str; anything else gives None).
        choices: iterable of str.
        cutoff: float in [0, 1]: how similar a suggestion must be.

    Example:
    >>> closest("slow_fusion_synthetc", ["slow_fusion_synthetic", "early_fusion_synthetic"])
    'slow_fusion_synthetic'
    """
    if not isinstance(value, str):
        return None
    matches = difflib.get_close_matches(value, [str(c) for c in choices], n=1, cutoff=cutoff)
    return matches[0] if matches else None


def did_you_mean(value, choices):
    """``" Did you mean 'x'?"`` for the closest choice, or ``""``.

    Example:
    >>> did_you_mean("slwo", ["slow", "late"])
    " Did you mean 'slow'?"
    """
    match = closest(value, choices)
    return f" Did you mean {match!r}?" if match is not None else ""


def check_choice(argument, value, allowed):
    """Raises a ValueError naming ``argument``, the allowed values and ``value``.

    Args:
        argument: str. The argument's name as the user wrote it.
        value: what was received.
        allowed: sequence of allowed values.

    Example:
    >>> check_choice("fusion", "slow", ("early", "slow"))
    """
    if value not in allowed:
        raise ValueError(
            f"`{argument}` must be one of {list(allowed)}. Received: {argument}={value!r}."
            + did_you_mean(value, [a for a in allowed if isinstance(a, str)])
        )


def check_int(argument, value, minimum=None, maximum=None, allow_none=False):
    """``int(value)`` if it is an int in ``[minimum, maximum]`` (or None when allowed).

    Args:
        argument: str. The argument's name.
        value: what was received.
        minimum, maximum: int or None. Inclusive bounds.
        allow_none: bool. Whether None is accepted (and returned).

    Example:
    >>> check_int("batch_size", 8, minimum=1)
    8
    """
    if value is None and allow_none:
        return None
    if not is_int(value) or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if minimum is not None and maximum is not None:
            what = f"an int in [{minimum}, {maximum}]"
        elif minimum is not None:
            what = f"an int >= {minimum}"
        elif maximum is not None:
            what = f"an int <= {maximum}"
        else:
            what = "an int"
        what += " or None" if allow_none else ""
        raise ValueError(f"`{argument}` must be {what}. Received: {argument}={value!r}")
    return int(value)


def check_positive_int(argument, value, allow_none=False):
    """``int(value)`` if it is an int >= 1 (or None when allowed).

    Example:
    >>> check_positive_int("top", 5)
    5
    """
    return check_int(argument, value, minimum=1, allow_none=allow_none)


def check_float(argument, value, low=None, high=None, *, low_open=False, high_open=False, allow_none=False):
    """``float(value)`` if it is a finite real number within the bounds.

    Args:
        argument: str.
        value: what was received.
        low, high: float or None. Bounds.
        low_open, high_open: bool. Whether the bound itself is excluded.
        allow_none: bool.

    Example:
    >>> check_float("validation_split", 0.2, 0, 1, low_open=True, high_open=True)
    0.2
    """
    if value is None and allow_none:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        span = f" in {left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        what = "a finite number" + (span if low is not None or high is not None else "")
        what += " or None" if allow_none else ""
        raise ValueError(f"`{argument}` must be {what}. Received: {argument}={value!r}")
    return float(value)


def check_size(argument, value, minimum=1):
    """``(height, width)`` from an int or a pair of ints >= ``minimum``.

    Example:
    >>> check_size("image_size", 170)
    (170, 170)
    """
    pair = (value, value) if is_int(value) else value
    if (
        isinstance(pair, (str, bytes))
        or not hasattr(pair, "__len__")
        or len(pair) != 2
        or not all(is_int(v) and v >= minimum for v in pair)
    ):
        raise ValueError(
            f"`{argument}` must be an int >= {minimum} or a pair (height, width) of them. Received: {argument}={value!r}"
        )
    return (int(pair[0]), int(pair[1]))


def check_resize(image_size, resize_to, image_argument="image_size", resize_argument="resize_to"):
    """``resize_to`` as an int, refused when the crop ``image_size`` cannot be cut from it.

    Args:
        image_size: ``(height, width)``: the crop the model reads.
        resize_to: int. Side of the square frames before cropping.
        image_argument, resize_argument: the names to put in the error (e.g. CLI flags).

    Example:
    >>> check_resize((170, 170), 200)
    200
    """
    resize_to = check_positive_int(resize_argument, resize_to)
    if image_size is not None and max(image_size) > resize_to:
        raise ValueError(
            f"`{resize_argument}` must be at least the crop size `{image_argument}`: the {tuple(image_size)} crop is "
            f"cut from {resize_to} x {resize_to} frames, so no clip could ever be read. Received: "
            f"{image_argument}={tuple(image_size)}, {resize_argument}={resize_to}. Use {resize_argument} >= "
            f"{max(image_size)} (the paper: 170 from 200) or a smaller {image_argument}."
        )
    return resize_to


def check_class_names(class_names, count, name="class_names"):
    """The names as a list of ``count`` str; else a ValueError naming ``name``.

    Example:
    >>> check_class_names(("a", "b"), 2)
    ['a', 'b']
    """
    if isinstance(class_names, (str, bytes, os.PathLike)) or not hasattr(class_names, "__len__"):
        raise ValueError(f"`{name}` must be a sequence of str. Received: {name}={class_names!r}")
    names = [str(c) for c in class_names]
    if len(names) != count:
        raise ValueError(f"`{name}` must have {count} entries (one per class). Received: {len(names)} entries")
    return names
