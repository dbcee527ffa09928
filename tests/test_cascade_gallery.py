"""The cascade experiment's captions against the data it draws (marked ``gallery``: it
builds the experiment, ~20 runs of 72 months; ``pytest -m gallery -k cascade``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.ensemble import derive_seeds
from sim.gallery import BuildContext, build_one, discover
from sim.phases.resolve import CONTAGION_LOSSES

from .conftest import ROOT

# experiments/cascade.py's PARAMS (checked below)
PARAMS = {"base_seed": 2026, "seeds": 10, "shock.lab": "frontier-leader", "shock.month": 12}


@pytest.fixture(scope="module")
def cascade_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exp = {e.name: e for e in discover(ROOT / "experiments")}["cascade"]
    assert {k: exp.params[k] for k in PARAMS} == PARAMS
    out = tmp_path_factory.mktemp("cascade")
    state, _, tb = build_one(exp, out, ROOT / "experiments", BuildContext(workers=2), force=True)
    assert state != "failed", tb
    return out / "cascade"


@pytest.mark.gallery
def test_later_round_defaults_follow_a_loss_from_an_earlier_round(cascade_build: Path) -> None:
    """Caption of timeline_without_rescues.png and the description: every default in a
    round ≥ 2 has a strictly positive loss from an earlier-round defaulter of its month, in
    every seed, with and without rescues; every default has a cause."""
    events = pd.read_parquet(cascade_build / "events.parquet")
    for (_, _), ev in events.groupby(["rescues_enabled", "seed"]):
        defaults = ev[ev["event"].str.startswith("default")]
        assert (defaults["instrument"] != "").all()
        first = defaults.groupby(["step", "defaulter"])["round"].min()
        losses = ev[ev["event"].isin(CONTAGION_LOSSES) & (ev["amount_lost"] > 0)]
        for (step, party), round_ in first.items():
            if round_ < 2:
                continue
            mine = losses[(losses["step"] == step) & (losses["creditor"] == party)]
            earlier = [first.get((step, s), round_) < round_ for s in mine["defaulter"]]
            assert mine.loc[earlier, "amount_lost"].sum() > 0, (step, party, round_)


@pytest.mark.gallery
def test_rescues_lower_defaults_in_1_seed_raise_them_in_1_and_leave_8(
    cascade_build: Path,
) -> None:
    """Caption of timeline_with_rescues.png: "over the 10 seeds [rescues] lower the count of
    defaults in 1, raise it in 1 and leave it in 8 ... Partners keep the leading lab alive in
    3 of the 7 seeds where it defaults without rescues" (MODEL_VERSION 0.64, 85% shortfall;
    with 80% none, 4 and 6; 3, 2 and 5 at 0.61; 2, 4 and 4 at 0.58;
    2, 3 and 5 at 0.54;
    2, 4 and 4 at 0.49;
    at 0.44 they lowered
    it in 4 and raised it in 2; at 0.37 they raised
    it in 6 and lowered it in none; at 0.31, before the flight to quality and committed capex
    credit, they lowered it in 3 and raised it in 4; at 0.17 they never raised it in the seed
    shown)."""
    summary = pd.read_csv(cascade_build / "summary.csv")
    seeds = derive_seeds(PARAMS["base_seed"], PARAMS["seeds"])
    by = summary.pivot(index="seed", columns="rescues_enabled", values="defaults").loc[seeds]
    lower, higher = (by[True] < by[False]).sum(), (by[True] > by[False]).sum()
    assert (lower, higher, len(seeds) - lower - higher) == (1, 1, 8)
    events = pd.read_parquet(cascade_build / "events.parquet")
    leader = events[
        events["event"].str.startswith("default") & (events["defaulter"] == PARAMS["shock.lab"])
    ]
    without = set(leader.loc[~leader["rescues_enabled"], "seed"])
    kept_alive = without - set(leader.loc[leader["rescues_enabled"], "seed"])
    assert (len(kept_alive), len(without)) == (3, 7)


@pytest.mark.gallery
def test_a_rescued_leader_starves_the_small_labs_in_most_seeds(cascade_build: Path) -> None:
    """Caption of timeline_with_rescues.png: in more than half of the seeds where a partner
    rescues the leading lab, more small labs (every lab but the two largest) default with
    rescues than without (MODEL_VERSION 0.36: 6 of the 7 seeds with a rescued leader;
    0.37: 6 of 6)."""
    events = pd.read_parquet(cascade_build / "events.parquet")
    small = ("follower", "frontier-third")
    defaults = events[
        events["event"].str.startswith("default") & events["defaulter"].str.startswith(small)
    ]
    count = defaults.groupby(["seed", "rescues_enabled"]).size()
    rescued = events[(events["event"] == "rescue") & (events["defaulter"] == PARAMS["shock.lab"])]
    seeds = sorted(set(rescued["seed"]))
    assert seeds, "no seed rescues the leading lab"
    worse = [s for s in seeds if count.get((s, True), 0) > count.get((s, False), 0)]
    assert len(worse) > len(seeds) / 2, (worse, seeds)


@pytest.mark.gallery
def test_every_rescue_is_an_injection_by_another_party(cascade_build: Path) -> None:
    """Caption of timeline_with_rescues.png: every rescue row is a positive equity
    injection by a party other than the one rescued, and none appears without rescues."""
    events = pd.read_parquet(cascade_build / "events.parquet")
    rescues = events[events["event"] == "rescue"]
    assert not rescues["rescues_enabled"].eq(False).any()
    assert (rescues["amount_lost"] > 0).all()
    assert (rescues["creditor"] != rescues["defaulter"]).all()


@pytest.fixture(scope="module")
def sweeps_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exp = {e.name: e for e in discover(ROOT / "experiments")}["sweeps"]
    out = tmp_path_factory.mktemp("sweeps")
    state, _, tb = build_one(exp, out, ROOT / "experiments", BuildContext(workers=2), force=True)
    assert state != "failed", tb
    return out / "sweeps"


@pytest.mark.gallery
@pytest.mark.slow
def test_phase_and_connectivity_captions_hold(sweeps_build: Path) -> None:
    """The captions of phase_probability.png, phase_diagram.png, phase_losses.png and
    connectivity.png against the runs they draw (experiments/sweeps.py's phase_claims and
    connectivity_claims). Builds all three sweeps (~370 runs):
    ``pytest -m gallery -k captions_hold``."""
    import sys

    sys.path.insert(0, str(ROOT / "experiments"))
    import sweeps  # experiments/sweeps.py

    phase = pd.read_csv(sweeps_build / "phase_runs.csv")
    conn = pd.read_csv(sweeps_build / "connectivity_runs.csv")
    for claim, holds in {**sweeps.phase_claims(phase), **sweeps.connectivity_claims(conn)}.items():
        assert holds, claim


@pytest.mark.gallery
def test_the_leader_defaults_in_7_of_10_seeds_as_the_description_says(
    cascade_build: Path,
) -> None:
    """The description: "the leading lab defaults without rescues in 7 of the 10 seeds,
    seven to nine months after the shock ... the clouds that sold it take-or-pay capacity
    bear losses from its default" (MODEL_VERSION 0.64, 85% shortfall: months 19-21; with
    80%, 4 of 10; 0.54: 9 of 10, months 17-19; 0.49: months 18-19; about eight months at
    0.31-0.44)."""
    events = pd.read_parquet(cascade_build / "events.parquet")
    ev = events[~events["rescues_enabled"]]
    leader = ev[ev["event"].str.startswith("default") & (ev["defaulter"] == PARAMS["shock.lab"])]
    months = leader.groupby("seed")["step"].min()
    assert len(months) == 7, months
    after = months - PARAMS["shock.month"]
    assert (after.min(), after.max()) == (7, 9), months
    losses = ev[ev["event"].isin(CONTAGION_LOSSES) & (ev["amount_lost"] > 0)]
    from_leader = losses[losses["defaulter"] == PARAMS["shock.lab"]]
    assert set(from_leader["seed"]) >= set(months.index)
    assert from_leader["creditor"].str.contains("cloud|hyperscaler").any()
