"""Credentials out of everything landmarkgait logs or prints.

A tracking URI may carry them (``postgresql://user:secret@db/mlflow``,
``https://user:token@mlflow.example``, ``...?password=...``). The config keeps the real URI for
connecting; every copy that is logged (MLflow params, ``config/resolved.yaml``) or printed (the
UI hint, error messages) goes through ``redact_uri``. No heavy imports.
"""

from __future__ import annotations

import re
import urllib.parse

HIDDEN = "***"
SECRET_QUERY_KEYS = re.compile(r"pass(word)?|token|secret|key|auth", re.IGNORECASE)


def redact_uri(uri: str) -> str:
    """``uri`` with its user info and secret-looking query values replaced by ``***``."""
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError:
        return HIDDEN
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if "@" not in parts.netloc and not any(SECRET_QUERY_KEYS.search(key) for key, _ in pairs):
        return uri  # nothing to hide: unchanged (urlunsplit would drop sqlite:////'s empty host)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{HIDDEN}@{netloc.rsplit('@', 1)[1]}"
    query = urllib.parse.urlencode(
        [(key, HIDDEN if SECRET_QUERY_KEYS.search(key) else value) for key, value in pairs], safe="*"
    )
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))
