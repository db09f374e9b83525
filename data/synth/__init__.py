"""Procedural CASIA-B-like walking-silhouette benchmark.

The generator renders articulated 3D walkers through a perspective camera and stores the
result in the project's Parquet format. It must not define its own storage or pretreatment:
it writes through ``landmarkgait.data.format`` and pretreats through ``landmarkgait.data.pretreatment``.
"""

from __future__ import annotations

from landmarkgait.data.synth.generator import (
    CASIA_B_TYPES,
    CASIA_B_VIEWS,
    SynthConfig,
    default_partition,
    generate_dataset,
    render_sequence,
)

__all__ = [
    "CASIA_B_TYPES",
    "CASIA_B_VIEWS",
    "SynthConfig",
    "default_partition",
    "generate_dataset",
    "render_sequence",
]
