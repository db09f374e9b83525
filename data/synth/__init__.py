"""Procedural CASIA-B-like walking-silhouette benchmark.

The generator (``generator``) renders articulated 3D walkers through a perspective camera and
stores the result in the project's Parquet format; ``config`` holds ``SynthConfig``, which the
pipeline config embeds. It must not define its own storage or pretreatment: it writes through
``landmarkgait.data.writer`` and pretreats through ``landmarkgait.data.pretreatment``. This file
imports nothing, so that loading a pipeline config does not load the generator.
"""
