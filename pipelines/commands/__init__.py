"""Subcommand modules of the ``landmarkgait`` CLI.

Each module exposes ``register(subparsers)`` that adds its subcommands; a subcommand's parser
sets ``handler`` (a function taking the parsed ``argparse.Namespace`` and returning an exit code).
Modules only parse arguments and call library code: no training or data logic lives here.
"""
