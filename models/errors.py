"""Errors raised for bad model configurations and incompatible checkpoints."""

from __future__ import annotations


class ModelConfigError(Exception):
    """A model preset, override or checkpoint does not fit; the message names the key."""
