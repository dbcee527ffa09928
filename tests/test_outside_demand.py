"""The market beyond the frontier labs (the scale issue): the outside demand process, the
hyperscalers' in-house rule, and a small world where the outside buyers pay the clouds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim import costs
from sim.books import OUTSIDE_BUYERS
from sim.config import DemandConfig, OutsideDemandConfig
from sim.demand import OutsideDemand, outside_growth
from sim.model import ComputeMarket
from sim.phases.operate import serve_in_house
from sim.runner import simulate

from .conftest import small_world
from .fakes import FakeMarket
from .test_agents import make_cloud


def test_outside_growth_decays_from_start_to_long_run() -> None:
    out = OutsideDemandConfig(
        growth_start_per_month=0.05, growth_long_run_per_month=0.01, growth_decay_months=10.0
    )
    boom = DemandConfig()
    assert outside_growth(0, 1.0, out, boom) == pytest.approx(0.05)
    # 0.01 + 0.04 e^-1 (hand-computed)
    assert outside_growth(10, 1.0, out, boom) == pytest.approx(0.01 + 0.04 * math.exp(-1))
    assert outside_growth(600, 1.0, out, boom) == pytest.approx(0.01, abs=1e-12)


def test_a_bust_hits_the_outside_demand_at_its_own_rate() -> None:
    out = OutsideDemandConfig(bust_decline_per_month=0.03)
    bust = DemandConfig(regime="bust", bust_month=12, bust_decline_per_month=0.0)
    assert outside_growth(11, 1.0, out, bust) > 0
    assert outside_growth(12, 1.0, out, bust) == -0.03  # the labs' demand only stops growing


def test_a_plateau_saturates_the_outside_demand() -> None:
    out = OutsideDemandConfig(plateau_multiple=4.0)
    plateau = DemandConfig(regime="plateau")
    assert outside_growth(0, 4.0, out, plateau) == 0.0
    assert outside_growth(0, 2.0, out, plateau) == pytest.approx(0.5 * out.growth_start_per_month)


def test_outside_demand_responds_to_price_with_its_elasticity() -> None:
    out = OutsideDemandConfig(initial_gpus=1e6, price_elasticity=-1.0, noise_sd=0.0)
    demand = OutsideDemand(out, DemandConfig(), np.random.default_rng(0))
    assert demand.at_price(2.5, 2.5) == pytest.approx(1e6)
    assert demand.at_price(5.0, 2.5) == pytest.approx(0.5e6)  # twice the price, half the GPUs
    demand.advance(1)
    assert demand.gpus == pytest.approx(1e6 * (1 + out.growth_start_per_month))


def test_no_outside_market_draws_no_random_numbers() -> None:
    rng = np.random.default_rng(7)
    demand = OutsideDemand(OutsideDemandConfig(), DemandConfig(), rng)
    for step in range(1, 13):
        assert demand.advance(step) == 0.0
    assert demand.at_price(1.0, 2.5) == 0.0
    assert rng.normal() == np.random.default_rng(7).normal()


def test_a_hyperscaler_runs_its_own_workloads_on_free_capacity_a_neocloud_has_none() -> None:
    market = FakeMarket()
    hyper = make_cloud(market)
    neo = make_cloud(market, "neo", archetype="neocloud")
    assert hyper.in_house_gpus(100.0, 250.0) == 100.0
    assert hyper.in_house_gpus(300.0, 250.0) == 250.0  # the rest it rents on spot
    assert neo.in_house_gpus(100.0, 250.0) == 0.0


def test_clouds_forecast_the_outside_need_at_a_cost_covering_price() -> None:
    market = FakeMarket(spot_price=2.0)
    cfg = market.cfg.with_overrides(
        {"demand.price_elasticity": -1.0, "outside.price_elasticity": -0.5}
    )
    market.cfg = cfg
    cloud = make_cloud(market)
    cover = costs.full_cost(cfg, 0)
    cloud.observe_market_need(100.0, 400.0)
    assert cloud.market_need_history == [500.0]
    expected = 100.0 * (cover / 2.0) ** -1.0 + 400.0 * (cover / 2.0) ** -0.5
    assert cloud.need_at_cover_history == [pytest.approx(expected)]


@pytest.fixture(scope="module")
def with_and_without():
    scenario = small_world(**{"run.months": 24, "outside.initial_gpus": 2e5})
    return simulate(scenario, 1), simulate(small_world(**{"run.months": 24}), 1)


def test_outside_buyers_pay_the_clouds_and_fill_their_fleets(with_and_without) -> None:
    run, labs_only = with_and_without
    model, flows = run.tables["model"], run.tables["flows"]
    paid = flows[flows["kind"] == "outside_compute"]
    assert (paid["payer"] == OUTSIDE_BUYERS).all()
    assert paid["amount"].sum() > 0
    # the hyperscaler serves its share in-house whenever it has capacity no contract takes
    # (since MODEL_VERSION 0.33 it builds only what is financed, so in months 7-12 its
    # contracts take all it has); the neocloud sells to the rest on spot
    agents = run.tables["agents"]
    hyper = agents[agents["agent_id"] == "hyper"].set_index("step")
    free = (hyper["gpus_installed"] > hyper["gpus_contracted"]).reindex(model["step"]).to_numpy()
    assert free.sum() >= len(free) / 2
    assert (model["in_house_gpus"].to_numpy()[free] > 0).all()
    assert (paid["payee"] == "neo").any()
    served = model["outside_served_gpus"]
    assert (served <= model["outside_need_gpus"] * (1 + 1e-9)).all()
    # a bigger market: the clouds use more of their fleets and build more for it
    base = labs_only.tables["model"]
    assert model["used_gpus"].sum() > base["used_gpus"].sum()
    assert model["orders_placed_gpus"].sum() > base["orders_placed_gpus"].sum()
    assert run.summary["cloud_revenue_usd"] > labs_only.summary["cloud_revenue_usd"]


def test_a_bust_cuts_the_outside_demand(with_and_without) -> None:
    run, _ = with_and_without
    bust = small_world(
        **{
            "run.months": 24,
            "outside.initial_gpus": 2e5,
            "outside.noise_sd": 0.0,
            "outside.bust_decline_per_month": 0.05,
            "demand.regime": "bust",
            "demand.bust_month": 6,
        }
    )

    def at_reference(model):  # the need moved back along its curve (elasticity −1) to $2.50
        return model["outside_need_gpus"] * model["spot_price_usd_per_gpu_hour"] / 2.5

    need = at_reference(simulate(bust, 1).tables["model"])
    boom = at_reference(run.tables["model"])
    assert need.iloc[-1] == pytest.approx(need.iloc[6] * 0.95 ** (len(need) - 7))
    assert need.iloc[-1] < boom.iloc[-1]


def test_the_hyperscalers_own_workloads_are_shared_by_their_other_income() -> None:
    """serve_in_house: with outside.own_workloads_by_income the in-house share of the outside
    need is shared over the hyperscalers by their other income (here 3 : 1), whatever their
    fleets (1 : 3); without it by fleet; with no such income at all, by fleet too."""
    big = {"name": "big", "archetype": "hyperscaler", "initial_gpus": 1_000}
    small = {"name": "small", "archetype": "hyperscaler", "initial_gpus": 3_000}
    scenario = small_world()
    data = scenario.model_dump()
    data["clouds"] = [
        {**big, "other_business_income_usd_per_month": 3e9},
        {**small, "other_business_income_usd_per_month": 1e9},
    ]
    data["outside"] = {**data["outside"], "in_house_share": 0.5}
    for by_income, income, share_big in (
        (True, True, 0.75),
        (False, True, 0.25),
        (True, False, 0.25),
    ):
        world_data = {**data, "outside": {**data["outside"], "own_workloads_by_income": by_income}}
        if not income:
            world_data["clouds"] = [{**big}, {**small}]
        world = ComputeMarket(type(scenario).model_validate(world_data), rng=1)
        free = {c.name: 1e9 for c in world.clouds}  # room for all of it
        served, own = serve_in_house(world, 8_000.0, free)
        assert own == pytest.approx(4_000.0)
        assert served["big"] == pytest.approx(share_big * 4_000.0)
        assert served["small"] == pytest.approx((1 - share_big) * 4_000.0)
