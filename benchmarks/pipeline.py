"""End-to-end time of a pipeline and its orchestration overhead, next to one bare TorchTrainer.fit().

Prints, for CONFIG (default: the quickstart):
- the end-to-end wall time of ``landmarkgait run`` (dataset generation excluded: it is cached first);
- per stage: wall time, time in training steps, time in evaluation, and the rest (overhead);
- the whole pipeline's orchestration overhead (wall time not spent in training steps or
  evaluation) against one bare ``TorchTrainer.fit()`` of a trivial loop measured in the same run.
Goal: pipeline overhead <= 1.5 x one bare fit.

    python benchmarks/pipeline.py [--config ray_configs/quickstart.yaml] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def trivial_loop(config: dict) -> None:
    import ray.train

    ray.train.report({"step": 1})


def bare_fit_seconds(num_workers: int, cpus_per_worker: float, storage: Path) -> float:
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    trainer = TorchTrainer(
        trivial_loop,
        scaling_config=ScalingConfig(num_workers=num_workers, resources_per_worker={"CPU": cpus_per_worker}),
        run_config=RunConfig(name=f"bare-{time.time_ns()}", storage_path=str(storage)),
    )
    started = time.perf_counter()
    trainer.fit()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default=str(REPO / "ray_configs" / "quickstart.yaml"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--home", help="LANDMARKGAIT_HOME to use (default: a fresh temporary directory)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    os.environ["LANDMARKGAIT_HOME"] = args.home or tempfile.mkdtemp(prefix="landmarkgait-bench-")

    from mlflow.tracking import MlflowClient

    from landmarkgait.pipelines.config import load_config
    from landmarkgait.pipelines.driver.run import prepare, run_pipeline
    from landmarkgait.pipelines.runtime.ray_runtime import ray_session

    config = load_config(args.config, [*args.overrides, f"tracking.experiment=bench-{time.time_ns()}"])
    prepare(config)  # generate / validate the dataset outside the timed region
    with ray_session():
        bare = bare_fit_seconds(
            config.scaling.num_workers,
            config.scaling.cpus_per_worker,
            Path(config.scaling.resolved_storage_path()),
        )
        started = time.perf_counter()
        outcome = run_pipeline(config, force=True)
        wall = time.perf_counter() - started

    client = MlflowClient(outcome.tracking_uri)
    print(f"config: {args.config}  workers: {config.scaling.num_workers}")
    print(f"bare TorchTrainer.fit() of a trivial loop: {bare:.1f} s")
    print(f"pipeline end to end (3 stages + evaluation): {wall:.1f} s")
    busy = 0.0
    print(f"{'stage':12s} {'wall s':>8s} {'steps s':>8s} {'eval s':>8s} {'other s':>8s}")
    for stage, run_id in outcome.stage_runs.items():
        metrics = client.get_run(run_id).data.metrics
        stage_wall = metrics.get("time/stage_s", float("nan"))
        steps = metrics.get("time/training_steps_s", 0.0)
        evaluation = metrics.get("time/evaluation_s", 0.0)
        busy += steps + evaluation
        print(
            f"{stage:12s} {stage_wall:8.1f} {steps:8.1f} {evaluation:8.1f} {stage_wall - steps - evaluation:8.1f}"
        )
    overhead = wall - busy
    print(
        f"orchestration overhead of the whole pipeline: {overhead:.1f} s = {overhead / bare:.2f} x one bare fit"
    )
    print("goal: <= 1.5 x one bare fit")
    for key in ("eval/rank1/NM", "eval/rank1/BG", "eval/rank1/CL"):
        print(f"{key}: {outcome.evaluation.get(key, float('nan')):.2f}")


if __name__ == "__main__":
    main()
