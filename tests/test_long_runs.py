"""Runs of the longest allowed length stay exact: integer cents end to end.

Money grows without bound in a world whose demand keeps growing for 50 years; balances pass
2**53 cents (where a float dollar no longer holds every cent) and 2**63 cents (where an int64
column overflows). Payments are made in whole cents, so nobody is ever asked to pay a cent
more than it has, and the tables are built without an int64 column.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.config import RunConfig
from sim.model import ComputeMarket

from .conftest import small_world

MAX_MONTHS = RunConfig.model_fields["months"].metadata[-1].le


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    growth=st.floats(0.0, 0.12),
    elasticity=st.floats(-1.5, 0.0),
    deals=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_run_of_the_maximum_length_keeps_its_books_to_the_cent(
    growth: float, elasticity: float, deals: bool, seed: int
) -> None:
    world = small_world(
        deals=deals,
        **{
            "run.months": MAX_MONTHS,
            "demand.growth_start_per_month": growth,
            "demand.growth_long_run_per_month": growth,
            "demand.price_elasticity": elasticity,
        },
    )
    model = ComputeMarket(world, rng=seed)
    for _ in range(MAX_MONTHS):
        model.step()
    model.audit()  # books balance, cash conserved (integers), books agree with instruments
    flows = model.books.ledger.flows()
    assert flows["amount"].map(math.isfinite).all()
    assert not model.model_table().select_dtypes("number").isna().any().any()
