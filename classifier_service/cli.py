"""``alerce-classifier``: one entry point, one module per subcommand.

Each module in ``classifier_service.commands`` provides ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``; options also read ``ALERCE_*`` environment variables where the
module says so, so the same worker runs from a shell or a container.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMANDS = ("run", "replay", "classify", "serve", "simulate", "train", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alerce-classifier", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"classifier_service.commands.{name}")
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
