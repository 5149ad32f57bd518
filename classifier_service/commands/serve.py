"""``alerce-classifier serve``: the read-only ALeRCE-compatible API over a store.

Options also read ALERCE_DB (as ``run`` and ``replay`` do), ALERCE_API_HOST, ALERCE_API_PORT,
ALERCE_API_KEEP_ALIVE and ALERCE_API_WORKERS, so the same command runs from a shell or a
container. The default port, 8001, is where example_tom's ALERCE_API_URL looks.

One process answers with one core's worth of Python (routing, validation, JSON); ``--workers
N`` runs N processes on one socket, as uvicorn does, each with its own app: its own pool of
ALERCE_API_CONCURRENCY connections and its own gate, so the store sees up to N times as many.

A mistake stops it before anything is served, in one line (exit status 2): an ALERCE_API_* limit
out of its range, a database that holds no store (``replay`` and ``run`` make one), an address it
cannot listen on. Otherwise each would be a server answering every request 503, or none at all.
"""
from __future__ import annotations

import argparse
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

import uvicorn

from classifier_service.commands.arguments import serve_arguments as add_arguments  # noqa: F401 (tests)
from classifier_service.commands.preflight import check_store
from classifier_service.settings import CommandError

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)
# What each of --workers processes imports to build its app (uvicorn needs a name, not an object).
APP_FACTORY = "classifier_service.commands.serve:app_from_environment"


def build_server(args: argparse.Namespace) -> uvicorn.Server:
    """The one-process uvicorn server for ``args`` (tests run it in a thread; ``run`` hands it
    its bound socket)."""
    return uvicorn.Server(uvicorn.Config(_checked_app(args), **_options(args)))


def app_from_environment() -> FastAPI:
    """A worker process's app over the store ALERCE_DB names (``run`` sets it from --db)."""
    from classifier_service.api import create_app

    return create_app(os.environ["ALERCE_DB"])


def _checked_app(args: argparse.Namespace) -> FastAPI:
    """The app over ``args.db`` once its ALERCE_API_* limits and its store are checked, and the
    client config written if asked for: a mistake in either is one line now, not a server
    that answers every request 503."""
    # Imported here so that the other subcommands do not pay for FastAPI.
    from classifier_service.api import create_app, write_alerce_client_config

    app = create_app(args.db)
    check_store(app.state.engine, args.db)
    if args.client_config is not None:
        url = f"http://{args.host}:{args.port}"
        write_alerce_client_config(url, args.client_config)
        log.info("alerce client config for %s written to %s", url, args.client_config)
    return app


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` as uvicorn binds one, so that a port in use or a bad
    host is one line before anything is said to be served."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return listener


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {"host": args.host, "port": args.port, "log_level": "warning", "access_log": False,
            "timeout_keep_alive": args.keep_alive}


def run(args: argparse.Namespace) -> int:
    where = f"on http://{args.host}:{args.port} (OpenAPI at /openapi.json)"
    with _listening_socket(args.host, args.port) as listener:
        if args.workers == 1:
            server = build_server(args)
            log.info("serving %s %s", args.db, where)
            server.run(sockets=[listener])
            return 0
        _checked_app(args).state.engine.dispose()
    # uvicorn's supervisor binds the address again for its worker processes (across uvicorn's
    # versions it takes no socket from its caller); it was free a moment ago.
    os.environ["ALERCE_DB"] = args.db  # the worker processes inherit it
    log.info("serving %s with %d worker processes %s", args.db, args.workers, where)
    uvicorn.run(APP_FACTORY, factory=True, workers=args.workers, **_options(args))
    return 0
