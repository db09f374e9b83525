"""``landmarkgait doctor``: why a run's numbers may differ from the paper's, said before anyone asks.

The largest group of "my accuracy is lower than the paper" reports against OpenGait is answered,
thread after thread, with the same few causes: fewer iterations, another transform or cutting,
identical views included or excluded, a smaller batch, another embedding head, the user's own
preprocessing. This package compares a run's resolved config and dataset with a reference preset
(``ray_configs/casia_b.yaml`` by default) and names each difference that is known to move results,
with the rule or report it comes from:

- ``effects`` — the known effects, as data: what each setting does and where that is written down;
- ``facts`` — what a dataset holds, from its index and a few sampled sequences (never every frame);
- ``checks``, ``data_checks`` — the comparison of settings, and of the dataset with what the
  reference expects;
- ``diagnosis`` — what the comparison found, as text, Markdown and JSON;
- ``subjects`` — a config file, an MLflow run (id or name) or a preset, read into what is compared.

It must not train, evaluate or write anything but what it is asked to print or describe.
"""
