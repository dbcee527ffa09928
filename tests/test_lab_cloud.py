"""A lab that becomes a cloud (issue 15, Stargate): the lab's rules alone against the fake
market, and the deal in a world (equity, project debt, chips, own needs first, surplus sold)."""

from __future__ import annotations

import pytest

from sim.agents import Lab
from sim.config import ConfigError, load_scenario, validate_scenario
from sim.instruments import CapacityContract
from sim.runner import simulate

from .conftest import ROOT, small_world
from .fakes import FakeMarket


def make_lab(market: FakeMarket) -> Lab:
    return Lab(market.model, market, "lab-a", market.cfg.labs[0], demand_share=1.0)


def test_infrastructure_investment_keeps_the_cash_buffer() -> None:
    market = FakeMarket()
    lab = make_lab(market)
    market.set_cash("lab-a", 10e9)
    lab.record_costs(1e9)  # buffer: finance.cash_buffer_months (3) × 1e9
    assert market.cfg.finance.cash_buffer_months == 3.0
    assert lab.infrastructure_investment(5e9) == pytest.approx(5e9)
    assert lab.infrastructure_investment(9e9) == pytest.approx(7e9)
    market.set_cash("lab-a", 2e9)
    assert lab.infrastructure_investment(5e9) == 0.0


def test_own_capacity_first_and_infrastructure_share() -> None:
    market = FakeMarket(
        contracts=[
            CapacityContract("own", "lab-a", "own-cloud", 300.0, 2.0, 0, 24, 0.9),
            CapacityContract("rent", "lab-a", "hyper", 700.0, 2.0, 0, 24, 0.9),
            CapacityContract("other", "lab-b", "own-cloud", 500.0, 2.0, 0, 24, 0.9),
        ]
    )
    lab = make_lab(market)
    assert lab.own_capacity_wanted(1000.0, 400.0) == 400.0  # all its own cloud has free
    assert lab.own_capacity_wanted(100.0, 400.0) == 100.0  # never more than it wants
    assert lab.own_capacity_wanted(100.0, -50.0) == 0.0
    assert lab.infrastructure_share() == 0.0  # a pure renter
    lab.owned_clouds.add("own-cloud")
    assert lab.infrastructure_share() == pytest.approx(0.3)  # its own contracts only


def stargate_world(months: int = 24):
    world = small_world(
        **{"run.months": months},
    ).model_dump(mode="python")
    world["clouds"] = [
        *world["clouds"],
        {"name": "own", "archetype": "neocloud", "initial_gpus": 0, "initial_cash_usd": 0},
    ]
    world["deals"] = [
        {
            "name": "build",
            "kind": "lab_cloud",
            "provider": "lab-a",
            "receiver": "own",
            "month": 1,
            "months": 6,
            "amount_usd": 1.2e9,
            "debt_usd": 2.4e9,
        }
    ]
    return validate_scenario(world)


def test_the_lab_owns_capacity_borrows_against_it_and_serves_itself_first() -> None:
    run = simulate(stargate_world(), 1, months=24)
    flows, agents = run.tables["flows"], run.tables["agents"]
    equity = flows[(flows["kind"] == "equity_investment") & (flows["payee"] == "own")]
    assert set(equity["payer"]) == {"lab-a"}
    assert 0 < equity["amount"].sum() <= 1.2e9 + 1  # within its cash buffer
    loans = flows[(flows["kind"] == "loan_advance") & (flows["payee"] == "own")]
    assert loans["amount"].sum() >= 2.0 * equity["amount"].sum() - 1  # 2:1 project debt
    paid = flows[(flows["kind"] == "compute_payment") & (flows["payee"] == "own")]
    # its owner is its main customer; surplus may go under contract to a hyperscaler that
    # buys overflow instead of building (issue 16); own needs first is Lab.own_capacity_wanted
    by_payer = paid.groupby("payer")["amount"].sum()
    assert set(by_payer.index) <= {"lab-a", "hyper"}
    assert by_payer["lab-a"] > 0.5 * by_payer.sum()
    lab = agents[agents["agent_id"] == "lab-a"].set_index("step")
    assert lab.loc[0, "infrastructure_share"] == 0.0
    assert lab.loc[23, "infrastructure_share"] > 0.02  # runs partly on its own capacity
    assert (agents[agents["agent_id"] == "lab-b"]["infrastructure_share"] == 0).all()
    own = agents[agents["agent_id"] == "own"].set_index("step")
    assert own.loc[23, "gpus_installed"] > 0


def test_a_lab_cloud_deal_names_a_lab_and_a_cloud() -> None:
    world = stargate_world().model_dump(mode="python")
    world["deals"][0]["provider"] = "vc"
    with pytest.raises(ConfigError, match="provider 'vc' must name a Lab agent"):
        validate_scenario(world)


def test_the_stargate_scenario_loads() -> None:
    world = load_scenario(ROOT / "sim" / "scenarios" / "stargate.toml")
    assert [d.kind for d in world.deals][-1] == "lab_cloud"
    assert world.clouds[-1].name == "stargate"
