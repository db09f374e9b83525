"""A YAML document with a comment beside every value: how an imported config says where each
value came from.

Why: PyYAML writes data but no comments, and a reader of an imported config must see, next to
each value, which OpenGait key it came from. The document is built as a tree of ``Section`` and
``Value`` and written here; ``plain`` gives the same tree as plain data, so the writer can check
that the text it wrote reads back to exactly the values it meant. Scalars and lists are written
by PyYAML (quoting and escaping are its); comments are made printable on one line. This module
must not know any config key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from landmarkgait.data.quoting import printable

# Column at which value comments start (when the value ends before it).
COMMENT_COLUMN = 44
_INDENT = "  "


@dataclass
class Value:
    """A scalar or list, and the comment written beside it."""

    value: Any
    comment: str = ""


@dataclass
class Section:
    """A mapping: named entries in order, a comment on its own line, and comment-only lines inside."""

    entries: dict[str, Section | Value] = field(default_factory=dict)
    comment: str = ""
    notes: list[str] = field(default_factory=list)

    def section(self, name: str, comment: str = "") -> Section:
        """The subsection ``name``, created (with ``comment``) if it does not exist yet."""
        child = self.entries.get(name)
        if not isinstance(child, Section):
            child = Section(comment=comment)
            self.entries[name] = child
        elif comment and not child.comment:
            child.comment = comment
        return child

    def set(self, dotted: str, value: Any, comment: str = "") -> None:
        """Set ``a.b.c`` to ``value`` with ``comment``, creating the sections on the way."""
        *path, name = dotted.split(".")
        node = self
        for part in path:
            node = node.section(part)
        node.entries[name] = Value(value, comment)

    def get(self, dotted: str) -> Section | Value | None:
        node: Section | Value | None = self
        for part in dotted.split("."):
            if not isinstance(node, Section):
                return None
            node = node.entries.get(part)
        return node

    def remove(self, dotted: str) -> None:
        *path, name = dotted.split(".")
        parent = self.get(".".join(path)) if path else self
        if isinstance(parent, Section):
            parent.entries.pop(name, None)


def plain(node: Section | Value) -> Any:
    """The tree as plain data (what the written text must read back to)."""
    if isinstance(node, Value):
        return node.value
    return {name: plain(child) for name, child in node.entries.items()}


def from_plain(data: Any, comment: str) -> Section | Value:
    """Plain data as a tree, every value commented ``comment`` (e.g. a base config's sections)."""
    if isinstance(data, dict) and data:
        return Section({str(key): from_plain(value, comment) for key, value in data.items()})
    return Value(data, comment)


def render(root: Section, header: list[str]) -> str:
    """The document: ``header`` as comment lines, then the tree."""
    lines = [_comment_line(line) for line in header]
    _render_section(root, 0, lines)
    return "\n".join(lines) + "\n"


def _render_section(section: Section, depth: int, lines: list[str]) -> None:
    pad = _INDENT * depth
    for note in section.notes:
        lines.append(pad + _comment_line(note))
    for name, node in section.entries.items():
        key = _scalar(name)
        if isinstance(node, Section) and node.entries:
            lines.append(_with_comment(f"{pad}{key}:", node.comment))
            _render_section(node, depth + 1, lines)
        elif isinstance(node, Section):
            lines.append(_with_comment(f"{pad}{key}: {{}}", node.comment))
            lines.extend(pad + _INDENT + _comment_line(note) for note in node.notes)
        else:
            lines.append(_with_comment(f"{pad}{key}: {_scalar(node.value)}", node.comment))


def _with_comment(text: str, comment: str) -> str:
    if not comment:
        return text
    return f"{text.ljust(COMMENT_COLUMN - 1)} {_comment_line(comment)}"


def _comment_line(text: str) -> str:
    return f"# {printable(text)}".rstrip()


def _scalar(value: Any) -> str:
    """``value`` in YAML flow style on one line (lists as ``[a, b]``, strings quoted when needed).

    A string holding a line break or control character is double-quoted with escapes: PyYAML
    would otherwise fold it over several lines, and the comment beside it would break.
    """
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_scalar(item) for item in value) + "]"
    style = '"' if isinstance(value, str) and not value.isprintable() else None
    text = yaml.safe_dump(
        value, default_flow_style=True, default_style=style, width=2**31 - 1, allow_unicode=False
    )
    return text.removesuffix("\n...\n").rstrip("\n")
