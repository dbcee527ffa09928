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
    defaulted = outcomes["leader_default_month"].notna()
    # "defaults in at least 5 of the 10 seeds" (issue 14: at least half)
    assert f"at least {module.LEAST_SEEDS_WITH_DEFAULT} of the {len(outcomes)} seeds" in caption
    assert len(outcomes) / 2 <= module.LEAST_SEEDS_WITH_DEFAULT
    assert defaulted.sum() >= module.LEAST_SEEDS_WITH_DEFAULT
    # "in every seed where it defaults its clouds write off part of its unpaid bills"
    assert (outcomes.loc[defaulted, "clouds_unpaid_take_or_pay_usd"] > 0).all()
    assert (outcomes.loc[~defaulted, "clouds_unpaid_take_or_pay_usd"] == 0).all()
    # "its compute bills stay up to 2.6× its revenue"
    assert f"up to {module.MOST_BILLS_TO_REVENUE:.1f}× its revenue" in caption
    assert (outcomes["bills_to_revenue"] < module.MOST_BILLS_TO_REVENUE).all()
    # "valued at nothing for at least 6 months in every seed"
    assert f"at least {module.LEAST_MONTHS_VALUED_AT_ZERO} months in every seed" in caption
    assert (outcomes["months_valued_at_zero"] >= module.LEAST_MONTHS_VALUED_AT_ZERO).all()
    # "most of them about ten months after the shock"
    months = outcomes.loc[defaulted, "leader_default_month"] - 12
    assert (months.between(6, 14)).sum() > defaulted.sum() / 2
