"""What each setting is known to do to results, and where that is written down, as data.

Every entry names a setting the doctor compares, why a different value moves results, and its
source: the protocol rule, the official LandmarkGait configs, or the OpenGait thread in which the
maintainers gave that cause for "my accuracy is lower than the paper". The dataset expectations of
the paper's protocols (how many test subjects, views and sequence types a comparable test set has)
are here too. Plain data only: nothing here reads configs, datasets or MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass

# ``configs/landmarkgait/*.yaml`` of wzb-bupt/LandmarkGait, which the paper preset reproduces
# (models/README.md, "Training fidelity").
OFFICIAL = "official LandmarkGait configs"


@dataclass(frozen=True)
class KnownEffect:
    """Why a difference in ``label`` moves results, and the source that says so.

    ``evaluation``: the difference is in how the run was tested, so its numbers cannot be set
    beside the paper's at all (a warning), rather than trained differently.
    """

    label: str
    why: str
    source: str
    evaluation: bool = False


EFFECTS: dict[str, KnownEffect] = {
    "iterations": KnownEffect(
        "iterations",
        "training stops before the schedule the reported numbers were measured at; rank-1 "
        "still rises until the end of the official schedule",
        f"OpenGait issue #239 (30k of 60k iterations: 60% rank-1 instead of 74%); {OFFICIAL}: "
        "30k / 30k / 80k",
    ),
    "batch": KnownEffect(
        "P×K batch",
        "fewer subjects (P) or sequences per subject (K) give the triplet loss fewer positives "
        "and negatives per step and BatchNorm noisier statistics; more iterations buy back only "
        "part of it",
        f"OpenGait issues #252 (a batch cut from [8, 8] to [2, 8] to fit memory) and #213; {OFFICIAL}: 8×8",
    ),
    "frames": KnownEffect(
        "frames per clip",
        "shorter clips show less of a gait cycle per sample, and LandmarkNet's transport source "
        "(transport_shift frames away, cyclically) comes closer or becomes the frame itself",
        f"OpenGait issue #252 (frames_num_fixed 30 cut to 8 lowers results); {OFFICIAL}: 30",
    ),
    "sampler": KnownEffect(
        "training sampler",
        "fixed_ordered keeps each clip contiguous and in order, which the transport between "
        "frames transport_shift apart relies on; unordered clips pair unrelated frames",
        f"{OFFICIAL}: TripletSampler, fixed_ordered",
    ),
    "weight_decay": KnownEffect(
        "weight decay",
        "Adam's coupled L2 pulls every weight toward zero at each step: less decay regularises "
        "less, more can keep small landmark heads from growing",
        f"{OFFICIAL}: Adam, weight_decay 5e-4; models/README.md, Training fidelity",
    ),
    "learning_rate": KnownEffect(
        "learning rate",
        "a larger rate moves further per step (the CPU presets trade it for short schedules); "
        "the result is another optimum, not the paper's",
        f"{OFFICIAL}: lr 1e-4 (LandmarkNet at 1e-4 in stages 2-3)",
    ),
    "lr_steps": KnownEffect(
        "learning-rate steps",
        "MultiStepLR's ×0.1 step late in the schedule is where rank-1 settles; steps elsewhere, "
        "or none, change where training ends",
        f"{OFFICIAL}: MultiStepLR ×0.1 at 20k / 20k / 70k",
    ),
    "loss": KnownEffect(
        "loss terms",
        "other term weights, triplet margin or label smoothing train towards another embedding",
        f"{OFFICIAL}: every weight 1, triplet margin 0.2, no label smoothing",
    ),
    "landmarks": KnownEffect(
        "landmark count",
        "the number of landmarks sets how finely the body is parsed into parts; rank-1 varies "
        "with it in the paper's landmark-count ablation",
        f"LandmarkGait paper, landmark-count ablation (ray_configs/sweep_landmarks.yaml); {OFFICIAL}: 25",
    ),
    "input_size": KnownEffect(
        "input size",
        "a network is trained and tested at one resolution: a DeepGaitV2 trained at 64×44 and "
        "tested at 128×88 fell from 74% to 23% rank-1 on Gait3D",
        f"OpenGait issue #272; {OFFICIAL}: 64×44",
    ),
    "network_size": KnownEffect(
        "network size",
        "narrower channels or fewer parts give the network less capacity than the paper's",
        "models/presets.py: the paper preset is the official channels and parts",
    ),
    "head": KnownEffect(
        "embedding head",
        "which embedding is compared at test time (BN features, BNNeck, the holistic branch "
        "alone) changes rank-1; OpenGait's maintainers point users at another embedding "
        "(embed2) to get the reported number",
        f"OpenGait issue #237; {OFFICIAL}: BatchNorm1d + SeparateFCs on all branches",
    ),
    "other_model": KnownEffect(
        "other network settings",
        "each is a fixed value of the official networks; another value trains another network",
        f"{OFFICIAL}; models/config.py",
    ),
    "eval_grouping": KnownEffect(
        "landmark grouping at evaluation",
        "the official code splits landmarks into head / upper / lower body by one random "
        "frame at each evaluation, so its embeddings change between evaluations; 'mean' "
        "groups by mean height and is deterministic",
        "models/README.md, Training fidelity",
    ),
    "protocol": KnownEffect(
        "evaluation protocol",
        "another probe / gallery grouping is another test; its numbers are not the paper's",
        "CASIA-B protocol (Yu et al., ICPR 2006): NM #5-6, BG #1-2, CL #1-2 probes against the "
        "NM #1-4 gallery; OpenGait issue #121 (single- against cross-view gallery)",
        evaluation=True,
    ),
    "identical_views": KnownEffect(
        "identical-view exclusion",
        "probe / gallery pairs of the same view are the easy cases: counting them raises the "
        "mean; the paper's means leave them out",
        "CASIA-B protocol: identical views excluded; OpenGait issue #31 (89.9 with them, 89.5 "
        "without, on OU-MVLP)",
        evaluation=True,
    ),
    "metric": KnownEffect(
        "distance",
        "Euclidean and cosine distances rank a gallery differently",
        f"{OFFICIAL}: evaluator_cfg metric euc",
        evaluation=True,
    ),
    "max_frames": KnownEffect(
        "test frames",
        "embedding only the first frames of each test sequence sees part of a gait cycle and "
        "lowers rank-1; the paper embeds every frame",
        f"{OFFICIAL}: evaluator sampler all_ordered (every frame)",
        evaluation=True,
    ),
    "test_set": KnownEffect(
        "test set",
        "a test set with other subjects, views or sequence types is another test: its rank-1 "
        "is not the paper's, however it was trained",
        "CASIA-B protocol: 50 test subjects × 11 views × 10 sequences; OU-MVLP: 5154 test "
        "subjects × 14 views × 2 sequences",
        evaluation=True,
    ),
    "synthetic": KnownEffect(
        "dataset",
        "the synthetic benchmark imitates CASIA-B's layout, not its people: its numbers "
        "compare methods with each other, never with the paper",
        "data/synth/README.md",
        evaluation=True,
    ),
    "cutting": KnownEffect(
        "transform / cutting",
        "BaseSilCuttingTransform cuts W//64×10 columns from each side (64×64 frames become the "
        "64×44 input); without the cut, or at another frame size, the network sees other "
        "silhouettes or refuses them",
        "OpenGait PR #227 (BaseSilTransform instead of BaseSilCuttingTransform at test time); "
        "data/transforms.py",
    ),
    "frame_size": KnownEffect(
        "silhouette size",
        "OpenGait's pretreatment writes square frames of the input height (64×64); frames of "
        "another size are cut and fed differently",
        "OpenGait datasets/pretreatment.py (img_size 64); data/pretreatment.py",
    ),
    "alignment": KnownEffect(
        "silhouette alignment",
        "OpenGait's pretreatment crops every silhouette to its rows (full frame height) and "
        "centres it on its mass; one's own preprocessing (uncropped, off-centre) changes what "
        "the network sees",
        "OpenGait issue #31 ('maybe your data set is processed differently than ours'); data/pretreatment.py",
    ),
    "lengths": KnownEffect(
        "sequence length",
        "a sequence shorter than the training clip is tiled, so its clips repeat frames; short "
        "test sequences give embeddings of less than a gait cycle",
        "OpenGait's TripletSampler / CollateFn (data/sampling.py)",
    ),
}


@dataclass(frozen=True)
class TestSetExpectation:
    """What a test set comparable with the paper holds under one protocol."""

    dataset: str
    test_subjects: int
    views: int
    types: tuple[str, ...]


# The paper's test sets by protocol (the open protocol has no paper number to compare with).
TEST_SETS: dict[str, TestSetExpectation] = {
    "casia_b": TestSetExpectation(
        "CASIA-B",
        50,
        11,
        ("bg-01", "bg-02", "cl-01", "cl-02", "nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "nm-06"),
    ),
    "oumvlp": TestSetExpectation("OU-MVLP", 5154, 14, ("00", "01")),
}

# OpenGait's pretreatment crops each frame to its silhouette's rows and resizes them to the frame
# height, then centres the columns on the silhouette's mass: a silhouette spans (nearly) every row
# and its mass centre sits at the middle column. Below this share of rows, or further than this many
# columns off the middle (means over the sampled frames), the data was prepared another way.
MIN_SILHOUETTE_SPAN = 0.95
MAX_CENTRE_OFFSET = 1.5
