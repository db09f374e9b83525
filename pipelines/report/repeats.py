"""Repeats of one method as one line of the table: mean ± standard deviation and n per column.

A run is one seed of one method. Runs of one method and one seed keep the newest (a re-run
replaces it, as a report did before repeats); runs of distinct seeds aggregate, because one seed
is one draw: 20, 25 and 30 landmarks differ by less than two machines running the same seed. The
standard deviation is the sample one (ddof 1, the spread a further seed is expected to show); a
single run has none, and its line reads as before. Nothing here reads MLflow or files.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from landmarkgait.pipelines.report.collect import QUALITY_COLUMNS, MethodRow


@dataclass(frozen=True)
class Spread:
    """One cell of the table: the mean of ``n`` runs' values and their sample standard deviation
    (None for a single run)."""

    mean: float
    std: float | None
    n: int


def spread(values: Sequence[float]) -> Spread | None:
    """Mean, sample standard deviation (ddof 1) and count of ``values``; None if there are none."""
    if not values:
        return None
    if len(values) == 1:  # exactly the logged value: a single run's table equals what MLflow shows
        return Spread(values[0], None, 1)
    return Spread(statistics.fmean(values), statistics.stdev(values), len(values))


def condition_mean(values: Mapping[str, float], conditions: Sequence[str]) -> float | None:
    """A run's plain mean over the conditions, None unless it has every one."""
    present = [values[c] for c in conditions if c in values]
    return sum(present) / len(present) if present and len(present) == len(conditions) else None


@dataclass(frozen=True)
class MethodResult:
    """One method's line: its runs (one per seed) and their spread per condition and mean."""

    method: str
    runs: tuple[MethodRow, ...]
    rank1: Mapping[str, Spread]
    mean_ap: Mapping[str, Spread]
    rank1_mean: Spread | None
    mean_ap_mean: Spread | None
    quality: Mapping[str, Spread] = field(default_factory=dict)  # by ``QUALITY_COLUMNS`` name

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def run_id(self) -> str:
        """The newest run's id (a single run's: the one whose logged metrics the line shows)."""
        return max(self.runs, key=lambda run: run.start_time).run_id

    @property
    def curve_run_ids(self) -> list[str]:
        return [run.curve_run_id for run in self.runs if run.curve_run_id]

    @property
    def stage_run_ids(self) -> list[Mapping[str, str]]:
        """Each run's ``{stage: run id}`` (none for a row of a merged CSV)."""
        return [run.stage_run_ids for run in self.runs if run.stage_run_ids]


def seed_key(row: MethodRow) -> tuple[str, str]:
    """What makes two runs of a method the same repeat: their seed; a run of unknown seed (an old
    report's row) is a repeat of its own."""
    return ("seed", str(row.seed)) if row.seed is not None else ("run", row.run_id)


def latest_runs(rows: Sequence[MethodRow]) -> list[MethodRow]:
    """One run per method and seed, the newest; a run listed twice (in MLflow and in a merged
    CSV) counts once, as first listed."""
    by_run: dict[str, MethodRow] = {}
    for row in rows:
        by_run.setdefault(row.run_id, row)
    kept: dict[tuple[str, tuple[str, str]], MethodRow] = {}
    for row in by_run.values():
        key = (row.method, seed_key(row))
        if key not in kept or row.start_time >= kept[key].start_time:
            kept[key] = row
    return list(kept.values())


def method_result(method: str, runs: Sequence[MethodRow], conditions: Sequence[str]) -> MethodResult:
    """The spread of ``runs`` (one method's repeats) in every column of the table."""
    runs = sorted(runs, key=lambda run: (run.seed is None, run.seed or 0, run.start_time))

    def cells(kind: str) -> dict[str, Spread]:
        values = {
            condition: [getattr(run, kind)[condition] for run in runs if condition in getattr(run, kind)]
            for condition in conditions
        }
        return {condition: cell for condition, cell in ((c, spread(v)) for c, v in values.items()) if cell}

    def means(kind: str) -> Spread | None:
        values = [condition_mean(getattr(run, kind), conditions) for run in runs]
        return spread([value for value in values if value is not None])

    return MethodResult(
        method=method,
        runs=tuple(runs),
        rank1=cells("rank1"),
        mean_ap=cells("mean_ap"),
        rank1_mean=means("rank1"),
        mean_ap_mean=means("mean_ap"),
        quality={
            column: cell
            for column in QUALITY_COLUMNS
            if (cell := spread([run.quality[column] for run in runs if column in run.quality]))
        },
    )


def aggregate(rows: Sequence[MethodRow], conditions: Sequence[str]) -> list[MethodResult]:
    """One line per method (in the order methods first appear): its seeds' newest runs, aggregated."""
    groups: dict[str, list[MethodRow]] = {}
    for row in latest_runs(rows):
        groups.setdefault(row.method, []).append(row)
    return [method_result(method, runs, conditions) for method, runs in groups.items()]
