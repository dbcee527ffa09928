"""computesim: an agent-based market simulation of the AI compute ecosystem.

The public Python API (see :mod:`sim.api`): ``scenarios``, ``params``, ``load``, ``run``,
``ensemble``, ``surgery``, ``sweep``, ``open_sweep`` and ``dashboard``. ``sim.ensemble``
and ``sim.sweep`` are these functions; the modules of the same name are reached by
``from sim.sweep import …``.
"""

from sim.api import (
    Ensemble,
    Run,
    SweepResult,
    dashboard,
    ensemble,
    load,
    open_sweep,
    params,
    run,
    scenarios,
    surgery,
    sweep,
)

__all__ = [
    "Ensemble",
    "Run",
    "SweepResult",
    "dashboard",
    "ensemble",
    "load",
    "open_sweep",
    "params",
    "run",
    "scenarios",
    "surgery",
    "sweep",
]
