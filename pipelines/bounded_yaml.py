"""YAML for configs and ``--set`` values, read within bounds, and YAML errors as one line.

Why: a config is input anyone may hand us. Through PyYAML's ``safe_load`` a 1.2 KB file of
nested aliases (a "billion laughs") expanded into a value that cost 35 s and 3.2 GB to print,
2,000 nested brackets raised ``RecursionError`` and a 5,000-digit integer a ``ValueError``
traceback. ``BoundedLoader`` refuses all three while the document is composed, before any Python
object is built: aliases (``*name``) are refused outright (no config needs them), collections
nest at most ``MAX_DEPTH`` deep and integers have at most ``MAX_INT_DIGITS`` digits. Only the
reading lives here; ``config_schema`` gives the values meaning.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent

from landmarkgait.data.quoting import printable

MAX_DEPTH = 32
MAX_INT_DIGITS = 30
_INT_TAG = "tag:yaml.org,2002:int"
# Longest problem text kept in an error line (PyYAML quotes whole tokens in some problems).
_PROBLEM_LIMIT = 200


class BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases, deep nesting and long integers while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise ComposerError(
                None,
                None,
                f"alias *{event.anchor} refused (aliases are not allowed in configs)",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def compose_sequence_node(self, anchor: Any) -> Any:
        return self._nested(super().compose_sequence_node, anchor)

    def compose_mapping_node(self, anchor: Any) -> Any:
        return self._nested(super().compose_mapping_node, anchor)

    def _nested(self, compose: Any, anchor: Any) -> Any:
        if self._depth >= MAX_DEPTH:
            raise ComposerError(
                None,
                None,
                f"lists and mappings nested deeper than {MAX_DEPTH} levels",
                self.peek_event().start_mark,
            )
        self._depth += 1
        try:
            return compose(anchor)
        finally:
            self._depth -= 1

    def compose_scalar_node(self, anchor: Any) -> Any:
        node = super().compose_scalar_node(anchor)
        if node.tag == _INT_TAG:
            digits = sum(char.isalnum() for char in node.value)
            if digits > MAX_INT_DIGITS:
                raise ComposerError(
                    None, None, f"an integer of {digits} digits (at most {MAX_INT_DIGITS})", node.start_mark
                )
        return node


def load_bounded(text: str) -> Any:
    """The one YAML document in ``text``, read by ``BoundedLoader``; raises ``yaml.YAMLError``."""
    loader = BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def yaml_error_line(error: yaml.YAMLError) -> str:
    """PyYAML's error (four lines with context and a caret) as ``line L, column C: problem``."""
    if isinstance(error, yaml.reader.ReaderError):  # a control character in the text
        code = error.character if isinstance(error.character, int) else error.character[0]  # bytes: int
        return f"character {error.position + 1}: control character #x{code:04x} is not allowed in YAML"
    if not isinstance(error, yaml.MarkedYAMLError):
        return printable(" ".join(str(error).split()))[:_PROBLEM_LIMIT]
    mark = error.problem_mark or error.context_mark
    problem = error.problem or ""
    if error.context:
        started = error.context_mark
        since = f" from line {started.line + 1}" if started is not None and started is not mark else ""
        problem = f"{problem} ({error.context}{since})" if problem else error.context
    problem = printable(" ".join(problem.split()))
    if len(problem) > _PROBLEM_LIMIT:
        problem = problem[: _PROBLEM_LIMIT - 3] + "..."
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem or type(error).__name__}"
