"""A trained run next to the GEI baseline on its own dataset: does training beat the trivial baseline?

``landmarkgait run`` prints this after its rank-1 table, so a user sees at once what the learnt
model adds over matching gait energy images.
"""

from __future__ import annotations

from landmarkgait.pipelines.report.baseline import gei_row
from landmarkgait.pipelines.report.collect import (
    CONDITIONS,
    MethodRow,
    condition_metrics,
    evaluation_of,
    method_label,
)
from landmarkgait.pipelines.report.repeats import aggregate
from landmarkgait.pipelines.report.tables import markdown_table
from landmarkgait.pipelines.tracking.tracker import Tracker


def gei_comparison(tracker: Tracker, evaluated_run_id: str) -> str | None:
    """A two-row table, GEI baseline and the evaluated run; None if the protocol has no GEI baseline."""
    run = tracker.get_run(evaluated_run_id)
    evaluated = evaluation_of(run)
    baseline = gei_row(tracker, evaluated, parent_run_id=None)
    if baseline is None:
        return None
    conditions = CONDITIONS[evaluated.protocol]
    trained = MethodRow(
        method=method_label(run.params),
        run_id=run.run_id,
        rank1=condition_metrics(run.metrics, "rank1", conditions),
        mean_ap=condition_metrics(run.metrics, "mAP", conditions),
    )
    return markdown_table(aggregate([baseline, trained], conditions), conditions)
