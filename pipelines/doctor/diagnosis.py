"""What a comparison found, and how it is shown: findings grouped into differences, warnings, agreements.

A ``Finding`` is one setting of the run beside the reference's, with the known effect of its key
(``effects.EFFECTS``). Differences in how the run was *evaluated* are warnings: those numbers
cannot be set beside the paper's at all. ``Diagnosis`` prints as text for people (valid Markdown,
so the same text serves the MLflow description), in short for a description, and as JSON. The
checks that make findings are ``checks`` and ``data_checks``; nothing here reads files or MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from landmarkgait.pipelines.config import PipelineConfig
from landmarkgait.pipelines.doctor.effects import EFFECTS, KnownEffect
from landmarkgait.pipelines.doctor.facts import DatasetFacts

DIFFERS, SAME, UNKNOWN = "differs", "same", "unknown"


@dataclass(frozen=True)
class Subject:
    """What is compared: a resolved config, the dataset it names (if read), and what it is.

    ``dataset_note`` says why ``dataset`` is None; ``notes`` are facts of a run worth a line of
    their own (e.g. that it is a cross-dataset evaluation of another run); ``fingerprint`` is the
    data a run used, which the dataset found at its path must still hold.
    """

    name: str
    config: PipelineConfig
    dataset: DatasetFacts | None = None
    dataset_note: str = "not read"
    notes: tuple[str, ...] = ()
    fingerprint: str = ""


@dataclass(frozen=True)
class Finding:
    """One setting of the run beside the reference's: ``status`` is DIFFERS, SAME or UNKNOWN.

    ``stage`` names the training schedule a per-stage setting belongs to ("" for the whole run).
    """

    key: str  # an ``EFFECTS`` key
    value: str
    reference: str
    status: str
    stage: str = ""

    @property
    def effect(self) -> KnownEffect:
        return EFFECTS[self.key]

    @property
    def what(self) -> str:
        return f"{self.stage} {self.effect.label}" if self.stage else self.effect.label

    def shown(self) -> str:
        """``recognition 300 (reference: 80000)``."""
        return f"{f'{self.stage} ' if self.stage else ''}{self.value} (reference: {self.reference})"

    def to_dict(self) -> dict[str, str]:
        return {
            "key": self.key,
            "what": self.what,
            "value": self.value,
            "reference": self.reference,
            "why": self.effect.why,
            "source": self.effect.source,
        }


@dataclass(frozen=True)
class Diagnosis:
    """Every finding of one comparison, grouped the way it is printed."""

    subject: str
    reference: str
    dataset: str  # one line: which dataset was read, or why none was
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()

    def _where(self, status: str, evaluation: bool | None = None) -> list[Finding]:
        return [
            finding
            for finding in self.findings
            if finding.status == status and (evaluation is None or finding.effect.evaluation == evaluation)
        ]

    @property
    def differences(self) -> list[Finding]:
        """Trained differently from the reference: each a known reason for other numbers."""
        return self._where(DIFFERS, evaluation=False)

    @property
    def warnings(self) -> list[Finding]:
        """Evaluated differently: the numbers cannot be compared with the paper's."""
        return self._where(DIFFERS, evaluation=True)

    @property
    def counted_differences(self) -> str:
        count = len(self.differences)
        return f"{count} difference{'' if count == 1 else 's'} known to move results"

    @property
    def counted_warnings(self) -> str:
        count = len(self.warnings)
        return f"{count} reason{'' if count == 1 else 's'} the evaluation is not comparable with the paper"

    @property
    def unchecked(self) -> list[Finding]:
        return self._where(UNKNOWN)

    @property
    def same(self) -> list[Finding]:
        return self._where(SAME)

    def format_text(self) -> str:
        """The full diagnosis (Markdown): each differing setting with its values per stage, why
        it matters and its source; then what could not be checked and what agrees."""
        lines = [f"# landmarkgait doctor: {self.subject} against {self.reference}", "", self.dataset]
        lines += [f"Note: {note}" for note in self.notes]
        sections = ((self.counted_differences, self.differences), (self.counted_warnings, self.warnings))
        for heading, findings in sections:
            if findings:
                lines += ["", f"## {heading}", ""]
                for key, group in _by_setting(findings):
                    effect = EFFECTS[key]
                    lines += [
                        f"- **{effect.label}**: {'; '.join(finding.shown() for finding in group)}.",
                        f"  {effect.why[0].upper()}{effect.why[1:]}.",
                        f"  Source: {effect.source}.",
                    ]
        if self.unchecked:
            lines += ["", "## Not checked", ""]
            reasons: dict[str, list[str]] = {}  # one line per reason (the dataset's absence, mostly)
            for label, group in _labelled(self.unchecked):
                reasons.setdefault(group[0].value, []).append(label)
            lines += [f"- {', '.join(labels)}: {reason}" for reason, labels in reasons.items()]
        if self.same:
            lines += ["", "## Same as the reference", ""]
            lines.append(", ".join(label for label, _ in _labelled(self.same)) + ".")
        if not self.differences and not self.warnings:
            lines += ["", "No difference known to move results."]
        return "\n".join(lines) + "\n"

    def summary_markdown(self, command: str) -> str:
        """The short form for a run's MLflow description: one line per differing setting, sources kept."""
        lines = [
            f"**Doctor** (against `{self.reference}`; details: `{command}`): "
            f"{self.counted_differences}, {self.counted_warnings}.",
        ]
        if self.differences or self.warnings:
            lines.append("")
        for prefix, findings in (("", self.differences), ("not comparable: ", self.warnings)):
            for key, group in _by_setting(findings):
                shown = "; ".join(finding.shown() for finding in group)
                lines.append(f"- {prefix}{EFFECTS[key].label}: {shown}. {EFFECTS[key].source}.")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "reference": self.reference,
            "dataset": self.dataset,
            "notes": list(self.notes),
            "differences": [f.to_dict() for f in self.differences],
            "warnings": [f.to_dict() for f in self.warnings],
            "unchecked": [f.to_dict() for f in self.unchecked],
            "same": [f.to_dict() for f in self.same],
        }


def _by_setting(findings: list[Finding]) -> list[tuple[str, list[Finding]]]:
    """Findings grouped by setting (the stages of one setting together), in first-seen order."""
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.key, []).append(finding)
    return list(groups.items())


def _labelled(findings: list[Finding]) -> list[tuple[str, list[Finding]]]:
    """``(label, findings)`` per setting: ``training sampler (landmark, parsing, recognition)``."""
    labelled = []
    for key, group in _by_setting(findings):
        stages = [finding.stage for finding in group if finding.stage]
        label = EFFECTS[key].label
        labelled.append((f"{label} ({', '.join(stages)})" if stages else label, group))
    return labelled


def shown(value: Any) -> str:
    """A config value as printed: floats short (``0.0005``), sequences in brackets."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return f"[{', '.join(shown(item) for item in value)}]"
    return str(value)
