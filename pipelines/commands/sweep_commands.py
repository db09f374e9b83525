"""``landmarkgait sweep``: parse options, call ``landmarkgait.pipelines.sweep.driver``, print the trial table."""

from __future__ import annotations

import argparse
import sys

from landmarkgait.pipelines.commands.arguments import (
    add_command,
    add_json_option,
    add_pipeline_options,
    pipeline_overrides,
    print_json,
)


def handle_sweep(args: argparse.Namespace) -> int:
    """Ray Tune sweep over config keys (landmark count, loss weights), trials compared in MLflow

    Run a Ray Tune sweep (grid, random or Optuna search; FIFO or ASHA scheduling) whose trials are
    pipeline runs. Trials reuse finished stages whose config is unchanged, so a sweep over a
    recognition-only parameter trains stages 1-2 once. Every trial is an MLflow child run of the sweep
    run; the sweep logs a trial table, a metric-vs-parameter plot and tags the best trial.
    """
    from landmarkgait.pipelines.sweep.config import load_sweep

    loaded = load_sweep(args.config, pipeline_overrides(args))  # errors before importing Ray and torch
    from landmarkgait.pipelines.sweep.driver import run_sweep

    outcome = run_sweep(loaded, resume=args.resume, ray_address=args.ray_address)
    if args.json:
        print_json(
            {
                "sweep_run_id": outcome.sweep_run_id,
                "experiment_path": str(outcome.experiment_path),
                "summary_csv": str(outcome.csv_path),
                "interrupted": outcome.interrupted,
                "errors": outcome.errors,
                "best_trial_run_id": outcome.best.run_id if outcome.best else None,
                "trials": [
                    {
                        "trial_id": row.trial_id,
                        "run_id": row.run_id,
                        "outcome": row.outcome,
                        "params": row.params,
                        "metric": row.metric,
                        "stage_runs": row.stage_runs,
                    }
                    for row in outcome.rows
                ],
            }
        )
    else:
        print_table(outcome)
    if outcome.errors:
        print(f"{len(outcome.errors)} trial(s) failed; first error: {outcome.errors[0]}", file=sys.stderr)
        return 1
    if outcome.interrupted:
        print(
            f"sweep interrupted; continue it with: landmarkgait sweep {args.config} --resume", file=sys.stderr
        )
        return 130
    return 0


def print_table(outcome) -> None:
    keys = list(outcome.rows[0].params) if outcome.rows else []
    header = ["trial", *(key.rsplit(".", 1)[-1] for key in keys), outcome.metric, "outcome", "MLflow run"]
    lines = [header]
    for row in outcome.rows:
        metric = "-" if row.metric is None else f"{row.metric:.4g}"
        best = " *" if outcome.best is row else ""
        lines.append(
            [row.trial_id, *(str(row.params[key]) for key in keys), metric + best, row.outcome, row.run_id]
        )
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    if outcome.best is not None:
        print(f"best trial (*): MLflow run {outcome.best.run_id}")
    print(f"trial table: {outcome.csv_path}")
    print(f"Compare the trials in the MLflow UI: {outcome.ui_command}")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``sweep``."""
    sweep = add_command(subparsers, "sweep", handle_sweep)
    add_pipeline_options(sweep, config_help="sweep config YAML (see ray_configs/sweep_*.yaml)")
    sweep.add_argument(
        "--resume", action="store_true", help="continue the newest interrupted sweep of this config's name"
    )
    add_json_option(sweep)
