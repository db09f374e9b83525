"""The protocols of OpenGait's evaluator beyond CASIA-B (Gait3D, GREW, CCPG, SUSTech1K, CASIA-E and the
cross-view gallery), on small synthetic test sets in each dataset's naming.

Each protocol is checked three ways: against a plain reimplementation of its rule written here
(numpy loops over probes and gallery, a stable sort per probe); against OpenGait's own evaluator
function run on the same embeddings, when an OpenGait checkout or bare git mirror is at hand
(``LANDMARKGAIT_OPENGAIT``; it runs in a subprocess with a logging stand-in for its ``utils``, as
``benchmarks/evaluation_speed.py`` runs it); and for its bad labels, one line naming the sequence.
The converters are checked on trees in these layouts.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from landmarkgait.data.converters.from_pkl import convert_pkl_tree
from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.names import PROTOCOLS, summary_metric_pattern
from landmarkgait.data.evaluation.protocols import evaluate_protocol, protocol_probe_keys
from landmarkgait.data.evaluation.ranking import nearest_columns
from landmarkgait.data.evaluation.results import GaitEvaluation
from landmarkgait.data.evaluation.submission import SUBMISSION_FILE
from landmarkgait.data.partition import resolve_partition
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.pipelines.config import EvaluationSection
from landmarkgait.pipelines.report.collect import CONDITIONS

REPO = Path(__file__).resolve().parents[1]
CHANNELS, PARTS = 4, 3


@dataclass(frozen=True)
class Layout:
    """A synthetic test set: labels in one dataset's naming, and embeddings ``[N, C, P]``."""

    subjects: list[str]
    types: list[str]
    views: list[str]
    embeddings: np.ndarray
    probe_keys: tuple[str, ...] = ()

    def labels(self) -> dict[str, list[str]]:
        return {"subjects": self.subjects, "types": self.types, "views": self.views}


def _layout(rows: Sequence[tuple[str, str, str]], seed: int, noise: float = 0.9, **extra: object) -> Layout:
    """Each subject an identity ``[C, P]``, each sequence that identity plus noise (float64)."""
    rng = np.random.default_rng(seed)
    subjects, types, views = (list(column) for column in zip(*rows, strict=True))
    identity = {name: rng.standard_normal((CHANNELS, PARTS)) for name in sorted(set(subjects))}
    embeddings = np.stack([identity[s] + noise * rng.standard_normal((CHANNELS, PARTS)) for s in subjects])
    return Layout(subjects, types, views, embeddings, **extra)


