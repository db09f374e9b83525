"""Untrusted text made safe to print: control characters escaped, rejected values quoted short.

Why: dataset names, keys and paths come from files anyone can write, and config values from
files and ``--set``. Printed raw, an escape sequence clears the terminal or sets its title, and a
name holding a newline prints a forged ``landmarkgait: error:`` line; quoted whole, a rejected
value of megabytes becomes a megabyte error line. Everything here is pure string work (no heavy
imports) so the CLI, the data layer and the pipelines can all use it; it must not print.
"""

from __future__ import annotations

import reprlib
import unicodedata
from typing import Any

# Unicode categories shown escaped: controls (C0, DEL, C1), line and paragraph separators, and
# format characters (bidirectional overrides reorder what the terminal shows).
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
QUOTE_LIMIT = 80


def printable(text: str) -> str:
    """``text`` with every control or format character escaped as Python writes it (``\\x1b``,
    ``\\n``, ``\\u202e``), so it prints on one line and cannot steer the terminal."""
    if text.isprintable():  # the common case, at C speed (spaces count as printable)
        return text
    return "".join(
        _escape(char) if unicodedata.category(char) in _ESCAPED_CATEGORIES else char for char in text
    )


def printable_lines(text: str) -> str:
    """``text`` keeping its line breaks (``\\n``), every other control character escaped: for
    multi-line output built from untrusted strings (a report's tables)."""
    return "\n".join(printable(line) for line in text.split("\n"))


def _escape(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


class _BoundedRepr(reprlib.Repr):
    """``reprlib`` with room for a few items, and integers too long for ``repr`` described instead
    (Python refuses to print an integer of more than 4300 digits)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxtuple, self.maxdict, self.maxset = 3, 6, 6, 4, 6
        self.maxstring = self.maxother = self.maxlong = limit

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 3 * self.maxlong:  # > ~0.9 * maxlong decimal digits
            return f"<integer of about {int(x.bit_length() * 0.30103) + 1} digits>"
        return super().repr_int(x, level)


def quote_value(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` in at most ``limit`` characters (cut with ``...``), printable, and computed
    without walking a huge or deeply nested value: for error messages naming a rejected value."""
    text = printable(_BoundedRepr(limit).repr(value))
    if len(text) <= limit:
        return text
    return text[: max(limit - 3, 1)] + "..."
