"""Run functions that fail on purpose, for the sweep runner's tests (importable by workers)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sim.sweep import RunTask, default_run_fn

FAILING_POINT = 1
"""`fails_on_point`: every run of this point raises."""


def fails_on_point(task: RunTask) -> dict[str, Any]:
    if task.point == FAILING_POINT:
        raise RuntimeError(f"deliberate failure at point {task.point}")
    return default_run_fn(task)


def kills_worker_once(task: RunTask) -> dict[str, Any]:
    """The first time point 2, replicate 0 runs, its worker process dies (``os._exit``); the
    marker file (``SWEEP_KILL_MARKER``) makes the retry succeed."""
    marker = Path(os.environ["SWEEP_KILL_MARKER"])
    if task.point == 2 and task.replicate == 0 and not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)
    return default_run_fn(task)


def analytic(task: RunTask) -> dict[str, Any]:
    """No simulation: known functions of the parameters (x1, x2 on [0, 1]), to check the
    sensitivity analysis against exact values. ``defaults`` = 2·x1 (x2 inert);
    ``losses_usd`` = x1 + 2·x2."""
    x1, x2 = (task.params[k] for k in sorted(task.params))
    return {
        "summary": {"defaults": 2.0 * x1, "losses_usd": x1 + 2.0 * x2},
        "series": None,
        "seconds": 0.0,
    }
