"""The lab-failure experiment's caption is true of what it builds (marked ``gallery``: it
runs 10 seeds of 72 months; ``pytest -m gallery -k lab_failure``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.gallery import BuildContext, build_one, discover

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.gallery
def test_lab_failure_caption_is_true(tmp_path: Path) -> None:
    exp = {e.name: e for e in discover(ROOT / "experiments")}["lab_failure"]
    module = sys.modules["experiment_lab_failure"]
    state, _, tb = build_one(exp, tmp_path, ROOT / "experiments", BuildContext(workers=2))
    assert state == "built", tb
    outcomes = pd.read_csv(tmp_path / "lab_failure" / "leader_outcomes.csv")
    caption = exp.figures[0].caption
    assert f"does not default in any of the {len(outcomes)} seeds" in caption
    assert module.LEAST_SEEDS_WITH_DEFAULT == 0
    assert outcomes["leader_default_month"].isna().all()
    assert (outcomes["clouds_unpaid_take_or_pay_usd"] == 0).all()  # "none"
    # "its compute bills are less than 1.7× its revenue"
    assert f"less than {module.MOST_BILLS_TO_REVENUE:.1f}× its revenue" in caption
    assert (outcomes["bills_to_revenue"] < module.MOST_BILLS_TO_REVENUE).all()
    # "its cash never falls below $5.5B"
    assert f"below ${module.LEAST_CASH_USD / 1e9:.1f}B" in caption
    assert (outcomes["lowest_cash_after_usd"] >= module.LEAST_CASH_USD).all()
    # "the leading vendor's strategic tranches keep coming" (in the year after the shock)
    assert (outcomes["strategic_equity_usd"] > 0).all()
    # "its valuation falls to nothing for months"
    assert (outcomes["months_valued_at_zero"] >= 3).all()
    # "8 or 9 [defaults] in every seed"
    assert outcomes["defaults"].between(8, 9).all()
