"""Shared fixtures: the baseline scenario and a small, fast world for property tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.config import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "experiments" / "baseline.toml"


@pytest.fixture(scope="session")
def baseline() -> Scenario:
    return load_scenario(BASELINE)


def small_world(**overrides: object) -> Scenario:
    """A compact world (2 labs, 2 clouds, 1 vendor, 2 investors) for fast tests."""
    data = {
        "name": "small",
        "run": {"months": 24},
        "labs": [
            {"name": "lab-a", "demand_share": 0.7, "initial_cash_usd": 3e9},
            {"name": "lab-b", "demand_share": 0.3, "initial_cash_usd": 1e9},
        ],
        "clouds": [
            {
                "name": "hyper",
                "initial_gpus": 300_000,
                "initial_cash_usd": 10e9,
                "other_business_income_usd_per_month": 2e9,
            },
            {
                "name": "neo",
                "archetype": "neocloud",
                "initial_gpus": 200_000,
                "initial_cash_usd": 0.5e9,
                "initial_debt_usd": 3e9,
                "interest_rate_per_year": 0.1,
            },
        ],
        "chip_vendors": [{"name": "vendor", "order_share": 1.0}],
        "investors": [
            {"name": "vc", "initial_cash_usd": 30e9, "equity_appetite": 0.1},
            {"name": "bank", "archetype": "bank", "initial_cash_usd": 60e9, "loan_appetite": 0.05},
        ],
    }
    return (
        Scenario.model_validate(data).with_overrides(overrides)
        if overrides
        else (Scenario.model_validate(data))
    )
