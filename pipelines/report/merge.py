"""Runs from report CSVs written earlier, so seeds run on other days (or machines) join one table.

Machines here can be reset between sessions, so a report's numbers outlive their MLflow store
only as committed files. ``report --merge`` reads them back as runs:

- ``runs.csv`` (written next to every ``results.csv`` since repeats): one row per run with its
  seed, run id, start time, dataset fingerprint and protocol; read in preference to a
  ``results.csv`` beside it;
- a ``results.csv`` of one run per method (``<column> n`` all 1, or the older format without std
  and n columns): each row is a run. The older format does not record the dataset: it is read
  from the title of the ``results.md`` beside it (protocol and the fingerprint's first 12 digits).

A line that aggregates several runs cannot be split into them, so it is refused without its
``runs.csv``. Nothing here reads MLflow or writes files.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.report.collect import (
    QUALITY_COLUMNS,
    Evaluated,
    MethodRow,
    check_same_evaluation,
)

log = logging.getLogger(__name__)

RUNS_CSV = "runs.csv"
# "# <experiment>: casia_b protocol, dataset 41e60a694e4b" (write.py's title of an older report)
TITLE = re.compile(r"^# .*: (?P<protocol>\w+) protocol, dataset (?P<digits>[0-9a-f]{12})\s*$")
FINGERPRINT_PREFIX = "sha256:"


@dataclass
class MergedRuns:
    """The runs of one report CSV and the evaluation they all had."""

    path: Path
    rows: list[MethodRow] = field(default_factory=list)
    evaluated: Evaluated | None = None


def read_report_csv(path: Path) -> MergedRuns:
    """The runs of a report's ``runs.csv`` or ``results.csv`` (see the module docstring)."""
    if not path.is_file():
        raise PipelineError(f"--merge {path}: no such file (a report's results.csv or runs.csv)")
    if path.name != RUNS_CSV and (path.parent / RUNS_CSV).is_file():
        log.info("--merge %s: reading the runs of %s beside it", path, path.parent / RUNS_CSV)
        path = path.parent / RUNS_CSV
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            table, header = list(reader), list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise PipelineError(f"--merge {path}: unreadable ({error})") from None
    if "method" not in header or not any(name.startswith("rank-1 ") for name in header):
        raise PipelineError(f"--merge {path}: not a report CSV (no method and rank-1 columns)")
    conditions = [
        name.removeprefix("rank-1 ")
        for name in header
        if name.startswith("rank-1 ") and name != "rank-1 mean" and not name.endswith((" std", " n"))
    ]
    merged = MergedRuns(path)
    older = path.parent / "results.md" if "dataset" not in header else None
    for number, line in enumerate(table, start=2):
        what = f"--merge {path} line {number} ({line['method']})"
        if older is None:
            evaluated = Evaluated.from_protocol_tag(line.get("dataset", ""), line.get("protocol", ""))
        else:
            evaluated = title_evaluation(older, path)
        merged.evaluated = check_same_evaluation(merged.evaluated, evaluated, what)
        merged.rows.append(csv_run(line, conditions, what))
    return merged


def title_evaluation(results_md: Path, path: Path) -> Evaluated:
    """The dataset and protocol an older report's title names (it wrote no dataset column)."""
    try:
        first = results_md.read_text(encoding="utf-8").splitlines()[0] if results_md.is_file() else ""
    except (OSError, UnicodeDecodeError, IndexError):
        first = ""
    match = TITLE.match(first)
    if match is None:
        raise PipelineError(
            f"--merge {path}: an older report CSV names no dataset, and {results_md} has no title "
            "'# ...: <protocol> protocol, dataset <12 digits>' to read it from; keep the report's "
            "results.md beside it"
        )
    return Evaluated(
        fingerprint=FINGERPRINT_PREFIX + match["digits"],
        dataset_path="",
        partition=None,
        protocol=match["protocol"],
        metric="",
    )


def csv_run(line: dict[str, str], conditions: list[str], what: str) -> MethodRow:
    """One run from a CSV line; a line of several runs (``<column> n`` > 1) is refused."""
    counts = [value for name, value in line.items() if name and name.endswith(" n") and value]
    if any(count != "1" for count in counts if count != "0"):
        raise PipelineError(
            f"{what} is the mean of several runs and cannot be split into them: merge the "
            f"{RUNS_CSV} written beside that results.csv"
        )
    run_id = line.get("run_id", "")
    if not run_id:
        raise PipelineError(f"{what}: no run_id")
    seed = (line.get("seed") or line.get("seeds") or "").strip()
    start = line.get("start_time", "") or "0"
    try:
        return MethodRow(
            method=line["method"],
            run_id=run_id,
            rank1=_values(line, "rank-1", conditions),
            mean_ap=_values(line, "mAP", conditions),
            start_time=int(start),
            seed=int(seed) if seed else None,
            quality={column: float(line[column]) for column in QUALITY_COLUMNS if line.get(column)},
        )
    except ValueError as error:
        raise PipelineError(f"{what}: {error}") from None


def _values(line: dict[str, str], kind: str, conditions: list[str]) -> dict[str, float]:
    return {c: float(line[f"{kind} {c}"]) for c in conditions if line.get(f"{kind} {c}")}
