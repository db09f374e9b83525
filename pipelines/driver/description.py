"""The pipeline run's description in the MLflow UI: what it trained, its rank-1 table, its model.

MLflow shows a run's ``mlflow.note.content`` tag as Markdown at the top of the run page, so a
person who opens a pipeline run sees the results and where the trained model lives without
opening the stage runs or their artifacts, and, from ``landmarkgait doctor``, every setting in
which the run differs from the paper's and why that moves its numbers.
"""

from __future__ import annotations

import logging

from landmarkgait.pipelines.tracking.tags import TAG_NOTE
from landmarkgait.pipelines.tracking.tracker import Tracker

log = logging.getLogger(__name__)


def pipeline_description(
    tracker: Tracker,
    headline: str,
    stage_runs: dict[str, str],
    reused: list[str],
    rank1_table: str,
    evaluated_run_id: str | None,
) -> str:
    """Markdown: the headline, the stage runs as links, the registered model, the rank-1 table and
    the doctor's summary of the evaluated run."""
    lines = [headline, "", "Stage runs:", ""]
    for stage, run_id in stage_runs.items():
        suffix = " (reused: same config and data)" if stage in reused else ""
        lines.append(f"- {stage}: {tracker.run_link(run_id)}{suffix}")
    if evaluated_run_id is not None:
        version = tracker.model_version(evaluated_run_id)
        if version is not None:
            name, number = version
            lines += [
                "",
                f"Model: [`{name}` version {number}](#/models/{name}/versions/{number}), logged by "
                f"{tracker.run_link(evaluated_run_id, 'the evaluated stage run')}.",
            ]
    if rank1_table:
        lines += [
            "",
            "Rank-1 accuracy (%), identical views excluded:",
            "",
            "```",
            rank1_table.rstrip(),
            "```",
        ]
    doctor = doctor_summary(tracker, evaluated_run_id) if evaluated_run_id is not None else ""
    if doctor:
        lines += ["", doctor]
    return "\n".join(lines)


def doctor_summary(tracker: Tracker, run_id: str) -> str:
    """``landmarkgait doctor RUN`` in short: the evaluated run against the paper preset of its protocol.

    Empty, with a warning logged, when it cannot be made (say the run's dataset is unreadable): the
    description of a finished pipeline must not fail it, whatever the doctor meets.
    """
    from landmarkgait.pipelines.doctor.subjects import examine, subject_of_run

    try:
        diagnosis = examine(subject_of_run(tracker, run_id), None)
    except Exception as error:  # any: see the docstring
        log.warning("no doctor's summary in the description of the run: %s", error)
        return ""
    return diagnosis.summary_markdown(f"landmarkgait doctor {run_id}")


def set_description(tracker: Tracker, run_id: str, markdown: str) -> None:
    tracker.set_tags(run_id, {TAG_NOTE: markdown})


def append_to_description(tracker: Tracker, run_id: str, markdown: str) -> None:
    """Add a section (e.g. the GEI comparison the CLI computes) below the run's description."""
    current = tracker.get_run(run_id).tags.get(TAG_NOTE, "")
    set_description(tracker, run_id, f"{current}\n\n{markdown}" if current else markdown)
