"""Credentials written into an http(s) tracking URI, handed to MLflow the way MLflow reads them.

Why: ``https://user:token@host`` is how a URI carries credentials, and the README documents it,
but nothing used them: urllib's reachability check handed ``user:token@host`` to the resolver,
and MLflow's REST client takes basic-auth credentials from ``MLFLOW_TRACKING_USERNAME`` /
``MLFLOW_TRACKING_PASSWORD``, not from the URI. ``use_credentials`` strips the user info, sets
both variables for this process and returns the bare URI that MLflow is then given.

Ray workers receive the tracking URI as every worker does (in their job, with its user info) and
call ``use_credentials`` in their own process when their tracker opens, so a remote cluster's
workers need no environment of ours. The URI is printed or logged only through ``redact_uri``.
No heavy imports.
"""

from __future__ import annotations

import os
import urllib.parse

USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"
PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"


def split_credentials(uri: str) -> tuple[str, str | None, str | None]:
    """``(uri without user info, user, password)`` of an http(s) URI; other URIs (databases carry
    their own credentials for their drivers) come back unchanged with ``None, None``."""
    if not uri.startswith(("http://", "https://")):
        return uri, None, None
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError:
        return uri, None, None
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return uri, None, None
    user, colon, password = userinfo.partition(":")
    bare = urllib.parse.urlunsplit(parts._replace(netloc=host))
    return bare, urllib.parse.unquote(user), urllib.parse.unquote(password) if colon else None


def without_credentials(uri: str) -> str:
    """``uri`` without the user info of an http(s) URI (for requests made outside MLflow)."""
    return split_credentials(uri)[0]


def use_credentials(uri: str) -> str:
    """Set MLflow's basic-auth variables from ``uri``'s user info (if any); return the bare URI."""
    bare, user, password = split_credentials(uri)
    if user is not None:
        os.environ[USERNAME_ENV] = user
        if password is not None:
            os.environ[PASSWORD_ENV] = password
        else:
            os.environ.pop(PASSWORD_ENV, None)
    return bare
