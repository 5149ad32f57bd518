"""``alerce-classifier serve``: the read-only ALeRCE-compatible API over a store.

Options also read ALERCE_DB (as ``run`` and ``replay`` do), ALERCE_API_HOST, ALERCE_API_PORT,
ALERCE_API_KEEP_ALIVE and ALERCE_API_WORKERS, so the same command runs from a shell or a
container. The default port, 8001, is where example_tom's ALERCE_API_URL looks.

One process answers with one core's worth of Python (routing, validation, JSON); ``--workers
N`` runs N processes on one socket, as uvicorn does, each with its own app: its own pool of
ALERCE_API_CONCURRENCY connections and its own gate, so the store sees up to N times as many.
"""
from __future__ import annotations

import argparse
import logging
import os
from typing import TYPE_CHECKING, Any

import uvicorn

from classifier_service.commands.arguments import serve_arguments as add_arguments  # noqa: F401 (tests)
from classifier_service.commands.preflight import reach_database

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy import Engine

log = logging.getLogger(__name__)
# What each of --workers processes imports to build its app (uvicorn needs a name, not an object).
APP_FACTORY = "classifier_service.commands.serve:app_from_environment"


def build_server(args: argparse.Namespace) -> uvicorn.Server:
    """The one-process uvicorn server for ``args`` (tests run it in a thread; ``run`` blocks on it)."""
    # Imported here so that the other subcommands do not pay for FastAPI.
    from classifier_service.api import create_app

    app = create_app(args.db)
    _prepare(args, app.state.engine)
    return uvicorn.Server(uvicorn.Config(app, **_options(args)))


def app_from_environment() -> FastAPI:
    """A worker process's app over the store ALERCE_DB names (``run`` sets it from --db)."""
    from classifier_service.api import create_app

    return create_app(os.environ["ALERCE_DB"])


def _prepare(args: argparse.Namespace, engine: Engine) -> None:
    """Before serving: the database answers (a SQLite store may not exist yet: the worker
    creates it), and the client config is written if asked for."""
    from classifier_service.api import write_alerce_client_config

    if not args.db.startswith("sqlite"):
        reach_database(engine, args.db)
    if args.client_config is not None:
        url = f"http://{args.host}:{args.port}"
        write_alerce_client_config(url, args.client_config)
        log.info("alerce client config for %s written to %s", url, args.client_config)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {"host": args.host, "port": args.port, "log_level": "warning", "access_log": False,
            "timeout_keep_alive": args.keep_alive}


def run(args: argparse.Namespace) -> int:
    where = f"on http://{args.host}:{args.port} (OpenAPI at /openapi.json)"
    if args.workers == 1:
        server = build_server(args)
        log.info("serving %s %s", args.db, where)
        server.run()
        return 0
    from classifier_service.api.db import read_only_engine

    engine = read_only_engine(args.db)
    try:
        _prepare(args, engine)
    finally:
        engine.dispose()
    os.environ["ALERCE_DB"] = args.db  # the worker processes inherit it
    log.info("serving %s with %d worker processes %s", args.db, args.workers, where)
    uvicorn.run(APP_FACTORY, factory=True, workers=args.workers, **_options(args))
    return 0
