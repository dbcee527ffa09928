"""Enterprise joint ventures (issue 15): partners and the lab capitalise a vehicle that
deploys the lab's models, buys its services, pays its profit to its owners, and raises the
lab's enterprise lock-in. Money is conserved (the run is audited)."""

from __future__ import annotations

import pytest

from sim.agents import Lab
from sim.config import ConfigError, load_scenario
from sim.runner import simulate

from .conftest import ROOT, small_world
from .fakes import FakeMarket


@pytest.fixture(scope="module")
def run():
    return simulate(small_world(deals=True), 5, audit=True)


def test_partners_and_the_lab_capitalise_the_vehicle(run) -> None:
    flows = run.tables["flows"]
    capital = flows[(flows["kind"] == "equity_investment") & (flows["payee"] == "jv-vehicle")]
    by = capital.groupby("payer")["amount"].sum()
    assert by["vc"] == pytest.approx(0.45e9) and by["bank"] == pytest.approx(0.45e9)
    assert by["lab-b"] == pytest.approx(0.1e9)  # receiver_share 0.1 of $1B


def test_the_vehicle_buys_the_labs_services_and_pays_its_profit_to_its_owners(run) -> None:
    flows = run.tables["flows"]
    comp = small_world().competition
    bought = flows[(flows["payer"] == "jv-vehicle") & (flows["kind"] == "compute_payment")]
    assert set(bought["payee"]) == {"lab-b"}
    earned = flows[(flows["payee"] == "jv-vehicle") & (flows["kind"] == "service_revenue")]
    paid = flows[(flows["payer"] == "jv-vehicle") & flows["kind"].isin(["dividend", "payout"])]
    owners = paid[paid["kind"] == "dividend"]
    assert set(owners["payee"]) == {"vc", "bank", "lab-b"}
    assert owners["amount"].sum() > 0.99 * paid["amount"].sum()  # a sliver: founding shares
    assert paid["amount"].sum() == pytest.approx(comp.jv_margin * earned["amount"].sum(), rel=1e-6)
    # over 6 months it spends its $1B deploying the lab's models, then runs them
    assert bought["amount"].sum() > 0.99e9 + (1 - comp.jv_margin) * earned["amount"].sum() * 0.9


def test_integration_raises_the_switching_cost_of_enterprise_customers() -> None:
    market = FakeMarket()
    lab = Lab(market.model, market, "lab-a", market.cfg.labs[0], demand_share=1.0)
    before = lab.reconsider_rate("enterprise")
    lab.integrate("enterprise", 1.0)
    assert lab.reconsider_rate("enterprise") == pytest.approx(before * 0.36787944117)
    assert lab.reconsider_rate("consumer") == market.cfg.competition.consumer_switching_per_month


def test_the_vehicle_is_an_investor_other_than_its_partners() -> None:
    with pytest.raises(ConfigError, match=r"vehicle 'vc' must name an Investor agent that"):
        small_world(deals=True, **{"deals.jv.vehicle": "vc"})


def test_the_seeds_two_joint_ventures_load() -> None:
    world = load_scenario(ROOT / "sim" / "scenarios" / "enterprise_jv.toml")
    jvs = [d for d in world.deals if d.kind == "enterprise_jv"]
    assert [d.amount_usd for d in jvs] == [1.5e9, 10e9]
    assert [1 + len(d.partners) for d in jvs] == [3, 20]
