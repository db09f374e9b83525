"""``landmarkgait config import``: parse options, call ``landmarkgait.pipelines.opengait_import``, print.

No mapping logic lives here. Importing this module must stay cheap (no torch, Ray or MLflow):
the command runs in well under a second.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from landmarkgait.pipelines.commands.arguments import (
    add_command,
    add_command_group,
    add_json_option,
    print_json,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``landmarkgait config import``."""
    group = add_command_group(
        subparsers,
        "config",
        help="bring configs of other tools into pipeline configs",
        title="config commands",
        metavar="CONFIG_COMMAND",
    )
    importing = add_command(group, "import", _import)
    importing.add_argument(
        "opengait_configs",
        nargs="+",
        type=Path,
        metavar="OPENGAIT_YAML",
        help="one OpenGait / LandmarkGait stage config, or the three of a pipeline",
    )
    importing.add_argument(
        "--out", required=True, type=Path, metavar="FILE", help="the pipeline config to write"
    )
    importing.add_argument(
        "--base",
        type=Path,
        metavar="PIPELINE_CONFIG",
        help="a pipeline config for what no OpenGait key says: the stages whose configs are not "
        "given, scaling, tracking (e.g. ray_configs/casia_b.yaml)",
    )
    importing.add_argument("--overwrite", action="store_true", help="replace FILE if this command wrote it")
    add_json_option(importing, "what was written, every key not honoured, and the next steps")


def _import(args: argparse.Namespace) -> int:
    """write a pipeline config from OpenGait configs (one stage, or LandmarkGait's three)

    Reads OpenGait / official LandmarkGait configs, merges each over OpenGait's defaults as
    OpenGait's config loader does, and writes one pipeline config with the OpenGait key of every
    value in a comment beside it. A key that changes nothing trained here is listed; a key that
    cannot be honoured (another optimiser, mixed precision, another sampler, an unknown key) is
    refused, each on its own line, and nothing is written. A restore_hint naming a checkpoint
    becomes a `landmarkgait import` step; the steps are printed and kept in the file's header.
    """
    from landmarkgait.pipelines.errors import ConfigError
    from landmarkgait.pipelines.opengait_import.assemble import import_opengait_configs
    from landmarkgait.pipelines.opengait_import.output import check_config_destination, write_config
    from landmarkgait.pipelines.opengait_import.source import BUILT_IN, IGNORED

    inputs = args.opengait_configs
    check_config_destination(args.out, overwrite=args.overwrite, inputs=inputs)
    result = import_opengait_configs(inputs, str(args.out), args.base)
    if result.refused:
        for line in result.refused:
            print(f"landmarkgait: cannot honour {line}", file=sys.stderr)
        count = len(result.refused)
        raise ConfigError(
            result.refused[0]
            if count == 1
            else f"{count} OpenGait keys cannot be honoured (listed above); nothing written"
        )
    write_config(args.out, result.text, overwrite=args.overwrite, inputs=inputs)
    if args.json:
        print_json(
            {
                "out": str(args.out),
                "stages": result.stages,
                "ignored": result.lines(IGNORED),
                "built_in": result.lines(BUILT_IN),
                "steps": result.steps,
            },
            sort_keys=False,
        )
        return 0
    stages = ", ".join(f"{stage} <- {label}" for stage, label in result.stages.items())
    print(f"{args.out}: pipeline config written ({stages})")
    ignored = result.lines(IGNORED)
    if ignored:
        print("Not honoured, as they change nothing trained or evaluated here:")
        for line in ignored:
            print(f"  {line}")
    print("Next steps:")
    for step in result.steps:
        print(f"  {step}")
    return 0
