"""Stock-flow consistency on many random worlds (hypothesis).

After every month: total cash equals the opening cash plus recorded external inflows minus
recorded external outflows (relative tolerance 1e-9, from the flow log alone); every balance
sheet balances and agrees with the instruments (``ComputeMarket.audit``); no NaN; no negative
GPU counts. The worlds vary demand regimes, growth, noise, optimism, connectivity, leverage,
funding and seeds, so that a good share of them see defaults.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.ledger import is_world
from sim.runner import simulate

from .conftest import small_world

WORLD_COUNT = 200
DEFAULT_SHARE_SEEN: list[bool] = []
DEAL_KINDS_SEEN: set[str] = set()
EXERCISED = {"vendor_financing", "compute_credit", "equity_investment", "resale"}
"""Flow and accrual kinds the random worlds must have booked (resale: idle contracted
capacity sold on spot by the lab holding it, issue 15)."""

worlds = st.fixed_dictionaries(
    {
        "run.months": st.integers(6, 30),
        "demand.regime": st.sampled_from(["boom", "plateau", "bust"]),
        "demand.growth_start_per_month": st.floats(-0.05, 0.2),
        "demand.bust_month": st.integers(0, 24),
        "demand.bust_decline_per_month": st.floats(0.0, 0.2),
        "demand.noise_sd": st.floats(0.0, 0.3),
        "demand.price_elasticity": st.floats(-2.0, 0.0),
        "market.price_adjustment_speed": st.floats(0.05, 1.0),
        "market.take_or_pay_share": st.floats(0.0, 1.0),
        "market.prepayment_share": st.floats(0.0, 1.0),
        "labs.*.optimism": st.floats(0.0, 3.0),
        "labs.*.initial_cash_usd": st.floats(0.0, 5e9),
        "clouds.*.supply_line_weight": st.floats(0.0, 1.0),
        "finance.max_loan_to_backlog": st.floats(0.0, 3.0),
        "network.partners_per_lab": st.integers(1, 2),
        "investors.*.equity_appetite": st.floats(0.0, 0.2),
        "investors.*.loan_appetite": st.floats(0.0, 0.2),
        # at least the small world's opening debt (3e9), which a lender must be able to lend
        "investors.*.initial_cash_usd": st.floats(3e9, 1e11),
        "investors.*.inflow_usd_per_month": st.floats(0.0, 5e9),
        "competition.resale": st.booleans(),
        "competition.resale_friction": st.floats(0.0, 1.0),
        "competition.spillover_per_month": st.floats(0.0, 1.0),
        "competition.price_weight": st.floats(0.0, 10.0),
    }
)


@settings(
    max_examples=WORLD_COUNT,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    overrides=worlds,
    seed=st.integers(0, 2**32 - 1),
    deals=st.booleans(),
    deal_scale=st.floats(0.0, 5.0),
)
def test_money_is_conserved_and_books_balance_every_month(
    overrides: dict, seed: int, deals: bool, deal_scale: float
) -> None:
    if deals:
        overrides = {**overrides, "deals.*.amount_usd": deal_scale * 1e9}
    scenario = small_world(deals=deals, **overrides)
    result = simulate(scenario, seed, audit=True)  # audit raises if any book is off
    model, flows = result.tables["model"], result.tables["flows"]

    inflow = flows[flows["payer"].map(is_world)].groupby("step")["amount"].sum()
    outflow = flows[flows["payee"].map(is_world)].groupby("step")["amount"].sum()
    steps = model["step"]
    net = (inflow.reindex(steps, fill_value=0.0) - outflow.reindex(steps, fill_value=0.0)).cumsum()
    cash = model["total_cash_usd"].to_numpy()
    np.testing.assert_allclose(cash, net.to_numpy(), rtol=1e-9, atol=0.01)

    numeric = model.select_dtypes("number")
    assert not numeric.isna().any().any()
    assert (model[["installed_gpus", "used_gpus", "gpus_on_order", "need_gpus"]] >= 0).all().all()
    agents = result.tables["agents"]
    for _, group in agents.groupby("agent_type"):  # each type has its own columns
        numbers = group.select_dtypes("number").dropna(axis=1, how="all")
        assert not numbers.isna().any().any()
    assert (agents["cash_usd"] >= 0).all()
    DEFAULT_SHARE_SEEN.append(result.summary["defaults"] > 0)
    accruals = result.tables["accruals"]
    kinds = set(flows["kind"]) | set(accruals["kind"]) | set(accruals["instrument"])
    DEAL_KINDS_SEEN.update(kinds & EXERCISED)


def test_a_good_share_of_random_worlds_saw_defaults() -> None:
    """Guard that the property test above exercised the default path (runs after it)."""
    if len(DEFAULT_SHARE_SEEN) < WORLD_COUNT // 2:  # the property test ran elsewhere (xdist)
        return
    share = sum(DEFAULT_SHARE_SEEN) / len(DEFAULT_SHARE_SEEN)
    print(f"share of random worlds with at least one default: {share:.0%}")
    assert share >= 0.15
    assert EXERCISED == DEAL_KINDS_SEEN
