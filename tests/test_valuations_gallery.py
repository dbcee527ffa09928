"""The valuations experiment's captions are true of what it builds (marked ``gallery``:
``pytest -m gallery -k valuations``)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.gallery import BuildContext, build_one, discover

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.gallery
def test_valuations_captions_are_true(tmp_path: Path) -> None:
    exp = {e.name: e for e in discover(ROOT / "experiments")}["valuations"]
    state, _, tb = build_one(exp, tmp_path, ROOT / "experiments", BuildContext(workers=2))
    assert state == "built", tb
    folder = tmp_path / "valuations"
    marks = pd.read_csv(folder / "valuations.csv")
    assert {"frontier-leader", "hyperscaler-bbb", "vendor-leader"} == set(marks["agent_id"])
    assert {"boom", "bust"} == set(marks["world"])
    sentiment = pd.read_csv(folder / "sentiment.csv")
    median = sentiment.groupby(["world", "step"])["sentiment"].median().unstack(0)
    captions = " ".join(f.caption for f in exp.figures)
    assert "exceeds 1.2 in the 2025–26 boom" in captions
    assert median.loc[:23, "boom"].max() > 1.2
    bust = sys.modules["experiment_valuations"].BUST_MONTH
    # "falls by at least a fifth within six months of demand ceasing to grow"
    fell = median.loc[bust : bust + 6, "bust"] <= 0.8 * median.loc[bust - 1, "bust"]
    assert fell.any()
    # "before the first default from the bust on in all 5 seeds"
    first = pd.read_csv(folder / "first_defaults.csv")
    in_bust = first[first["world"] == "bust"]
    assert len(in_bust) == 5
    # a seed with no default from the bust on counts (its fall came before any default)
    assert (in_bust["first_default_from_bust"].fillna(math.inf) >= fell.idxmax()).sum() == 5
    # "No party defaults in the boom's 5 seeds."
    assert "No party defaults in the boom's 5 seeds" in captions
    in_boom = first[first["world"] == "boom"]
    assert len(in_boom) == 5 and in_boom["first_default"].isna().all()
    # "a party defaults before the bust in 4 of the 5 bust seeds, in months 24–27"; "no
    # party defaults in the fifth seed" (at 0.61: none before the bust, first in months 46–52)
    assert "a party defaults before the bust in 4 of the 5 bust seeds, in months 24–27" in captions
    early = in_bust.loc[in_bust["first_default"] < bust, "first_default"]
    assert sorted(early.tolist()) == [24, 25, 26, 27], early.tolist()
    assert "no party defaults in the fifth seed" in captions
    assert in_bust["first_default"].isna().sum() == 1
    # "from the bust on parties default in 1 of the 5 seeds (month 51)" (2 of 5 at 0.64)
    assert "from the bust on parties default in 1 of the 5 seeds (month 51)" in captions
    late = in_bust["first_default_from_bust"].dropna()
    assert sorted(late.tolist()) == [51], late.tolist()
    after = median.loc[exp.params["months"] // 2 + 1 :]
    # "stays below the boom's path in every month of the run's second half"
    assert "below the boom's path in every month of the run's second half" in captions
    assert (after["bust"] < after["boom"]).all()
    points = pd.read_csv(folder / "calibration_points.csv").set_index(["firm", "date"])
    ratio = points["model_to_data"]
    # "near the March 2025 round, the October 2025 secondary and the March 2026 round (within
    # a factor of 2 of each)"
    for date in ("2025-03", "2025-10", "2026-03"):
        assert 0.5 <= ratio["frontier-leader", date] <= 2.0
    cloud, vendor = ratio["hyperscaler-bbb"], ratio["vendor-leader"]
    late = cloud[[d for d in cloud.index if d >= "2025-09"]]
    # "from two fifths of the press figure in January 2025 to about a half to three quarters
    # of them in late 2025" (0.39, 0.46 and 0.76 at 0.64; 0.40, 0.48 and 0.85 at 0.61)
    assert 0.35 <= cloud["2025-01"] < 0.45
    assert (late >= 0.45).all() and (late < 0.8).all() and late.max() >= 0.7
    assert "to about a half to three quarters of them in late 2025" in captions
    # "three tenths to a half" (0.299-0.537 at 0.61; 0.325-0.537 at 0.58)
    assert (vendor >= 0.29).all() and (vendor < 0.55).all()
    assert "two fifths of the press figure" in captions and "three tenths to a half" in captions
