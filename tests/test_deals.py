"""Circular deals: each kind moves the money it should, and deal surgery isolates a deal."""

from __future__ import annotations

import numpy as np
import pytest

from sim.config import ConfigError, Scenario
from sim.runner import simulate
from sim.surgery import deal_surgery, operate

from .conftest import small_world


@pytest.fixture(scope="module")
def run():
    return simulate(small_world(deals=True), 5, audit=True)


def test_strategic_equity_comes_with_a_purchase_commitment(run) -> None:
    flows = run.tables["flows"]
    stake = flows[(flows["kind"] == "equity_investment") & (flows["instrument"] == "cloud-stake")]
    assert stake["amount"].sum() == pytest.approx(1e9)
    accr = run.tables["accruals"]
    committed = accr[
        (accr["kind"] == "compute_due")
        & accr["instrument"].str.endswith(":cloud-stake")
        & (accr["payer"] == "lab-b")
    ]
    assert committed["amount"].sum() > 0  # the lab pays the investor back for compute


def test_vendor_financing_lends_back_part_of_each_invoice(run) -> None:
    flows = run.tables["flows"]
    lent = flows[flows["kind"] == "vendor_financing"]
    assert set(lent["payer"]) == {"vendor"} and set(lent["payee"]) == {"neo"}
    paid = flows[(flows["kind"] == "chip_payment") & (flows["payer"] == "neo")]["amount"].sum()
    assert 0 < lent["amount"].sum() <= 0.5 * paid + 1.0


def test_compute_credits_are_paid_in_shares_not_cash(run) -> None:
    accr = run.tables["accruals"]
    credits = accr[accr["kind"] == "compute_credit"]
    assert 0.5e9 < credits["amount"].sum() <= 1e9 + 1.0  # less if the cloud is short of GPUs
    flows = run.tables["flows"]
    assert not flows["instrument"].str.startswith("credit").any()


def test_backstop_buys_unsold_capacity_up_to_the_commitment(run) -> None:
    flows = run.tables["flows"]
    bought = flows[(flows["payer"] == "vendor") & (flows["instrument"] == "backstop")]
    assert 0 <= bought["amount"].sum() <= 1e9 + 1.0


def test_lease_vehicle_borrows_buys_chips_and_leases_them(run) -> None:
    flows = run.tables["flows"]
    v = "vehicle"
    assert flows[(flows["payee"] == v) & (flows["kind"] == "equity_investment")]["amount"].sum() > 0
    assert flows[(flows["payee"] == v) & (flows["kind"] == "loan_advance")]["amount"].sum() > 0
    assert flows[(flows["payer"] == v) & (flows["kind"] == "chip_payment")]["amount"].sum() > 0
    lease = flows[(flows["payer"] == "lab-b") & (flows["payee"] == v)]
    assert lease["amount"].sum() > 0


def test_deal_surgery_with_common_random_numbers() -> None:
    scenario = small_world(deals=True, **{"run.months": 18})
    _, summary = deal_surgery(scenario, "cloud-stake", runs=2)
    effect = summary.set_index("outcome")["effect"]
    assert effect["circular_share"] != 0 or effect["cloud_revenue_usd"] != 0
    # a deal that starts after the run ends changes nothing: paired runs are identical
    late = scenario.with_overrides({"deals.cloud-stake.month": 100})
    _, none = deal_surgery(late, "cloud-stake", runs=2)
    assert (none["effect"].abs() < 1e-6).all()


def test_deal_validation_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"deals\.credits\.provider 'vendor' must name a Cloud"):
        small_world(deals=True, **{"deals.credits.provider": "vendor"})
    with pytest.raises(ConfigError, match="no deal named 'nope'"):
        operate(small_world(deals=True), "nope")
    assert isinstance(operate(small_world(deals=True), "backstop", {"amount_usd": 5.0}), Scenario)


def test_one_share_price_for_every_sale_of_new_equity() -> None:
    """The market value is the pre-money valuation: price = value ÷ shares outstanding, so
    the buyer owns amount ÷ (value + amount); a worthless issuer sells at most ≈ 99%."""
    from sim.mechanisms import share_price

    assert share_price(100.0, 20.0, 10.0) == pytest.approx(10.0)  # pre-money 100 over 10 shares
    price = share_price(30.0, 20.0, 10.0)  # worth little: the new money buys 20/50 = 40%
    assert (20.0 / price) / (10.0 + 20.0 / price) == pytest.approx(0.4)
    price = share_price(0.0, 500.0, 1.0)  # a worthless issuer: the buyer takes ≈ 99%
    assert (500.0 / price) / (1.0 + 500.0 / price) == pytest.approx(0.99, abs=1e-3)


def test_named_commitments_bind_a_lab_and_a_cloud_buying_from_a_cloud(run) -> None:
    accr = run.tables["accruals"]
    bills = accr[accr["kind"] == "compute_due"]
    lab = bills[bills["instrument"].str.endswith(":named-lab")]
    assert set(lab["payer"]) == {"lab-b"} and set(lab["payee"]) == {"hyper"}
    assert lab["step"].min() >= 6  # from its start month
    cloud = bills[bills["instrument"].str.endswith(":cloud-overflow")]
    assert set(cloud["payer"]) == {"hyper"} and set(cloud["payee"]) == {"neo"}


def test_a_gpu_sold_from_cloud_to_cloud_is_used_once(run) -> None:
    """The neocloud's GPUs the hyperscaler bought are counted as used by the hyperscaler
    that served with them, not again at the neocloud: the market never uses more GPUs than
    are installed (before the fix both counted them and utilisation sat at its 100% clip)."""
    model = run.tables["model"]
    assert (model["used_gpus"] <= model["installed_gpus"] * (1 + 1e-9)).all()
    accr = run.tables["accruals"]
    overflow = accr[accr["instrument"].str.endswith(":cloud-overflow")]
    assert overflow["amount"].sum() > 0  # the overflow contract did run


