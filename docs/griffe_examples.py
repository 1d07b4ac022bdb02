"""Griffe extension for the API reference: the package's ``Example:`` docstring sections read as code examples.

The package's docstrings follow the keras-hub template: one ``Example:`` section, usually not indented, holding
fenced Python code or doctest lines (``>>> ...``). Griffe's Google-style parser reads a section only under a known
header (``Examples:``) with an indented body; otherwise the doctest lines come out as Markdown quotes. This
extension renames the header and indents its body (up to the next section header) before griffe parses it. Used by
``mkdocs.yml`` (mkdocstrings ``extensions``); nothing in the package imports it.
"""

import re

import griffe

HEADER = re.compile(r"^(\s*)Examples?:\s*$")
NEXT_SECTION = re.compile(
    r"^(Args|Arguments|Returns|Yields|Raises|Attributes|Note|Notes|Warning|Warnings|References|See Also):\s*$"
)


def examples_section(docstring):
    """``docstring`` with every ``Example:`` section as an indented ``Examples:`` section.

    Args:
        docstring: str, a docstring's text as griffe holds it (already dedented).

    Returns:
        The rewritten text.

    Example:
    >>> examples_section("Adds.\\n\\nExample:\\n>>> 1 + 1\\n2")
    'Adds.\\n\\nExamples:\\n    >>> 1 + 1\\n    2'
    """
    lines, out, index = docstring.split("\n"), [], 0
    while index < len(lines):
        match = HEADER.match(lines[index])
        if not match:
            out.append(lines[index])
            index += 1
            continue
        indent = match.group(1)
        out.append(f"{indent}Examples:")
        index += 1
        body = []
        while index < len(lines):
            line = lines[index]
            stripped = line[len(indent):] if line.startswith(indent) else line
            if NEXT_SECTION.match(stripped):
                break
            body.append(line)
            index += 1
        first = next((line for line in body if line.strip()), "")
        already_indented = len(first) - len(first.lstrip()) > len(indent)
        out.extend(line if already_indented or not line.strip() else "    " + line for line in body)
    return "\n".join(out)


class ExampleSections(griffe.Extension):
    """Applies `examples_section` to every docstring griffe loads."""

    def on_instance(self, *, node, obj, agent, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = examples_section(obj.docstring.value)
