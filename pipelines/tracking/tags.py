"""The tags landmarkgait writes on MLflow runs (how a run says what it is and which runs it links
to) and on its experiments (what kind of experiment it is).

Only names live here (no MLflow import), so the planner, the workers and the sweep agree on one
vocabulary; reading and writing them is the tracker's job.
"""

from __future__ import annotations

TAG_KIND = "landmarkgait.kind"  # stage / pipeline / sweep / evaluation / baseline
TAG_STAGE = "landmarkgait.stage"
TAG_STAGE_KEY = "landmarkgait.stage_key"
TAG_UPSTREAM = "landmarkgait.upstream_run_id"
TAG_DATA = "landmarkgait.data_fingerprint"
TAG_CODE = "landmarkgait.code_version"
TAG_PIPELINE = "landmarkgait.pipeline_run_id"
TAG_TRAIN_RUN = "landmarkgait.train_run"  # the Ray Train run name a pipeline run trains under
TAG_ITERATION = "landmarkgait.iteration"
TAG_SWEEP = "landmarkgait.sweep_run_id"
TAG_TRIAL = "landmarkgait.trial_id"
TAG_SWEPT = "landmarkgait.trial_keys"  # the config keys a sweep trial set (comma-separated)
TAG_METHOD = "landmarkgait.method"  # a sweep trial's method as report names it (seeds of one method share it)
TAG_SEED = "landmarkgait.seed"  # a sweep trial's pipeline seed
TAG_IMPORTED_FROM = "landmarkgait.imported_from"
TAG_EVALUATED_RUN = "landmarkgait.evaluated_run_id"
TAG_CHECKPOINT_SHA256 = "landmarkgait.checkpoint_sha256"
TAG_BASELINE = "landmarkgait.baseline"  # which training-free baseline (gei)
TAG_PROTOCOL = "landmarkgait.protocol"  # <protocol>/<distance> a baseline was evaluated with
TAG_BEST = "landmarkgait.sweep.best"
TAG_BEST_TRIAL = "landmarkgait.sweep.best_trial_run_id"
TAG_OUTCOME = "landmarkgait.sweep.outcome"
TAG_PARENT = "mlflow.parentRunId"
TAG_NOTE = "mlflow.note.content"
# On an experiment: MLflow's record of its kind, the tag its UI's experiment-type selector writes.
# "custom_model_development" is the kind the UI calls "Machine learning" (runs, not GenAI traces).
TAG_EXPERIMENT_KIND = "mlflow.experimentKind"
EXPERIMENT_KIND_TRAINING = "custom_model_development"
# On a pipeline (or evaluation) run while its job runs: the deterministic error a worker met (bad
# data row, bad model config). Retrying cannot help, so the workers stop on it; the driver
# reports it and moves it to TAG_ERROR, so a later job on the same run starts afresh.
TAG_FATAL = "landmarkgait.fatal_error"
TAG_ERROR = "landmarkgait.error"


def stage_link_tag(stage: str) -> str:
    """Tag on a pipeline (or sweep trial) run naming the run of one of its stages."""
    return f"landmarkgait.run.{stage}"
