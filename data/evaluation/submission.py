"""GREW's challenge submission: each probe video's 20 nearest gallery subjects, as the server reads them.

The challenge withholds the probes' identities, so its result is a file, not a number: a header
``videoId,rank1,...,rank20``, then one row per probe, its video id (the probe sequence's view, as
OpenGait's GREW layout stores it) and the subjects of its 20 nearest gallery sequences as integers,
nearest first, repeats kept (OpenGait's ``GREW_submission``). It must not choose probes and gallery
(``landmarkgait.data.evaluation.composite`` does).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from landmarkgait.data.atomic import write_atomic
from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.labelled import LabelledEmbeddings
from landmarkgait.data.evaluation.ranking import PartGallery, nearest_columns, probe_chunks

SUBMISSION_FILE = "grew_submission.csv"
SUBMISSION_RANKS = 20


@dataclass(frozen=True)
class Submission:
    """A challenge file's header and rows, written by ``to_csv``."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def to_csv(self, path: Path) -> Path:
        """Write the file atomically (a submission is complete or absent)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return write_atomic(Path(path), buffer.getvalue())


def nearest_subjects(
    data: LabelledEmbeddings,
    probe_index: np.ndarray,
    gallery_index: np.ndarray,
    metric: str,
    count: int = SUBMISSION_RANKS,
) -> Submission:
    """The submission of the probe rows ``probe_index`` against the gallery rows ``gallery_index``.

    Distances are streamed in probe chunks as every protocol's are; ties keep gallery order.
    Gallery subjects must be integers (GREW's ``00001``, written ``1`` as OpenGait writes it).
    """
    if probe_index.size == 0 or gallery_index.size == 0:
        raise DataError(f"no {'probe' if probe_index.size == 0 else 'gallery'} sequences for the submission")
    if gallery_index.size < count:
        raise DataError(
            f"the submission lists {count} gallery subjects per probe, but the gallery has only "
            f"{gallery_index.size} sequences"
        )
    numbers = []
    for row in gallery_index.tolist():
        subject = str(data.subjects[row])
        if not subject.isdigit():
            raise DataError(
                f"gallery sequence {data.sequence(row)}: subject {subject!r} is not a number; the GREW "
                "submission lists gallery subjects as integers"
            )
        numbers.append(str(int(subject)))
    gallery_numbers = np.asarray(numbers)
    device = data.embeddings.device
    gallery = PartGallery(data.embeddings, metric, index=torch.as_tensor(gallery_index, device=device))
    rows: list[tuple[str, ...]] = []
    for chunk in probe_chunks(probe_index.size, gallery):
        probe_rows = probe_index[chunk]
        distance = gallery.distance(data.embeddings, torch.as_tensor(probe_rows, device=device))
        nearest = nearest_columns(distance, count).cpu().numpy()
        rows.extend(
            (str(data.views[row]), *gallery_numbers[columns].tolist())
            for row, columns in zip(probe_rows.tolist(), nearest, strict=True)
        )
    header = ("videoId", *(f"rank{rank}" for rank in range(1, count + 1)))
    return Submission(header=header, rows=tuple(rows))
