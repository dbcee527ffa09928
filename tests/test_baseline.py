"""Sanity of the calibrated default world over 2025–2027, without a shock."""

from __future__ import annotations

import pytest

from sim.config import Scenario
from sim.runner import simulate

SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def runs(baseline: Scenario):
    return [simulate(baseline, seed, months=36) for seed in SEEDS]


def test_installed_capacity_grows(runs) -> None:
    for run in runs:
        gpus = run.tables["model"]["installed_gpus"]
        assert gpus.iloc[-1] > 3 * gpus.iloc[0]
        assert (gpus.diff().dropna() >= -0.02 * gpus.iloc[:-1].to_numpy()).all()


def test_utilisation_between_40_and_100_percent(runs) -> None:
    for run in runs:
        u = run.tables["model"]["utilisation"]
        assert u.between(0.40, 1.0 + 1e-9).all(), u.describe()


def test_compute_price_between_cash_cost_and_8_dollars(runs, baseline) -> None:
    """Never below the cash operating cost of a GPU-hour (below it clouds would rather idle)
    nor above $8 (the 2023 peak). Since MODEL_VERSION 0.20 the named contracts' capacity
    takes the price below $1 in 2027 (seed 1: $0.74), so the old $1 floor no longer holds."""
    floor = baseline.technology.operating_cost_usd_per_gpu_hour
    for run in runs:
        price = run.tables["model"]["spot_price_usd_per_gpu_hour"]
        assert price.between(floor, 8.0).all(), price.describe()


def test_labs_earn_revenue_and_raise_capital(runs) -> None:
    for run in runs:
        flows = run.tables["flows"]
        assert flows.loc[flows["kind"] == "service_revenue", "amount"].sum() > 0
        assert (flows["kind"] == "equity_investment").any()
        assert (flows["kind"] == "loan_advance").any()
        assert (flows["kind"] == "chip_payment").any()
