"""Text and Markdown tables: the one formatter behind every table the package prints.

Example:
>>> print(format_table(["model", "hit@1"], [["slow", 0.5]]))
model   hit@1
-----  ------
slow   0.5000
"""

import math
import numbers

import numpy as np

__all__ = ["format_cell", "format_markdown_table", "format_table"]


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def format_cell(value, float_format=".4f"):
    """One cell: floats with ``float_format`` (NaN as ``-``), None as empty, the rest with `str`.

    Args:
        value: the cell's value.
        float_format: str, a `format` spec for floats.

    Returns:
        str.

    Example:
    >>> format_cell(0.25), format_cell(float("nan")), format_cell(None)
    ('0.2500', '-', '')
    """
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return "-" if math.isnan(value) else format(float(value), float_format)
    return str(value)


def _check(header, rows, float_format):
    if isinstance(header, str) or not hasattr(header, "__len__") or not len(header):
        raise ValueError(f"`header` must be a non-empty sequence of column titles. Received: header={header!r}")
    if not isinstance(float_format, str):
        raise ValueError(f"`float_format` must be a format spec str such as '.4f'. Received: float_format={float_format!r}")
    rows = [list(row) for row in rows]
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(
                f"`rows` must have {len(header)} values per row (one per column). Received: rows[{i}] has {len(row)}"
            )
    numeric = [bool(rows) and all(_is_number(row[c]) for row in rows) for c in range(len(header))]
    return rows, numeric


def format_table(header, rows, float_format=".4f", align=None):
    """A fixed-width text table: header, a dashed rule, one line per row; numeric columns right-aligned.

    Args:
        header: sequence of column titles.
        rows: sequence of rows, one value per column.
        float_format: str, a `format` spec for floats.
        align: optional str of ``"l"``/``"r"``, one per column (default: numbers right, text left).

    Returns:
        str without a trailing newline.

    Example:
    >>> print(format_table(["a", "b"], [["x", 1]]))
    a  b
    -  -
    x  1
    """
    rows, numeric = _check(header, rows, float_format)
    cells = [[format_cell(v, float_format) for v in row] for row in rows]
    titles = [str(h) for h in header]
    widths = [max(len(c) for c in column) for column in zip(titles, *cells)]
    align = align or "".join("r" if n else "l" for n in numeric)
    if len(align) != len(titles) or set(align) - {"l", "r"}:
        raise ValueError(f"`align` must have one 'l' or 'r' per column. Received: align={align!r}")

    def line(values):
        parts = [v.rjust(w) if a == "r" else v.ljust(w) for v, w, a in zip(values, widths, align)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(titles), "  ".join("-" * w for w in widths)] + [line(row) for row in cells])


def format_markdown_table(header, rows, float_format=".4f"):
    """A GitHub-flavoured Markdown table (numeric columns right-aligned, ``|`` escaped).

    Floats are written with ``float_format`` (NaN as ``-``), None as an empty
    cell, anything else with `str`.

    Args:
        header: sequence of column titles.
        rows: sequence of rows, each with one value per column.
        float_format: str, a `format` spec for floats.

    Returns:
        str, lines joined by ``"\\n"``, without a trailing newline.

    Example:
    >>> print(format_markdown_table(["model", "hit@1"], [["slow", 0.5], ["late", float("nan")]]))
    | model | hit@1 |
    | --- | ---: |
    | slow | 0.5000 |
    | late | - |
    """
    rows, numeric = _check(header, rows, float_format)

    def cell(value):
        return format_cell(value, float_format).replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(cell(h) for h in header) + " |",
        "| " + " | ".join("---:" if n else "---" for n in numeric) + " |",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
