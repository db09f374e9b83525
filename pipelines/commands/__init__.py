"""Subcommand modules of the ``landmarkgait`` CLI.

Each module exposes ``register(subparsers)`` that adds its subcommands with
``arguments.add_command``: a subcommand's parser sets ``handler`` (a function taking the parsed
``argparse.Namespace`` and returning an exit code) whose docstring is the command's help.
``arguments`` holds what several commands share (pipeline options, ``--json``). Modules only parse
arguments and call library code: no training or data logic lives here.
"""
