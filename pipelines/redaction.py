"""Credentials out of everything landmarkgait logs or prints.

A tracking URI may carry them (``postgresql://user:secret@db/mlflow``,
``https://user:token@mlflow.example``, ``...?pwd=...&sig=...``, ``...#token=...``). The config keeps
the real URI for connecting; every copy that is logged (MLflow params, ``config/resolved.yaml``) or
printed (the UI hint, error messages) goes through ``redact_uri``. Which query keys are secret
cannot be known (``pwd``, ``sig``, ``X-Amz-Signature`` all were), so every query value and the
whole fragment are hidden, with the user info; the keys stay, to say what was there. No heavy
imports.
"""

from __future__ import annotations

HIDDEN = "***"


def redact_uri(uri: str) -> str:
    """``uri`` with its user info, every query value and its fragment replaced by ``***``.

    Done on the text rather than through ``urllib.parse``, whose round trip rewrites URIs it
    does not need to (``sqlite:////abs/path`` loses a slash): only the hidden parts change.
    """
    uri, hash_sign, fragment = uri.partition("#")
    uri, question, query = uri.partition("?")
    scheme, separator, rest = uri.partition("://")
    if separator:
        authority, slash, path = rest.partition("/")
        if "@" in authority:
            authority = f"{HIDDEN}@{authority.rpartition('@')[2]}"
        uri = f"{scheme}{separator}{authority}{slash}{path}"
    if question:
        uri += "?" + "&".join(_hidden_value(item) for item in query.split("&") if item)
    if hash_sign and fragment:
        uri += f"#{HIDDEN}"
    return uri


def _hidden_value(item: str) -> str:
    """``key=value`` -> ``key=***``; an item without ``=`` may be a bare secret: hidden whole."""
    key, equals, _ = item.partition("=")
    return f"{key}={HIDDEN}" if equals else HIDDEN
