"""What the official LandmarkGait configs and OpenGait's formats mean, as data: which stage a
model is, which loss trains which output, which model key is which network field, which test
dataset is which protocol, and what counts as a placeholder.

Why a module of its own: these facts about a foreign format (the STYLE's "adapters for foreign
formats") are read by every mapping module and must be written once. The stage a model name is
comes from the registry (the official model names are our stages' OpenGait save names). This
module must not map or take keys.
"""

from __future__ import annotations

from typing import Any

from landmarkgait.models.registry import STAGE_SPECS, StageSpec

# The official models' training outputs (their loss_cfg log_prefix) and the loss term of ours
# each one is: OpenGait applies the loss whose log_prefix names an output to that output.
OFFICIAL_LOSS_OUTPUTS: dict[str, dict[str, str]] = {
    "LandmarkGait_Silh_to_Landmark": {"reconstruction": "reconstruction"},
    "LandmarkGait_Landmark_to_Parsing": {
        "reconstruction1": "reconstruction",
        "reconstruction2": "part_reconstruction",
    },
    "LandmarkGait_Recognition": {
        "reconstruction1": "reconstruction",
        "reconstruction2": "part_reconstruction",
        "triplet": "triplet",
        "softmax": "cross_entropy",
    },
}
# The OpenGait loss class that trains each of our loss terms.


# The OpenGait loss class that trains each of our loss terms.
LOSS_CLASSES: dict[str, str] = {
    "reconstruction": "Reconstruction",
    "part_reconstruction": "Reconstruction",
    "triplet": "TripletLoss",
    "cross_entropy": "CrossEntropyLoss",
}
# Network keys of the official model_cfg and the model config field each one sets (models/config.py).


# Network keys of the official model_cfg and the model config field each one sets (models/config.py).
MODEL_KEYS: dict[str, str] = {
    "landmarknet_cfg.landmark_cfg.channels": "channels",
    "landmarknet_cfg.landmark_cfg.height": "height",
    "landmarknet_cfg.landmark_cfg.width": "width",
    "landmarknet_cfg.landmark_cfg.inv_std": "inv_std",
    "landmarknet_cfg.landmark_cfg.num_landmark": "num_landmark",
    "landmarknet_cfg.landmark_cfg.freeze_half": "freeze_landmark_encoder",
    "kernel_size": "dilation_kernel",
    "channels": "channels",
    "channels_PMBConv": "pmbconv_channels",
    "class_num": "num_classes",
    "freeze_half_bodypart": "freeze_parsing",
    "roll_up": "roll_up",
    "roll_low": "roll_low",
}
# OpenGait's test datasets, the protocol of ours that is their evaluation, and the OpenGait
# evaluation functions (evaluator_cfg.eval_func) that agree with it. A protocol landmarkgait does
# not have (``data.evaluation.names.PROTOCOLS``) is refused when a config asks for it.


# OpenGait's test datasets, the protocol of ours that is their evaluation, and the OpenGait
# evaluation functions (evaluator_cfg.eval_func) that agree with it. A protocol landmarkgait does
# not have (``data.evaluation.names.PROTOCOLS``) is refused when a config asks for it.
DATASET_PROTOCOLS: dict[str, tuple[str, tuple[str, ...]]] = {
    "CASIA-B": ("casia_b", ("evaluate_indoor_dataset", "identification")),
    "OUMVLP": ("oumvlp", ("evaluate_indoor_dataset", "identification")),
    "CASIA-E": ("casia_e", ("evaluate_indoor_dataset",)),
    "SUSTech1K": ("sustech1k", ("evaluate_indoor_dataset",)),
    "Gait3D": ("gait3d", ("evaluate_Gait3D",)),
    "GREW": ("grew", ("GREW_submission", "evaluate_real_scene")),
    "CCPG": ("ccpg", ("evaluate_CCPG",)),
}


def official_stage(model: Any) -> StageSpec | None:
    """The stage whose official OpenGait model is ``model`` (``model_cfg.model``), if any."""
    for spec in STAGE_SPECS.values():
        if spec.save_name == model and model in OFFICIAL_LOSS_OUTPUTS:
            return spec
    return None


def is_placeholder(value: Any) -> bool:
    """Whether ``value`` is a placeholder left for the user: ``< your ... >`` in the official
    configs, ``your_path`` in OpenGait's defaults, or nothing."""
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    text = value.strip()
    return not text or (text.startswith("<") and text.endswith(">")) or text == "your_path"
