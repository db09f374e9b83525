"""Using a trained recognition run: ``export``, ``embed`` (Ray Data) and ``identify``.

The run is a real finished recognition run of the session's MLflow server, registered by
``import`` from a perturbed micro network (training would add minutes and nothing these tests
need: embeddings are deterministic functions of the weights). Commands run as CLI subprocesses
against the session's Ray cluster; the files they write are checked with onnxruntime, torch.jit,
pyarrow and the in-process evaluation path.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from cluster_helpers import MICRO_VIEWS, RayHead, run_cli, write_micro_config
from mlflow.tracking import MlflowClient

import landmarkgait
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.synth.config import SynthConfig
from landmarkgait.data.transforms import silhouette_transform
from landmarkgait.data.video.synthetic import VideoSettings, write_synthetic_video
from landmarkgait.models.inference import embed
from landmarkgait.pipelines.config import load_config
from landmarkgait.pipelines.deploy.trained_run import open_trained_run
from landmarkgait.pipelines.driver.checkpoint_import import import_stage_checkpoint
from landmarkgait.pipelines.driver.datasets import describe_dataset
from landmarkgait.pipelines.worker.stage_trainer import build_stage_model


@pytest.fixture(scope="module")
def deploy_config(tmp_path_factory: pytest.TempPathFactory, micro_dataset: Path, mlflow_server: str) -> Path:
    return write_micro_config(
        tmp_path_factory.mktemp("deploy") / "micro.yaml", micro_dataset, mlflow_server, "deploy"
    )


def imported_recognition_run(config_path: Path, folder: Path, seed: int) -> str:
    """A finished recognition run of ``config_path`` holding a perturbed micro network."""
    config = load_config(config_path)
    torch.manual_seed(seed)
    model = build_stage_model(config, describe_dataset(config.data.resolved_path(), None), "recognition")
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    path = folder / f"recognition-{seed}.pt"
    torch.save({"model": model.state_dict(), "iteration": 10}, path)
    return import_stage_checkpoint(config, "recognition", path).run_id


@pytest.fixture(scope="module")
def recognition_run(deploy_config: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    return imported_recognition_run(deploy_config, tmp_path_factory.mktemp("checkpoints"), seed=11)


@pytest.fixture(scope="module")
def gallery(
    deploy_config: Path, recognition_run: str, micro_dataset: Path, ray_cluster: RayHead, tmp_path_factory
) -> Path:
    out = tmp_path_factory.mktemp("embeddings") / "micro.emb"
    result = run_cli(
        "embed",
        str(deploy_config),
        "--run",
        recognition_run,
        str(micro_dataset),
        "--out",
        str(out),
        "--json",
        "--ray-address",
        ray_cluster.address,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_embed_writes_every_sequence_as_the_evaluation_path_embeds_it(
    gallery: Path, recognition_run: str, micro_dataset: Path, mlflow_server: str
) -> None:
    table = pq.read_table(gallery)
    dataset = SilhouetteDataset(micro_dataset)
    assert table.num_rows == len(dataset)
    assert set(table["run_id"].to_pylist()) == {recognition_run}
    keys = list(
        zip(table["subject"].to_pylist(), table["type"].to_pylist(), table["view"].to_pylist(), strict=True)
    )
    assert sorted(keys) == sorted((e.subject, e.type, e.view) for e in dataset.entries)

    network = open_trained_run(recognition_run, mlflow_server).network()
    chosen = list(range(0, table.num_rows, 17))
    sequences = [
        torch.from_numpy(silhouette_transform(dataset[dataset.find(*keys[i])].frames)) for i in chosen
    ]
    expected = embed(network, sequences).numpy()
    channels, parts = table["channels"][0].as_py(), table["parts"][0].as_py()
    written = np.stack([np.asarray(table["embedding"][i].as_py(), np.float32) for i in chosen])
    np.testing.assert_allclose(written.reshape(len(chosen), channels, parts), expected, atol=1e-5, rtol=0)


def test_evaluate_from_embeddings_equals_evaluating_the_run(
    gallery: Path, recognition_run: str, deploy_config: Path, mlflow_server: str, ray_cluster: RayHead
) -> None:
    embedded = run_cli(
        "evaluate", str(deploy_config), "--run", recognition_run, "--embeddings", str(gallery), "--json"
    )
    assert embedded.returncode == 0, embedded.stderr[-3000:]
    from_embeddings = json.loads(embedded.stdout[embedded.stdout.index("{") :])
    trained = run_cli(
        "evaluate",
        str(deploy_config),
        "--run",
        recognition_run,
        "--json",
        "--ray-address",
        ray_cluster.address,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    from_network = json.loads(trained.stdout[trained.stdout.index("{") :])
    assert from_embeddings["evaluation"].keys() == from_network["evaluation"].keys()
    for key, value in from_network["evaluation"].items():
        assert from_embeddings["evaluation"][key] == pytest.approx(value, abs=1e-6), key
    evaluation_run = MlflowClient(mlflow_server).get_run(from_embeddings["pipeline_run_id"])
    assert evaluation_run.data.tags["landmarkgait.evaluated_run_id"] == recognition_run
    assert evaluation_run.data.tags["landmarkgait.embeddings"] == str(gallery.resolve())


def identify_json(*args: str) -> dict:
    result = run_cli("identify", *args, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout[result.stdout.index("{") :])


def test_identify_finds_the_walker_of_a_dataset_sequence_and_of_its_frames(
    gallery: Path, recognition_run: str, micro_dataset: Path, mlflow_server: str, tmp_path: Path
) -> None:
    dataset = SilhouetteDataset(micro_dataset)
    record = dataset[dataset.find("003", "nm-01", "090")]
    frames = tmp_path / "frames"
    frames.mkdir()
    for number, frame in enumerate(record.frames):
        cv2.imwrite(str(frames / f"{number:03d}.png"), frame)
    outcome = identify_json(
        "--run", recognition_run, "--tracking-uri", mlflow_server, "--gallery", str(gallery),
        f"{micro_dataset}:003/nm-01/090", str(frames), "--top-k", "3",
    )  # fmt: skip
    assert outcome["run_id"] == recognition_run
    threshold = outcome["threshold"]
    assert threshold["false_accept_rate"] == 0.01 and threshold["distance"] > 0
    by_dataset, by_frames = outcome["probes"]
    # The sequence is in the gallery: its own embedding is at distance 0 (up to the rounding of
    # sqrt(|x|^2 + |y|^2 - 2 x.y), about 1e-4).
    assert by_dataset["decision"] == "003" and by_dataset["candidates"][0]["distance"] == pytest.approx(
        0, abs=1e-3
    )
    assert by_dataset["candidates"][0]["nearest_sequence"] == "nm-01/090"
    assert len(by_dataset["candidates"]) == 3 and len({c["subject"] for c in by_dataset["candidates"]}) == 3
    # PNG frames of the same (pretreated) sequence are pretreated again: the same walker.
    assert by_frames["candidates"][0]["subject"] == "003" and by_frames["frames"] == record.frames.shape[0]

    # A colour video of the same walk goes through background subtraction first.
    config = SynthConfig(subjects=8, views=MICRO_VIEWS, min_frames=10, max_frames=14, seed=0)
    video = write_synthetic_video(
        config, "003", "nm-01", "090", tmp_path, VideoSettings(160, 120, lead_in=20)
    )
    (by_video,) = identify_json(
        "--run", recognition_run, "--tracking-uri", mlflow_server, "--gallery", str(gallery), str(video),
        "--false-accept-rate", "0.05",
    )["probes"]  # fmt: skip
    assert by_video["probe"] == str(video) and by_video["frames"] >= 10
    assert by_video["decision"] in {"unknown", *(c["subject"] for c in by_video["candidates"])}

    api = landmarkgait.identify(
        recognition_run,
        gallery,
        [f"{micro_dataset}:003/nm-01/090"],
        tracking_uri=mlflow_server,
        false_accept_rate=None,
    )
    assert api.threshold is None and api.probes[0].decision == "003"


def test_identify_embeds_probes_from_the_frames_the_gallery_was_embedded_from(
    micro_dataset: Path, mlflow_server: str, ray_cluster: RayHead, tmp_path: Path
) -> None:
    """A run evaluated on each sequence's first ``evaluation.max_frames`` frames embeds its gallery
    from them (``embed``); ``identify`` cuts its probes the same way, so a gallery sequence finds
    itself at distance 0. Embedded whole (10-14 frames against 5) it would pool over frames the
    gallery never saw (the README video demo lost 24 points of rank-1 that way)."""
    config_path = write_micro_config(tmp_path / "cut.yaml", micro_dataset, mlflow_server, "deploy-cut")
    config = yaml.safe_load(config_path.read_text())
    config["evaluation"] = {"max_frames": 5}
    config_path.write_text(yaml.safe_dump(config))
    run_id = imported_recognition_run(config_path, tmp_path, seed=12)
    gallery = tmp_path / "cut.emb"
    embedded = run_cli(
        "embed", str(config_path), "--run", run_id, str(micro_dataset), "--out", str(gallery),
        "--ray-address", ray_cluster.address,
    )  # fmt: skip
    assert embedded.returncode == 0, embedded.stderr[-3000:]
    assert set(pq.read_table(gallery, columns=["num_frames"])["num_frames"].to_pylist()) == {5}

    (probe,) = identify_json(
        "--run", run_id, "--tracking-uri", mlflow_server, "--gallery", str(gallery),
        f"{micro_dataset}:003/nm-01/090", "--closed-set",
    )["probes"]  # fmt: skip
    assert probe["frames"] == 5 and probe["decision"] == "003"
    assert probe["candidates"][0]["nearest_sequence"] == "nm-01/090"
    assert probe["candidates"][0]["distance"] == pytest.approx(0, abs=1e-3)


@pytest.mark.parametrize("format_", ["onnx", "torchscript"])
def test_export_writes_a_verified_graph_with_a_dynamic_sequence_length_and_logs_it(
    format_: str, recognition_run: str, mlflow_server: str, tmp_path: Path
) -> None:
    out = tmp_path / f"model.{'onnx' if format_ == 'onnx' else 'pt'}"
    result = run_cli(
        "export", "--run", recognition_run, "--tracking-uri", mlflow_server, "--format", format_, str(out)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "verified" in result.stdout
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary left

    network = open_trained_run(recognition_run, mlflow_server).network()
    sils = (torch.rand(1, 9, 64, 44, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    with torch.no_grad():
        expected = network(sils)["embeddings"]
    if format_ == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        got = torch.from_numpy(session.run(None, {"sils": sils.numpy()})[0])
    else:
        with torch.no_grad():
            got = torch.jit.load(str(out))(sils)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
    logged = [
        item.path for item in MlflowClient(mlflow_server).list_artifacts(recognition_run, f"export/{format_}")
    ]
    assert logged == [f"export/{format_}/{out.name}"]


def one_line_error(result) -> str:
    assert result.returncode == 2, (result.stdout[-2000:], result.stderr[-3000:])
    lines = [line for line in result.stderr.splitlines() if line.startswith("landmarkgait: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return lines[0]


def test_bad_deploy_inputs_get_one_line_and_write_nothing(
    gallery: Path,
    recognition_run: str,
    deploy_config: Path,
    micro_dataset: Path,
    mlflow_server: str,
    tmp_path: Path,
) -> None:
    tracking = ("--tracking-uri", mlflow_server)
    other_run = imported_recognition_run(deploy_config, tmp_path, seed=12)
    error = one_line_error(
        run_cli(
            "identify",
            "--run",
            other_run,
            *tracking,
            "--gallery",
            str(gallery),
            f"{micro_dataset}:003/nm-01/090",
        )
    )
    assert f"gallery was embedded by run {recognition_run}" in error
    error = one_line_error(
        run_cli("evaluate", str(deploy_config), "--run", other_run, "--embeddings", str(gallery))
    )
    assert f"embedded by run(s) {recognition_run}, not by --run {other_run}" in error

    pipeline_runs = MlflowClient(mlflow_server).search_runs(
        [MlflowClient(mlflow_server).get_run(recognition_run).info.experiment_id],
        "tags.`landmarkgait.kind` != 'stage'",
        max_results=1,
    )
    not_recognition = pipeline_runs[0].info.run_id if pipeline_runs else "0" * 32
    error = one_line_error(
        run_cli("export", "--run", not_recognition, *tracking, "--format", "onnx", str(tmp_path / "x.onnx"))
    )
    assert not_recognition in error

    short = tmp_path / "short"
    short.mkdir()
    record = SilhouetteDataset(micro_dataset)[0]
    for number in range(2):
        cv2.imwrite(str(short / f"{number}.png"), record.frames[number])
    error = one_line_error(
        run_cli("identify", "--run", recognition_run, *tracking, "--gallery", str(gallery), str(short))
    )
    assert "2 frame(s)" in error and str(short) in error

    error = one_line_error(
        run_cli("identify", "--run", recognition_run, *tracking, "--gallery", str(micro_dataset), str(short))
    )
    assert "not an embeddings dataset" in error

    error = one_line_error(
        run_cli(
            "identify",
            "--run",
            recognition_run,
            *tracking,
            "--gallery",
            str(gallery),
            f"{micro_dataset}:../x/y",
        )
    )
    assert "no sequence" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["recognition-12.pt", "short"])
