"""The fork server that starts the worker processes of sweeps and ensembles.

Workers are forked from one server process that has imported the model once
(:data:`WORKER_PRELOAD`), rather than started afresh (about 1 s of imports each) or forked
from the caller (unsafe in a threaded process). This module imports nothing heavy, so a
command can start the server before it imports the model itself: the two imports then run
at once, on two cores (:func:`start_fork_server`).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver

WORKER_PRELOAD: tuple[str, ...] = ("sim.runner",)
"""Modules the fork server imports once, before it forks any worker: each worker then starts
with the model, pandas and Mesa already loaded (about 1 s of imports saved per worker and
per pool) instead of importing them itself."""


def forkserver_context() -> multiprocessing.context.ForkServerContext:
    """The fork-server start method, with :data:`WORKER_PRELOAD` preloaded in the server.
    A fork server is safe in threaded parents (unlike plain fork)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(WORKER_PRELOAD))
    return context


def start_fork_server() -> None:
    """Start the fork server now, if it is not running: it imports :data:`WORKER_PRELOAD`
    while this process goes on (the call returns at once). A pool made later with
    :func:`forkserver_context` forks its workers from it, without waiting for those
    imports, if they are done by then. The server ends with this process."""
    forkserver_context()
    multiprocessing.forkserver.ensure_running()
