"""computesim: an agent-based market simulation of the AI compute ecosystem."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """``sim.dashboard(...)``: the interactive dashboard (needs the extra ``dash``), imported
    only when asked for so that ``import sim`` stays light."""
    if name == "dashboard":
        from sim.dashboards import dashboard

        return dashboard
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
