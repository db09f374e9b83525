"""``landmarkgait run`` / ``train`` / ``evaluate`` / ``import``: parse options, call the pipeline library."""

from __future__ import annotations

import argparse
import json
import sys

from landmarkgait.pipelines.config import STAGES, PipelineConfig, load_config


def add_common_options(
    parser: argparse.ArgumentParser, config_help: str = "pipeline config YAML (see ray_configs/)"
) -> None:
    parser.add_argument("config", help=config_help)
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override a pipeline config key (value parsed as YAML; repeatable), e.g. --set model.num_landmark=30",
    )
    parser.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: config, then a local sqlite store)"
    )
    parser.add_argument("--experiment", help="MLflow experiment name (default: tracking.experiment)")
    parser.add_argument(
        "--ray-address", help="join this Ray cluster (default: RAY_ADDRESS, else a local Ray on 127.0.0.1)"
    )


def overrides_with_options(args: argparse.Namespace) -> list[str]:
    """``--set`` assignments plus those ``--tracking-uri`` / ``--experiment`` stand for."""
    overrides = list(args.overrides)
    if args.tracking_uri:
        overrides.append(f"tracking.tracking_uri={args.tracking_uri}")
    if args.experiment:
        overrides.append(f"tracking.experiment={args.experiment}")
    return overrides


def load_with_options(args: argparse.Namespace) -> PipelineConfig:
    return load_config(args.config, overrides_with_options(args))


def print_outcome(outcome, as_json: bool = False) -> None:
    if as_json:
        json.dump(
            {
                "pipeline_run_id": outcome.pipeline_run_id,
                "stage_runs": outcome.stage_runs,
                "reused": outcome.reused,
                "evaluation": outcome.evaluation,
            },
            sys.stdout,
            indent=2,
            sort_keys=True,
        )
        print()
        return
    for stage, run_id in outcome.stage_runs.items():
        reused = " (reused)" if stage in outcome.reused else ""
        print(f"{stage:12s} MLflow run {run_id}{reused}")
    if outcome.rank1_table:
        print(outcome.rank1_table)
    print(f"Compare runs in the MLflow UI: {outcome.ui_command}")


def handle_run(args: argparse.Namespace) -> int:
    config = load_with_options(args)  # config errors before the seconds of importing torch, Ray, MLflow
    from landmarkgait.pipelines.driver.run import run_pipeline

    outcome = run_pipeline(config, force=args.force, ray_address=args.ray_address)
    print_outcome(outcome, args.json)
    return 0


def handle_train(args: argparse.Namespace) -> int:
    config = load_with_options(args)
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
    config = load_with_options(args)
    from landmarkgait.pipelines.driver.run import evaluate_recognition_run

    outcome = evaluate_recognition_run(config, args.run, ray_address=args.ray_address)
    if not args.json and outcome.pipeline_run_id not in outcome.stage_runs.values():
        print(
            f"{'evaluation':12s} MLflow run {outcome.pipeline_run_id} (cross-dataset, nested under the run)"
        )
    print_outcome(outcome, args.json)
    return 0


def handle_import(args: argparse.Namespace) -> int:
    config = load_with_options(args)
    from landmarkgait.pipelines.driver.checkpoint_import import import_stage_checkpoint

    outcome = import_stage_checkpoint(config, args.stage, args.checkpoint, ray_address=args.ray_address)
    if args.json:
        json.dump(outcome.to_dict(), sys.stdout, indent=2, sort_keys=True)
        print()
        return 0
    how = "already imported as" if outcome.reused else "imported as"
    print(
        f"{args.checkpoint}: {how} {outcome.stage} MLflow run {outcome.run_id} (iteration {outcome.iteration})"
    )
    options = [item for override in args.overrides for item in ("--set", override)]
    for flag, value in (("--tracking-uri", args.tracking_uri), ("--experiment", args.experiment)):
        options += [flag, value] if value else []
    print(f"Next: {outcome.next_command(args.config, options)}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run",
        help="run the whole pipeline (landmark -> parsing -> recognition -> evaluation)",
        description=(
            "Run all three stages as one Ray Train job, each stage tracked as a nested MLflow run, "
            "reusing stages that already finished with the same config and data; then evaluate and "
            "print the rank-1 table."
        ),
    )
    add_common_options(run)
    run.add_argument("--force", action="store_true", help="retrain every stage even if a matching run exists")
    run.add_argument("--json", action="store_true", help="print the outcome as JSON")
    run.set_defaults(handler=handle_run)

    train = subparsers.add_parser(
        "train",
        help="train one stage, finding its upstream checkpoint in MLflow",
        description=(
            "Train one stage. Its upstream checkpoint comes from --upstream (a run id or runs:/ URI) or, "
            "by default, the newest finished upstream-stage run whose config and dataset match."
        ),
    )
    add_common_options(train)
    train.add_argument("--stage", required=True, choices=STAGES, help="the stage to train")
    train.add_argument("--upstream", metavar="RUN", help="upstream stage run (id or runs:/RUN_ID)")
    train.add_argument("--force", action="store_true", help="retrain even if a matching finished run exists")
    train.add_argument("--json", action="store_true", help="print the outcome as JSON")
    train.set_defaults(handler=handle_train)

    evaluate = subparsers.add_parser(
        "evaluate",
        help="evaluate a finished recognition run on the config's dataset (also one it was not trained on)",
        description=(
            "Embed the test set with a recognition run's checkpoint on Ray workers and apply the config's "
            "protocol. On the run's own dataset the results are logged to the run; on another dataset "
            "(cross-dataset evaluation) to a new evaluation run nested under it."
        ),
    )
    add_common_options(evaluate)
    evaluate.add_argument(
        "--run", required=True, metavar="RUN", help="recognition stage run (id or runs:/RUN_ID)"
    )
    evaluate.add_argument("--json", action="store_true", help="print the outcome as JSON")
    evaluate.set_defaults(handler=handle_evaluate)

    importing = subparsers.add_parser(
        "import",
        help="register an OpenGait-format checkpoint (e.g. from the official code) as a finished stage run",
        description=(
            "Register an OpenGait-format checkpoint ({'model': state_dict, ...}, read with "
            "weights_only) as a finished MLflow run of one stage of CONFIG on its dataset. The weights "
            "must load strictly into that stage's network; the pipeline then chains from the run as "
            "from a trained one (run / train find it, evaluate --run evaluates it)."
        ),
    )
    add_common_options(importing)
    importing.add_argument("--stage", required=True, choices=STAGES, help="the stage the checkpoint is of")
    importing.add_argument("checkpoint", help="the checkpoint file (.pt)")
    importing.add_argument("--json", action="store_true", help="print the outcome as JSON")
    importing.set_defaults(handler=handle_import)
