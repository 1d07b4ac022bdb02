"""The layer shorthand of Karpathy et al. (CVPR 2014), Section 3.1.

A network is written as tokens joined by ``-``::

    C(d,f,s)   convolution: d filters of f x f pixels, spatial stride s, ReLU
    N          local response normalization (k=2, n=5, alpha=1e-4, beta=0.5)
    P          non-overlapping 2 x 2 max pooling
    FC(n)      fully connected layer with n units, ReLU

`parse_spec` turns such a string into a tuple of frozen dataclasses and
`format_spec` turns the tuple back into the canonical string, so that
``format_spec(parse_spec(s)) == s`` for every canonical ``s`` (no spaces) and
``parse_spec(format_spec(layers)) == layers`` for every tuple of layers.
"""

import dataclasses
import re

__all__ = [
    "Conv",
    "Norm",
    "Pool",
    "FullyConnected",
    "PAPER_SPEC",
    "parse_spec",
    "format_spec",
    "split_spec",
]


@dataclasses.dataclass(frozen=True)
class Conv:
    """``C(filters,kernel_size,strides)``: a ReLU convolution."""

    filters: int
    kernel_size: int
    strides: int

    def __str__(self):
        return f"C({self.filters},{self.kernel_size},{self.strides})"


@dataclasses.dataclass(frozen=True)
class Norm:
    """``N``: local response normalization across channels."""

    def __str__(self):
        return "N"


@dataclasses.dataclass(frozen=True)
class Pool:
    """``P``: 2 x 2 max pooling with stride 2 (sizes round up)."""

    def __str__(self):
        return "P"


@dataclasses.dataclass(frozen=True)
class FullyConnected:
    """``FC(units)``: a ReLU fully connected layer."""

    units: int

    def __str__(self):
        return f"FC({self.units})"


PAPER_SPEC = (
    "C(96,11,3)-N-P-C(256,5,1)-N-P-C(384,3,1)-C(384,3,1)-C(256,3,1)-P"
    "-FC(4096)-FC(4096)"
)
"""The single-frame network of Section 3.1, shared by every model of the paper."""

_TOKEN = re.compile(r"^(?P<op>C|FC|N|P)(?:\((?P<args>[^()]*)\))?$")
_ARGUMENTS = {
    "C": (Conv, ("filters", "kernel_size", "strides")),
    "FC": (FullyConnected, ("units",)),
    "N": (Norm, ()),
    "P": (Pool, ()),
}
_EXPECTED = "one of C(d,f,s), N, P, FC(n)"


def parse_spec(spec):
    """Parses the paper's layer shorthand into a tuple of layer specs.

    Whitespace is ignored. Convolution, normalization and pooling tokens form
    the convolutional trunk and must all come before the first ``FC`` token.

    Args:
        spec: str. The shorthand, e.g. ``"C(96,11,3)-N-P-FC(4096)"``.

    Returns:
        A tuple of `Conv`, `Norm`, `Pool` and `FullyConnected` instances.

    Raises:
        ValueError: naming the offending token, its position (0-based token
            index and character offset) and what was expected.

    Example:
    >>> parse_spec("C(96,11,3)-N-P-FC(4096)")
    (Conv(filters=96, kernel_size=11, strides=3), Norm(), Pool(), FullyConnected(units=4096))
    """
    if not isinstance(spec, str):
        raise TypeError(
            f"`spec` must be a string such as {PAPER_SPEC!r}. "
            f"Received: spec={spec!r} of type {type(spec).__name__}"
        )
    compact = re.sub(r"\s+", "", spec)
    if not compact:
        raise ValueError(f"`spec` is empty. Expected tokens {_EXPECTED} joined by '-'.")
    layers = []
    offset = 0
    seen_fully_connected = False
    for index, token in enumerate(compact.split("-")):
        where = f"token {index} ({token!r}, at character {offset}) of spec {spec!r}"
        match = _TOKEN.match(token)
        if match is None:
            raise ValueError(f"Cannot parse {where}. Expected {_EXPECTED}.")
        cls, names = _ARGUMENTS[match["op"]]
        raw = match["args"]
        if not names and raw is not None:
            raise ValueError(f"Cannot parse {where}: {match['op']} takes no arguments.")
        values = [] if raw is None else raw.split(",")
        if len(values) != len(names):
            raise ValueError(
                f"Cannot parse {where}: {match['op']} takes {len(names)} "
                f"argument(s) ({', '.join(names)}), received {len(values)}."
            )
        arguments = []
        for name, value in zip(names, values):
            if not value.isdigit() or int(value) < 1:
                raise ValueError(
                    f"Cannot parse {where}: {name} must be a positive integer, "
                    f"received {value!r}."
                )
            arguments.append(int(value))
        layer = cls(*arguments)
        if isinstance(layer, FullyConnected):
            seen_fully_connected = True
        elif seen_fully_connected:
            raise ValueError(
                f"Cannot parse {where}: convolution, normalization and pooling "
                "tokens must come before the first FC token."
            )
        layers.append(layer)
        offset += len(token) + 1
    if not any(isinstance(layer, Conv) for layer in layers):
        raise ValueError(f"`spec` {spec!r} has no convolution token C(d,f,s).")
    return tuple(layers)


def format_spec(layers):
    """Writes layer specs back as the paper's shorthand; inverse of `parse_spec`.

    Args:
        layers: an iterable of `Conv`, `Norm`, `Pool`, `FullyConnected`, or a
            shorthand string (returned in canonical form).

    Returns:
        The canonical shorthand string (no spaces).

    Example:
    >>> format_spec(parse_spec("C(96, 11, 3) - N - P"))
    'C(96,11,3)-N-P'
    """
    if isinstance(layers, str):
        layers = parse_spec(layers)
    return "-".join(str(layer) for layer in layers)


def split_spec(layers):
    """Splits parsed layers into the convolutional trunk and the FC stack.

    Args:
        layers: a tuple from `parse_spec`.

    Returns:
        ``(trunk, fully_connected)``: two tuples of layer specs.
    """
    trunk = tuple(l for l in layers if not isinstance(l, FullyConnected))
    dense = tuple(l for l in layers if isinstance(l, FullyConnected))
    return trunk, dense
