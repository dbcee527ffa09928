"""Roles, not exact classes: a subclass of a role takes part in every phase of its role."""

from __future__ import annotations

from typing import ClassVar

from sim.agents import Lab
from sim.agents.base import Column
from sim.model import AgentClasses, ComputeMarket

from .conftest import small_world


class IntegratedLab(Lab):
    """A lab with a cloud arm (here only a marker column, to see it recorded)."""

    columns: ClassVar[dict[str, Column]] = {**Lab.columns, "integrated": lambda a: True}


def test_a_lab_subclass_is_served_billed_and_recorded() -> None:
    model = ComputeMarket(small_world(), rng=3, classes=AgentClasses(lab=IntegratedLab))
    for _ in range(6):
        model.step()
    labs = model.labs
    assert labs and all(isinstance(lab, IntegratedLab) for lab in labs)
    assert all(lab.used_gpus > 0 and lab.revenue_usd > 0 for lab in labs)  # served
    accruals = model.books.ledger.accruals()
    billed = accruals[accruals["kind"] == "compute_due"]["payer"]
    assert {lab.name for lab in labs} <= set(billed)  # billed
    table = model.agent_table()
    rows = table[table["agent_id"].isin([lab.name for lab in labs])]
    assert len(rows) == 6 * len(labs)  # recorded every month, under its role
    assert set(rows["agent_type"]) == {"Lab"} and rows["integrated"].all()
    assert rows["revenue_usd"].gt(0).all()
