"""Scenario validation: every field cited, bad input named with its allowed range."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.config import (
    CALIBRATION,
    ConfigError,
    Scenario,
    Section,
    agent_names,
    load_scenario,
    parameter_table,
)

from .conftest import BASELINE


def test_baseline_loads_with_named_archetypes(baseline: Scenario) -> None:
    assert baseline.run.start == "2025-01" and baseline.run.months == 120
    assert sum(s.count for s in baseline.labs) >= 5
    assert {s.archetype for s in baseline.clouds} == {"hyperscaler", "neocloud", "lease_vehicle"}
    assert {d.kind for d in baseline.deals} == {
        "capacity_commitment",
        "warrant",
        "strategic_equity",
        "compute_credit",
        "backstop",
        "lease_vehicle",
        "vendor_financing",
        "revenue_share",
    }
    assert len(baseline.chip_vendors) == 2
    assert len({s.archetype for s in baseline.investors}) >= 4


def test_every_parameter_has_unit_and_source() -> None:
    rows = parameter_table()
    assert len(rows) > 60
    for row in rows:
        if row["parameter"].endswith(".name") or row["parameter"].endswith(".archetype"):
            continue
        assert row["unit"], row
        assert row["source"], row
        assert (
            CALIBRATION in row["source"]
            or "estimate" in row["source"]
            or (
                "issue" in row["source"]
                or "DESIGN" in row["source"]
                or "scenario" in row["source"]
                or "×" in row["source"]
                or re.search(r"\b(19|20)\d\d\b", row["source"])  # a dated publication
            )
        ), row


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        (
            'regime = "boom"',
            "growth_start_per_month = 2.0",
            "demand.growth_start_per_month` is out of range: allowed >= -0.5 and <= 0.5",
        ),
        ('regime = "boom"', "noise = 1", "demand.noise` is not a known field"),
        ('regime = "boom"', 'regime = "crash"', "demand.regime"),
        ("months = 120", 'months = "ten"', "run.months"),
        ("optimism = 1.2", "optimism = -1", "labs.0.optimism` is out of range"),
    ],
)
def test_bad_fields_are_named(tmp_path: Path, old: str, new: str, needle: str) -> None:
    text = BASELINE.read_text()
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert needle in str(err.value)
    assert "Nothing was run or written" in str(err.value)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_scenario(tmp_path / "nope.toml")
    (tmp_path / "x.toml").write_text("[run\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_scenario(tmp_path / "x.toml")


def test_overrides_by_dotted_path(baseline: Scenario) -> None:
    s = baseline.with_overrides(
        {
            "demand.noise_sd": 0.1,
            "labs.frontier-leader.optimism": 2.0,
            "clouds.*.reserve_margin": 0.3,
        }
    )
    assert s.demand.noise_sd == 0.1
    assert s.labs[0].optimism == 2.0
    assert all(c.reserve_margin == 0.3 for c in s.clouds)
    with pytest.raises(ConfigError, match=r"unknown parameter path 'demand\.nois'"):
        baseline.with_overrides({"demand.nois": 0.1})
    with pytest.raises(ConfigError, match="no agent 'nobody'"):
        baseline.with_overrides({"labs.nobody.optimism": 1.0})
    with pytest.raises(ConfigError, match="out of range"):
        baseline.with_overrides({"demand.noise_sd": -1})


def test_cross_field_rule(baseline: Scenario) -> None:
    with pytest.raises(ConfigError, match="build_lag_months"):
        baseline.with_overrides(
            {"technology.build_lag_months": 3, "technology.delivery_lag_months": 6}
        )


def test_cli_bad_input_exit_2_no_traceback_nothing_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BASELINE.read_text().replace("partners_per_lab = 2", "partners_per_lab = 0"))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "network.partners_per_lab" in proc.stderr and ">= 1" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_scaled_world_repeats_agents_and_deals_between_the_copies(baseline) -> None:
    scaled = baseline.scaled(3)
    assert sum(s.count for s in scaled.labs) == 3 * sum(s.count for s in baseline.labs)
    assert len(scaled.deals) == 3 * len(baseline.deals)
    deal = baseline.deals[0]
    copies = [d for d in scaled.deals if d.name.startswith(f"{deal.name}-")]
    assert len(copies) == 3 and len({d.provider for d in copies}) == 3
    # each copy is the original world: its deals at their size, the demand grown with it
    assert all(d.amount_usd == deal.amount_usd for d in copies)
    assert scaled.demand.initial_revenue_usd_per_month == pytest.approx(
        3 * baseline.demand.initial_revenue_usd_per_month
    )
    assert scaled.outside.initial_gpus == pytest.approx(3 * baseline.outside.initial_gpus)
    assert baseline.scaled(1) == baseline


def test_a_scaled_world_behaves_like_copies_of_the_original() -> None:
    """Two copies of the small world side by side: twice the installed GPUs, and the spot
    price close to the original's (the copies shared one world's demand before, and the
    doubled capacity crashed the price)."""
    from sim.runner import simulate

    from .conftest import small_world

    world = small_world(**{"run.months": 12, "demand.noise_sd": 0.0})
    one, two = simulate(world, 1).tables["model"], simulate(world.scaled(2), 1).tables["model"]
    assert two["installed_gpus"].iloc[0] == pytest.approx(2 * one["installed_gpus"].iloc[0])
    ratio = two["spot_price_usd_per_gpu_hour"] / one["spot_price_usd_per_gpu_hour"]
    assert ratio.between(0.8, 1.25).all(), ratio.round(3).tolist()


def test_opening_debt_the_lenders_cannot_fund_is_refused() -> None:
    """Opening loans were once cut to the lender's cash without a word."""
    from sim.model import ComputeMarket

    from .conftest import small_world

    world = small_world(**{"clouds.neo.initial_debt_usd": 1e12})
    with pytest.raises(ConfigError, match=r"investors\.bank\.initial_cash_usd"):
        ComputeMarket(world, rng=1)
    ComputeMarket(small_world(), rng=1)  # the small world's $3B is lent in full


