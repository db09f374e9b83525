"""Gait-recognition evaluation: protocols, their metrics and outputs, and the GEI baseline.

The one place that turns embeddings into accuracy numbers; training, the baseline and the CLI all
call it. It follows OpenGait's evaluator semantics (``opengait/evaluation``). Modules:

- ``names``: protocol, condition and metric names, without torch (the CLI checks configs with it);
- ``ranking``: part-averaged distances and per-probe rank-1 / AP / INP;
- ``labelled``: inputs checked and turned into tensors;
- ``view_protocol``: probe view x gallery view evaluation (CASIA-B, OU-MVLP, CASIA-E, SUSTech1K, CCPG);
- ``open_set``: probe vs a gallery of all views (rank-k, mAP, mINP);
- ``composite``: Gait3D, GREW and CCPG, built from the two; ``submission``: GREW's challenge file;
- ``protocols``: the view protocols' declarations and the choice of a protocol by name;
- ``results``: ``GaitEvaluation`` and its per-view tables; ``outputs``: its text table, CSV and PNG;
- ``gei_baseline``: gait energy images matched by nearest neighbour, to calibrate a benchmark.

This file imports nothing: importing ``names`` must not load torch.
"""
