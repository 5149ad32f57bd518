"""Several worker processes of one command on one machine: ``run --processes N``.

A Python worker uses one core; Kafka already shares a topic's partitions among the members
of a consumer group, so N processes of the same ``run`` (same ``--group-id``) scale on one
machine exactly as N workers on N machines do, with the same commit and outage rules. The
supervisor starts them, forwards SIGTERM/SIGINT to each (each finishes and commits its
batch, then leaves the group), and exits with the worst status: 3 (unreachable, for the
outer supervisor) if any child gave up, else the first failure, else 0.
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
EXIT_UNAVAILABLE = 3


def supervise(command: Callable[[argparse.Namespace], int], args: argparse.Namespace, processes: int) -> int:
    """Run ``command(args)`` in ``processes`` child processes and wait for them all."""
    child_args = argparse.Namespace(**{**vars(args), "processes": 1})
    context = multiprocessing.get_context("spawn")  # no inherited Kafka or database handles
    children = [context.Process(target=_child, args=(command, child_args), name=f"worker-{k}")
                for k in range(processes)]
    for child in children:
        child.start()
    log.info("started %d worker processes: %s", processes, [child.pid for child in children])

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            if child.is_alive():
                os.kill(child.pid, signal.SIGTERM if signum == signal.SIGINT else signum)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        for child in children:
            child.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    codes = [child.exitcode for child in children]
    log.info("worker processes ended with %s", codes)
    if EXIT_UNAVAILABLE in codes:
        return EXIT_UNAVAILABLE
    return next((abs(code) for code in codes if code), 0)


def _child(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> None:
    # Its own process group: a terminal's Ctrl-C reaches the supervisor only, which passes one
    # SIGTERM on (a second signal would kill the worker mid-batch).
    os.setpgrp()
    logging.basicConfig(level=getattr(args, "log_level", "INFO"), stream=sys.stderr,
                        format=f"%(asctime)s %(levelname)s [{multiprocessing.current_process().name}] "
                               "%(name)s: %(message)s")
    sys.exit(int(command(args) or 0))
