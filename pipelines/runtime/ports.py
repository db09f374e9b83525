"""Free TCP ports on the loopback interface, for the servers this project starts there.

Kept free of Ray imports: the test session picks ports before it configures Ray.
"""

from __future__ import annotations

import contextlib
import socket


def free_loopback_ports(count: int) -> list[int]:
    """`count` distinct TCP ports free on 127.0.0.1 now (the OS picks them).

    All sockets stay bound until every port is chosen: picking one port at a time can
    hand out the same port twice, which makes e.g. `ray start` refuse to start.
    """
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    return free_loopback_ports(1)[0]
