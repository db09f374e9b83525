"""What the ``landmarkgait`` subcommands have in common: adding a command, its shared options, JSON output.

One home for the pieces every command module would otherwise write again: a subcommand with its
handler, a command group that prints its help when called bare, the pipeline options of ``run`` /
``train`` / ``evaluate`` / ``import`` / ``sweep`` (config, ``--set``, ``--tracking-uri``,
``--experiment``, ``--ray-address``) and how they become config overrides, ``--json`` and how JSON
is printed. Every command module imports this while the parser is built, so it must not import
torch, Ray or MLflow (a bad config is answered before those load); nor does it hold any command's
own options or logic.
"""

from __future__ import annotations

import argparse
import inspect
import json
from collections.abc import Callable
from typing import Any

# A subcommand's handler: takes the parsed arguments, returns the exit code.
Handler = Callable[[argparse.Namespace], int]


def add_command(
    subparsers: argparse._SubParsersAction, name: str, handler: Handler
) -> argparse.ArgumentParser:
    """Add subcommand ``name`` run by ``handler``, documented by the handler's docstring.

    The docstring's first line is the command's line in its parent's ``--help``; the paragraphs
    after the blank line are its own ``--help`` description (argparse reflows them). What a command
    does is thus written once, on the function that does it.
    """
    # ``python -OO`` strips docstrings: the command then still runs, without help text.
    summary, _, description = (inspect.getdoc(handler) or "").partition("\n\n")
    parser = subparsers.add_parser(name, help=summary, description=description)
    parser.set_defaults(handler=handler)
    return parser


def add_command_group(
    subparsers: argparse._SubParsersAction, name: str, *, help: str, title: str, metavar: str
) -> argparse._SubParsersAction:
    """Add ``name`` grouping further subcommands and return the action to add them to.

    The group's description is its ``help`` as a sentence; called without a subcommand, the group
    prints its help and exits 2 (a usage error).
    """
    group = subparsers.add_parser(name, help=help, description=f"{help[0].upper()}{help[1:]}.")
    group.set_defaults(handler=print_help_handler(group))
    return group.add_subparsers(title=title, metavar=metavar)


def print_help_handler(parser: argparse.ArgumentParser) -> Handler:
    """A handler that prints ``parser``'s help and returns 2: for a command called without a subcommand."""

    def print_help(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return print_help


def add_pipeline_options(
    parser: argparse.ArgumentParser, config_help: str = "pipeline config YAML (see ray_configs/)"
) -> None:
    """The config file and what the command line may change in it: ``--set``, tracking, Ray cluster."""
    parser.add_argument("config", help=config_help)
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override a pipeline config key (value parsed as YAML; repeatable), e.g. --set model.num_landmark=30",
    )
    parser.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: config, then a local sqlite store)"
    )
    parser.add_argument("--experiment", help="MLflow experiment name (default: tracking.experiment)")
    parser.add_argument(
        "--ray-address", help="join this Ray cluster (default: RAY_ADDRESS, else a local Ray on 127.0.0.1)"
    )


def pipeline_overrides(args: argparse.Namespace) -> list[str]:
    """``--set`` assignments plus those ``--tracking-uri`` / ``--experiment`` stand for."""
    overrides = list(args.overrides)
    # JSON strings are YAML: the value stays a string (an empty one is refused by the config).
    if args.tracking_uri is not None:
        overrides.append(f"tracking.tracking_uri={json.dumps(args.tracking_uri)}")
    if args.experiment is not None:
        overrides.append(f"tracking.experiment={json.dumps(args.experiment)}")
    return overrides


def pipeline_options_argv(args: argparse.Namespace) -> list[str]:
    """The ``--set`` / ``--tracking-uri`` / ``--experiment`` words given, to repeat in a follow-up command."""
    options = [word for override in args.overrides for word in ("--set", override)]
    for flag, value in (("--tracking-uri", args.tracking_uri), ("--experiment", args.experiment)):
        options += [flag, value] if value else []
    return options


def add_json_option(parser: argparse.ArgumentParser, printed: str = "the outcome") -> None:
    """``--json``: print ``printed`` as JSON (see ``print_json``) instead of text for people."""
    parser.add_argument("--json", action="store_true", help=f"print {printed} as JSON")


def print_json(document: Any, *, sort_keys: bool = True) -> None:
    """Print ``document`` as indented JSON; keys sorted unless the caller's order means something."""
    print(json.dumps(document, indent=2, sort_keys=sort_keys))
