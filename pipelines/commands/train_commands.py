"""``landmarkgait run`` / ``train`` / ``evaluate`` / ``import``: parse options, call the pipeline library."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from landmarkgait.models.registry import STAGES
from landmarkgait.pipelines.commands.arguments import (
    add_command,
    add_json_option,
    add_pipeline_options,
    pipeline_options_argv,
    pipeline_overrides,
    print_json,
)
from landmarkgait.pipelines.config import PipelineConfig, load_config

if TYPE_CHECKING:  # the driver imports torch, Ray and MLflow: only after the config is valid
    from landmarkgait.pipelines.driver.run import PipelineOutcome


def _load_config(args: argparse.Namespace) -> PipelineConfig:
    return load_config(args.config, pipeline_overrides(args))


def print_outcome(outcome: PipelineOutcome, as_json: bool = False) -> None:
    if as_json:
        print_json(
            {
                "pipeline_run_id": outcome.pipeline_run_id,
                "stage_runs": outcome.stage_runs,
                "reused": outcome.reused,
                "evaluation": outcome.evaluation,
            }
        )
        return
    for stage, run_id in outcome.stage_runs.items():
        reused = " (reused)" if stage in outcome.reused else ""
        print(f"{stage:12s} MLflow run {run_id}{reused}")
    if outcome.rank1_table:
        print(outcome.rank1_table)
    print(f"Compare runs in the MLflow UI: {outcome.ui_command}")


def handle_run(args: argparse.Namespace) -> int:
    """run the whole pipeline (landmark -> parsing -> recognition -> evaluation)

    Run all three stages as one Ray Train job, each stage tracked as a nested MLflow run, reusing stages
    that already finished with the same config and data; then evaluate and print the rank-1 table.
    """
    config = _load_config(args)  # config errors before the seconds of importing torch, Ray, MLflow
    from landmarkgait.pipelines.driver.run import run_pipeline

    outcome = run_pipeline(config, force=args.force, ray_address=args.ray_address)
    print_outcome(outcome, args.json)
    if outcome.evaluated_run_id and not args.json:
        print_gei_comparison(config, outcome)
    return 0


def print_gei_comparison(config: PipelineConfig, outcome: PipelineOutcome) -> None:
    """The evaluated run next to the GEI baseline on the same dataset and protocol, printed and
    added to the pipeline run's description."""
    from landmarkgait.pipelines.driver.description import append_to_description
    from landmarkgait.pipelines.report.comparison import gei_comparison
    from landmarkgait.pipelines.tracking.tracker import Tracker

    assert outcome.evaluated_run_id is not None
    tracker = Tracker.of_experiment(outcome.tracking_uri, config.tracking.experiment)
    table = gei_comparison(tracker, outcome.evaluated_run_id)
    if table:
        heading = "Against the training-free GEI baseline on the same test set (rank-1 / mAP, %):"
        print(heading)
        print(table, end="")
        append_to_description(tracker, outcome.pipeline_run_id, f"{heading}\n\n{table}")


def handle_train(args: argparse.Namespace) -> int:
    """train one stage, finding its upstream checkpoint in MLflow

    Train one stage. Its upstream checkpoint comes from --upstream (a run id or runs:/ URI) or, by
    default, the newest finished upstream-stage run whose config and dataset match.
    """
    config = _load_config(args)
    from landmarkgait.pipelines.driver.run import run_pipeline

    outcome = run_pipeline(
        config,
        stages=(args.stage,),
        force=args.force,
        upstream=args.upstream,
        ray_address=args.ray_address,
    )
    print_outcome(outcome, args.json)
    return 0


def handle_evaluate(args: argparse.Namespace) -> int:
    """evaluate a finished recognition run on the config's dataset (also one it was not trained on)

    Embed the test set with a recognition run's checkpoint on Ray workers and apply the config's protocol.
    On the run's own dataset the results are logged to the run; on another dataset (cross-dataset
    evaluation) to a new evaluation run nested under it. With --embeddings, apply the protocol to
    embeddings the run made earlier (landmarkgait embed) instead: no network, no Ray; the results go to
    a new evaluation run nested under the run.
    """
    config = _load_config(args)
    if args.embeddings is not None:
        from landmarkgait.pipelines.deploy.precomputed import evaluate_precomputed

        outcome = evaluate_precomputed(config, args.run, args.embeddings)
        print_outcome(outcome, args.json)
        return 0
    from landmarkgait.pipelines.driver.run import evaluate_recognition_run

    outcome = evaluate_recognition_run(config, args.run, ray_address=args.ray_address)
    if not args.json and outcome.pipeline_run_id not in outcome.stage_runs.values():
        print(
            f"{'evaluation':12s} MLflow run {outcome.pipeline_run_id} (cross-dataset, nested under the run)"
        )
    print_outcome(outcome, args.json)
    return 0


def handle_import(args: argparse.Namespace) -> int:
    """register an OpenGait-format checkpoint (e.g. from the official code) as a finished stage run

    Register an OpenGait-format checkpoint ({'model': state_dict, ...}, read with weights_only) as a
    finished MLflow run of one stage of CONFIG on its dataset. The weights must load strictly into that
    stage's network; the pipeline then chains from the run as from a trained one (run / train find it,
    evaluate --run evaluates it).
    """
    config = _load_config(args)
    from landmarkgait.pipelines.driver.checkpoint_import import import_stage_checkpoint

    outcome = import_stage_checkpoint(config, args.stage, args.checkpoint, ray_address=args.ray_address)
    if args.json:
        print_json(outcome.to_dict())
        return 0
    how = "already imported as" if outcome.reused else "imported as"
    print(
        f"{args.checkpoint}: {how} {outcome.stage} MLflow run {outcome.run_id} (iteration {outcome.iteration})"
    )
    print(f"Next: {outcome.next_command(args.config, pipeline_options_argv(args))}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``run``, ``train``, ``evaluate`` and ``import``."""
    run = add_command(subparsers, "run", handle_run)
    add_pipeline_options(run)
    run.add_argument("--force", action="store_true", help="retrain every stage even if a matching run exists")
    add_json_option(run)

    train = add_command(subparsers, "train", handle_train)
    add_pipeline_options(train)
    train.add_argument("--stage", required=True, choices=STAGES, help="the stage to train")
    train.add_argument("--upstream", metavar="RUN", help="upstream stage run (id or runs:/RUN_ID)")
    train.add_argument("--force", action="store_true", help="retrain even if a matching finished run exists")
    add_json_option(train)

    evaluate = add_command(subparsers, "evaluate", handle_evaluate)
    add_pipeline_options(evaluate)
    evaluate.add_argument(
        "--run", required=True, metavar="RUN", help="recognition stage run (id or runs:/RUN_ID)"
    )
    evaluate.add_argument(
        "--embeddings",
        type=Path,
        metavar="EMB",
        help="evaluate this embeddings dataset the run made (landmarkgait embed) instead of embedding",
    )
    add_json_option(evaluate)

    importing = add_command(subparsers, "import", handle_import)
    add_pipeline_options(importing)
    importing.add_argument("--stage", required=True, choices=STAGES, help="the stage the checkpoint is of")
    importing.add_argument("checkpoint", help="the checkpoint file (.pt)")
    add_json_option(importing)