def test_a_capacity_commitment_names_a_cloud_provider_and_another_party() -> None:
    from .conftest import small_world

    deal = {"name": "c", "kind": "capacity_commitment", "provider": "lab-a", "receiver": "neo"}
    with pytest.raises(ValueError, match="provider 'lab-a' must name a Cloud"):
        Scenario.model_validate({**small_world().model_dump(), "deals": [deal]})
    same = {**deal, "provider": "neo"}
    with pytest.raises(ValueError, match="must differ from the provider"):
        Scenario.model_validate({**small_world().model_dump(), "deals": [same]})


def test_scaled_world_partners_each_lab_with_its_own_copy_of_its_named_partners(baseline) -> None:
    """A named partner once stood for all its copies, so at 10× a lab named 20 clouds (more
    than a lab may name) and the named network grew as the square of the world."""
    named = {s.name: s.partners for s in baseline.labs if s.partners}
    assert named  # the baseline names partners
    for factor in (2, 10, 20):
        scaled = baseline.scaled(factor)
        by_name = {s.name: s for s in scaled.labs}
        for lab, partners in named.items():
            for k in range(1, factor + 1):
                copy = by_name[f"{lab}-{k}"]
                assert copy.count == 1
                assert copy.partners == tuple(f"{p}-{k}" for p in partners)
        shares = [s.demand_share / s.count for s in scaled.labs]
        original = [s.demand_share / s.count for s in baseline.labs]
        assert sum(s.demand_share for s in scaled.labs) == pytest.approx(
            sum(s.demand_share for s in baseline.labs)
        )
        assert sorted(set(round(x * factor, 12) for x in shares)) == sorted(
            set(round(x, 12) for x in original)
        )


def _sections(section: Section) -> Iterator[Section]:
    """``section`` and every section in it."""
    yield section
    for value in section.__dict__.values():
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, Section):
                yield from _sections(item)


def test_a_pickled_scenario_reads_its_fields_as_a_loaded_one(baseline: Scenario) -> None:
    # a worker process receives its scenario pickled: it must equal the original, and every
    # section's field names must be the interned names (pydantic's own unpickling keyed them
    # by new copies, and a run with such a scenario executed 5% more instructions)
    swept = baseline.with_overrides({"demand.noise_sd": 0.2, "labs.*.optimism": 1.2})
    for scenario in (baseline, swept):
        copy = pickle.loads(pickle.dumps(scenario))
        assert copy == scenario and type(copy) is Scenario
        sections = list(_sections(copy))
        assert len(sections) > 30  # every lab, cloud, vendor, investor and deal
        for section in sections:
            names = list(section.__dict__)
            assert names == list(type(section).model_fields)
            assert all(name is sys.intern(name) for name in names), type(section).__name__


def test_agent_names_are_interned() -> None:
    # one object per name (the books, indices and memos are keyed by them): a new string of
    # the same text interns to the very object agent_names returned
    for base, count in (("frontier-leader", 1), ("neocloud", 3)):
        for name in agent_names(base, count):
            assert sys.intern("".join(list(name))) is name
