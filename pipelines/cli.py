"""Entry point of the ``landmarkgait`` command: builds the parser tree and dispatches.

It only wires subcommand modules together, sets up logging, routes SIGTERM and SIGHUP to the
Ctrl-C path (``signals``) and turns user errors into one-line messages (``error_text``); every
subcommand lives in ``landmarkgait.pipelines.commands``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
from collections.abc import Sequence

from landmarkgait.pipelines import signals
from landmarkgait.pipelines.commands.arguments import add_command_group, print_help_handler
from landmarkgait.pipelines.error_text import error_line
from landmarkgait.pipelines.errors import USER_ERRORS
from landmarkgait.pipelines.log_setup import configure_logging

log = logging.getLogger("landmarkgait")

# Modules adding subcommands under ``landmarkgait data ...``.
DATA_COMMAND_MODULES = (
    "landmarkgait.pipelines.commands.data_commands",
    "landmarkgait.pipelines.commands.synth_commands",
    "landmarkgait.pipelines.commands.video_commands",
)
# Modules adding top-level subcommands.
TOP_COMMAND_MODULES = (
    "landmarkgait.pipelines.commands.baseline_commands",
    "landmarkgait.pipelines.commands.train_commands",
    "landmarkgait.pipelines.commands.sweep_commands",
    "landmarkgait.pipelines.commands.report_commands",
    "landmarkgait.pipelines.commands.deploy_commands",
    "landmarkgait.pipelines.commands.config_commands",
    "landmarkgait.pipelines.commands.doctor_commands",
)


def _register(module_names: Sequence[str], subparsers: argparse._SubParsersAction) -> None:
    for name in module_names:
        importlib.import_module(name).register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="landmarkgait",
        description=(
            "Train, sweep and evaluate LandmarkGait (silhouette -> landmarks -> parsing -> recognition) "
            "as Ray Train and Ray Tune jobs tracked in MLflow, on Parquet silhouette datasets."
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.set_defaults(handler=print_help_handler(parser))
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    data_commands = add_command_group(
        commands,
        "data",
        help="create, convert, inspect and validate Parquet silhouette datasets",
        title="data commands",
        metavar="DATA_COMMAND",
    )
    _register(DATA_COMMAND_MODULES, data_commands)
    _register(TOP_COMMAND_MODULES, commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    signals.install()
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS as error:
        print(f"landmarkgait: error: {error_line(error)}", file=sys.stderr)
        return terminated() or 2
    except KeyboardInterrupt:
        code = terminated()
        if code is None:
            print("landmarkgait: interrupted", file=sys.stderr)
        return code or 130


def terminated() -> int | None:
    """Exit code 128 + N (and a line) when signal N (SIGTERM, SIGHUP) ended the command, else None."""
    signum = signals.received()
    if signum is None:
        return None
    print(f"landmarkgait: terminated by {signal.Signals(signum).name}", file=sys.stderr)
    return signals.exit_code(signum)


if __name__ == "__main__":
    sys.exit(main())
