"""Dataset -> OpenGait pickle tree ``DST/<subject>/<type>/<view>/<view>.pkl``, one file per sequence.

The file name follows OpenGait's pretreatment and the bytes equal its output for the same pixels
(``landmarkgait.data.pickle_io.save_array_pickle``), so pkl -> Parquet -> pkl is byte for byte.
It must not change the frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from landmarkgait.data.converters.pool import DEFAULT_WORKERS, run_pool, split
from landmarkgait.data.pickle_io import save_array_pickle
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.staging import check_destination, publish_directory, staging_dir

_EXPORT_CHUNK = 64


@dataclass(frozen=True)
class ExportReport:
    """Outcome of an export to a pickle tree: one file per sequence, their size in bytes."""

    out: Path
    num_files: int
    size_bytes: int


def _export_chunk(task: tuple[SilhouetteDataset, list[int], Path]) -> int:
    """Write the pickles of the sequences ``indices`` below ``root``; returns the bytes written."""
    dataset, indices, root = task
    size_bytes = 0
    for record in dataset.read_many(indices):
        directory = root / record.subject / record.type / record.view
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{record.view}.pkl"
        save_array_pickle(record.frames, target)
        size_bytes += target.stat().st_size
    return size_bytes


def export_pkl_tree(
    src: Path, out: Path, *, workers: int = DEFAULT_WORKERS, overwrite: bool = False
) -> ExportReport:
    """Write a dataset back as an OpenGait pickle tree, one ``<view>.pkl`` per sequence.

    The file name follows OpenGait's pretreatment; arrays are bit-identical to the stored frames.
    """
    out = Path(out)
    check_destination(out, overwrite=overwrite, source=Path(src))
    dataset = SilhouetteDataset(src)
    with staging_dir(out) as staging:
        chunks = split(range(len(dataset)), workers, _EXPORT_CHUNK)
        tasks = [(dataset, chunk, staging) for chunk in chunks]
        sizes = run_pool(
            _export_chunk, tasks, [len(c) for c in chunks], workers, f"Exporting {dataset.path.name}"
        )
        publish_directory(staging, out, overwrite=overwrite)
    return ExportReport(out=out, num_files=len(dataset), size_bytes=sum(sizes))
