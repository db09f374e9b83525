"""The naming rule: what a subject, type or view key, or a name from a config, may be.

Why a module of its own: keys are untrusted data (shard rows, folder names, manifest cells) that
later name folders and are printed, and the names in configs (pipeline, sweep and experiment
names) end up in paths too: one rule for all, importable without pyarrow or torch so that a
config is checked in well under a second. It must not know where a name is used.
"""

from __future__ import annotations

import unicodedata

# Characters a key may not contain: keys become directory names (OpenGait's pickle tree, the
# frame folders of previews), so a key is one path component and never a way out of a folder.
UNSAFE_KEY_CHARACTERS = "/\\\0"
# Keys and the names of configs are printed and become file names: no control characters (a newline
# forged error lines, escape sequences drove the terminal), and short enough for any file system.
MAX_KEY_LENGTH = 128


def key_problem(value: object) -> str | None:
    """Why ``value`` cannot be a subject, type or view (None: it can).

    Keys are untrusted data that later name folders and are printed, so each must be one
    path-safe, printable component: a non-empty string of at most ``MAX_KEY_LENGTH`` characters,
    not ``.`` or ``..``, without a path separator or control character. The names in configs
    (pipeline, sweep and experiment names) follow the same rule.
    """
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    if value in ("", ".", ".."):
        return "expected a non-empty name other than '.' and '..'"
    if len(value) > MAX_KEY_LENGTH:
        return f"expected at most {MAX_KEY_LENGTH} characters, got {len(value)}"
    if any(character in value for character in UNSAFE_KEY_CHARACTERS):
        return "expected one path component (no '/', '\\' or NUL)"
    if any(unicodedata.category(character) == "Cc" for character in value):
        return "expected printable characters (no newline, tab, escape or other control character)"
    return None
