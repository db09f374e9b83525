"""Errors raised for bad datasets and bad data arguments.

Every message names the file, row, field or argument at fault and what was expected.
"""

from __future__ import annotations


class DataError(Exception):
    """A dataset, partition, converter input or data argument is invalid."""
