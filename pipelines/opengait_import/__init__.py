"""``landmarkgait config import``: OpenGait / official LandmarkGait configs as one pipeline config.

A researcher arrives with OpenGait YAML configs (``data_cfg``, ``model_cfg``, ``loss_cfg``,
``optimizer_cfg``, ``scheduler_cfg``, ``trainer_cfg``, ``evaluator_cfg``), one per LandmarkGait
stage. This package reads them as OpenGait does (merged over its defaults, ``defaults``), maps
every key onto our typed config or says why it cannot (``source``, ``stage_mapping``), puts the
stages together (``assemble``) and writes the commented result under the output rule
(``output``). It knows OpenGait's config format and nothing else of OpenGait; it must not train,
import torch, or talk to MLflow.
"""
