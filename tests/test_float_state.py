"""Agents and instruments hold Python floats, never numpy scalars (see :mod:`sim.instruments`):
arithmetic on numpy scalars is slower, and ``sum()`` adds them without the compensation it
gives floats. Checked month by month on worlds that exercise every mechanism: the small
world with a deal of every kind, the default world, and the telecom bust (defaults, estates,
fire sales)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sim.config import load_scenario
from sim.model import ComputeMarket

from .conftest import small_world

ROOT = Path(__file__).resolve().parent.parent
SKIP = {"model", "market", "random", "rng", "_rng", "pos", "cell", "unique_id"}
"""Attributes that are not an agent's own state (Mesa's references and its generator)."""


def numpy_scalars(obj: object, where: str, depth: int = 0) -> Iterator[str]:
    """Where in ``obj`` (its attributes, and the lists, tuples, sets and dicts in them) a numpy
    scalar is held: one path per scalar found."""
    if isinstance(obj, np.generic):
        yield where
        return
    if depth > 4 or isinstance(obj, (str, bytes, int, float, bool, type(None), np.ndarray)):
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from numpy_scalars(key, f"{where}[key]", depth + 1)
            yield from numpy_scalars(value, f"{where}[{key!r}]", depth + 1)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for i, value in enumerate(obj):
            yield from numpy_scalars(value, f"{where}[{i}]", depth + 1)
    elif depth == 0 or hasattr(obj, "__dataclass_fields__"):
        fields = getattr(obj, "__dict__", None) or {
            s: getattr(obj, s) for s in getattr(obj, "__slots__", ()) if hasattr(obj, s)
        }
        for name, value in fields.items():
            if name not in SKIP:
                yield from numpy_scalars(value, f"{where}.{name}", depth + 1)


def state_scalars(world: ComputeMarket) -> list[str]:
    """Every numpy scalar in the state of ``world``'s agents (fleets included) and
    instruments."""
    book = world.books.instruments
    found: list[str] = []
    for agent in world.all_agents:
        found += numpy_scalars(agent, agent.name)
    for kind, items in (
        ("contract", book.contracts),
        ("loan", book.loans),
        ("order", book.orders),
        ("stake", list(book.stakes.values())),
    ):
        for item in items:
            found += numpy_scalars(item, f"{kind} {getattr(item, 'id', '')}")
    return found


@pytest.mark.parametrize(
    ("scenario", "months"),
    [
        (small_world(deals=True), 36),
        (load_scenario(ROOT / "experiments" / "baseline.toml"), 48),
        (load_scenario(ROOT / "sim" / "scenarios" / "telecom_bust.toml"), 72),
    ],
    ids=["small-with-deals", "default", "telecom-bust"],
)
def test_agents_and_instruments_hold_no_numpy_scalars(scenario, months) -> None:
    world = ComputeMarket(scenario, rng=3)
    for _ in range(months):
        world.step()
        found = state_scalars(world)
        assert not found, f"month {world.month}: numpy scalars in {found[:5]}"


def test_the_check_finds_a_numpy_scalar() -> None:
    world = ComputeMarket(small_world(), rng=3)
    world.step()
    lab = world.labs[0]
    history = lab.inference_gpus_history
    history[-1] = np.float64(history[-1])
    assert state_scalars(world) == [f"{lab.name}.inference_gpus_history[{len(history) - 1}]"]
