"""The endogenous-glut world's order book is finite (issue 16, supply9): at MODEL_VERSION
0.54 its vendors booked every order and the queue reached 40-60 months of output after the
glut (0.5-2.8 billion H100-equivalents on order); now a vendor books at most
``max_lead_months`` (12) of its output and plans capacity on what it booked."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.config import load_scenario
from sim.runner import simulate

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_glut_worlds_vendors_never_queue_more_than_their_longest_lead_time() -> None:
    glut = load_scenario(ROOT / "experiments" / "endogenous_glut.toml")
    assert {v.max_lead_months for v in glut.chip_vendors} == {12.0}
    assert glut.order_book.capacity_counts_refused == 0.0
    tables = simulate(glut, 3, 90).tables
    agents, model = tables["agents"], tables["model"]
    vendors = agents[agents["agent_type"] == "ChipVendor"]
    # booked within 12 months of output; the queue is recorded at the month's end against
    # the ceiling after that month's capacity change (seed 3: 13.2 months at month 86)
    assert vendors["queue_months"].max() <= 12.0 * 1.15
    # the book was full at some point: the limit binds (at 0.54 seed 3 queued 54.6 months)
    assert vendors["queue_months"].max() >= 11.0
    assert (model["orders_placed_gpus"] > 0).any()
