"""``data_cfg`` onto the dataset, the config name and the evaluation protocol.

Why a module of its own: every stage config carries the same ``data_cfg`` (OpenGait trains each
stage by hand), while one pipeline trains all stages on one dataset; the configs are compared
here, and the OpenGait pickle tree is named as what it is (to be converted to Parquet first,
``landmarkgait data convert-pkl``). The test dataset selects the protocol. This module must not
read the dataset.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from landmarkgait.data.evaluation.names import PROTOCOLS
from landmarkgait.data.keys import key_problem
from landmarkgait.data.quoting import quote_value
from landmarkgait.pipelines.opengait_import.commented_yaml import Section, Value, from_plain
from landmarkgait.pipelines.opengait_import.official import DATASET_PROTOCOLS, is_placeholder
from landmarkgait.pipelines.opengait_import.source import BUILT_IN, IGNORED, REFUSED, OpenGaitSource

# The customary CASIA-B split, which a null data.partition gives (``data.partition``).
CASIA_B_PARTITION_FILE = "CASIA-B.json"


@dataclass
class DatasetImport:
    """What ``data_cfg`` gives: the ``data`` section, the config name, the protocol (our name and
    OpenGait's evaluation functions for it; None if refused) and the conversion command."""

    data: Section
    name: Value
    protocol: tuple[str, tuple[str, ...]] | None
    protocol_origin: str
    convert: list[str] = field(default_factory=list)


def map_dataset(
    sources: list[OpenGaitSource], base_raw: dict[str, Any] | None, base_label: str
) -> DatasetImport:
    """``data_cfg`` (the same in every config) -> the dataset, the config name and the protocol."""
    first = sources[0]
    for other in sources[1:]:
        for key in other.keys_under("data_cfg"):
            if other.value(key) == first.value(key, _Absent):
                other.take(key)
            else:
                other.note(
                    REFUSED,
                    key,
                    f"differs from {first.label}'s {quote_value(first.value(key))}; one pipeline trains "
                    "every stage on one dataset",
                )

    def origin(key: str) -> str:
        every = f"all {len(sources)} configs"
        return first.origin(key) if len(sources) == 1 else f"{first.keyed(key)} ({every})"

    dataset_key, test_key = "data_cfg.dataset_name", "data_cfg.test_dataset_name"
    dataset, test = first.take(dataset_key), first.take(test_key)
    protocol = DATASET_PROTOCOLS.get(test) if isinstance(test, str) else None
    if test != dataset:
        first.add(
            REFUSED,
            test_key,
            test,
            f"trains on {dataset} but evaluates on another dataset; import a config of that dataset "
            "and run landmarkgait evaluate CONFIG --run RUN (cross-dataset)",
        )
    elif protocol is None or protocol[0] not in PROTOCOLS:
        first.add(REFUSED, test_key, test, f"no evaluation protocol for it here ({', '.join(PROTOCOLS)})")
        protocol = None
    remove = first.value("data_cfg.remove_no_gallery")
    first.note(
        BUILT_IN if remove is False else REFUSED,
        "data_cfg.remove_no_gallery",
        "every test sequence is kept"
        if remove is False
        else "landmarkgait's protocols have no option to drop test sequences without a gallery",
    )
    for key, why in (
        ("data_cfg.num_workers", "DataLoader processes: reading speed only (data.read_threads here)"),
        ("data_cfg.cache", "memory and reading speed only"),
    ):
        if first.has(key):
            first.note(IGNORED, key, why)
    result = DatasetImport(
        Section(), Value(_config_name(dataset), origin(dataset_key)), protocol, origin(test_key)
    )
    _dataset(first, origin, base_raw, base_label, result)
    return result


class _Absent:
    """Stands for a key one config lacks when configs are compared."""


def _dataset(
    first: OpenGaitSource,
    origin: Callable[[str], str],
    base_raw: dict[str, Any] | None,
    base_label: str,
    result: DatasetImport,
) -> None:
    """The Parquet dataset for ``dataset_root`` (a pickle tree to convert) and the partition."""
    root_key, partition_key = "data_cfg.dataset_root", "data_cfg.dataset_partition"
    root, partition = first.take(root_key), first.take(partition_key)
    section = result.data
    if not is_placeholder(root):
        path = f"{str(root).rstrip('/')}-parquet"
        section.set("path", path, f"{origin(root_key)} holds OpenGait pickles: the first step converts them")
        result.convert = ["landmarkgait", "data", "convert-pkl", str(root), path]
    elif base_raw is not None and isinstance(base_raw.get("data"), dict):
        section.entries.update(from_plain(base_raw["data"], base_label).entries)
        section.entries["path"].comment = f"{base_label} ({origin(root_key)} is a placeholder)"
    else:
        section.set(
            "path",
            "< your Parquet dataset >",
            f"{origin(root_key)} is a placeholder: convert your OpenGait pickles with "
            "landmarkgait data convert-pkl and name the folder here",
        )
    casia_b_split = result.protocol is not None and result.protocol[0] == "casia_b"
    if is_placeholder(partition) and "partition" in section.entries:
        section.entries["partition"].comment = f"{base_label} ({origin(partition_key)} is a placeholder)"
    elif is_placeholder(partition) or (
        casia_b_split and PurePath(str(partition)).name == CASIA_B_PARTITION_FILE
    ):
        why = "the customary split of OpenGait's CASIA-B.json (subjects 001-074 train) is the default"
        if not casia_b_split:
            why = "set your partition file here (null: the dataset's own, else the first 74 subjects train)"
        section.set("partition", None, f"{origin(partition_key)}: {why}")
    else:
        section.set("partition", str(partition), f"{origin(partition_key)} (relative: from where you run)")


def _config_name(dataset: Any) -> str:
    """The pipeline's name from the dataset's (``CASIA-B`` -> ``casia_b``)."""
    name = re.sub(r"[^a-z0-9]+", "_", str(dataset).lower()).strip("_")
    return name if name and key_problem(name) is None else "opengait_import"