def _video_ids(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789"))
    return ["".join(rng.choice(letters, 8)) for _ in range(count)]


def gait3d_layout() -> Layout:
    """Gait3D: ``<subject>/camid<c>_videoid<v>/seq<k>``; PROBE_SET keys ``subject-type-view``. Subject
    0009's one sequence is a probe without gallery; one key names no sequence (both as in OpenGait)."""
    rows = [
        (f"{s:04d}", f"camid{camera}_videoid{camera + 1}", f"seq{k}")
        for s in range(1, 9)
        for camera in (1, 2, 3)
        for k in (0, 1)
    ]
    rows.append(("0009", "camid5_videoid1", "seq0"))
    keys = (
        *(f"{s:04d}-camid1_videoid2-seq0" for s in range(1, 9)),
        "0009-camid5_videoid1-seq0",
        "0100-camid1_videoid2-seq0",
    )
    return _layout(rows, seed=1, probe_keys=keys)


def grew_layout() -> Layout:
    """GREW: test subjects' ``01`` / ``02`` sequences (view = video id), one ``02`` probe without a
    ``01`` gallery, and the challenge's probes, subject ``probe`` type ``03``."""
    videos = iter(_video_ids(60, seed=2))
    rows = [(f"{s:05d}", kind, next(videos)) for s in range(1, 23) for kind in ("01", "02")]
    rows.append(("00023", "02", next(videos)))
    rows += [("probe", "03", next(videos)) for _ in range(7)]
    return _layout(rows, seed=2)


CCPG_TYPES = ("U0_D0", "U0_D0_BG", "U0_D3", "U1_D0", "U1_D1", "U2_D2", "U3_D3")


def ccpg_layout(dropped: int = 0) -> Layout:
    """CCPG: seven cloth-changing types, views ``<camera>_<n>`` (only the camera counts);
    ``dropped`` sequences removed at random, so cells differ in size."""
    rows = [
        (f"{s:03d}", kind, f"{camera:02d}_{index}")
        for s in range(100, 106)
        for index, kind in enumerate(CCPG_TYPES)
        for camera in (1, 2, 3, 4)
    ]
    if dropped:
        keep = np.sort(np.random.default_rng(3).permutation(len(rows))[dropped:])
        rows = [rows[i] for i in keep]
    return _layout(rows, seed=3)


SUSTECH1K_TYPES = ("00-nm", "01-nm", "01-bg", "02-cl", "02-cr", "03-ub", "03-uf", "04-oc", "04-nt")


def sustech1k_layout() -> Layout:
    rows = [
        (f"{s:04d}", kind, view)
        for s in range(1, 9)
        for kind in SUSTECH1K_TYPES
        for view in ("000", "090", "180")
    ]
    return _layout(rows, seed=4)


CASIA_E_TYPES = (
    "H-scene1-nm-1", "H-scene1-nm-2", "L-scene1-nm-1", "L-scene1-nm-2",  # gallery
    "H-scene2-nm-1", "L-scene3-bg-2", "H-scene3_s-cl-1", "L-scene2-cl-2", "H-scene3-nm-2",  # probes
    "H-scene1-bg-1",  # a CASIA-E type no condition uses
)  # fmt: skip


def casia_e_layout() -> Layout:
    rows = [
        (f"{s:04d}", kind, view)
        for s in range(201, 207)
        for kind in CASIA_E_TYPES
        for view in ("000", "045", "090", "270")
    ]
    return _layout(rows, seed=5)


def casia_b_layout() -> Layout:
    kinds = ("nm-01", "nm-02", "bg-01", "bg-02", "cl-01", "cl-02")
    return _layout(
        [(f"{s:03d}", k, v) for s in range(75, 81) for k in kinds for v in ("000", "018", "036")], seed=6
    )


def oumvlp_layout() -> Layout:
    return _layout(
        [(f"{s:05d}", k, v) for s in range(1, 9) for k in ("00", "01") for v in ("000", "015", "030")], seed=7
    )


# ---------------------------------------------------------------- the rules, written out plainly


def ref_distances(embeddings: np.ndarray, metric: str) -> np.ndarray:
    """``[N, N]``: Euclidean distance per part averaged over parts, or 1 - mean cosine per part."""
    rows = []
    for x in embeddings:  # x [C, P] against every y [N, C, P]
        if metric == "euc":
            rows.append(np.linalg.norm(embeddings - x, axis=1).mean(axis=1))
        else:
            cosine = (embeddings * x).sum(1) / np.linalg.norm(embeddings, axis=1) / np.linalg.norm(x, axis=0)
            rows.append(1.0 - cosine.mean(axis=1))
    return np.stack(rows)


def ranked(distance: np.ndarray, probe: int, gallery: Sequence[int]) -> list[int]:
    """Gallery rows nearest first; equal distances in gallery order."""
    return sorted(gallery, key=lambda j: (distance[probe, j], j))


def ref_scores(subjects: Sequence[str], probe: int, order: Sequence[int]) -> tuple[int, float, float] | None:
    """First-hit position (0-based), AP and INP of one probe's ranking; None without a match."""
    hits = [position for position, j in enumerate(order) if subjects[j] == subjects[probe]]
    if not hits:
        return None
    precision = np.mean([(k + 1) / (position + 1) for k, position in enumerate(hits)])
    return hits[0], float(precision), len(hits) / (hits[-1] + 1)


def ref_view_cells(
    layout: Layout,
    distance: np.ndarray,
    probe_of: Callable[[str], bool],
    gallery_of: Callable[[str], bool],
    views: Sequence[str],
    rank: int = 1,
) -> np.ndarray:
    """Rank-k percentages ``[probe view, gallery view]``: each probe against that view's gallery."""
    cells = np.full((len(views), len(views)), np.nan)
    for row, probe_view in enumerate(views):
        probes = [
            i
            for i, (t, v) in enumerate(zip(layout.types, layout.views, strict=True))
            if probe_of(t) and v == probe_view
        ]
        for column, gallery_view in enumerate(views):
            gallery = [
                j
                for j, (t, v) in enumerate(zip(layout.types, layout.views, strict=True))
                if gallery_of(t) and v == gallery_view
            ]
            if probes and gallery:
                found = [
                    any(layout.subjects[j] == layout.subjects[i] for j in ranked(distance, i, gallery)[:rank])
                    for i in probes
                ]
                cells[row, column] = 100.0 * np.mean(found)
    return cells


def excluding_identical_views(cells: np.ndarray) -> float:
    """Each probe view's mean over the other gallery views, then the mean over probe views."""
    size = cells.shape[0]
    return float(np.mean([np.mean([cells[r, c] for c in range(size) if c != r]) for r in range(size)]))


# ----------------------------------------------------------------------------- protocol results


@pytest.mark.parametrize("metric", ["euc", "cos"])
def test_gait3d_equals_its_rule(metric: str, caplog: pytest.LogCaptureFixture) -> None:
    layout = gait3d_layout()
    distance = ref_distances(layout.embeddings, metric)
    keys = set(layout.probe_keys)
    probes = [
        i
        for i in range(len(layout.subjects))
        if "-".join((layout.subjects[i], layout.types[i], layout.views[i])) in keys
    ]
    gallery = [j for j in range(len(layout.subjects)) if j not in probes]
    scores = [ref_scores(layout.subjects, i, ranked(distance, i, gallery)) for i in probes]
    valid = [score for score in scores if score is not None]
    assert len(valid) == len(probes) - 1  # subject 0009 has no gallery: skipped

    with caplog.at_level(logging.WARNING):
        result = evaluate_protocol(
            "gait3d", layout.embeddings, **layout.labels(), metric=metric, probe_keys=layout.probe_keys
        )
    assert result.protocol == "gait3d"
    for rank in (1, 5, 10):
        assert result.scalars[f"rank{rank}"] == pytest.approx(100 * np.mean([s[0] < rank for s in valid]))
    assert result.scalars["mAP"] == pytest.approx(100 * np.mean([s[1] for s in valid]))
    assert result.scalars["mINP"] == pytest.approx(100 * np.mean([s[2] for s in valid]))
    assert "0009/camid5_videoid1/seq0" in caplog.text  # the probe without gallery, by name
    assert 0 < result.scalars["rank1"] < 100  # the fixture discriminates


def test_grew_local_ranks_and_submission_equal_their_rule(tmp_path: Path) -> None:
    layout = grew_layout()
    distance = ref_distances(layout.embeddings, "euc")
    probes = [i for i, t in enumerate(layout.types) if t == "02"]
    gallery = [j for j, t in enumerate(layout.types) if t == "01"]
    orders = {i: ranked(distance, i, gallery) for i in probes}

    result = evaluate_protocol("grew", layout.embeddings, **layout.labels())
    for rank in (1, 5, 10, 20):  # every probe counts, 00023 (no 01 gallery) as a miss
        found = [any(layout.subjects[j] == layout.subjects[i] for j in orders[i][:rank]) for i in probes]
        assert result.scalars[f"rank{rank}"] == pytest.approx(100 * np.mean(found))
    assert set(result.scalars) == {"rank1", "rank5", "rank10", "rank20"}
    assert 0 < result.scalars["rank1"] < result.scalars["rank20"]

    challenge = [i for i, t in enumerate(layout.types) if t == "03"]
    challenge_gallery = [j for j, t in enumerate(layout.types) if t in ("01", "02")]
    expected = [
        [
            layout.views[i],
            *(str(int(layout.subjects[j])) for j in ranked(distance, i, challenge_gallery)[:20]),
        ]
        for i in challenge
    ]
    assert result.submission is not None
    path = result.submission.to_csv(tmp_path / SUBMISSION_FILE)
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["videoId", *(f"rank{k}" for k in range(1, 21))]
    assert rows[1:] == expected


def test_ccpg_settings_equal_their_rules() -> None:
    layout = ccpg_layout(dropped=9)
    distance = ref_distances(layout.embeddings, "euc")
    cameras = [view.split("_")[0] for view in layout.views]
    camera_list = sorted(set(cameras))
    by_camera = Layout(layout.subjects, layout.types, cameras, layout.embeddings)
    settings = {
        "CL": (("U0_D0_BG", "U0_D0"), ("U1_D1", "U2_D2", "U3_D3")),
        "UP": (("U3_D3",), ("U0_D3",)),
        "DN": (("U1_D0",), ("U1_D1",)),
        "BG": (("U0_D0_BG",), ("U0_D0",)),
    }
    summary = evaluate_protocol("ccpg", layout.embeddings, **layout.labels()).summary()
    for setting, (probe_types, gallery_types) in settings.items():
        cells = ref_view_cells(
            by_camera, distance, probe_types.__contains__, gallery_types.__contains__, camera_list
        )
        assert summary[f"rank1/{setting}"] == pytest.approx(excluding_identical_views(cells))
        assert summary[f"rank1_with_identical_views/{setting}"] == pytest.approx(np.nanmean(cells))
        # Re-identification: the whole gallery, minus the probe's own subject from its own camera.
        scores = []
        for i in (i for i, t in enumerate(layout.types) if t in probe_types):
            gallery = [
                j
                for j, t in enumerate(layout.types)
                if t in gallery_types
                and not (layout.subjects[j] == layout.subjects[i] and cameras[j] == cameras[i])
            ]
            scores.append(ref_scores(layout.subjects, i, ranked(distance, i, gallery)))
        valid = [score for score in scores if score is not None]
        assert summary[f"reid_rank1/{setting}"] == pytest.approx(100 * np.mean([s[0] == 0 for s in valid]))
        assert summary[f"reid_mAP/{setting}"] == pytest.approx(100 * np.mean([s[1] for s in valid]))
        assert summary[f"reid_mINP/{setting}"] == pytest.approx(100 * np.mean([s[2] for s in valid]))


def test_sustech1k_attributes_rank1_and_rank5_equal_their_rule(tmp_path: Path) -> None:
    layout = sustech1k_layout()
    distance = ref_distances(layout.embeddings, "euc")
    attributes = {
        "Normal": ("01-nm",), "Bag": ("bg",), "Clothing": ("cl",), "Carrying": ("cr",), "Umbrella": ("ub",),
        "Uniform": ("uf",), "Occlusion": ("oc",), "Night": ("nt",), "Overall": ("01", "02", "03", "04"),
    }  # fmt: skip
    result = evaluate_protocol("sustech1k", layout.embeddings, **layout.labels())
    summary = result.summary()
    for attribute, parts in attributes.items():
        for rank in (1, 5):
            cells = ref_view_cells(
                layout,
                distance,
                lambda t, parts=parts: any(p in t for p in parts),
                lambda t: "00-nm" in t,
                ("000", "090", "180"),
                rank,
            )
            assert summary[f"rank{rank}/{attribute}"] == pytest.approx(excluding_identical_views(cells)), (
                attribute,
                rank,
            )
    assert summary["rank1/Overall"] < summary["rank5/Overall"]
    rows = list(csv.DictReader(result.to_csv(tmp_path / "per_view.csv").open()))
    overall = [row for row in rows if row["condition"] == "Overall" and row["probe_view"] == "mean"]
    assert float(overall[0]["rank5"]) == pytest.approx(summary["rank5/Overall"], abs=1e-4)


def test_casia_e_scenes_equal_their_rule() -> None:
    layout = casia_e_layout()
    distance = ref_distances(layout.embeddings, "euc")
    gallery = {"H-scene1-nm-1", "H-scene1-nm-2", "L-scene1-nm-1", "L-scene1-nm-2"}
    result = evaluate_protocol("casia_e", layout.embeddings, **layout.labels())
    summary = result.summary()
    for condition in ("NM", "BG", "CL"):
        pattern = re.compile(rf"[HL]-scene(2|3|3_s)-{condition.lower()}-[12]")
        cells = ref_view_cells(
            layout,
            distance,
            lambda t, p=pattern: p.fullmatch(t) is not None,
            gallery.__contains__,
            ("000", "045", "090"),
        )  # 270 left out
        assert summary[f"rank1/{condition}"] == pytest.approx(excluding_identical_views(cells)), condition
    assert all(table.probe_views == ("000", "045", "090") for table in result.tables)


@pytest.mark.parametrize("dataset", ["casia_b", "oumvlp"])
def test_cross_view_gallery_equals_its_rule(dataset: str) -> None:
    layout = casia_b_layout() if dataset == "casia_b" else oumvlp_layout()
    distance = ref_distances(layout.embeddings, "euc")
    conditions = {"NM": "nm-01", "BG": "bg-01", "CL": "cl-01"} if dataset == "casia_b" else {"NM": "00"}
    gallery_types = {"nm-02", "bg-02", "cl-02"} if dataset == "casia_b" else {"01"}
    summary = evaluate_protocol(f"{dataset}_cross_view", layout.embeddings, **layout.labels()).summary()
    views = sorted(set(layout.views))
    for condition, probe_type in conditions.items():
        rank1, mean_ap = [], []
        for view in views:
            hits, precisions = [], []
            for i in (
                i
                for i in range(len(layout.types))
                if layout.types[i] == probe_type and layout.views[i] == view
            ):
                gallery = [
                    j for j in range(len(layout.types))
                    if layout.types[j] in gallery_types and not (layout.subjects[j] == layout.subjects[i] and layout.views[j] == view)
                ]  # fmt: skip
                score = ref_scores(layout.subjects, i, ranked(distance, i, gallery))
                hits.append(score is not None and score[0] == 0)
                if score is not None:
                    precisions.append(score[1])
            rank1.append(100 * np.mean(hits))
            mean_ap.append(100 * np.mean(precisions))
        assert summary[f"rank1/{condition}"] == pytest.approx(np.mean(rank1))
        assert summary[f"mAP/{condition}"] == pytest.approx(np.mean(mean_ap))


def test_nearest_columns_equal_a_stable_sort_with_ties() -> None:
    generator = torch.Generator().manual_seed(5)
    distance = torch.randint(0, 4, (40, 30), generator=generator).float()  # many ties
    for k in (1, 7, 30, 50):
        expected = [sorted(range(30), key=lambda j, row=row: (row[j], j))[:k] for row in distance.tolist()]
        assert nearest_columns(distance, k).tolist() == expected


def test_every_protocol_is_registered_for_configs_sweeps_and_reports() -> None:
    layouts = {
        "gait3d": gait3d_layout(), "grew": grew_layout(), "ccpg": ccpg_layout(), "sustech1k": sustech1k_layout(),
        "casia_e": casia_e_layout(), "casia_b_cross_view": casia_b_layout(), "oumvlp_cross_view": oumvlp_layout(),
    }  # fmt: skip
    for protocol, layout in layouts.items():
        assert protocol in PROTOCOLS
        EvaluationSection(protocol=protocol)  # a pipeline config accepts it
        result = evaluate_protocol(
            protocol, layout.embeddings, **layout.labels(), probe_keys=layout.probe_keys or None
        )
        pattern = summary_metric_pattern(protocol)  # what a sweep may optimise
        assert all(pattern.fullmatch(name) for name in result.summary()), protocol
        assert [table.condition for table in result.tables] == list(
            CONDITIONS.get(protocol, ())
        )  # report columns
        assert "\n" not in result.headline()
    assert not summary_metric_pattern("gait3d").fullmatch("rank20")


# ------------------------------------------------------------------------------------ bad labels


def _one_line_error(protocol: str, layout: Layout, **changes: object) -> str:
    labels = layout.labels() | changes
    with pytest.raises(DataError) as caught:
        evaluate_protocol(protocol, layout.embeddings, **labels, probe_keys=layout.probe_keys or None)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_bad_labels_are_one_line_naming_the_sequence() -> None:
    casia_e = casia_e_layout()
    types = list(casia_e.types)
    types[13] = "H_scene2_nm_1"  # the README's underscores, not the extractor's dashes
    message = _one_line_error("casia_e", casia_e, types=types)
    assert message.startswith(
        f"sequence 0201/H_scene2_nm_1/{casia_e.views[13]}: type 'H_scene2_nm_1' is not a casia_e type"
    )

    grew = grew_layout()
    message = _one_line_error("grew", grew, types=[("04" if i == 3 else t) for i, t in enumerate(grew.types)])
    assert f"sequence 00002/04/{grew.views[3]}" in message
    message = _one_line_error("grew", grew, types=[("03" if t == "01" else t) for t in grew.types])
    assert "no gallery sequences of type 01: probe sequence 00001/02/" in message

    ccpg = ccpg_layout()
    assert "type 'U0_D0_XX' is not a ccpg type" in _one_line_error(
        "ccpg", ccpg, types=["U0_D0_XX", *ccpg.types[1:]]
    )
    sustech = sustech1k_layout()
    assert "sequence 0001/nm/000" in _one_line_error("sustech1k", sustech, types=["nm", *sustech.types[1:]])

    # A probe view whose gallery lacks a view: OpenGait's evaluator fails there; we name a probe.
    kept = [
        i
        for i in range(len(casia_e.types))
        if not (casia_e.types[i].startswith("H-scene1-nm") or casia_e.types[i].startswith("L-scene1-nm"))
        or casia_e.views[i] != "045"
    ]
    partial = Layout(
        *([column[i] for i in kept] for column in (casia_e.subjects, casia_e.types, casia_e.views)),
        casia_e.embeddings[kept],
    )
    message = _one_line_error("casia_e", partial)
    assert re.search(
        r"probe sequence 0201/H-scene2-nm-1/000 \(casia_e NM\): no gallery sequence of view 045", message
    )

    gait3d = gait3d_layout()
    assert "needs the PROBE_SET" in _one_line_error(
        "gait3d", Layout(gait3d.subjects, gait3d.types, gait3d.views, gait3d.embeddings)
    )
    assert "no sequence is in the PROBE_SET" in _one_line_error(
        "gait3d",
        Layout(gait3d.subjects, gait3d.types, gait3d.views, gait3d.embeddings, ("0001-camid9-seq0",)),
    )
    with pytest.raises(DataError, match="no cross-view-gallery variant"):
        evaluate_protocol("casia_e", casia_e.embeddings, **casia_e.labels(), cross_view_gallery=True)


# ------------------------------------------------------------------------------------ converters


def _write_pickle(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump(array, handle)


def test_converters_take_each_layout_and_the_partition_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    keys = [("0002", "camid33_videoid2", "seq0"), ("0002", "camid9_videoid1", "seq1"), ("00001", "01", "4XPn5Z28"),
            ("probe", "03", "etaGVnWf"), ("0201", "H-scene3_s-cl-1", "090"), ("0001", "01-bg", "000")]  # fmt: skip
    for subject, kind, view in keys:
        frames = rng.integers(0, 256, (3, 8, 8), dtype=np.uint8)
        _write_pickle(tmp_path / "tree" / subject / kind / view / f"{view}.pkl", frames)
    # CCPG and SUSTech1K keep several modalities per sequence; --pkl-in-use picks one by name order.
    silhouettes = {}
    for camera in ("01_1", "02_2"):
        for name in ("aligned-sils", "ratios", "rgbs", "sils"):
            array = rng.integers(0, 256, (4, 8, 8) if name != "ratios" else (4,), dtype=np.uint8)
            _write_pickle(tmp_path / "tree" / "100" / "U0_D0_BG" / camera / f"{camera}-{name}.pkl", array)
            silhouettes.setdefault(camera, array)
    partition = {
        "TRAIN_SET": ["0001", "100"],
        "TEST_SET": ["0002", "00001", "0201", "probe"],
        "PROBE_SET": ["0002-camid33_videoid2-seq0"],
    }
    (tmp_path / "Gait3D.json").write_text(json.dumps(partition))

    report = convert_pkl_tree(
        tmp_path / "tree", tmp_path / "ds", workers=1, partition=tmp_path / "Gait3D.json"
    )
    assert len(report.skipped) == 2 and all("--pkl-in-use" in item.reason for item in report.skipped)
    dataset = SilhouetteDataset(tmp_path / "ds")
    assert sorted((e.subject, e.type, e.view) for e in dataset.entries) == sorted(keys)
    assert resolve_partition(dataset).probe_set == ("0002-camid33_videoid2-seq0",)
    assert protocol_probe_keys("gait3d", dataset, None) == ("0002-camid33_videoid2-seq0",)
    assert protocol_probe_keys("grew", dataset, None) is None

    convert_pkl_tree(tmp_path / "tree", tmp_path / "all", workers=1, pkl_in_use=0)
    every = SilhouetteDataset(tmp_path / "all")
    assert len(every) == len(keys) + 2
    for index, entry in enumerate(every.entries):
        if entry.subject == "100":
            np.testing.assert_array_equal(every.read_many([index])[0].frames, silhouettes[entry.view])

    (tmp_path / "bad.json").write_text(json.dumps(partition | {"PROBE_SET": [7]}))
    with pytest.raises(DataError, match=r"PROBE_SET\[0\] must be a string"):
        convert_pkl_tree(tmp_path / "tree", tmp_path / "ds2", workers=1, partition=tmp_path / "bad.json")
    assert not (tmp_path / "ds2").exists()


# ------------------------------------------------------------------- OpenGait's own functions


def _opengait_source() -> Path | None:
    """An OpenGait checkout root or bare git mirror: ``LANDMARKGAIT_OPENGAIT``, else the mirror at
    ``/work/.mirror/ShiqiYu+OpenGait/repo`` when present."""
    configured = os.environ.get("LANDMARKGAIT_OPENGAIT", "/work/.mirror/ShiqiYu+OpenGait/repo")
    path = Path(configured)
    return path if path.exists() else None


def _materialise_opengait(source: Path, root: Path) -> Path:
    """OpenGait's ``opengait/evaluation`` package (only it) under ``root``, from a checkout or a bare git dir."""
    package = root / "opengait" / "evaluation"
    package.mkdir(parents=True)
    for name in ("__init__.py", "evaluator.py", "metric.py", "re_rank.py"):
        relative = f"opengait/evaluation/{name}"
        if (source / relative).is_file():
            text = (source / relative).read_text()
        else:
            text = subprocess.run(
                ["git", "--git-dir", str(source), "show", f"HEAD:{relative}"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        (package / name).write_text(text)
    return root


# Runs in a subprocess: OpenGait's functions, loaded and called by the benchmark's ``run_opengait``
# (a logging stand-in for its ``utils``, CUDA calls on the CPU), on each stored test set.
RUNNER = """
import importlib.util, json, sys
import numpy as np
spec = importlib.util.spec_from_file_location("evaluation_speed", sys.argv[1])
bench = importlib.util.module_from_spec(spec); spec.loader.exec_module(bench)
out = {}
for name, dataset in json.loads(sys.argv[3]).items():
    with np.load(f"{name}.npz") as stored:
        arrays = {key: stored[key] for key in stored.files}
    metrics, submission = bench.run_opengait(arrays, dataset, __import__("pathlib").Path(sys.argv[2]))
    out[name] = {"metrics": metrics, "submission": submission}
print(json.dumps(out))
"""

# Our protocol -> its test set and the benchmark's name for it (which OpenGait function runs).
OPENGAIT_CASES = {
    "gait3d": (gait3d_layout, "gait3d"),
    "grew": (grew_layout, "grew"),
    "ccpg": (ccpg_layout, "ccpg"),
    "sustech1k": (sustech1k_layout, "sustech1k"),
    "casia_e": (casia_e_layout, "casia-e"),
    "casia_b_cross_view": (casia_b_layout, "casia-b-cross-view"),
    "oumvlp_cross_view": (oumvlp_layout, "oumvlp-cross-view"),
}


@pytest.fixture(scope="module")
def opengait(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """OpenGait's figures on each test set (float32 embeddings, as its evaluator gets them)."""
    source = _opengait_source()
    if source is None:
        pytest.skip("no OpenGait checkout or mirror (set LANDMARKGAIT_OPENGAIT)")
    work = tmp_path_factory.mktemp("opengait")
    root = _materialise_opengait(source, work / "checkout")
    for name, (build, _) in OPENGAIT_CASES.items():
        layout = build()
        np.savez(
            work / f"{name}.npz",
            embeddings=layout.embeddings.astype(np.float32),
            labels=layout.subjects,
            types=layout.types,
            views=layout.views,
            probe_keys=np.array(layout.probe_keys, dtype=str),
        )
    cases = {name: dataset for name, (_, dataset) in OPENGAIT_CASES.items()}
    completed = subprocess.run(
        [sys.executable, "-c", RUNNER, str(REPO / "benchmarks" / "evaluation_speed.py"), str(root), json.dumps(cases)],
        cwd=work, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _ours(name: str) -> GaitEvaluation:
    layout = OPENGAIT_CASES[name][0]()
    return evaluate_protocol(
        name,
        layout.embeddings.astype(np.float32),
        **layout.labels(),
        probe_keys=layout.probe_keys or None,
    )


# OpenGait rounds each cell (or per-view figure) to 0.01 before averaging, and logs 3 decimals.
ROUNDING = 0.006


@pytest.mark.parametrize("name", list(OPENGAIT_CASES))
def test_each_protocol_equals_opengaits_function(opengait: dict[str, dict], name: str) -> None:
    result = _ours(name)
    summary = result.summary()
    theirs = opengait[name]["metrics"]
    expected = {
        "gait3d": {"rank1", "rank5", "rank10", "mAP", "mINP"},
        "grew": {"rank1", "rank5", "rank10", "rank20"},
        "ccpg": {f"{kind}/{s}" for kind in ("rank1", "rank1_with_identical_views", "reid_rank1", "reid_mAP", "reid_mINP") for s in ("CL", "UP", "DN", "BG")},
        "sustech1k": {f"rank{k}/{a}" for k in (1, 5) for a in ("Normal", "Bag", "Clothing", "Carrying", "Umbrella", "Uniform", "Occlusion", "Night", "Overall")},
        "casia_e": {"rank1/NM", "rank1/BG", "rank1/CL"},
        "casia_b_cross_view": {f"{kind}/{c}" for kind in ("rank1", "mAP") for c in ("NM", "BG", "CL")},
        "oumvlp_cross_view": {"rank1/NM", "mAP/NM"},
    }[name]  # fmt: skip
    assert set(theirs) == expected  # every figure OpenGait gives is compared
    for key, value in theirs.items():
        # Gait3D's figures are unrounded (ours in float32 as the embeddings, theirs in float64).
        assert summary[key] == pytest.approx(value, abs=1e-4 if name == "gait3d" else ROUNDING), key
    if name == "grew":
        assert result.submission is not None
        ours = [",".join(row) for row in (result.submission.header, *result.submission.rows)]
        assert opengait[name]["submission"].splitlines() == ours
