"""The Parquet format: round trip, metadata seen by plain pyarrow, fingerprint, every bad-input error."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from data_helpers import make_records, run_cli

from landmarkgait.data.errors import DataError
from landmarkgait.data.format import (
    FORMAT_VERSION,
    METADATA_FILE,
    METADATA_KEY,
    SequenceRecord,
    list_shards,
    read_metadata,
)
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.validation import validate_dataset
from landmarkgait.data.writer import write_dataset, write_shard


@pytest.fixture
def records() -> list[SequenceRecord]:
    return make_records()


@pytest.fixture
def dataset_dir(tmp_path: Path, records: list[SequenceRecord]) -> Path:
    return write_dataset(
        records,
        tmp_path / "ds",
        name="tiny",
        source="unit test",
        extra_metadata={"k": [1]},
        sequences_per_shard=7,
    )


def test_round_trip_keeps_keys_order_and_pixels(dataset_dir: Path, records: list[SequenceRecord]) -> None:
    dataset = SilhouetteDataset(dataset_dir)
    assert len(dataset) == len(records) == 18
    assert len(list_shards(dataset_dir)) == 3
    for index, expected in enumerate(records):
        got = dataset[index]
        assert (got.subject, got.type, got.view) == (expected.subject, expected.type, expected.view)
        assert got.frames.dtype == np.uint8 and got.frames.shape == expected.frames.shape
        np.testing.assert_array_equal(got.frames, expected.frames)
        assert dataset.entries[index].num_frames == expected.frames.shape[0]
    assert dataset.find("002", "bg-01", "090") == 11
    assert dataset[-1].view == records[-1].view
    with pytest.raises(DataError, match="subject='009'"):
        dataset.find("009", "nm-01", "000")
    with pytest.raises(IndexError):
        dataset[len(records)]
    metadata = dataset.metadata
    assert (metadata.format_version, metadata.name, metadata.source) == (FORMAT_VERSION, "tiny", "unit test")
    assert (metadata.frame_height, metadata.frame_width, metadata.num_sequences) == (64, 64, 18)
    assert metadata.extra == {"k": [1]}
    assert validate_dataset(dataset_dir) == metadata


def test_metadata_is_visible_to_plain_pyarrow(dataset_dir: Path) -> None:
    common = pq.read_schema(dataset_dir / METADATA_FILE).metadata[METADATA_KEY.encode()]
    assert json.loads(common)["fingerprint"] == read_metadata(dataset_dir).fingerprint
    table = pq.read_table(dataset_dir)  # the directory reads as one table; _common_metadata is skipped
    assert table.num_rows == 18
    assert json.loads(table.schema.metadata[METADATA_KEY.encode()])["format_version"] == FORMAT_VERSION
    row = table.filter(pc.equal(table["subject"], "003")).slice(0, 1).to_pylist()[0]
    frames = np.frombuffer(row["frames"], np.uint8).reshape(row["num_frames"], row["height"], row["width"])
    np.testing.assert_array_equal(frames, SilhouetteDataset(dataset_dir)[12].frames)


def test_fingerprint_depends_on_content_only(tmp_path: Path, records: list[SequenceRecord]) -> None:
    one_shard = write_dataset(records, tmp_path / "a", name="a", source="x")
    reversed_small_shards = write_dataset(
        records[::-1], tmp_path / "b", name="b", source="y", sequences_per_shard=1
    )
    assert read_metadata(one_shard).fingerprint == read_metadata(reversed_small_shards).fingerprint
    changed = records[:]
    frames = changed[4].frames.copy()
    frames[0, 0, 0] ^= 1
    changed[4] = SequenceRecord(changed[4].subject, changed[4].type, changed[4].view, frames)
    other = write_dataset(changed, tmp_path / "c", name="a", source="x")
    assert read_metadata(other).fingerprint != read_metadata(one_shard).fingerprint


def test_reader_pickles_and_cache_stays_bounded(dataset_dir: Path, records: list[SequenceRecord]) -> None:
    largest = max(r.frames.nbytes for r in records)
    dataset = SilhouetteDataset(dataset_dir, cache_bytes=3 * largest)
    for index in range(len(dataset)):
        dataset[index]
        assert dataset._cached_bytes <= 3 * largest
    clone = pickle.loads(pickle.dumps(dataset))
    assert clone._cached_bytes == 0
    np.testing.assert_array_equal(clone[5].frames, records[5].frames)
    assert [r.view for r in clone.read_many([1, 1, 0])] == ["090", "090", "000"]


def test_reads_in_threads_equal_reads_in_one_thread(tmp_path: Path, records: list[SequenceRecord]) -> None:
    small_shards = write_dataset(records, tmp_path / "ds", name="ds", source="x", sequences_per_shard=4)
    indices = [17, 3, 3, 0, 9, 12, 5, 16, 8, -1]
    serial = SilhouetteDataset(small_shards).read_many(indices)
    threaded = SilhouetteDataset(small_shards, read_threads=4, cache_bytes=2**20)
    for _ in range(2):  # decoded, then from the cache
        for mine, theirs in zip(threaded.read_many(indices), serial, strict=True):
            assert (mine.subject, mine.type, mine.view) == (theirs.subject, theirs.type, theirs.view)
            np.testing.assert_array_equal(mine.frames, theirs.frames)
    clone = pickle.loads(pickle.dumps(threaded))
    assert clone.read_threads == 4 and clone._pool is None
    np.testing.assert_array_equal(clone.read_many(indices)[4].frames, serial[4].frames)


@pytest.mark.parametrize("read_threads", [0, -2, 1.5, True])
def test_bad_read_threads_are_refused(dataset_dir: Path, read_threads: object) -> None:
    with pytest.raises(DataError, match=f"read_threads must be an integer >= 1, got {read_threads!r}"):
        SilhouetteDataset(dataset_dir, read_threads=read_threads)


@pytest.mark.parametrize("where", ["page header", "compressed frames"])
def test_a_corrupt_shard_read_in_a_thread_names_the_file(
    tmp_path: Path, records: list[SequenceRecord], where: str
) -> None:
    small_shards = write_dataset(records, tmp_path / "ds", name="ds", source="x", sequences_per_shard=4)
    dataset = SilhouetteDataset(small_shards, read_threads=3)
    shard = sorted(small_shards.glob("part-*.parquet"))[2]
    frames_chunk = pq.ParquetFile(shard).metadata.row_group(1).column(6)
    assert frames_chunk.path_in_schema == "frames"
    # Without page checksums, bytes flipped inside zstd data decode to wrong frames, silently.
    start = frames_chunk.data_page_offset
    if where == "compressed frames":
        start += frames_chunk.total_compressed_size // 2
    content = shard.read_bytes()
    shard.write_bytes(
        content[:start] + bytes(b ^ 0xFF for b in content[start : start + 16]) + content[start + 16 :]
    )
    message = rf"{shard.name}: row group 1: cannot read field 'frames'"
    with pytest.raises(DataError, match=message):
        dataset.read_many(range(len(dataset)))
    with pytest.raises(DataError, match=message):
        validate_dataset(small_shards)


def test_existing_destination_needs_overwrite(dataset_dir: Path, records: list[SequenceRecord]) -> None:
    with pytest.raises(DataError, match="already exists"):
        write_dataset(records, dataset_dir, name="again", source="x")
    write_dataset(records[:2], dataset_dir, name="again", source="x", overwrite=True)
    assert read_metadata(dataset_dir).num_sequences == 2
    assert [p.name for p in dataset_dir.parent.iterdir()] == ["ds"]  # nothing left beside it


def test_failed_write_leaves_nothing(tmp_path: Path, records: list[SequenceRecord]) -> None:
    duplicate = r"part-00003.parquet: row 3: duplicate \(subject, type, view\) \('001', 'nm-01', '000'\)"
    with pytest.raises(DataError, match=rf"{duplicate}, also in .*part-00000.parquet row 0"):
        write_dataset(records + records[:1], tmp_path / "dup", name="dup", source="x", sequences_per_shard=5)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            SequenceRecord("001", "nm-01", "000", np.zeros((3, 4, 4), np.float32)),
            "field 'frames' must be a uint8",
        ),
        (SequenceRecord("001", "nm-01", "000", np.zeros((3, 4), np.uint8)), "field 'frames' must be a uint8"),
        (SequenceRecord("001", "nm-01", "000", np.zeros((0, 4, 4), np.uint8)), "field 'frames' is empty"),
        (
            SequenceRecord("../x", "nm-01", "000", np.zeros((1, 4, 4), np.uint8)),
            "field 'subject' is '../x': expected one path component",
        ),
        (
            SequenceRecord("001", "", "000", np.zeros((1, 4, 4), np.uint8)),
            "field 'type' is '': expected a non-empty name",
        ),
    ],
)
def test_write_shard_rejects_bad_records(tmp_path: Path, record: SequenceRecord, message: str) -> None:
    good = SequenceRecord("001", "nm-01", "090", np.zeros((1, 4, 4), np.uint8))
    path = tmp_path / "part-00000.parquet"
    with pytest.raises(DataError, match=f"part-00000.parquet: record 1: {message}"):
        write_shard([good, record], path)
    assert list(tmp_path.iterdir()) == []


def test_write_shard_rejects_mixed_frame_sizes_and_no_records(tmp_path: Path) -> None:
    first = SequenceRecord("001", "nm-01", "000", np.zeros((1, 4, 4), np.uint8))
    second = SequenceRecord("001", "nm-01", "090", np.zeros((1, 4, 6), np.uint8))
    with pytest.raises(DataError, match="record 1: field 'frames' has frame size 4x6, expected 4x4"):
        write_shard([first, second], tmp_path / "part-00000.parquet")
    with pytest.raises(DataError, match="at least one sequence"):
        write_shard([], tmp_path / "part-00000.parquet")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- damaged datasets


def _rewrite_shard(path: Path, change) -> None:
    """Rewrite one shard through plain pyarrow, as a foreign tool (or a bug) might."""
    table = change(pq.read_table(path))
    pq.write_table(table, path, row_group_size=1)


def _set_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def _shard(dataset_dir: Path, number: int = 0) -> Path:
    return list_shards(dataset_dir)[number]


def test_wrong_format_version_in_dataset_metadata(dataset_dir: Path) -> None:
    path = dataset_dir / METADATA_FILE
    schema = pq.read_schema(path)
    values = json.loads(schema.metadata[METADATA_KEY.encode()])
    pq.write_metadata(schema.with_metadata({METADATA_KEY: json.dumps({**values, "format_version": 2})}), path)
    with pytest.raises(
        DataError, match=r"_common_metadata: field 'format_version' is 2; .* reads format version 1"
    ):
        SilhouetteDataset(dataset_dir)


def test_wrong_format_version_in_a_shard(dataset_dir: Path) -> None:
    shard = _shard(dataset_dir, 1)
    _rewrite_shard(shard, lambda t: t.replace_schema_metadata({METADATA_KEY: '{"format_version": 7}'}))
    with pytest.raises(DataError, match=rf"{shard.name}: field 'format_version' is 7"):
        SilhouetteDataset(dataset_dir)


def test_missing_column(dataset_dir: Path) -> None:
    shard = _shard(dataset_dir)
    _rewrite_shard(shard, lambda t: t.drop_columns(["view"]))
    with pytest.raises(DataError, match=rf"{shard.name}: missing column 'view' \(string\)"):
        SilhouetteDataset(dataset_dir)


def test_wrong_column_type(dataset_dir: Path) -> None:
    shard = _shard(dataset_dir)
    _rewrite_shard(shard, lambda t: _set_column(t, "num_frames", t["num_frames"].cast(pa.int64())))
    with pytest.raises(DataError, match=rf"{shard.name}: column 'num_frames' has type int64, expected int32"):
        SilhouetteDataset(dataset_dir)


def test_frames_length_mismatch(dataset_dir: Path) -> None:
    shard = _shard(dataset_dir, 2)

    def truncate_row_1(table: pa.Table) -> pa.Table:
        values = table["frames"].to_pylist()
        values[1] = values[1][:-64]
        return _set_column(table, "frames", pa.array(values, pa.binary()))

    _rewrite_shard(shard, truncate_row_1)
    message = rf"{shard.name}: row 1: field 'frames' holds \d+ bytes, expected num_frames\*height\*width"
    with pytest.raises(DataError, match=message):
        validate_dataset(dataset_dir)
    dataset = SilhouetteDataset(dataset_dir)  # opening reads no frames; reading the row checks it
    dataset[14]
    with pytest.raises(DataError, match=message):
        dataset[15]


def test_duplicate_key_across_shards(dataset_dir: Path) -> None:
    first, second = _shard(dataset_dir, 0), _shard(dataset_dir, 1)
    copy_of_first_row = pq.read_table(first).slice(0, 1)
    _rewrite_shard(second, lambda t: pa.concat_tables([t, copy_of_first_row]))
    with pytest.raises(DataError, match=rf"{second.name}: row 7: duplicate .* also in .*{first.name} row 0"):
        SilhouetteDataset(dataset_dir)


def test_empty_sequence(dataset_dir: Path) -> None:
    shard = _shard(dataset_dir)

    def empty_row_3(table: pa.Table) -> pa.Table:
        counts = table["num_frames"].to_pylist()
        frames = table["frames"].to_pylist()
        counts[3], frames[3] = 0, b""
        table = _set_column(table, "num_frames", pa.array(counts, pa.int32()))
        return _set_column(table, "frames", pa.array(frames, pa.binary()))

    _rewrite_shard(shard, empty_row_3)
    with pytest.raises(DataError, match=rf"{shard.name}: row 3: field 'num_frames' is 0 \(empty sequence\)"):
        SilhouetteDataset(dataset_dir)


def test_missing_shard_and_changed_content(dataset_dir: Path) -> None:
    shard = _shard(dataset_dir, 1)
    _rewrite_shard(shard, lambda t: _set_column(t, "frames", pc.binary_reverse(t["frames"])))
    SilhouetteDataset(dataset_dir)  # structure is fine
    with pytest.raises(DataError, match=r"field 'fingerprint' is sha256:.* but the content hashes to"):
        validate_dataset(dataset_dir)
    shard.unlink()
    with pytest.raises(DataError, match="field 'num_sequences' is 18 but the shards hold 11 rows"):
        SilhouetteDataset(dataset_dir)


@pytest.mark.parametrize(
    ("field", "value"),
    [("subject", "../../X"), ("type", ".."), ("view", "/etc"), ("subject", "a\\b"), ("view", "")],
)
def test_a_key_that_could_leave_a_folder_is_refused_when_read(
    dataset_dir: Path, tmp_path: Path, field: str, value: str
) -> None:
    """Keys name folders on export; a shard written by another tool is checked at every door."""
    shard = _shard(dataset_dir, 1)

    def poison_row_2(table: pa.Table) -> pa.Table:
        values = table[field].to_pylist()
        values[2] = value
        return _set_column(table, field, pa.array(values, pa.string()))

    _rewrite_shard(shard, poison_row_2)
    message = rf"{shard.name}: row 2: field '{field}' is {re.escape(repr(value))}: expected"
    with pytest.raises(DataError, match=message):
        SilhouetteDataset(dataset_dir)
    with pytest.raises(DataError, match=message):
        validate_dataset(dataset_dir)
    result = run_cli("data", "export-pkl", str(dataset_dir), str(tmp_path / "export" / "pkl"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"row 2: field '{field}'" in result.stderr
    assert not (tmp_path / "export").exists() and not (tmp_path / "X").exists()


def test_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a dataset directory"):
        SilhouetteDataset(tmp_path / "nowhere")
    with pytest.raises(DataError, match=f"missing {METADATA_FILE}"):
        SilhouetteDataset(tmp_path)
