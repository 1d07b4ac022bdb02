"""Argument checks shared by the package: errors name the argument, the allowed values and what was received."""

import numbers

import numpy as np

__all__ = ["check_choice", "check_class_names", "check_positive_int", "is_int"]


def check_choice(argument, value, allowed):
    """Raises a ValueError naming `argument`, the allowed values and `value`.

    Example:
    >>> check_choice("fusion", "slow", ("early", "slow"))
    """
    if value not in allowed:
        raise ValueError(
            f"`{argument}` must be one of {list(allowed)}. Received: {argument}={value!r}"
        )


def is_int(value):
    """True for Python and NumPy integers, False for bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_positive_int(value, name, allow_none=False):
    """``int(value)`` if it is an int >= 1 (or None when allowed); else a ValueError naming `name`.

    Example:
    >>> check_positive_int(5, "top")
    5
    """
    if value is None and allow_none:
        return None
    if not is_int(value) or value < 1:
        what = "an int >= 1" + (" or None" if allow_none else "")
        raise ValueError(f"`{name}` must be {what}. Received: {name}={value!r}")
    return int(value)


def check_class_names(class_names, count, name="class_names"):
    """The names as a list of ``count`` str; else a ValueError naming `name`.

    Example:
    >>> check_class_names(("a", "b"), 2)
    ['a', 'b']
    """
    if isinstance(class_names, str) or not hasattr(class_names, "__len__"):
        raise ValueError(f"`{name}` must be a sequence of str. Received: {name}={class_names!r}")
    names = [str(c) for c in class_names]
    if len(names) != count:
        raise ValueError(f"`{name}` must have {count} entries (one per class). Received: {len(names)} entries")
    return names
