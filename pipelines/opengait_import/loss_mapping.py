"""``loss_cfg`` onto a stage's loss weights: each entry's ``log_prefix`` names the model output
it trains (OpenGait's LossAggregator binds them so), its class and arguments our term's weight
and settings.

Why a module of its own: the binding by log_prefix, the loss classes' own defaults (a
CrossEntropyLoss without ``scale`` scales by 16) and OpenGait's failure on an output without a
loss are easy to get wrong; they are kept together here. It must not know other sections.
"""

from __future__ import annotations

from typing import Any

from landmarkgait.models.registry import StageSpec
from landmarkgait.pipelines.opengait_import.commented_yaml import Section
from landmarkgait.pipelines.opengait_import.defaults import LOSS_CLASS_DEFAULTS
from landmarkgait.pipelines.opengait_import.official import LOSS_CLASSES, OFFICIAL_LOSS_OUTPUTS
from landmarkgait.pipelines.opengait_import.source import (
    BUILT_IN,
    IGNORED,
    REFUSED,
    OpenGaitSource,
    loss_entries,
)


def map_losses(source: OpenGaitSource, spec: StageSpec) -> Section:
    """``loss_cfg`` onto our loss weights: each entry's log_prefix names the model output it trains."""
    section = Section()
    outputs = OFFICIAL_LOSS_OUTPUTS[spec.save_name]
    trained: dict[str, str] = {}
    for entry in loss_entries(source):
        prefix = source.value(f"{entry}.log_prefix")
        loss_type = source.value(f"{entry}.type")
        term = outputs.get(prefix) if isinstance(prefix, str) else None
        if term is None:
            source.note_section(
                IGNORED if source.has(f"{entry}.log_prefix") else REFUSED,
                entry,
                f"{spec.save_name} has no training output {prefix!r} (its outputs: {', '.join(outputs)}); "
                "OpenGait builds this loss and never uses it",
            )
            continue
        if prefix in trained:
            source.note_section(
                REFUSED,
                entry,
                f"a second loss for output {prefix!r} (also {trained[prefix]}); OpenGait keeps the last",
            )
            continue
        if loss_type != LOSS_CLASSES[term]:
            source.note_section(
                REFUSED, entry, f"output {prefix!r} is trained with {LOSS_CLASSES[term]} here"
            )
            continue
        trained[prefix] = entry
        source.take(f"{entry}.log_prefix")
        source.take(f"{entry}.type")
        _loss_arguments(source, entry, term, loss_type, section)
    for prefix, term in outputs.items():
        if prefix not in trained:
            source.add(
                REFUSED,
                "loss_cfg",
                sorted(str(source.value(f"{entry}.log_prefix")) for entry in loss_entries(source)),
                f"{spec.save_name} outputs {prefix!r} ({term}) and no entry has that log_prefix; "
                "OpenGait stops on it",
            )
    return section


def _loss_arguments(source: OpenGaitSource, entry: str, term: str, loss_type: str, section: Section) -> None:
    defaults = LOSS_CLASS_DEFAULTS[loss_type]

    def argument(name: str) -> tuple[Any, str]:
        key = f"{entry}.{name}"
        if source.has(key):
            return source.take(key), source.origin(key)
        return defaults.get(name), f"{source.label}: {key} ({loss_type}'s default)"

    weight, origin = argument("loss_term_weight")
    section.set(term, weight, f"{origin}, log_prefix {source.value(f'{entry}.log_prefix')}")
    if term == "triplet":
        if source.has(f"{entry}.margin"):
            section.set("triplet_margin", source.take(f"{entry}.margin"), source.origin(f"{entry}.margin"))
        else:
            source.add(
                REFUSED, f"{entry}.margin", None, "TripletLoss needs a margin; OpenGait stops", "missing"
            )
    if term == "cross_entropy":
        scale, origin = argument("scale")
        section.set("cross_entropy_scale", scale, origin)
        smooth, smooth_origin = argument("label_smooth")
        if smooth is True:
            eps, eps_origin = argument("eps")
            section.set("label_smoothing", eps, f"{smooth_origin} true, {eps_origin}")
        elif smooth is False:
            section.set("label_smoothing", 0.0, f"{smooth_origin} false")
            if source.has(f"{entry}.eps"):
                source.note(IGNORED, f"{entry}.eps", "unused without label_smooth")
        else:
            source.add(REFUSED, f"{entry}.label_smooth", smooth, "expected true or false")
        if source.has(f"{entry}.log_accuracy"):
            accuracy = source.value(f"{entry}.log_accuracy")
            source.note(
                BUILT_IN if accuracy is True else IGNORED,
                f"{entry}.log_accuracy",
                "landmarkgait logs the accuracy of every step (loss/accuracy)",
            )
