"""Argument checks shared by the package: errors name the argument, the allowed values and what was received."""

__all__ = ["check_choice"]


def check_choice(argument, value, allowed):
    """Raises a ValueError naming `argument`, the allowed values and `value`.

    Example:
    >>> check_choice("fusion", "slow", ("early", "slow"))
    """
    if value not in allowed:
        raise ValueError(
            f"`{argument}` must be one of {list(allowed)}. Received: {argument}={value!r}"
        )
