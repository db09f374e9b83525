"""Gait-recognition evaluation: protocols, their metrics and outputs, and the GEI baseline.

The one place that turns embeddings into accuracy numbers; training, the baseline and the CLI all
call it. It follows OpenGait's evaluator semantics (``opengait/evaluation``). Modules:

- ``names``: protocol, condition and metric names, without torch (the CLI checks configs with it);
- ``ranking``: part-averaged distances and per-probe rank-1 / AP / INP;
- ``labelled``: inputs checked and turned into tensors;
- ``view_protocol``: probe view x gallery view evaluation, shared by CASIA-B and OU-MVLP;
- ``open_set``: Gait3D / GREW-style probe vs gallery (rank-k, mAP, mINP);
- ``protocols``: the CASIA-B and OU-MVLP evaluators and the choice of a protocol by name;
- ``results``: ``GaitEvaluation`` and its per-view tables; ``outputs``: its text table, CSV and PNG;
- ``gei_baseline``: gait energy images matched by nearest neighbour, to calibrate a benchmark.

This file imports nothing: importing ``names`` must not load torch.
"""