def test_a_warrant_vests_with_purchases_and_is_exercised_for_new_shares(run) -> None:
    flows = run.tables["flows"]
    exercised = flows[flows["instrument"] == "warrant:vendor-warrant"]
    assert len(exercised) > 0
    assert set(exercised["payer"]) == {"lab-a"} and set(exercised["payee"]) == {"vendor"}
    assert set(exercised["kind"]) == {"equity_investment"}
    # the strike is tiny: the whole warrant costs $1,000, paid only for the vested shares
    assert 0 < exercised["amount"].sum() <= 1e3 + 0.01
    # the chips that vest it were ordered by the lab's partner from the vendor
    accr = run.tables["accruals"]
    commitment = accr[accr["instrument"].str.endswith(":vendor-warrant")]
    assert set(commitment["payer"]) == {"lab-a"}


def test_warrant_vesting_and_intrinsic_value() -> None:
    from sim.deals.warrant import Warrant

    w = Warrant("vendor", "lab", shares=1000.0, exercise_price_usd=10.0, purchases_to_vest_usd=1e9)
    assert w.strike_per_share == pytest.approx(0.01)
    w.purchased_usd = 2.5e8
    assert w.vested_share() == pytest.approx(0.25)
    assert w.exercisable_shares() == pytest.approx(250.0)
    assert w.intrinsic_value(5.0) == pytest.approx(250 * (5.0 - 0.01))
    assert w.intrinsic_value(0.001) == 0.0  # out of the money: worth nothing exercised
    w.exercised_shares = 250.0
    w.purchased_usd = 2e9  # fully vested, never more than the warrant's shares
    assert w.exercisable_shares() == pytest.approx(750.0)


def test_a_phased_commitment_comes_online_in_equal_phases_that_end_together() -> None:
    """Three phases six months apart of a $1B, 24-month commitment starting in month 6:
    contracts of equal GPUs from months 6, 12 and 18, all ending in month 30, worth $1B."""
    from sim.deals.capacity_commitment import phase_gpus
    from sim.model import ComputeMarket

    world = small_world(
        deals=True,
        **{"deals.named-lab.phases": 3, "deals.named-lab.phase_interval_months": 6},
    )
    model = ComputeMarket(world, rng=3)
    for _ in range(2):
        model.step()
    phases = [c for c in model.books.instruments.contracts if ":named-lab-phase" in c.id]
    assert [c.start for c in phases] == [6, 12, 18]
    assert {c.end for c in phases} == {30}
    assert len({c.gpus for c in phases}) == 1
    mkt = world.market
    value = sum(
        c.gpus * c.price_usd_per_gpu_hour * mkt.hours_per_month * c.term_months for c in phases
    )
    assert value * mkt.take_or_pay_share == pytest.approx(1e9)
    # one phase is the whole commitment from its start
    assert phase_gpus(1e9, 2.0, 730.0, 1.0, 24, 1, 6) == pytest.approx(1e9 / (2.0 * 730 * 24))


def test_a_revenue_share_pays_the_partner_its_share_of_the_labs_revenue(run) -> None:
    """Microsoft ↔ OpenAI: 20% of the lab's end-user revenue falls due to the partner each
    month, as an obligation of the lab settled in cash with its other bills."""
    flows, accr = run.tables["flows"], run.tables["accruals"]
    revenue = flows[(flows["kind"] == "service_revenue") & (flows["payee"] == "lab-a")]
    due = accr[accr["kind"] == "revenue_share_due"]
    assert set(due["payer"]) == {"lab-a"} and set(due["payee"]) == {"hyper"}
    by_month = due.groupby("step")["amount"].sum()
    earned = revenue.groupby("step")["amount"].sum().reindex(by_month.index)
    assert len(by_month) > 12
    np.testing.assert_allclose(by_month, 0.2 * earned, atol=0.01)
    paid = flows[flows["kind"] == "revenue_share_payment"]
    assert set(paid["payee"]) == {"hyper"}
    assert paid["amount"].sum() == pytest.approx(due["amount"].sum(), abs=1.0)


def test_a_commitment_is_weighed_at_the_gpu_cost_when_its_build_is_ordered() -> None:
    """The provider weighs a long commitment against the GPUs it will buy for it, ordered a
    build lag before the start (or now, if that is sooner): at the vendors' price path then,
    which falls with compute per dollar. A fake vendor whose price falls $1,000 a month."""
    from types import SimpleNamespace

    from sim.deals.capacity_commitment import commit, unit_cost

    cfg = small_world()
    lag = cfg.technology.build_lag_months
    vendor = SimpleNamespace(
        defaulted=False,
        spec=SimpleNamespace(order_share=1.0),
        unit_price=lambda t: 40_000.0 - 1_000.0 * t,
    )
    world = SimpleNamespace(cfg=cfg, vendors=[vendor], facility_cost=lambda t: 10_000.0)
    weighed: list[float] = []

    def accepts(default, value, gpus, price, start, term, t, cost):
        weighed.append(cost)
        return False

    seller = SimpleNamespace(
        quote_contract_price=lambda: 2.0,
        buyer_default_probability=lambda buyer: 0.05,
        accepts_commitment=accepts,
    )
    buyer = SimpleNamespace(name="lab")
    assert commit(world, 2, buyer, seller, 1_000.0, 2 + lag + 10, 60, "far") is None
    assert commit(world, 2, buyer, seller, 1_000.0, 3, 60, "near") is None
    assert weighed[0] == unit_cost(world, 12) == 40_000.0 - 12_000.0 + 10_000.0
    assert weighed[1] == unit_cost(world, 2) == 48_000.0
