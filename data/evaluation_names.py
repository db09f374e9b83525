"""Names of the evaluation protocols and distances, importable without torch.

Configs and the command line validate these names; the CLI builds its parser (``--help``,
bad-input errors) without loading torch, which takes seconds.
"""

from __future__ import annotations

METRICS: tuple[str, ...] = ("euc", "cos")
PROTOCOLS: tuple[str, ...] = ("casia_b", "oumvlp", "open")
