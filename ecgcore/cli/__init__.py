"""`python -m ecgcore`: one subcommand module each, every one a thin parser over the same configs.

Each module in COMMANDS has `register(subparsers)` that adds its parser and sets `func`; heavy imports
(torch, neurokit2) stay inside the command functions so `--help` is instant.
"""

import argparse
import importlib
import os
import sys

from ecgcore.executors import EXECUTOR_ENV, NAMES
from ecgcore.extras import MissingExtra

COMMANDS = ["synth", "train", "runs", "data", "sweep", "explain"]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m ecgcore",
        description="ECG Transfer Lab core: synthesize ECGs, pretrain regressors, fine-tune classifiers.",
    )
    parser.add_argument("--executor", choices=NAMES,
                        help="where runs execute: local processes (default) or a Ray cluster at $RAY_ADDRESS "
                             f"(else 'auto'); sets ${EXECUTOR_ENV} for this command")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"ecgcore.cli.{name}").register(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.executor:  # the environment, so the jobs this command starts use it too
        os.environ[EXECUTOR_ENV] = args.executor
    try:
        return args.func(args) or 0
    except (ValueError, OSError, MissingExtra) as e:  # OSError: a full disk, a read-only folder, a missing file
        print(f"error: {e}", file=sys.stderr)
        return 2
