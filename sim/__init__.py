"""computesim: an agent-based market simulation of the AI compute ecosystem.

The public Python API (see :mod:`sim.api`): ``scenarios``, ``params``, ``load``, ``run``,
``ensemble``, ``surgery``, ``sweep``, ``open_run``, ``open_sweep`` and ``dashboard``.
``sim.ensemble`` and ``sim.sweep`` are these functions; the modules of the same name are
reached by ``from sim.sweep import …``.

The names are loaded on first use (PEP 562), so importing one module of the package
(``import sim.config``) does not import the whole simulation.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.api import (
        Ensemble,
        Run,
        SweepResult,
        dashboard,
        ensemble,
        load,
        open_run,
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
    "open_run",
    "open_sweep",
    "params",
    "run",
    "scenarios",
    "surgery",
    "sweep",
]


class _Package(types.ModuleType):
    """The package ``sim``, whose API functions ``sweep`` and ``ensemble`` keep their names
    when the submodules of the same names are imported: the import system binds a submodule
    on its package (``sim.sweep = <module>``), which would otherwise hide the function from
    :func:`__getattr__` in whichever process imported ``sim.sweep`` first. The submodules stay
    in ``sys.modules`` (``from sim.sweep import …``)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in __all__ and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sim import api

        # bind every API name at once: importing sim.api loads the modules sim.sweep and
        # sim.ensemble, whose attributes on the package the functions must replace
        globals().update({n: getattr(api, n) for n in __all__})
        return globals()[name]
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
