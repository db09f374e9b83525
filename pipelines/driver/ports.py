"""Free TCP ports on the loopback interface, for the servers this project starts there.

Kept free of Ray imports: the test session picks ports before it configures Ray.
"""

from __future__ import annotations

import socket


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
