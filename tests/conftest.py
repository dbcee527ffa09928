"""Shared fixtures: the baseline scenario and a small, fast world for property tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis.internal.conjecture import providers

from sim.config import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SWEEP_FIXTURES = ROOT / "tests" / "fixtures" / "sweeps"


def slow_sweep_file(folder: Path) -> Path:
    """The grid fixture sweep made long enough to kill part way (36 runs of 36 months),
    written into ``folder``."""
    slow = folder / "slow.toml"
    slow.write_text(
        (SWEEP_FIXTURES / "grid.toml")
        .read_text()
        .replace('"small.toml"', f'"{(SWEEP_FIXTURES / "small.toml").as_posix()}"')
        .replace("months = 18", "months = 36")
        .replace("seeds_per_point = 2", "seeds_per_point = 6")
    )
    return slow


def pytest_configure(config: pytest.Config) -> None:
    """Make derandomized Hypothesis draws independent of what else the process imported.

    Hypothesis (≥ 6.131) mixes into its draws the literal constants of every *local* module in
    ``sys.modules`` (our sim/, tests/, experiments/ and any plugin a test writes to a temporary
    folder). Under xdist the modules a worker has imported depend on which tests it ran before,
    so a ``derandomize=True`` test drew different worlds in different orders: the property
    test's every-mechanism guard failed in one CI run and passed alone (found 2026-11-26 by
    drawing the 200 worlds with and without the other modules imported: digests differed).
    Hypothesis has no setting for this, so its provider is given an empty set of local
    constants; the draws then depend only on the Hypothesis version and the test's own code,
    which is what ``derandomize`` promises. Fails loudly if a Hypothesis upgrade moves the hook.
    """
    assert hasattr(providers, "_get_local_constants"), "Hypothesis moved its local-constants hook"
    providers._get_local_constants = providers.Constants


BASELINE = ROOT / "sim" / "scenarios" / "baseline.toml"  # the one copy; experiments/ derives it


@pytest.fixture(scope="session")
def baseline() -> Scenario:
    return load_scenario(BASELINE)


ALL_DEALS = [
    {
        "name": "cloud-revenue-share",
        "kind": "revenue_share",
        "provider": "hyper",
        "receiver": "lab-a",
        "month": 0,
        "months": 24,
        "revenue_share": 0.2,
    },
    {
        "name": "vendor-stake",
        "kind": "strategic_equity",
        "provider": "vendor",
        "receiver": "lab-a",
        "month": 2,
        "months": 3,
        "amount_usd": 2e9,
        "spend_back_share": 0.5,
    },
    {
        "name": "cloud-stake",
        "kind": "strategic_equity",
        "provider": "hyper",
        "receiver": "lab-b",
        "month": 1,
        "amount_usd": 1e9,
        "spend_back_share": 3.0,
    },
    {
        "name": "vendor-cloud-stake",
        "kind": "strategic_equity",
        "provider": "vendor",
        "receiver": "neo",
        "month": 1,
        "amount_usd": 0.5e9,
        "spend_back_share": 1.0,
    },
    {
        "name": "credits",
        "kind": "compute_credit",
        "provider": "hyper",
        "receiver": "lab-a",
        "month": 0,
        "months": 12,
        "amount_usd": 1e9,
    },
    {
        "name": "backstop",
        "kind": "backstop",
        "provider": "vendor",
        "receiver": "neo",
        "month": 0,
        "months": 24,
        "amount_usd": 1e9,
    },
    {
        "name": "financing",
        "kind": "vendor_financing",
        "provider": "vendor",
        "receiver": "neo",
        "month": 0,
        "months": 24,
        "amount_usd": 2e9,
        "financed_share": 0.5,
    },
    {
        "name": "vehicle-lease",
        "kind": "lease_vehicle",
        "provider": "vendor",
        "receiver": "lab-b",
        "vehicle": "vehicle",
        "month": 0,
        "months": 24,
        "amount_usd": 1e9,
        "debt_usd": 2e9,
    },
    {
        "name": "named-lab",
        "kind": "capacity_commitment",
        "provider": "hyper",
        "receiver": "lab-b",
        "month": 1,
        "start_month": 6,
        "months": 24,
        "amount_usd": 1e9,
    },
    {
        "name": "cloud-overflow",  # cloud to cloud: the hyperscaler buys from the neocloud
        "kind": "capacity_commitment",
        "provider": "neo",
        "receiver": "hyper",
        "month": 6,
        "months": 36,
        "amount_usd": 1e9,
    },
    {
        "name": "vendor-warrant",
        "kind": "warrant",
        "provider": "vendor",
        "receiver": "lab-a",
        "month": 1,
        "months": 4,
        "amount_usd": 1e9,
        "warrant_share": 0.1,
        "exercise_price_usd": 1e3,
    },
    {
        "name": "secondary",
        "kind": "secondary_sale",
        "provider": "vc",
        "receiver": "lab-a",
        "month": 3,
        "months": 2,
        "amount_usd": 1e9,
        "valuation_usd": 50e9,
    },
    {
        "name": "lab-builds",
        "kind": "lab_cloud",
        "provider": "lab-a",
        "receiver": "lab-cloud",
        "month": 1,
        "months": 6,
        "amount_usd": 1e9,
        "debt_usd": 2e9,
    },
    {
        "name": "jv",
        "kind": "enterprise_jv",
        "provider": "vc",
        "partners": ["bank"],
        "receiver": "lab-b",
        "vehicle": "jv-vehicle",
        "month": 2,
        "months": 6,
        "amount_usd": 1e9,
        "receiver_share": 0.1,
    },
]


def small_world(deals: bool = False, **overrides: object) -> Scenario:
    """A compact world (2 labs, 2 clouds, 1 vendor, 2 investors) for fast tests; with
    ``deals``, also a lease vehicle and one deal of every kind."""
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
    if deals:
        data["clouds"].append(
            {
                "name": "vehicle",
                "archetype": "lease_vehicle",
                "initial_gpus": 0,
                "initial_cash_usd": 0,
            }
        )
        data["clouds"].append(  # the capacity lab-a owns (issue 15)
            {"name": "lab-cloud", "archetype": "neocloud", "initial_gpus": 0, "initial_cash_usd": 0}
        )
        data["investors"].append(  # an enterprise joint venture's vehicle (issue 15)
            {
                "name": "jv-vehicle",
                "archetype": "asset_manager",
                "initial_cash_usd": 0,
                "inflow_usd_per_month": 0,
                "equity_appetite": 0,
                "loan_appetite": 0,
            }
        )
        data["deals"] = ALL_DEALS
    scenario = Scenario.model_validate(data)
    return scenario.with_overrides(overrides) if overrides else scenario
