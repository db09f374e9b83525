"""``landmarkgait doctor``: parse options, call ``landmarkgait.pipelines.doctor``, print the diagnosis."""

from __future__ import annotations

import argparse
from pathlib import Path

from landmarkgait.pipelines.commands.arguments import add_command, add_json_option, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``landmarkgait doctor``."""
    doctor = add_command(subparsers, "doctor", _doctor)
    doctor.add_argument(
        "target",
        metavar="RUN_OR_CONFIG",
        help="a pipeline config YAML, or an MLflow run (id, runs:/ID, or the name the MLflow UI shows)",
    )
    doctor.add_argument(
        "--against",
        metavar="PRESET",
        help="the reference: a preset of ray_configs/ by name (casia_b, oumvlp, ...) or a config YAML "
        "(default: the paper preset of the run's protocol, else casia_b)",
    )
    doctor.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override a key of a config file before comparing (repeatable)",
    )
    doctor.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI of a run (default: $MLFLOW_TRACKING_URI, else the local sqlite store)",
    )
    add_json_option(doctor, "the differences, warnings and agreements")


def _doctor(args: argparse.Namespace) -> int:
    """why a run's numbers may differ from the paper's: each setting known to move results

    Compare a run's resolved config and dataset (a pipeline config file, or an MLflow run whose
    config/resolved.yaml is logged) with a reference preset, and print every difference known to
    move results, each with the reference's value, its effect and its source (the protocol rule, the
    official LandmarkGait configs, or the OpenGait thread that gave it as the cause of a lower
    number): iterations, P x K batch, frames per clip, sampler, learning rate and its steps, weight
    decay, loss terms, landmark count, input and network size, embedding head, landmark grouping at
    evaluation; the dataset's frame size and cutting, sequence lengths, silhouette alignment and test
    set; and warns when the evaluation cannot be compared with the paper (another protocol or
    distance, max_frames, another test set, synthetic data). Reads the dataset's index and a few
    sequences, never every frame; exit 0 whatever it finds.
    """
    from landmarkgait.data.quoting import printable_lines
    from landmarkgait.pipelines.doctor.subjects import config_subject, examine, run_subject

    target = Path(args.target)
    if args.target.endswith((".yaml", ".yml")) or target.is_file():
        subject = config_subject(target, tuple(args.overrides))
    else:
        if args.overrides:
            from landmarkgait.pipelines.errors import PipelineError

            raise PipelineError("--set changes a config file; a run is compared as it was logged")
        subject = run_subject(args.target, args.tracking_uri)
    diagnosis = examine(subject, args.against)
    if args.json:
        print_json(diagnosis.to_dict(), sort_keys=False)
    else:
        print(printable_lines(diagnosis.format_text()), end="")  # run names and paths come from the store
    return 0
