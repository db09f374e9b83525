"""Making sure a pipeline's dataset exists and knowing what it is.

The quickstart's dataset is generated on first use from ``data.synthetic`` and cached at
``data.path``; a real dataset must already exist (converted with ``landmarkgait data ...``).
Returns the identity the stage keys are built from. Reading sequences is ``data``'s job.
"""

from __future__ import annotations

import logging
from pathlib import Path

from landmarkgait.data.format import read_metadata
from landmarkgait.data.partition import resolve_partition
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.pipelines.config import DataSection
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.plan_types import DataIdentity
from landmarkgait.pipelines.runtime.ray_runtime import ray_session

log = logging.getLogger(__name__)


def ensure_dataset(section: DataSection, ray_address: str | None = None) -> Path:
    """Path of the dataset, generating the configured synthetic benchmark if it is missing."""
    path = section.resolved_path()
    if path.exists():
        return path
    if section.synthetic is None:
        raise PipelineError(
            f"dataset {path} (data.path) does not exist. Create one with "
            f"'landmarkgait data synth --out {path}', convert OpenGait pickles with "
            f"'landmarkgait data convert-pkl SRC {path}' or raw frames with "
            f"'landmarkgait data convert-frames SRC {path}', or set data.synthetic to generate it on first use."
        )
    from landmarkgait.data.synth.generator import generate_dataset

    log.info("generating the synthetic dataset at %s (first use; cached afterwards)", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A loopback-only local Ray (or the given cluster) for the generator's tasks; no Train, no dashboard.
    with ray_session(ray_address, include_dashboard=False):
        return generate_dataset(section.synthetic, path)


def describe_dataset(path: Path, partition: str | None) -> DataIdentity:
    """Fingerprint and partition of the dataset at ``path``, validated on open."""
    metadata = read_metadata(path)
    dataset = SilhouetteDataset(path)
    split = resolve_partition(dataset, Path(partition) if partition else None)
    present = {entry.subject for entry in dataset.entries}
    train = tuple(sorted(subject for subject in split.train_set if subject in present))
    test = tuple(sorted(subject for subject in split.test_set if subject in present))
    if not train:
        raise PipelineError(f"dataset {path}: no training subjects of the partition are present")
    return DataIdentity(fingerprint=metadata.fingerprint, train_subjects=train, test_subjects=test)
