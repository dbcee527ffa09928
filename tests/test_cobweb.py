"""Y1 (Ezekiel 1938): in the simplest setting the model's price follows the cobweb.

One lab buying everything on the spot market, one cloud whose capacity offered L months on is
``c + d·p`` (price-driven investment with a build lag L), constant demand with elasticity −1,
and a spot price that clears each month. Near the equilibrium p* the demand curve has slope
b = |ε|·D*/p*; the price deviation is multiplied by about −d/b every L months, so it
converges only if d < b.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.config import Scenario
from sim.runner import simulate

LAG = 6
P_STAR = 2.5


def cobweb_world(slope_ratio: float, months: int = 8 * LAG) -> tuple[Scenario, float]:
    """The simplest setting; ``slope_ratio`` = d / b. Returns the scenario and D* (GPUs)."""
    base = {
        "name": "cobweb",
        "run": {"months": months},
        "demand": {
            "growth_start_per_month": 0.0,
            "growth_long_run_per_month": 0.0,
            "noise_sd": 0.0,
            "price_elasticity": -1.0,
        },
        # end users' response to the service price as the analytic cobweb assumes (issue 15)
        "competition": {"service_price_elasticity": -1.0},
        "market": {
            "price_adjustment_speed": 1.0,
            "price_floor_usd_per_gpu_hour": 0.01,
            "price_cap_usd_per_gpu_hour": 100.0,
            "initial_spot_price_usd_per_gpu_hour": P_STAR,
        },
        "technology": {
            "build_lag_months": LAG,
            "delivery_lag_months": 1,
            "chip_life_months": 240,
            "compute_per_dollar_growth_per_year": 1.0,
            "impairment": False,
        },
        "labs": [
            {
                "name": "lab",
                "demand_share": 1.0,
                "contract_coverage": 0.0,
                "training_compute_ratio": 0.0,
                "initial_cash_usd": 1e13,
            }
        ],
        "clouds": [
            {
                "name": "cloud",
                "initial_gpus": 1.0,
                "initial_cash_usd": 1e13,
                "reserve_margin": 0.0,
                "investment_rule": "price_driven",
            }
        ],
        "chip_vendors": [
            {"name": "vendor", "order_share": 1.0, "production_ceiling_units_per_month": 1e9}
        ],
        "investors": [{"name": "vc", "initial_cash_usd": 1e9}],
    }
    scenario = Scenario.model_validate(base)
    demand_gpus = _equilibrium_demand(scenario)
    b = demand_gpus / P_STAR  # |dD/dp| at p* for elasticity −1
    d = slope_ratio * b
    scenario = scenario.with_overrides(
        {
            "clouds.cloud.initial_gpus": 1.10 * demand_gpus,  # start 10% above equilibrium
            "clouds.cloud.price_driven_slope_gpus_per_usd": d,
            "clouds.cloud.price_driven_base_gpus": demand_gpus - d * P_STAR,
        }
    )
    return scenario, demand_gpus


def _equilibrium_demand(scenario: Scenario) -> float:
    from sim.model import ComputeMarket

    model = ComputeMarket(scenario, rng=0)
    model.step()
    return model.need_at_price(P_STAR)


def deviations(slope_ratio: float) -> np.ndarray:
    scenario, _ = cobweb_world(slope_ratio)
    price = simulate(scenario, 0).tables["model"]["spot_price_usd_per_gpu_hour"].to_numpy()
    # one observation per lag, from the month the first price-driven plan takes effect
    return np.log(price[LAG + 1 :: LAG] / P_STAR)


def test_price_overshoots_and_converges_when_d_below_b() -> None:
    dev = deviations(0.5)
    assert np.all(np.sign(dev[:-1]) * np.sign(dev[1:]) < 0), dev  # overshoots each period
    ratios = np.abs(dev[1:4] / dev[:3])
    np.testing.assert_allclose(ratios, 0.5, rtol=0.15)  # deviation × d/b per period
    assert abs(dev[-1]) < 0.05 * abs(dev[0])


def test_price_overshoots_and_diverges_when_d_above_b() -> None:
    dev = deviations(1.5)
    assert np.all(np.sign(dev[:-1]) * np.sign(dev[1:]) < 0), dev
    assert abs(dev[3]) > 2.0 * abs(dev[0])  # grows: |d/b|^3 ≈ 3.4


@pytest.mark.parametrize("ratio", [0.8, 1.25])
def test_stability_boundary_is_d_equals_b(ratio: float) -> None:
    dev = deviations(ratio)
    grows = abs(dev[4]) > abs(dev[0])
    assert grows == (ratio > 1.0), dev
