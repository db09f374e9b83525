"""``landmarkgait embed``: a Parquet silhouette dataset -> an embeddings Parquet dataset, with Ray Data.

``read_parquet`` streams the dataset's rows to a pool of ``SequenceEmbedder`` actors, each holding
the run's network once (a GPU each with ``scaling.use_gpu``); their embeddings stream to
``write_parquet``. Ray Data keeps a bounded number of blocks in flight, so memory does not grow
with the dataset. Each sequence is embedded exactly as evaluation embeds it (same transform, same
``models.inference.embed``, all frames or the config's ``evaluation.max_frames``), so galleries
and evaluation agree. The output appears atomically; every row names the run that embedded it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from landmarkgait.data.errors import DataError
from landmarkgait.data.format import KEY_COLUMNS, check_frame_bytes, list_shards
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.staging import check_destination, publish_directory, staging_dir
from landmarkgait.data.transforms import silhouette_transform
from landmarkgait.pipelines.config import ScalingSection
from landmarkgait.pipelines.deploy.trained_run import TrainedRun, open_trained_run
from landmarkgait.pipelines.log_setup import verbose

log = logging.getLogger(__name__)

EMBEDDINGS_SCHEMA = pa.schema(
    [
        pa.field("subject", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("view", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("num_frames", pa.int32(), nullable=False),
        pa.field("channels", pa.int32(), nullable=False),
        pa.field("parts", pa.int32(), nullable=False),
        pa.field("embedding", pa.list_(pa.float32()), nullable=False),  # [channels * parts], C-major
    ]
)
# Sequences per Ray Data batch handed to an actor (the network batches same-length ones within it).
ROWS_PER_BATCH = 16


@dataclass(frozen=True)
class NetworkRecipe:
    """What an actor needs to rebuild the run's network without asking MLflow: config and weights."""

    stage: str
    preset: str
    build_kwargs: dict[str, Any]
    state_ref: Any  # ray.ObjectRef of the state_dict


class SequenceEmbedder:
    """Ray Data actor: silhouette rows (pyarrow) -> embedding rows, with the run's network loaded once."""

    def __init__(
        self,
        recipe: NetworkRecipe,
        run_id: str,
        frame_size: tuple[int, int],
        max_frames: int | None,
        batch_size: int,
        use_gpu: bool,
    ) -> None:
        import ray

        from landmarkgait.models.build import build_model

        self.device = torch.device("cuda" if use_gpu and torch.cuda.is_available() else "cpu")
        model = build_model(recipe.stage, recipe.preset, **recipe.build_kwargs)
        model.load_state_dict(ray.get(recipe.state_ref))
        self.model = model.to(self.device).eval()
        self.run_id = run_id
        self.frame_size = frame_size
        self.max_frames = max_frames
        self.batch_size = batch_size

    def __call__(self, batch: pa.Table) -> pa.Table:
        from landmarkgait.models.inference import embed

        height, width = self.frame_size
        sequences, frame_counts = [], []
        for row, (count, data) in enumerate(
            zip(batch["num_frames"].to_pylist(), batch["frames"].to_pylist(), strict=True)
        ):
            check_frame_bytes(len(data), count, height, width, Path("<embedding input>"), row)
            frames = np.frombuffer(data, dtype=np.uint8).reshape(count, height, width)[: self.max_frames]
            sequences.append(torch.from_numpy(silhouette_transform(frames)).to(self.device))
            frame_counts.append(len(frames))
        embeddings = embed(self.model, sequences, self.batch_size).cpu().float().numpy()
        channels, parts = embeddings.shape[1:]
        flat = embeddings.reshape(len(embeddings), -1)
        size = len(flat)
        return pa.table(
            {
                **{key: batch[key] for key in KEY_COLUMNS},
                "run_id": pa.array([self.run_id] * size, pa.string()),
                "num_frames": pa.array(frame_counts, pa.int32()),
                "channels": pa.array([channels] * size, pa.int32()),
                "parts": pa.array([parts] * size, pa.int32()),
                "embedding": pa.FixedSizeListArray.from_arrays(
                    pa.array(flat.ravel(), pa.float32()), flat.shape[1]
                ).cast(pa.list_(pa.float32())),
            },
            schema=EMBEDDINGS_SCHEMA,
        )


@dataclass(frozen=True)
class EmbeddingReport:
    out: Path
    sequences: int
    run_id: str


