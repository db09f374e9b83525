"""Evaluation protocols on hand-built embeddings whose results are computed by hand."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch

import landmarkgait.data.evaluation.ranking as evaluation
from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.open_set import evaluate_open_set, open_set_split
from landmarkgait.data.evaluation.outputs import heatmap_figure
from landmarkgait.data.evaluation.protocols import evaluate_casia_b, evaluate_oumvlp, evaluate_protocol
from landmarkgait.data.evaluation.ranking import pairwise_distance
from landmarkgait.data.evaluation.results import GaitEvaluation, ViewTable

# Scalar embeddings (C = 1, P = 1): the distance is |probe - gallery|.
# Gallery nm-01: view 000 A=0 B=10 C=20; view 090 A=100 B=110 C=120.
# Probes nm-05: view 000 A=1 B=19 C=21; view 090 A=111 B=109 C=130.
GALLERY = {("A", "000"): 0.0, ("B", "000"): 10.0, ("C", "000"): 20.0,
           ("A", "090"): 100.0, ("B", "090"): 110.0, ("C", "090"): 120.0}  # fmt: skip
PROBES = {("A", "000"): 1.0, ("B", "000"): 19.0, ("C", "000"): 21.0,
          ("A", "090"): 111.0, ("B", "090"): 109.0, ("C", "090"): 130.0}  # fmt: skip


def _casia_inputs(extra_types: dict[str, dict[tuple[str, str], float]] | None = None):
    rows = [(s, "nm-01", v, x) for (s, v), x in GALLERY.items()]
    rows += [(s, "nm-05", v, x) for (s, v), x in PROBES.items()]
    for type_, values in (extra_types or {}).items():
        rows += [(s, type_, v, x) for (s, v), x in values.items()]
    subjects, types, views, values = zip(*rows, strict=True)
    return torch.tensor(values, dtype=torch.float32)[:, None, None], list(subjects), list(types), list(views)


def test_casia_b_rank1_per_view_excludes_identical_views() -> None:
    embeddings, subjects, types, views = _casia_inputs()
    result = evaluate_casia_b(embeddings, subjects, types, views)

    (table,) = result.tables  # no bg / cl probes: only NM
    assert table.condition == "NM"
    assert table.probe_views == table.gallery_views == ("000", "090")
    # probe 000 vs gallery 000: A, C right; vs 090: A right. probe 090 vs 000: C right; vs 090: B, C right.
    np.testing.assert_allclose(table.rank1, [[200 / 3, 100 / 3], [100 / 3, 200 / 3]])
    np.testing.assert_allclose(table.rank1_per_view, [100 / 3, 100 / 3])  # diagonal excluded
    # One relevant gallery entry per cell: AP = 1 / its rank. 000->090: A 1st, B 2nd, C 3rd;
    # 090->000: A 3rd, B 2nd, C 1st.
    np.testing.assert_allclose(table.mean_ap[0, 1], 100 * (1 + 1 / 2 + 1 / 3) / 3)
    np.testing.assert_allclose(table.mean_ap[1, 0], 100 * (1 / 3 + 1 / 2 + 1) / 3)
    summary = result.summary()
    assert summary["rank1/NM"] == pytest.approx(100 / 3)
    assert summary["rank1/NM/090"] == pytest.approx(100 / 3)
    assert summary["mAP/NM"] == pytest.approx(100 * (1 + 1 / 2 + 1 / 3) / 3)
    assert "rank1/BG" not in summary


def test_casia_b_conditions_use_their_probe_types() -> None:
    # BG probes equal to the gallery entries are always right; CL probes are the NM probes shifted.
    bg = {key: value + 0.1 for key, value in GALLERY.items()}
    embeddings, subjects, types, views = _casia_inputs({"bg-02": bg, "cl-01": PROBES})
    summary = evaluate_casia_b(embeddings, subjects, types, views).summary()

    # Cross-view, BG probes at 000 all find A=100 and those at 090 all find C=20: one of three per view.
    assert summary["rank1/BG"] == pytest.approx(100 / 3)
    assert summary["rank1/CL"] == pytest.approx(summary["rank1/NM"])
    assert [key for key in summary if key.count("/") == 1] == [
        "rank1/NM", "mAP/NM", "rank1/BG", "mAP/BG", "rank1/CL", "mAP/CL"
    ]  # fmt: skip


def test_cross_view_gallery_excludes_own_subject_in_own_view() -> None:
    # Probes nm-01, gallery nm-02 of both views. A000=9 would match its own gallery entry (0) if that
    # were not excluded; B000=22 finds B090=18 first.
    gallery = {("A", "000"): 0.0, ("A", "090"): 50.0, ("B", "000"): 10.0, ("B", "090"): 40.0}
    probes = {("A", "000"): 9.0, ("A", "090"): 48.0, ("B", "000"): 22.0, ("B", "090"): 41.0}
    rows = [(s, "nm-02", v, x) for (s, v), x in gallery.items()] + [
        (s, "nm-01", v, x) for (s, v), x in probes.items()
    ]
    subjects, types, views, values = zip(*rows, strict=True)
    result = evaluate_casia_b(
        torch.tensor(values)[:, None, None], subjects, types, views, cross_view_gallery=True
    )

    (table,) = result.tables
    assert result.protocol == "casia_b_cross_view"
    assert table.gallery_views == ("all",)
    # view 000: A ranks B000, B090, A090 (miss, AP 1/3); B ranks B090 first (hit, AP 1).
    # view 090: A ranks B090, B000, A000 (miss, AP 1/3); B ranks A090, B000, A000 (miss, AP 1/2).
    np.testing.assert_allclose(table.rank1[:, 0], [50.0, 0.0])
    np.testing.assert_allclose(table.mean_ap[:, 0], [100 * (1 / 3 + 1) / 2, 100 * (1 / 3 + 1 / 2) / 2])
    assert result.summary()["rank1/NM"] == pytest.approx(25.0)


def test_open_set_rank_k_map_and_minp() -> None:
    # Probe A at 0 ranks gallery A1, B2, A3, B4 -> matches 1,0,1,0: AP (1 + 2/3) / 2, INP 2/3, rank-1 hit.
    # Probe B at 2.9 ranks A3, B2, B4, A1 -> matches 0,1,1,0: AP (1/2 + 2/3) / 2, INP 2/3, rank-1 miss.
    # Probe C has no gallery sequence and is skipped.
    values = [1.0, 2.0, 3.0, 4.0, 0.0, 2.9, 50.0]
    subjects = ["A", "B", "A", "B", "A", "B", "C"]
    probe = np.array([False] * 4 + [True] * 3)
    result = evaluate_open_set(torch.tensor(values)[:, None, None], subjects, probe)

    assert result.scalars["rank1"] == pytest.approx(50.0)
    assert result.scalars["rank5"] == pytest.approx(100.0)
    assert result.scalars["mAP"] == pytest.approx(100 * ((1 + 2 / 3) / 2 + (1 / 2 + 2 / 3) / 2) / 2)
    assert result.scalars["mINP"] == pytest.approx(100 * 2 / 3)
    assert result.summary()["rank10"] == pytest.approx(100.0)


def test_open_set_split_modes() -> None:
    subjects = ["1", "1", "2", "2"]
    types = ["01", "02", "01", "02"]
    views = ["a", "b", "a", "b"]
    probe, gallery = open_set_split(subjects, types, views, probe_types=["02"], gallery_types=["01"])
    assert probe.tolist() == [False, True, False, True] and gallery.tolist() == [True, False, True, False]
    probe, gallery = open_set_split(subjects, types, views, probe_keys=["2-01-a"])
    assert probe.tolist() == [False, False, True, False] and gallery.tolist() == [True, True, False, True]
    probe, _ = open_set_split(subjects, types, views)  # each subject's first sequence
    assert probe.tolist() == [True, False, True, False]
    result = evaluate_protocol(
        "open", torch.tensor([0.0, 0.1, 5.0, 5.1])[:, None], subjects=subjects, types=types, views=views
    )
    assert result.scalars["rank1"] == 100.0


def test_oumvlp_uses_probe_00_and_gallery_01() -> None:
    values = [0.0, 10.0, 100.0, 110.0, 1.0, 9.0, 104.0, 111.0]
    subjects = ["A", "B", "A", "B"] * 2
    types = ["01"] * 4 + ["00"] * 4
    views = ["000", "000", "090", "090"] * 2
    result = evaluate_oumvlp(torch.tensor(values)[:, None, None], subjects, types, views)
    # 000 probes vs 090 gallery: A=1 -> 100 (A) right, B=9 -> 100 (A) wrong; 090 probes vs 000: both -> B.
    np.testing.assert_allclose(result.tables[0].rank1_per_view, [50.0, 50.0])


def test_distance_is_averaged_over_parts() -> None:
    probe = torch.tensor([[[3.0, 0.0], [4.0, 1.0]]])  # [1, C=2, P=2]: part 0 = (3, 4), part 1 = (0, 1)
    gallery = torch.tensor([[[0.0, 0.0], [0.0, 3.0]], [[4.0, 0.0], [-3.0, 2.0]]])
    assert pairwise_distance(probe, gallery, "euc")[0, 0].item() == pytest.approx((5.0 + 2.0) / 2)
    # cos: part 0 is orthogonal to (4, -3) (distance 1), part 1 parallel to (0, 2) (distance 0).
    assert pairwise_distance(probe, gallery, "cos")[0, 1].item() == pytest.approx(0.5)


def test_chunked_evaluation_equals_unchunked(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = torch.Generator().manual_seed(0)
    identities = torch.randn(5, 8, 3, generator=generator)
    subjects, types, views, rows = [], [], [], []
    for subject in range(5):
        for type_ in ("nm-01", "nm-02", "nm-05", "cl-01"):
            for view in ("000", "018", "036"):
                subjects.append(f"{subject:03d}")
                types.append(type_)
                views.append(view)
                rows.append(identities[subject] + 0.9 * torch.randn(8, 3, generator=generator))
    embeddings = torch.stack(rows)
    whole = evaluate_casia_b(embeddings, subjects, types, views, metric="cos").summary()
    crossed = evaluate_casia_b(embeddings, subjects, types, views, cross_view_gallery=True).summary()
    monkeypatch.setattr(evaluation, "_CHUNK_ELEMENTS", 1)  # one probe per chunk
    assert evaluate_casia_b(embeddings, subjects, types, views, metric="cos").summary() == pytest.approx(
        whole
    )
    assert evaluate_casia_b(
        embeddings, subjects, types, views, cross_view_gallery=True
    ).summary() == pytest.approx(crossed)


def test_outputs_csv_png_and_table(tmp_path) -> None:
    embeddings, subjects, types, views = _casia_inputs()
    result = evaluate_casia_b(embeddings, subjects, types, views)

    rows = list(csv.DictReader(result.to_csv(tmp_path / "out" / "per_view.csv").open()))
    cell = next(row for row in rows if (row["probe_view"], row["gallery_view"]) == ("000", "090"))
    assert float(cell["rank1"]) == pytest.approx(100 / 3, abs=1e-3) and cell["identical_view"] == "False"
    assert next(row for row in rows if row["probe_view"] == "mean")["rank1"] == f"{100 / 3:.4f}"
    png = result.heatmap_png(tmp_path / "heatmap.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    table = result.format_table()
    assert "[66.7]" in table and "33.33" in table
    headline = result.headline().split(", ")
    assert [part.split()[0] for part in headline] == [view_table.condition for view_table in result.tables]
    assert headline[0] == f"NM rank-1 33.33% mAP {result.tables[0].map_mean:.2f}%"
    open_result = evaluate_open_set(
        torch.tensor([0.0, 1.0, 0.1, 1.1])[:, None], ["a", "b", "a", "b"], [1, 1, 0, 0]
    )
    assert open_result.heatmap_png(tmp_path / "open.png").read_bytes().startswith(b"\x89PNG")
    assert list(csv.reader(open_result.to_csv(tmp_path / "open.csv").open()))[1] == ["rank1", "100.0000"]
    assert open_result.headline().startswith("rank1 100.00%, ")
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_heatmap_labels_every_cell_readably() -> None:
    views = ("000", "090", "180")
    rank1 = np.array([[100.0, 0.0, np.nan], [50.0, 200 / 3, 12.34], [99.96, 7.0, 80.0]])
    table = ViewTable("CL", views, views, rank1, rank1, np.array([3, 3, 3]))
    figure = heatmap_figure(GaitEvaluation("casia_b", "euc", (table, table)))
    heatmaps = [axis for axis in figure.axes if axis.get_xlabel() == "gallery view"]
    assert len(heatmaps) == 2 and len(figure.axes) == 4  # each panel has its colour bar
    axis = heatmaps[0]
    assert axis.get_ylabel() == "probe view"
    assert [label.get_text() for label in axis.get_xticklabels()] == list(views)
    cells = {(round(text.get_position()[1]), round(text.get_position()[0])): text for text in axis.texts}
    labels = {cell: text.get_text() for cell, text in cells.items()}
    assert labels == {
        (0, 0): "[100.0]", (0, 1): "0.0", (0, 2): "n/a",
        (1, 0): "50.0", (1, 1): "[66.7]", (1, 2): "12.3",
        (2, 0): "100.0", (2, 1): "7.0", (2, 2): "[80.0]",
    }  # fmt: skip
    assert min(text.get_fontsize() for text in axis.texts) >= 8
    # Dark text on the bright end of the colour map, white on the dark end.
    assert cells[(0, 0)].get_color() == "black" and cells[(0, 1)].get_color() == "white"
    small = heatmap_figure(GaitEvaluation("casia_b", "euc", (table,))).get_size_inches()
    many = tuple(f"{angle:03d}" for angle in range(0, 181, 18))
    big_table = ViewTable("NM", many, many, np.full((11, 11), 90.0), np.full((11, 11), 90.0), np.ones(11))
    big = heatmap_figure(GaitEvaluation("casia_b", "euc", (big_table,))).get_size_inches()
    assert big[0] > small[0] and big[1] > small[1]  # cells keep their size as views are added


def test_bad_inputs_raise_clear_errors() -> None:
    embeddings, subjects, types, views = _casia_inputs()
    with pytest.raises(DataError, match="views has 11 entries but embeddings has 12 rows"):
        evaluate_casia_b(embeddings, subjects, types, views[:-1])
    with pytest.raises(DataError, match="at least two views"):
        evaluate_casia_b(embeddings, subjects, types, ["000"] * len(views))
    with pytest.raises(DataError, match="no gallery sequences"):
        evaluate_casia_b(embeddings, subjects, ["nm-05"] * len(types), views)
    with pytest.raises(DataError, match="metric must be one of euc, cos"):
        evaluate_casia_b(embeddings, subjects, types, views, metric="l1")
    with pytest.raises(DataError, match="protocol must be one of"):
        evaluate_protocol("casia_c", embeddings, subjects=subjects, types=types, views=views)
    with pytest.raises(DataError, match=r"embeddings must have shape \[N, C, P\]"):
        evaluate_casia_b(torch.zeros(12), subjects, types, views)
    with pytest.raises(DataError, match="no probe subject appears in the gallery"):
        evaluate_open_set(torch.zeros(2, 1), ["a", "b"], [True, False])


def _reference_statistics(distance: torch.Tensor, matches: torch.Tensor) -> list[tuple[int, float, float]]:
    """First hit, AP and INP per probe by the definition: a stable sort of each row, walked in Python."""
    rows = []
    for row, hit in zip(distance.tolist(), matches.tolist(), strict=True):
        order = sorted(range(len(row)), key=lambda j: (row[j], j))
        ranks = [position + 1 for position, j in enumerate(order) if hit[j]]
        if not ranks:
            rows.append((len(row), math.nan, math.nan))
            continue
        precision = sum((k + 1) / rank for k, rank in enumerate(ranks)) / len(ranks)
        rows.append((ranks[0] - 1, precision, len(ranks) / ranks[-1]))
    return rows


@pytest.mark.parametrize("counted", [True, False])
def test_rank_statistics_equal_a_stable_sort_with_ties(
    monkeypatch: pytest.MonkeyPatch, counted: bool
) -> None:
    generator = torch.Generator().manual_seed(3)
    distance = torch.randint(0, 6, (60, 25), generator=generator).float()  # many ties
    matches = torch.rand(60, 25, generator=generator) < 0.12
    matches[:5] = False  # probes without a match
    excluded = torch.rand(60, 25, generator=generator) < 0.1
    if not counted:
        monkeypatch.setattr(evaluation, "_MAX_COUNTED_MATCHES", 0)
    stats = evaluation.rank_statistics(distance, matches, excluded)
    expected = _reference_statistics(distance.masked_fill(excluded, math.inf), matches & ~excluded)
    first_hit, precision, penalty = (
        torch.tensor(column, dtype=dtype)
        for column, dtype in zip(
            zip(*expected, strict=True), (torch.long, torch.double, torch.double), strict=True
        )
    )
    assert torch.equal(stats.first_hit, first_hit)
    torch.testing.assert_close(stats.average_precision.double(), precision, equal_nan=True)
    torch.testing.assert_close(stats.inverse_negative_penalty.double(), penalty, equal_nan=True)
    assert torch.equal(stats.has_match, (matches & ~excluded).any(1))


def test_part_distance_accumulates_parts_in_opengait_order() -> None:
    generator = torch.Generator().manual_seed(1)
    probe, gallery = torch.randn(7, 16, 5, generator=generator), torch.randn(9, 16, 5, generator=generator)
    expected = torch.zeros(7, 9)
    for part in range(5):  # OpenGait's cuda_dist, part by part
        x, y = probe[:, :, part], gallery[:, :, part]
        squared = x.square().sum(1)[:, None] + y.square().sum(1)[None, :] - 2 * x @ y.T
        expected += torch.sqrt(torch.relu(squared))
    torch.testing.assert_close(pairwise_distance(probe, gallery, "euc"), expected / 5, rtol=1e-6, atol=1e-6)
