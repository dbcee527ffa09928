"""The valuations experiment's captions are true of what it builds (marked ``gallery``:
``pytest -m gallery -k valuations``)."""

from __future__ import annotations

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
    assert median.loc[:23, "boom"].max() > 1.0  # "exceeds 1 in the 2025–26 boom"
    after = median.loc[exp.params["months"] // 2 + 1 :]
    assert (after["bust"] < after["boom"]).all()  # "falls below the boom's path"
