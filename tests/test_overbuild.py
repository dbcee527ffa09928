"""Overbuild emerges from decisions: the telecom-bust settings land in the telecom bands."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from sim.config import load_scenario
from sim.gallery import BuildContext
from sim.metrics import bust_outcome, longest_run, overbuild_series
from sim.runner import simulate

from .conftest import ROOT

SEEDS = (1, 2, 3, 4, 5)


@pytest.fixture(scope="module")
def bust_runs():
    scenario = load_scenario(ROOT / "experiments" / "telecom_bust.toml")
    return scenario, [simulate(scenario, seed) for seed in SEEDS]


@pytest.mark.xfail(
    strict=True,
    reason="MODEL_VERSION 0.44.0 (the calibrated world): seeds 1-5 trough utilisation "
    "0.64-0.75 (band 0.25-0.45), price fall 0.49-0.73 (band 0.60-0.85: seeds 3 and 5 in it), "
    "peak overbuild 1.62-2.06 (> 1.5 holds); 5-12 defaults, the first in months 12-14 (small "
    "neoclouds, illiquid, before the bust at month 30) in seeds 1-4, month 42 in seed 5. At "
    "0.33.1 the trough was 0.66-0.73, the fall 0.51-0.58, the first defaults in months 21-22 "
    "or 38-40. Not re-measured at 0.49 (the strict xfail still holds: the bands fail)",
)
def test_telecom_bust_price_fall_and_utilisation_within_bands(bust_runs) -> None:
    scenario, runs = bust_runs
    outcomes = [bust_outcome(run.tables["model"], scenario.demand.bust_month) for run in runs]
    for out in outcomes:
        # CALIBRATION: rental price −60 to −85% (transatlantic −85% 1999–2001)
        assert 0.60 <= out.price_fall <= 0.85, out
        assert out.peak_overbuild_ratio > 1.5
        assert out.impairment_usd > 0
    # CALIBRATION: utilisation toward 35% (lit networks ≈ 35% used) — the median run
    troughs = sorted(out.trough_utilisation for out in outcomes)
    assert 0.25 <= troughs[len(troughs) // 2] <= 0.45, troughs


def _longest_below_cost(scenario, seed: int) -> int:
    model = simulate(scenario, seed).tables["model"]
    below = model["spot_price_usd_per_gpu_hour"] < model["full_cost_usd_per_gpu_hour"]
    return longest_run(below)[0]


def test_preemption_makes_a_glut_while_demand_still_grows() -> None:
    """Issue 16: boom demand, no bust; with strong pre-emption spot stays below full cost for
    six months or more, and the builders are still standing when the price falls: fewer
    than half of the clouds have defaulted when the glut begins (telecom 2000-02: the price
    fell first, defaults came after). Without pre-emption there is no glut: competition for
    the boom, not the demand path, makes it (seeds 1-10: benchmarks/issue16_must_show.py).
    At 0.39 (labs6's faster lab demand alone) it failed: no seed reached a glut; the vendors'
    capacity in H100-equivalents (0.42) brought it back: at 0.44 seed 2 had 8 months below
    cost from month 23. Since 0.48 pre-emption is not scaled by Tobin's q and the world's
    weight is 1 (a cloud keeps its share of the industry's pipeline; it was 6). At 0.60.1
    (labs10: lab costs, network effects) seed 2 has 3 months below cost; 7 of seeds 1-10
    have 6 or more (seed 3: 11 months from month 20, 2 of 9 clouds defaulted before)."""
    glut = load_scenario(ROOT / "experiments" / "endogenous_glut.toml")
    assert glut.demand.regime == "boom"
    assert glut.investment.preemption_weight >= 1
    seed = 3
    tables = simulate(glut, seed).tables
    model, agents = tables["model"], tables["agents"]
    clouds = agents.loc[agents["agent_type"] == "Cloud", "agent_id"].nunique()
    below = (model["spot_price_usd_per_gpu_hour"] < model["full_cost_usd_per_gpu_hour"]).to_numpy()
    best, best_start = longest_run(below)
    assert best >= 6
    defaulted = model.loc[model["step"] < best_start, "new_defaults"].sum()
    assert defaulted < clouds / 2, (defaulted, clouds, best_start)
    calm = glut.with_overrides({"investment.preemption_weight": 0.0})
    assert _longest_below_cost(calm, seed) < 6


def test_no_bust_no_glut(baseline) -> None:
    run = simulate(baseline, 1, months=60)
    series = overbuild_series(run.tables["model"])
    assert series["utilisation"].min() > 0.6
    assert run.summary["defaults"] == 0


def test_overbuild_series_definitions() -> None:
    model = pd.DataFrame(
        {
            "step": [0, 1],
            "installed_gpus": [100.0, 200.0],
            "need_gpus": [90.0, 90.0],
            "need_at_full_cost_gpus": [50.0, 50.0],
            "utilisation": [0.9, 0.45],
            "spot_price_usd_per_gpu_hour": [2.0, 0.5],
            "full_cost_usd_per_gpu_hour": [1.0, 1.0],
            "fleet_book_usd": [1000.0, 2000.0],
            "impairment_cumulative_usd": [0.0, 300.0],
            "gpus_on_order": [50.0, 0.0],
        }
    )
    s = overbuild_series(model)
    assert s["overbuild_ratio"].tolist() == [2.0, 4.0]
    assert s["price_to_full_cost"].tolist() == [2.0, 0.5]
    assert s["stranded_book_usd"].tolist() == pytest.approx([100.0, 300.0 + 1100.0])
    assert s["on_order_to_installed"].tolist() == [0.5, 0.0]
    with pytest.raises(ValueError, match="bust_month must be between"):
        bust_outcome(model, 5)


@pytest.mark.gallery
def test_endogenous_glut_caption_is_true(tmp_path) -> None:
    """Boom, no bust: with pre-emption weight 1 spot stays below full cost for 6 months or
    more in 7 of the 10 seeds (6–14 months), without it never below full cost in any seed
    (MODEL_VERSION 0.65; 7 of 10 at 0.64 (7–14 months), 6 of 10 at 0.61, 5 of 10 at 0.58,
    1 of 10 at 0.54, 2 at 0.49; 7 and 3 of 10 at 0.44 with weight 6 and q-scaled pre-emption)."""
    sys.path.insert(0, str(ROOT / "experiments"))
    import overbuild

    table = overbuild.endogenous_glut(tmp_path, BuildContext(workers=2))
    longest = table["longest_months_below_full_cost"]
    weight = table["preemption_weight"]
    seeds = overbuild.PARAMS["endogenous glut: seeds"]
    strong = weight.max()
    assert strong == 1.0
    assert seeds == 10
    with_preemption = longest[weight == strong]
    # "in 7 of the 10 seeds (6–14 months)"
    assert sorted(with_preemption[with_preemption >= 6].tolist()) == [6, 9, 10, 10, 11, 13, 14]
    # "without pre-emption it never falls below full cost in any seed"
    assert (longest[weight == 0.0] == 0).all()
    captions = " ".join(f.caption for f in overbuild.EXPERIMENT.figures)
    assert "6 months or more in 7 of the 10 seeds (6–14 months)" in captions
    assert "without pre-emption it never falls below full cost in any seed" in captions
    assert (tmp_path / "endogenous_glut.png").exists()
