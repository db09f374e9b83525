"""Which view the MLflow UI opens our experiments in: the model-training kind, set once.

MLflow keeps an experiment's kind in the tag ``mlflow.experimentKind`` (``TAG_EXPERIMENT_KIND``);
``Tracker.connect`` creates experiments with the model-training kind, and this module marks an
existing experiment of ours that predates it. This module must not create runs.
"""

from __future__ import annotations

import logging

from mlflow.entities import Experiment
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from landmarkgait.pipelines.tracking import filters
from landmarkgait.pipelines.tracking.tags import EXPERIMENT_KIND_TRAINING, TAG_EXPERIMENT_KIND

log = logging.getLogger(__name__)


def mark_as_training(client: MlflowClient, experiment: Experiment) -> None:
    """Mark an existing experiment as model training (``TAG_EXPERIMENT_KIND``), the kind ``connect``
    creates experiments with, if it has no kind yet: one landmarkgait made before it set the kind.

    A kind already set is never changed, whoever chose it. MLflow records no creator, so "ours" is
    told by content: an experiment holding a landmarkgait run (``filters.landmarkgait_runs``) holds
    our training runs and is marked; one without (someone else's, merely named in our config, or
    still empty) is left as it is. One search, only while the tag is missing; a store that refuses
    the tag is no reason to stop training, so that is only logged."""
    if TAG_EXPERIMENT_KIND in experiment.tags:
        return
    ours = client.search_runs(
        [experiment.experiment_id], filter_string=filters.landmarkgait_runs(), max_results=1
    )
    if not ours:
        return
    try:
        client.set_experiment_tag(experiment.experiment_id, TAG_EXPERIMENT_KIND, EXPERIMENT_KIND_TRAINING)
    except MlflowException as error:
        log.warning("experiment %r not marked as model training: %s", experiment.name, error)
