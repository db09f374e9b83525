"""Writing the ground truth of an existing synthetic dataset, one Ray task per subject.

The dataset's metadata records the generator's arguments (``extra["synth"]``); every sequence is
rendered again through the generator's own code path (``generator.subject_ground_truth``), its
silhouettes are compared with the stored ones byte for byte, and the labels and joints are written
to ``<dataset>.ground_truth/`` (``truth_files``). A sequence that renders differently (another
version of the generator, a modified dataset) stops the job with one line naming it and nothing
is written. It must not change the dataset.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landmarkgait.data.errors import DataError
from landmarkgait.data.format import DatasetMetadata, shard_file_name
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.staging import check_destination, publish_directory, staging_dir
from landmarkgait.data.synth.config import SynthConfig
from landmarkgait.data.synth.generator import IMAGE_SIZE, subject_ground_truth
from landmarkgait.data.synth.truth_files import ground_truth_path, write_truth_metadata, write_truth_shard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubjectTruth:
    """What one task did: sequences and frames written, or why the subject does not re-render."""

    subject: str
    sequences: int = 0
    frames: int = 0
    problem: str | None = None


def synth_config_of(metadata: DatasetMetadata, dataset: Path) -> SynthConfig:
    """The ``SynthConfig`` a dataset was generated with, from its metadata's ``synth`` key."""
    arguments = metadata.extra.get("synth")
    if not isinstance(arguments, dict):
        raise DataError(
            f"{dataset}: metadata has no 'synth' key (not written by `landmarkgait data synth`); "
            "ground truth exists only for synthetic datasets"
        )
    try:
        return SynthConfig(**arguments)
    except TypeError as error:
        raise DataError(
            f"{dataset}: metadata 'synth' does not match this generator's arguments ({error})"
        ) from None


def check_keys(dataset: SilhouetteDataset, config: SynthConfig) -> None:
    """Raise unless the dataset holds exactly the sequences its config generates."""
    stored = {(entry.subject, entry.type, entry.view) for entry in dataset.entries}
    made = {(s, t, v) for s in config.subject_names for t in config.types for v in config.views}
    for what, keys in (("lacks", made - stored), ("has an extra", stored - made)):
        if keys:
            subject, type_, view = min(keys)
            raise DataError(
                f"{dataset.path}: {what} sequence {subject}/{type_}/{view} compared with its 'synth' "
                "metadata; ground truth needs the dataset exactly as `landmarkgait data synth` wrote it"
            )


def subject_truth_shard(
    config: SynthConfig, subject: str, dataset: SilhouetteDataset, folder: Path
) -> SubjectTruth:
    """Re-render one subject, compare with the stored silhouettes, write its ground-truth shard."""
    import cv2

    cv2.setNumThreads(1)  # one task per core, as generation
    items = subject_ground_truth(config, subject)
    stored = dataset.read_many([dataset.find(r.subject, r.type, r.view) for r, _ in items])
    for (record, _), kept in zip(items, stored, strict=True):
        if not np.array_equal(record.frames, kept.frames):
            return SubjectTruth(
                subject, problem=_difference(dataset.path, record.frames, kept.frames, record)
            )
    write_truth_shard(items, Path(folder) / shard_file_name(int(subject)))
    return SubjectTruth(subject, len(items), sum(r.frames.shape[0] for r, _ in items))


def _difference(path: Path, rendered: np.ndarray, stored: np.ndarray, record: Any) -> str:
    where = f"{path}: sequence {record.subject}/{record.type}/{record.view}"
    if rendered.shape != stored.shape:
        detail = f"{rendered.shape[0]} frames re-rendered, {stored.shape[0]} stored"
    else:
        frame = int(np.flatnonzero((rendered != stored).any(axis=(1, 2)))[0])
        detail = f"frame {frame} of {stored.shape[0]} differs"
    return f"{where} does not re-render as stored ({detail}): another generator version or a modified dataset"


def write_ground_truth(dataset_path: Path, *, overwrite: bool = False, workers: int | None = None) -> Path:
    """Write ``<dataset>.ground_truth/`` for the synthetic dataset at ``dataset_path``; returns it.

    Runs in the caller's Ray session (``ray_session``), at most ``workers`` tasks at once (None:
    all CPUs), like ``generate_dataset``. The dataset is only read.
    """
    import ray
    from tqdm import tqdm

    if not ray.is_initialized():
        raise DataError("write_ground_truth runs Ray tasks: call it inside a Ray session (ray_session())")
    dataset = SilhouetteDataset(dataset_path)
    config = synth_config_of(dataset.metadata, dataset.path)
    check_keys(dataset, config)
    out = ground_truth_path(dataset.path)
    check_destination(out, overwrite=overwrite)
    in_flight_limit = workers or max(1, int(ray.available_resources().get("CPU", 1)))
    with staging_dir(out) as staging:
        task = ray.remote(num_cpus=1, max_retries=0)(subject_truth_shard)
        shared = ray.put(dataset)
        pending, running = list(config.subject_names), []
        with tqdm(total=len(pending), desc="Ground truth", unit="subject", disable=None) as progress:
            while pending or running:
                while pending and len(running) < in_flight_limit:
                    running.append(task.remote(config, pending.pop(0), shared, staging))
                done, running = ray.wait(running, num_returns=1)
                result: SubjectTruth = ray.get(done[0])
                if result.problem is not None:
                    for straggler in running:
                        ray.cancel(straggler)
                    raise DataError(result.problem)
                progress.update(1)
        write_truth_metadata(staging, dataset.metadata.fingerprint, IMAGE_SIZE)
        published = publish_directory(staging, out, overwrite=overwrite)
    log.info("wrote ground truth of %d sequences to %s", len(dataset), published)
    return published
