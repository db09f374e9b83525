"""``evaluator_cfg`` of the evaluated stage onto our ``evaluation`` section.

Why a module of its own: OpenGait's evaluator settings are a mix of what decides the numbers
(protocol function, metric, frames per test sequence, cross-view gallery, precision) and what
only sets speed (batch size, distributed inference); each is mapped, honoured or refused here.
The protocol itself comes from the test dataset (``dataset_mapping``). This module must not map
training keys.
"""

from __future__ import annotations

from landmarkgait.data.evaluation.names import PROTOCOLS
from landmarkgait.models.registry import StageSpec
from landmarkgait.pipelines.opengait_import.commented_yaml import Section
from landmarkgait.pipelines.opengait_import.restore_mapping import ImportStep, evaluated_checkpoint
from landmarkgait.pipelines.opengait_import.source import BUILT_IN, IGNORED, REFUSED, OpenGaitSource
from landmarkgait.pipelines.opengait_import.stage_mapping import note_transform


def map_evaluation(
    source: OpenGaitSource, spec: StageSpec, protocol: tuple[str, tuple[str, ...]] | None
) -> tuple[Section, list[ImportStep]]:
    """``evaluator_cfg`` of the evaluated stage onto ``evaluation`` (and an import step for a
    checkpoint it names). ``protocol`` is the test dataset's (our name, OpenGait's functions)."""
    section = Section()
    key = "evaluator_cfg"
    steps: list[ImportStep] = []
    section.set("metric", source.take(f"{key}.metric"), source.origin(f"{key}.metric"))
    sample_type = source.value(f"{key}.sampler.sample_type")
    if sample_type == "all_ordered":
        origin = source.origin(f"{key}.sampler.sample_type")
        source.take(f"{key}.sampler.sample_type")
        section.set("max_frames", None, f"{origin} all_ordered: every frame of every test sequence")
    else:
        source.note(
            REFUSED,
            f"{key}.sampler.sample_type",
            "test sequences are embedded whole and in order (all_ordered)",
        )
    eval_func = source.value(f"{key}.eval_func")
    if protocol is not None:
        source.note(
            BUILT_IN if eval_func in protocol[1] else REFUSED,
            f"{key}.eval_func",
            f"protocol {protocol[0]} is OpenGait's {' / '.join(protocol[1])} on this dataset",
        )
    else:
        source.note(IGNORED, f"{key}.eval_func", "goes with the refused test dataset")
    if source.value(f"{key}.sampler.type") == "InferenceSampler":
        source.note(BUILT_IN, f"{key}.sampler.type", "test sequences embedded one by one, in order")
    else:
        source.note(
            REFUSED, f"{key}.sampler.type", "landmarkgait embeds every test sequence (InferenceSampler)"
        )
    for name, why in (
        ("batch_size", "test sequences embedded at once: speed only"),
        ("batch_shuffle", "the order of test sequences changes no result"),
    ):
        if source.has(f"{key}.sampler.{name}"):
            source.note(IGNORED, f"{key}.sampler.{name}", why)
    if source.has(f"{key}.sampler.frames_all_limit"):
        source.note(
            REFUSED,
            f"{key}.sampler.frames_all_limit",
            "draws at most that many frames of a long test sequence at random; evaluation.max_frames "
            "keeps the first frames instead",
        )
    note_transform(source, f"{key}.transform")
    _cross_view(source, protocol, section)
    enable_float16 = source.value(f"{key}.enable_float16")
    source.note(
        BUILT_IN if enable_float16 is False else REFUSED,
        f"{key}.enable_float16",
        "embeds in float32"
        if enable_float16 is False
        else "embeds with mixed precision; landmarkgait in float32",
    )
    strict = source.value(f"{key}.restore_ckpt_strict")
    source.note(
        BUILT_IN if strict is True else IGNORED,
        f"{key}.restore_ckpt_strict",
        "a run's checkpoint is loaded strictly for evaluation",
    )
    steps = evaluated_checkpoint(source, spec)
    for name, why in (
        ("save_name", "names OpenGait's output folder; runs here are named by the config name and stage"),
        ("enable_distributed", "evaluation embeds on every Ray Train worker"),
    ):
        if source.has(f"{key}.{name}"):
            source.note(IGNORED, f"{key}.{name}", why)
    return section, steps


def _cross_view(
    source: OpenGaitSource, protocol: tuple[str, tuple[str, ...]] | None, section: Section
) -> None:
    """``cross_view_gallery``: each probe against a gallery of every view at once is a protocol of
    its own here (``<protocol>_cross_view``), where landmarkgait has one for the dataset."""
    key = "evaluator_cfg.cross_view_gallery"
    cross_view = source.value(key)
    variant = f"{protocol[0]}_cross_view" if protocol is not None else None
    if cross_view is False:
        source.note(BUILT_IN, key, "each probe view is ranked against one gallery view at a time")
    elif cross_view is True and variant in PROTOCOLS:
        origin = source.origin(key)
        source.take(key)
        section.set("protocol", variant, f"{origin} true: one gallery of every view")
    else:
        source.note(
            REFUSED, key, f"landmarkgait has no cross-view-gallery protocol for {protocol and protocol[0]}"
        )
