"""``landmarkgait export | embed | identify``: using a trained recognition run.

Parses arguments, calls ``landmarkgait.pipelines.deploy`` and prints the outcome. No export,
embedding or matching logic lives here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from landmarkgait.pipelines.commands.arguments import (
    add_command,
    add_json_option,
    add_pipeline_options,
    pipeline_overrides,
    print_json,
)

# The default of ``identify``'s open-set threshold (pipelines.deploy.identify), here to keep torch out
# of building the parser.
DEFAULT_FALSE_ACCEPT_RATE = 0.01


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``export``, ``embed`` and ``identify``."""
    export = add_command(subparsers, "export", _export)
    _add_run_options(export)
    export.add_argument("--format", required=True, choices=("onnx", "torchscript"), help="file format")
    export.add_argument("out", type=Path, metavar="OUT", help="the file to write")
    export.add_argument("--overwrite", action="store_true", help="replace OUT if it is an existing file")
    add_json_option(export)

    embed = add_command(subparsers, "embed", _embed)
    add_pipeline_options(embed, "pipeline config YAML: scaling (actors, GPUs, batch) and tracking")
    embed.add_argument(
        "--run", required=True, metavar="RUN", help="recognition stage run (id or runs:/RUN_ID)"
    )
    embed.add_argument("dataset", type=Path, metavar="DATASET", help="Parquet silhouette dataset to embed")
    embed.add_argument("--out", type=Path, required=True, metavar="EMB", help="embeddings dataset to create")
    embed.add_argument("--overwrite", action="store_true", help="replace EMB if it exists")
    add_json_option(embed)

    identify = add_command(subparsers, "identify", _identify)
    _add_run_options(identify)
    identify.add_argument(
        "--gallery", type=Path, required=True, metavar="EMB", help="gallery embeddings (landmarkgait embed)"
    )
    identify.add_argument(
        "probes",
        nargs="+",
        metavar="PROBE",
        help="a video, a folder of frames, or DATASET:subject/type/view",
    )
    identify.add_argument("--top-k", type=int, default=5, help="identities listed per probe (default: 5)")
    identify.add_argument(
        "--false-accept-rate",
        type=float,
        default=DEFAULT_FALSE_ACCEPT_RATE,
        help=f"open-set threshold: share of unenrolled walkers accepted (default: {DEFAULT_FALSE_ACCEPT_RATE})",
    )
    identify.add_argument("--closed-set", action="store_true", help="always name the nearest identity")
    add_json_option(identify)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run", required=True, metavar="RUN", help="recognition stage run (id or runs:/RUN_ID)"
    )
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else the local sqlite store)",
    )


def _export(args: argparse.Namespace) -> int:
    """export a recognition run's network to ONNX or TorchScript, verified against PyTorch

    The graph maps silhouettes [N, T, H, W] (float in [0, 1], any T >= 3) to embeddings [N, C, P],
    the network in eval mode. Before OUT appears it is loaded back (onnxruntime / torch.jit) and
    compared with PyTorch on two sequence lengths (max abs diff <= 1e-4); then it is logged to the
    run under export/. ONNX needs the onnx extra (onnx, onnxscript, onnxruntime).
    """
    from landmarkgait.data.destination import check_file_destination

    check_file_destination(args.out, overwrite=args.overwrite, what="OUT")  # before MLflow or torch
    from landmarkgait.pipelines.deploy.export import export_run
    from landmarkgait.pipelines.deploy.trained_run import open_trained_run

    run = open_trained_run(args.run, args.tracking_uri)
    report = export_run(run, args.format, args.out, overwrite=args.overwrite)
    if args.json:
        print_json({"path": str(report.path), "format": report.format, "max_abs_diff": report.max_abs_diff})
    else:
        print(
            f"{report.path}: {report.format} export of run {report.run_id}, verified (max abs diff "
            f"{report.max_abs_diff:.2g}); logged to the run as {report.artifact_path}"
        )
    return 0


def _embed(args: argparse.Namespace) -> int:
    """embed a Parquet silhouette dataset with a recognition run's network (a Ray Data job)

    Streams DATASET through scaling.num_workers actors that each load the run's network once (a GPU
    each with scaling.use_gpu) into an embeddings Parquet dataset: subject, type, view, run id and
    the [C, P] embedding of every sequence, as evaluation computes them. Use it as the gallery of
    identify, or evaluate it with evaluate --embeddings.
    """
    from landmarkgait.data.destination import check_destination
    from landmarkgait.pipelines.config import load_config

    config = load_config(args.config, pipeline_overrides(args))
    check_destination(args.out, overwrite=args.overwrite, source=args.dataset)  # before torch loads
    from landmarkgait.pipelines.deploy.embedding import embed

    report = embed(
        args.run,
        args.dataset,
        args.out,
        tracking_uri=config.tracking.tracking_uri,
        scaling=config.scaling,
        max_frames=config.evaluation.max_frames,
        overwrite=args.overwrite,
        ray_address=args.ray_address,
    )
    if args.json:
        print_json({"out": str(report.out), "sequences": report.sequences, "run_id": report.run_id})
    else:
        print(f"{report.out}: {report.sequences} embeddings by run {report.run_id}")
    return 0


def _identify(args: argparse.Namespace) -> int:
    """identify the walkers of videos, frame folders or dataset sequences against an embedded gallery

    Each probe is turned into silhouettes (videos by background subtraction, as data convert-video),
    pretreated, embedded by the run's network from its first evaluation.max_frames frames (the
    run's config, as embed and evaluate) and ranked against the gallery, which the same run must
    have embedded (landmarkgait embed). Identities are ranked by their nearest gallery sequence. Unless
    --closed-set, a probe farther than a threshold from every identity is "unknown"; the threshold is
    calibrated on the gallery for --false-accept-rate and printed.
    """
    from landmarkgait.pipelines.deploy.identify import identify

    outcome = identify(
        args.run,
        args.gallery,
        args.probes,
        tracking_uri=args.tracking_uri,
        top_k=args.top_k,
        false_accept_rate=None if args.closed_set else args.false_accept_rate,
    )
    threshold, metric, results = outcome.threshold, outcome.metric, outcome.probes
    if args.json:
        print_json(outcome.to_dict())
        return 0
    if threshold is not None:
        print(
            f"open-set threshold {threshold.distance:.4f} ({metric} distance): false-accept rate "
            f"{threshold.false_accept_rate:.2%} on {threshold.calibration_sequences} gallery sequences"
        )
    for result in results:
        print(f"{result.probe} ({result.frames} frames): {result.decision}")
        for rank, candidate in enumerate(result.candidates, start=1):
            print(
                f"  {rank}. {candidate.subject}  {candidate.distance:.4f}  (nearest: {candidate.nearest_sequence})"
            )
    return 0
