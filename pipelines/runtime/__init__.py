"""Ray for every command: start or join it, free loopback ports, the console, torch's rendezvous.

Used by the driver, sweeps, ``embed`` and the data commands (CLI process) and, for
``rendezvous``, on the Ray Train workers. ``ray_internals`` is the only module of landmarkgait
that touches Ray's private APIs.
"""