def embed_dataset(
    run: TrainedRun,
    dataset_path: Path,
    out: Path,
    scaling: ScalingSection,
    *,
    max_frames: int | None = None,
    overwrite: bool = False,
) -> EmbeddingReport:
    """Embed every sequence of the dataset at ``dataset_path`` with ``run``'s network into ``out``.

    Needs a running Ray (``ray_session``): ``scaling.num_workers`` actors of
    ``scaling.cpus_per_worker`` CPUs (and a GPU each with ``use_gpu``).
    """
    import ray

    dataset = SilhouetteDataset(dataset_path)  # structural checks, keys checked, before any work
    check_destination(out, overwrite=overwrite, source=dataset_path)
    frame_size = (dataset.metadata.frame_height, dataset.metadata.frame_width)
    network = run.network()
    expected = run.input_size
    transformed = silhouette_transform(np.zeros((1, *frame_size), np.uint8)).shape[1:]
    if tuple(transformed) != expected:
        raise DataError(
            f"{dataset_path}: frames are {frame_size[0]}x{frame_size[1]} ({transformed[0]}x{transformed[1]} "
            f"after the silhouette transform), run {run.run_id}'s network takes {expected[0]}x{expected[1]}"
        )
    recipe = NetworkRecipe(
        run.stage,
        run.config.model.preset,
        {**run.config.model.build_kwargs(), "num_classes": _num_classes(network)},
        ray.put({key: value.cpu() for key, value in network.state_dict().items()}),
    )
    # Reading and writing are I/O next to the actors' compute, so they hold no CPU: with actors
    # holding every CPU of the cluster (one actor of 2 CPUs on 2 cores) a read or write task
    # asking for one would wait forever. Ray Data's default Parquet reader (DataSource V2) lists
    # files in a task of 1 CPU that no option can lower, hence the V1 reader.
    # Tasks holding no CPU are otherwise all started at once: one Python worker per shard (30 for
    # a 30-shard dataset), whose start-up took the first 30 s of a 3-minute job on 2 cores. As
    # many readers and writers as embedding actors keep them fed.
    io_tasks = max(1, scaling.num_workers)
    context = ray.data.DataContext.get_current()
    context.use_datasource_v2 = False
    if not verbose():  # Ray Data's plan and resource lines every 10 s (its progress bars stay)
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        logging.getLogger("ray.data.dataset").addFilter(_not_a_no_free_cpu_warning)
    rows = ray.data.read_parquet(
        [str(path) for path in list_shards(dataset.path)],
        columns=[*KEY_COLUMNS, "num_frames", "frames"],
        file_extensions=["parquet"],
        num_cpus=0,
        concurrency=io_tasks,
    )
    embedded = rows.map_batches(
        SequenceEmbedder,
        fn_constructor_args=(
            recipe,
            run.run_id,
            frame_size,
            max_frames,
            scaling.embed_batch_size,
            scaling.use_gpu,
        ),
        batch_size=ROWS_PER_BATCH,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=scaling.num_workers),
        num_cpus=scaling.cpus_per_worker,
        num_gpus=scaling.gpus_per_worker if scaling.use_gpu else 0,
    )
    with staging_dir(out) as staging:
        embedded.write_parquet(str(staging), ray_remote_args={"num_cpus": 0}, concurrency=io_tasks)
        written = sum(pq.ParquetFile(path).metadata.num_rows for path in staging.glob("*.parquet"))
        if written != len(dataset):
            raise DataError(f"{out}: {written} embeddings written for {len(dataset)} sequences")
        check_finite(staging, out, run.run_id)
        publish_directory(staging, out, overwrite=overwrite)
    log.info("embedded %d sequences of %s with run %s into %s", written, dataset_path, run.run_id, out)
    return EmbeddingReport(out, written, run.run_id)


def embed(
    run: str,
    dataset: str | Path,
    out: str | Path,
    *,
    tracking_uri: str | None = None,
    scaling: ScalingSection | None = None,
    max_frames: int | None = None,
    overwrite: bool = False,
    ray_address: str | None = None,
) -> EmbeddingReport:
    """Embed ``dataset`` with recognition run ``run``'s network into ``out`` (a Ray Data job on the
    running Ray, ``ray_address``, or a local loopback-only Ray)."""
    from landmarkgait.pipelines.runtime.ray_runtime import ray_session

    check_destination(Path(out), overwrite=overwrite, source=Path(dataset))
    trained = open_trained_run(run, tracking_uri)
    with ray_session(ray_address, include_dashboard=False):
        return embed_dataset(
            trained,
            Path(dataset),
            Path(out),
            scaling or ScalingSection(),
            max_frames=max_frames,
            overwrite=overwrite,
        )


def check_finite(staging: Path, out: Path, run_id: str) -> None:
    """Refuse to publish embeddings holding NaN or infinity (a diverged network makes them), naming
    the sequence: read back through the gallery reader, whose check every later reader makes too."""
    from landmarkgait.pipelines.deploy.gallery import scan_gallery

    try:
        for _ in scan_gallery(staging).batches():
            pass
    except DataError as error:
        raise DataError(f"{out}: nothing written, run {run_id}'s network diverged ({error})") from None


def _not_a_no_free_cpu_warning(record: logging.LogRecord) -> bool:
    """A logging filter: Ray Data warns that a job "will hang" when its actors hold every CPU of
    the cluster, but the reads and writes here hold none, so it does not."""
    return "does not have any available CPUs" not in record.getMessage()


def _num_classes(network: torch.nn.Module) -> int | None:
    from landmarkgait.models.recognition import classifier_classes

    return classifier_classes(network.state_dict())
