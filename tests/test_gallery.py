"""Embeddings datasets read in batches, and identify's streaming ranking against a whole-gallery one.

Real Parquet files in the layout ``landmarkgait embed`` writes (several files); batches are made
tiny so that every subject's sequences are spread over several of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.ranking import pairwise_distance
from landmarkgait.pipelines.deploy.embedding import EMBEDDINGS_SCHEMA
from landmarkgait.pipelines.deploy.gallery import read_embeddings, scan_gallery
from landmarkgait.pipelines.deploy.identify import calibration_rows, rank_gallery

CHANNELS, PARTS = 6, 4


def write_embeddings(
    path: Path,
    subjects: list[str],
    vectors: np.ndarray,
    files: int = 3,
    schema: pa.Schema = EMBEDDINGS_SCHEMA,
) -> Path:
    """``path/part-N.parquet`` as embed writes them, rows split over ``files`` files in order."""
    path.mkdir()
    count = len(subjects)
    for number, rows in enumerate(np.array_split(np.arange(count), files)):
        columns = {
            "subject": [subjects[i] for i in rows],
            "type": [f"nm-{i % 6 + 1:02d}" for i in rows],
            "view": [f"{(i * 18) % 198:03d}" for i in rows],
            "run_id": ["r" * 32] * rows.size,
            "num_frames": [30] * rows.size,
            "channels": [CHANNELS] * rows.size,
            "parts": [PARTS] * rows.size,
            "embedding": [vectors[i].reshape(-1).tolist() for i in rows],
        }
        pq.write_table(pa.table(columns, schema=schema), path / f"part-{number}.parquet", row_group_size=7)
    return path


@pytest.fixture
def gallery(tmp_path: Path) -> tuple[Path, list[str], np.ndarray]:
    rng = np.random.default_rng(0)
    subjects = [f"{rng.integers(1, 13):03d}" for _ in range(90)]
    vectors = rng.standard_normal((90, CHANNELS, PARTS)).astype(np.float32)
    vectors[40] = vectors[3]  # an exact tie between two sequences (of different subjects, likely)
    return write_embeddings(tmp_path / "gallery.emb", subjects, vectors), subjects, vectors


def test_read_embeddings_returns_the_rows_in_file_order(gallery: tuple[Path, list[str], np.ndarray]) -> None:
    path, subjects, vectors = gallery
    embeddings = read_embeddings(path)
    assert embeddings.subjects == subjects and embeddings.run_ids == {"r" * 32}
    np.testing.assert_array_equal(embeddings.vectors, vectors)


@pytest.mark.parametrize("metric", ["euc", "cos"])
def test_streaming_ranking_equals_a_stable_sort_of_the_whole_gallery(
    gallery: tuple[Path, list[str], np.ndarray], metric: str
) -> None:
    path, subjects, vectors = gallery
    probes = torch.from_numpy(
        np.random.default_rng(1).standard_normal((5, CHANNELS, PARTS)).astype(np.float32)
    )
    probes[4] = torch.from_numpy(vectors[3])  # ties with gallery rows 3 and 40
    index = scan_gallery(path)
    rows = calibration_rows(index)
    row_bytes = CHANNELS * PARTS * 4
    ranking = rank_gallery(index, probes, metric, top_k=4, calibration=rows, max_bytes=5 * row_bytes)

    whole = pairwise_distance(probes, torch.from_numpy(vectors), metric).numpy()
    for probe, found in zip(whole, ranking.nearest, strict=True):
        expected, seen = [], set()
        for row in np.argsort(probe, kind="stable"):
            if subjects[row] not in seen:
                seen.add(subjects[row])
                expected.append((subjects[row], int(row)))
        assert [(subject, row) for subject, _, row in found] == expected[:4]
        np.testing.assert_allclose(
            [d for _, d, _ in found], probe[[row for _, row in expected[:4]]], atol=1e-5
        )

    gallery_distances = pairwise_distance(
        torch.from_numpy(vectors), torch.from_numpy(vectors), metric
    ).numpy()
    same = np.asarray(subjects)[:, None] == np.asarray(subjects)[None, :]
    impostor = np.where(same, np.inf, gallery_distances).min(1)
    np.testing.assert_allclose(ranking.impostor_distances, impostor[rows], atol=1e-5)


def test_a_large_gallery_is_calibrated_on_a_random_subset(tmp_path: Path) -> None:
    count = 2100
    subjects = [f"{i % 50:03d}" for i in range(count)]
    vectors = np.zeros((count, CHANNELS, PARTS), np.float32)
    index = scan_gallery(write_embeddings(tmp_path / "big.emb", subjects, vectors, files=1))
    rows = calibration_rows(index)
    assert rows.size == 2000 and np.all(np.diff(rows) > 0) and rows[-1] < count


def test_a_gallery_of_one_subject_cannot_calibrate(tmp_path: Path) -> None:
    index = scan_gallery(write_embeddings(tmp_path / "one.emb", ["001"] * 4, np.zeros((4, CHANNELS, PARTS))))
    with pytest.raises(DataError, match="one subject"):
        calibration_rows(index)


def test_bad_embeddings_datasets_are_named_with_file_row_and_field(tmp_path: Path) -> None:
    vectors = np.zeros((6, CHANNELS, PARTS), np.float32)
    doubles = EMBEDDINGS_SCHEMA.set(
        EMBEDDINGS_SCHEMA.get_field_index("embedding"), pa.field("embedding", pa.list_(pa.float64()), False)
    )
    path = write_embeddings(tmp_path / "doubles.emb", ["001"] * 6, vectors, files=1, schema=doubles)
    with pytest.raises(
        DataError, match=r"part-0\.parquet: field 'embedding' is list<double>, expected list<float>"
    ):
        scan_gallery(path)

    short = tmp_path / "short.emb"
    write_embeddings(short, ["001"] * 6, vectors, files=2)
    table = pq.read_table(short / "part-1.parquet")
    rows = table["embedding"].to_pylist()
    rows[1] = rows[1][:-1]
    embedding = pa.array(rows, type=pa.list_(pa.float32()))
    table = table.set_column(table.schema.get_field_index("embedding"), "embedding", embedding)
    pq.write_table(table, short / "part-1.parquet")
    with pytest.raises(
        DataError, match=r"part-1\.parquet: row 1: field 'embedding' must hold channels\*parts = 24"
    ):
        read_embeddings(short)

    with pytest.raises(DataError, match="no Parquet files"):
        scan_gallery(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        scan_gallery(tmp_path / "missing")
