"""OpenGait's config defaults as our own data, and the merge OpenGait's loader applies to them.

Why: an OpenGait config only states what differs from OpenGait's defaults; the rest (mixed
precision on, an SGD optimiser, a 2,000-iteration save interval, ...) comes from OpenGait's
``configs/default.yaml`` when its ``config_loader`` reads the file. Importing a config without
those defaults would silently change what it trains, so they are written out here, each with
what it means (after OpenGait's ``docs/3.detailed_config.md``), and merged the way OpenGait
merges them. Loss and transform classes have defaults of their own (constructor arguments a
config may leave out); they are here too. This module must not map anything to our config.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

OPENGAIT_DEFAULTS: dict[str, Any] = {
    "data_cfg": {
        # Which dataset trains (and names OpenGait's output folder); CASIA-B or OUMVLP in the docs.
        "dataset_name": "CASIA-B",
        # Folder of pretreated pickles (one per subject / type / view sequence).
        "dataset_root": "your_path",
        # DataLoader worker processes reading the pickles.
        "num_workers": 1,
        # JSON file with TRAIN_SET and TEST_SET subject lists, relative to OpenGait's checkout.
        "dataset_partition": "./datasets/CASIA-B/CASIA-B.json",
        # Drop test sequences whose subject has no gallery sequence before evaluating.
        "remove_no_gallery": False,
        # Load every sequence into memory while the dataset is built.
        "cache": False,
        # Which dataset's protocol evaluates the test set.
        "test_dataset_name": "CASIA-B",
    },
    "evaluator_cfg": {
        # Automatic mixed precision while embedding the test set.
        "enable_float16": False,
        # Whether the restored checkpoint must hold exactly the network's tensors.
        "restore_ckpt_strict": True,
        # The checkpoint to evaluate: an iteration of this run (int) or a file path (str).
        "restore_hint": 80000,
        # The experiment's name: OpenGait's output folder is output/<dataset>/<model>/<save_name>.
        "save_name": "tmp",
        # The evaluation function of opengait/evaluation/evaluator.py.
        "eval_func": "evaluate_indoor_dataset",
        "sampler": {
            # Test sequences embedded at once.
            "batch_size": 4,
            # all_ordered: every frame of a sequence, in order.
            "sample_type": "all_ordered",
            "type": "InferenceSampler",
        },
        # Silhouette transforms: BaseSilCuttingTransform cuts the empty side columns (64 -> 44).
        "transform": [{"type": "BaseSilCuttingTransform"}],
        # Distance between embeddings: euc (Euclidean) or cos.
        "metric": "euc",
        # Rank against a gallery of every view at once instead of one view at a time.
        "cross_view_gallery": False,
    },
    # One loss (a mapping) or several (a list); each names its class, weight and log prefix.
    "loss_cfg": {
        "loss_term_weight": 1.0,
        "margin": 0.2,
        "type": "TripletLoss",
        "log_prefix": "triplet",
    },
    # The model class (opengait/modeling/models); its own keys depend on the model.
    "model_cfg": {"model": "Baseline"},
    "optimizer_cfg": {
        # Any torch.optim class; the other keys are its arguments.
        "lr": 0.1,
        "momentum": 0.9,
        "solver": "SGD",
        "weight_decay": 0.0005,
    },
    "scheduler_cfg": {
        # Any torch.optim.lr_scheduler class; the other keys are its arguments.
        "gamma": 0.1,
        "milestones": [20000, 40000, 60000],
        "scheduler": "MultiStepLR",
    },
    "trainer_cfg": {
        # DistributedDataParallel's find_unused_parameters.
        "find_unused_parameters": False,
        # Automatic mixed precision while training.
        "enable_float16": True,
        # Evaluate the test set at every save_iter while training.
        "with_test": False,
        # Keep every BatchNorm layer in eval mode.
        "fix_BN": False,
        # Log every log_iter iterations.
        "log_iter": 100,
        # Whether the restored checkpoint must hold exactly the network's tensors.
        "restore_ckpt_strict": True,
        # With a restore: start a fresh optimiser / scheduler instead of the checkpoint's.
        "optimizer_reset": False,
        "scheduler_reset": False,
        # 0: from scratch; an int: resume this run at that iteration; a str: initialise from that file.
        "restore_hint": 0,
        # Save a checkpoint every save_iter iterations.
        "save_iter": 2000,
        "save_name": "tmp",
        # SyncBatchNorm across GPUs.
        "sync_BN": False,
        "total_iter": 80000,
        "sampler": {
            # Shuffle the order of sequences inside a batch.
            "batch_shuffle": False,
            # [P, K]: P subjects, K sequences of each.
            "batch_size": [8, 16],
            # Frames per clip for fixed_* sample types.
            "frames_num_fixed": 30,
            # Range of clip lengths for unfixed_* sample types.
            "frames_num_max": 50,
            "frames_num_min": 25,
            # fixed / unfixed / all frames, ordered or unordered.
            "sample_type": "fixed_unordered",
            "type": "TripletSampler",
        },
        "transform": [{"type": "BaseSilCuttingTransform"}],
    },
}

# Constructor defaults of the loss classes (what a ``loss_cfg`` entry may leave out).
LOSS_CLASS_DEFAULTS: dict[str, dict[str, Any]] = {
    # margin has no default: OpenGait stops when it is missing.
    "TripletLoss": {"loss_term_weight": 1.0},
    # Logits are multiplied by scale; label_smooth smooths the targets by eps.
    "CrossEntropyLoss": {
        "scale": 16,
        "label_smooth": True,
        "eps": 0.1,
        "loss_term_weight": 1.0,
        "log_accuracy": False,
    },
    # LandmarkGait's reconstruction loss.
    "Reconstruction": {"loss_term_weight": 1.0},
}

# Constructor defaults of the silhouette transform: divide pixels by divsor; cutting None cuts
# width // 64 * 10 columns from each side.
CUTTING_TRANSFORM = "BaseSilCuttingTransform"
CUTTING_TRANSFORM_DEFAULTS: dict[str, Any] = {"divsor": 255.0, "cutting": None}


def merge_over_defaults(config: Mapping[str, Any], defaults: Mapping[str, Any] = OPENGAIT_DEFAULTS) -> dict:
    """``config`` merged over a copy of ``defaults``, as OpenGait's loader merges a file.

    A mapping in ``config`` whose default is a mapping too is merged key by key (recursively);
    any other value, a list included, replaces the default whole (a ``loss_cfg`` list replaces
    the default triplet loss, a ``milestones`` list the default milestones).
    """
    merged = copy.deepcopy(dict(defaults))
    for key, value in config.items():
        default = merged.get(key)
        if isinstance(value, Mapping) and isinstance(default, Mapping):
            merged[key] = merge_over_defaults(value, default)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
