"""Finding a run by the name the MLflow UI shows, in whichever experiment holds it.

People copy a run's name from the UI (``benchmark · 25 landmarks · 3f2a9c``) as often as its id;
commands that read one run (``doctor``) accept either. A name is not unique (a re-run keeps it), so
every match is returned, newest first, each with the tracker of its experiment. Reading only.
"""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.redaction import redact_uri
from landmarkgait.pipelines.tracking import filters
from landmarkgait.pipelines.tracking.credentials import use_credentials
from landmarkgait.pipelines.tracking.records import RunRecord
from landmarkgait.pipelines.tracking.tracker import Tracker


def runs_named(tracking_uri: str, name: str) -> list[tuple[Tracker, RunRecord]]:
    """Runs named ``name`` in any active experiment at ``tracking_uri``, newest first."""
    client = MlflowClient(tracking_uri=use_credentials(tracking_uri))
    try:
        filter_string = filters.named(name)
    except ValueError as error:  # a name holding both quote characters cannot be searched for
        raise PipelineError(str(error)) from None
    try:
        experiments = {
            experiment.experiment_id: experiment.name for experiment in client.search_experiments()
        }
        if not experiments:
            return []
        runs = client.search_runs(
            list(experiments), filter_string=filter_string, order_by=["attributes.start_time DESC"]
        )
    except MlflowException as error:
        raise PipelineError(
            f"MLflow tracking store {redact_uri(tracking_uri)} cannot be used: {error}"
        ) from None
    return [
        (
            Tracker(tracking_uri, run.info.experiment_id, experiments[run.info.experiment_id]),
            RunRecord.from_mlflow(run),
        )
        for run in runs
    ]
