"""``alerce-classifier serve``: the read-only ALeRCE-compatible API over a store.

Options also read ALERCE_DB (as ``run`` and ``replay`` do), ALERCE_API_HOST, ALERCE_API_PORT
and ALERCE_API_KEEP_ALIVE, so the same command runs from a shell or a container. The default
port, 8001, is where example_tom's ALERCE_API_URL looks.
"""
from __future__ import annotations

import argparse
import logging

import uvicorn

from classifier_service.commands.arguments import serve_arguments as add_arguments  # noqa: F401 (tests)
from classifier_service.commands.preflight import reach_database

log = logging.getLogger(__name__)


def build_server(args: argparse.Namespace) -> uvicorn.Server:
    """The uvicorn server for ``args`` (tests run it in a thread; ``run`` blocks on it)."""
    # Imported here so that the other subcommands do not pay for FastAPI.
    from classifier_service.api import create_app, write_alerce_client_config

    app = create_app(args.db)
    if not args.db.startswith("sqlite"):  # a SQLite store may not exist yet: the worker creates it
        reach_database(app.state.engine, args.db)
    if args.client_config is not None:
        url = f"http://{args.host}:{args.port}"
        write_alerce_client_config(url, args.client_config)
        log.info("alerce client config for %s written to %s", url, args.client_config)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                            access_log=False, timeout_keep_alive=args.keep_alive)
    return uvicorn.Server(config)


def run(args: argparse.Namespace) -> int:
    server = build_server(args)
    log.info("serving %s on http://%s:%d (OpenAPI at /openapi.json)", args.db, args.host, args.port)
    server.run()
    return 0
