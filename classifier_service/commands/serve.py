"""``alerce-classifier serve``: the read-only ALeRCE-compatible API over a store.

Options also read ALERCE_DB (as ``run`` and ``replay`` do), ALERCE_API_HOST and
ALERCE_API_PORT, so the same command runs from a shell or a container. The default port,
8001, is where example_tom's ALERCE_API_URL looks.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from classifier_service.commands.options import database_url, env_default, port
from classifier_service.commands.preflight import reach_database
from classifier_service.store import DEFAULT_URL

HELP = "serve ALeRCE's ZTF API routes and stamps over the store (read-only)"
DEFAULT_PORT = 8001

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", **env_default("ALERCE_DB", DEFAULT_URL, database_url),
                        help="store URL: sqlite:///path or postgresql://... (env ALERCE_DB)")
    parser.add_argument("--host", **env_default("ALERCE_API_HOST", "127.0.0.1"),
                        help="address to listen on (env ALERCE_API_HOST)")
    parser.add_argument("--port", **env_default("ALERCE_API_PORT", DEFAULT_PORT, port),
                        help="port to listen on (env ALERCE_API_PORT)")
    parser.add_argument("--client-config", type=Path, default=None, metavar="PATH",
                        help="also write an alerce client config pointing here; then "
                             "export ALERCE_CONFIG_PATH=PATH")


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
                            access_log=False)
    return uvicorn.Server(config)


def run(args: argparse.Namespace) -> int:
    server = build_server(args)
    log.info("serving %s on http://%s:%d (OpenAPI at /openapi.json)", args.db, args.host, args.port)
    server.run()
    return 0
