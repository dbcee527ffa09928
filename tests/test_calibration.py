"""The calibration report (issue 12): targets, measures, the report and its ratchet."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import calibration as cal
from sim.calibration import (
    Target,
    calibration_report,
    check_targets,
    format_report,
    in_range_count,
    load_targets,
    plan_calibration,
    run_calibration,
)
from sim.cli import main
from sim.config import ConfigError, parse_settings
from sim.results_store import ResultsStore
from sim.runner import simulate
from sim.sweep import InlineExecutor

from .conftest import ROOT

RATCHET = ROOT / "experiments" / "calibration" / "ratchet.toml"


# ------------------------------------------------------------------------ the ratchet
def test_calibration_never_falls_below_the_ratchet_and_resumes(baseline, tmp_path: Path) -> None:
    """The baseline keeps at least the recorded number of targets in range; the runs go
    through the sweep engine, and a longer report reuses the runs of a shorter one."""
    ratchet = tomllib.loads(RATCHET.read_text())
    seeds = int(ratchet["seeds"])
    targets = load_targets()
    store = ResultsStore(tmp_path / "runs")
    first = plan_calibration(baseline, targets, seeds - 1)
    run_calibration(first, store, InlineExecutor(), progress=False)
    full = plan_calibration(baseline, targets, seeds)
    outcome = run_calibration(full, store, InlineExecutor(), progress=False)
    assert (outcome.sweep.skipped, outcome.sweep.done) == (seeds - 1, 1)
    assert list(outcome.values["seed"]) == list(range(1, seeds + 1))
    report = outcome.report
    assert len(report) == len(targets) and (report["seeds"] == seeds).all()
    count = in_range_count(report)
    assert count >= ratchet["in_range"], (
        f"calibration fell: {count} targets in range, the ratchet records "
        f"{ratchet['in_range']}\n{format_report(report)}"
    )


def test_targets_file_covers_every_layer(baseline) -> None:
    targets = load_targets()
    assert len(targets) >= 25
    measures = {t.measure for t in targets}
    assert {"revenue", "cash_burn", "valuation", "commitments", "run_rate_share"} <= measures
    assert {"capex", "backlog", "debt", "cloud_revenue", "buyer_share"} <= measures
    assert {"vendor_gross_margin", "lead_time", "spot_price", "gpus_used"} <= measures
    assert check_targets(targets, baseline) == 36  # the last target is December 2027


# ------------------------------------------------------------------------ measures
def hand_made() -> dict[str, pd.DataFrame]:
    """Two months of a tiny world: a lab, a cloud, a vendor."""
    agents = pd.DataFrame(
        [
            # step, agent, type, revenue, valuation, gpus_used, debt, retained, units, served
            (0, "lab", "Lab", 1e9, 100e9, 1000, 0, -1e9, np.nan, 400),
            (1, "lab", "Lab", 2e9, 150e9, 2000, 0, -3e9, np.nan, 1000),
            (0, "rival", "Lab", 3e9, 50e9, 500, 0, 0, np.nan, 500),
            (1, "rival", "Lab", 2e9, 60e9, 500, 0, 0, np.nan, 500),
            (0, "cloud", "Cloud", np.nan, np.nan, 800, 10e9, 1e9, np.nan, np.nan),
            (1, "cloud", "Cloud", np.nan, np.nan, 900, 20e9, 2.5e9, np.nan, np.nan),
            (0, "chips", "ChipVendor", 4e9, np.nan, np.nan, 0, 0, 100.0, np.nan),
            (1, "chips", "ChipVendor", 6e9, np.nan, np.nan, 0, 0, 150.0, np.nan),
        ],
        columns=[
            "step",
            "agent_id",
            "agent_type",
            "revenue_usd",
            "valuation_usd",
            "gpus_used",
            "debt_usd",
            "retained_usd",
            "units_delivered",
            "gpus_served",
        ],
    )
    ledger_cols = ["step", "payer", "payee", "amount", "kind"]
    flows = pd.DataFrame(
        [
            (0, "world:customers", "lab", 1e9, "service_revenue"),
            (0, "lab", "cloud", 3e9, "compute_payment"),
            (0, "vc", "lab", 10e9, "equity_investment"),  # financing: not burn
            (1, "bank", "cloud", 7e9, "loan_advance"),
            (1, "cloud", "world:contractors", 2e9, "facility_capex"),
            (1, "cloud", "world:contractors", 1e9, "other_business_capex"),  # capex, too
            (1, "chips", "world:foundries", 2.5e9, "cost_of_goods"),
        ],
        columns=ledger_cols,
    )
    accruals = pd.DataFrame(
        [
            (0, "lab", "cloud", 3e9, "compute_due"),
            (1, "rival", "cloud", 1e9, "compute_due"),
            (1, "lab", "cloud", 0.5e9, "prepayment_used"),
            (1, "cloud", "chips", 6e9, "chip_invoice_due"),
            (0, "cloud", "bank", 0.1e9, "interest_due"),
            (1, "cloud", "bank", 0.2e9, "interest_due"),
        ],
        columns=ledger_cols,
    )
    model = pd.DataFrame(
        {
            "step": [0, 1],
            "spot_price_usd_per_gpu_hour": [2.0, 3.0],
            "gpus_on_order": [600.0, 900.0],
            "chip_deliveries_gpus": [100.0, 200.0],
        }
    )
    exposures = pd.DataFrame(
        [(1, "cloud", "lab", 0.0, 40e9, 40e9), (1, "cloud", "rival", 5e9, 2e9, 7e9)],
        columns=["step", "creditor", "debtor", "balance_sheet_usd", "backlog_usd", "amount"],
    )
    return {
        "agents": agents,
        "flows": flows,
        "accruals": accruals,
        "model": model,
        "exposures": exposures,
    }


@pytest.mark.parametrize(
    ("measure", "agents", "of", "first", "last", "expected"),
    [
        ("revenue", ["lab"], [], 0, 1, 3e9),
        ("revenue", ["lab", "rival"], [], 1, 1, 4e9),
        ("run_rate", ["lab"], [], 1, 1, 24e9),
        ("run_rate_share", ["lab"], ["lab", "rival"], 1, 1, 0.5),
        ("revenue_share", ["chips"], ["chips"], 0, 1, 1.0),
        ("valuation", ["lab"], [], 0, 0, 100e9),
        ("cloud_revenue", ["cloud"], [], 0, 1, 4.5e9),  # billed and drawn from prepayment
        ("buyer_share", ["cloud"], ["lab"], 0, 1, 3.5e9 / 4.5e9),
        ("lab_gross_margin", ["lab"], [], 0, 1, 1 - 3.5e9 / 3e9),
        # month 0: $3B billed, 400 of 1000 GPUs served; month 1: $0.5B, 1000 of 2000
        ("lab_serving_margin", ["lab"], [], 0, 1, 1 - (3e9 * 0.4 + 0.5e9 * 0.5) / 3e9),
        ("vendor_gross_margin", ["chips"], [], 0, 1, 1 - 2.5e9 / 10e9),
        ("cash_burn", ["lab"], [], 0, 1, 3e9 - 1e9),  # the equity raised is not income
        ("net_income", ["cloud"], [], 0, 1, 2.5e9),  # from zero before the run
        ("net_income", ["cloud"], [], 1, 1, 1.5e9),
        ("debt", ["cloud"], [], 1, 1, 20e9),
        ("borrowing", ["cloud"], [], 0, 1, 7e9),
        ("interest_rate", ["cloud"], [], 0, 1, 0.3e9 * 12 / 2 / 15e9),
        ("commitments", ["lab"], [], 1, 1, 40e9),
        ("backlog", ["cloud"], [], 1, 1, 42e9),
        ("capex", ["cloud"], [], 0, 1, 9e9),
        ("units_delivered", ["chips"], [], 0, 1, 250.0),
        ("gpus_used", ["lab", "rival"], [], 0, 0, 1500.0),
        ("spot_price", [], [], 1, 1, 3.0),
        ("price_change", [], [], 0, 1, 1.5),
        ("lead_time", [], [], 0, 1, 750.0 / 150.0),
    ],
)
def test_measure_on_hand_made_tables(measure, agents, of, first, last, expected) -> None:
    value = cal.MEASURES[measure].fn(hand_made(), agents, of, first, last)
    assert value == pytest.approx(expected, rel=1e-12)


def test_missing_data_gives_nan_not_a_number() -> None:
    tables = hand_made()
    assert math.isnan(cal.commitments(tables, ["lab"], [], 0, 0))  # no snapshot that month
    assert math.isnan(cal.valuation(tables, ["lab"], [], 5, 5))  # after the run
    assert math.isnan(cal.interest_rate(tables, ["lab"], [], 0, 1))  # no debt
    report = calibration_report([target()], pd.DataFrame({"x": [math.nan, math.nan]}))
    assert not report["in_range"].iloc[0] and math.isnan(report["median"].iloc[0])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 1e12), min_size=2, max_size=6).filter(lambda r: sum(r) > 1))
def test_revenue_shares_of_a_group_add_up_to_one(revenues: list[float]) -> None:
    names = [f"lab-{k}" for k in range(len(revenues))]
    agents = pd.DataFrame(
        {"step": 0, "agent_id": names, "agent_type": "Lab", "revenue_usd": revenues}
    )
    tables = {"agents": agents}
    shares = [cal.revenue_share(tables, [n], names, 0, 0) for n in names]
    assert sum(shares) == pytest.approx(1.0)
    assert all(0.0 <= s <= 1.0 for s in shares)


def test_measures_agree_with_the_run_summary(baseline) -> None:
    """Over a whole run and every cloud, the measures give the runner's own totals."""
    result = simulate(baseline, 4, 14)
    tables = result.tables
    clouds = list(tables["agents"].query("agent_type == 'Cloud'")["agent_id"].unique())
    vendors = list(tables["agents"].query("agent_type == 'ChipVendor'")["agent_id"].unique())
    labs = list(tables["agents"].query("agent_type == 'Lab'")["agent_id"].unique())
    # the calibration's capex also counts the hyperscalers' capex outside AI compute
    flows = tables["flows"]
    other = flows.loc[flows["kind"] == "other_business_capex", "amount"].sum()
    assert other > 0
    assert cal.capex(tables, clouds, [], 0, 13) == pytest.approx(
        result.summary["capex_usd"] + other
    )
    assert cal.cloud_revenue(tables, clouds, [], 0, 13) == pytest.approx(
        result.summary["cloud_revenue_usd"]
    )
    assert cal.revenue(tables, vendors, [], 0, 13) == pytest.approx(
        result.summary["vendor_revenue_usd"]
    )
    assert cal.revenue(tables, labs, [], 0, 13) == pytest.approx(result.summary["lab_revenue_usd"])


def test_report_median_interval_and_ratio() -> None:
    t = target(value=10.0, low=8.0, high=12.0)
    values = pd.DataFrame({"seed": range(1, 6), "x": [7.0, 9.0, 11.0, 13.0, 10.0]})
    row = calibration_report([t], values).iloc[0]
    assert row["median"] == 10.0 and row["in_range"] and row["ratio"] == 1.0
    assert row["p05"] == pytest.approx(np.quantile([7, 9, 10, 11, 13], 0.05))
    low = calibration_report([t], values.assign(x=values["x"] - 5)).iloc[0]
    assert not low["in_range"] and low["ratio"] == pytest.approx(0.5)


# ------------------------------------------------------------------------ validation
def target(**changes) -> Target:
    fields = {
        "id": "x",
        "quantity": "a lab's revenue",
        "measure": "revenue",
        "agents": ["frontier-leader"],
        "from": "2025-01",
        "to": "2025-12",
        "value": 10.0,
        "low": 8.0,
        "high": 12.0,
        "unit": "USD billion",
        "source": "Labs / OpenAI revenue",
    }
    fields.update(changes)
    return Target.model_validate({k: v for k, v in fields.items() if v is not None})


def write_targets(path: Path, **changes) -> Path:
    rows = {
        "id": '"x"',
        "quantity": '"q"',
        "measure": '"revenue"',
        "agents": '["frontier-leader"]',
        "from": '"2025-01"',
        "to": '"2025-12"',
        "value": "10.0",
        "low": "8.0",
        "high": "12.0",
        "unit": '"USD billion"',
        "source": '"Labs / OpenAI revenue"',
    }
    rows.update(changes)
    body = "\n".join(f"{k} = {v}" for k, v in rows.items() if v is not None)
    path.write_text(f"[[targets]]\n{body}\n")
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"measure": '"revenues"'}, "measure 'revenues' is unknown; allowed:"),
        ({"unit": '"USD"'}, "unit 'USD' is unknown"),
        ({"unit": '"percent"'}, "unit 'percent' does not fit measure 'revenue'; use USD billion"),
        ({"value": "20.0"}, "the range must hold the value"),
        ({"to": '"2024-12"'}, "`to` (2024-12) is before `from` (2025-01)"),
        ({"from": None, "to": None, "date": '"2025-06"'}, "give `from` and `to`"),
        ({"agents": "[]"}, "measure 'revenue' needs `agents`"),
        ({"date": '"2025-13"'}, "field `date`"),
        ({"low": None}, "field `low` is required but missing"),
        ({"lo": "1.0"}, "field `lo` is not a known field"),
    ],
)
def test_bad_targets_are_refused_with_the_target_and_field(
    tmp_path: Path, changes: dict, message: str
) -> None:
    path = write_targets(tmp_path / "t.toml", **changes)
    with pytest.raises(ConfigError) as err:
        load_targets(path)
    text = str(err.value)
    assert message in text and "target 0 (id 'x')" in text
    assert text.endswith("Nothing was run or written.")


def test_duplicate_ids_missing_file_and_bad_toml(tmp_path: Path) -> None:
    path = write_targets(tmp_path / "t.toml")
    path.write_text(path.read_text() * 2)
    with pytest.raises(ConfigError, match="target id 'x' appears twice"):
        load_targets(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_targets(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("[[targets]\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_targets(tmp_path / "bad.toml")


def test_targets_must_fit_the_scenario(baseline) -> None:
    with pytest.raises(ConfigError, match=r"agent\(s\) openai are not in scenario 'baseline'"):
        check_targets([target(agents=["openai"])], baseline)
    with pytest.raises(ConfigError, match="2024-10 is before the run starts"):
        check_targets([target(**{"from": "2024-10"})], baseline)
    with pytest.raises(ConfigError, match="--seeds must be between 1 and 10000"):
        plan_calibration(baseline, [target()], 0)


# ------------------------------------------------------------------------ the command
def test_calibrate_command_prints_the_table_and_writes_csv(tmp_path: Path, capsys) -> None:
    targets = write_targets(tmp_path / "t.toml")
    out, csv = tmp_path / "out", tmp_path / "report.csv"
    args = ["calibrate", "--seeds", "1", "--targets", str(targets), "--engine", "serial"]
    code = main([*args, "--out", str(out), "--csv", str(csv), "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "8–12" in printed and "targets in range (model median over 1 seeds)" in printed
    report = pd.read_csv(csv)
    assert list(report["id"]) == ["x"] and report["seeds"].iloc[0] == 1
    assert (out / "report.csv").is_file() and any((out / "runs").glob("*.parquet"))


def test_calibrate_bad_input_exits_2_and_writes_nothing(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["calibrate", "--seeds", "0", "--out", str(out)]) == 2
    assert "--seeds must be between 1 and 10000" in capsys.readouterr().err
    bad = write_targets(tmp_path / "t.toml", unit='"USD"')
    assert main(["calibrate", "--targets", str(bad), "--out", str(out)]) == 2
    assert "unit 'USD' is unknown" in capsys.readouterr().err
    assert not out.exists()


def test_calibrate_set_changes_the_world_and_never_reuses_another_variants_runs(
    tmp_path: Path, capsys, baseline
) -> None:
    """``--set PATH=VALUE`` calibrates a variant of the scenario: its runs have their own ids
    (a variant never reads the plain world's runs from the same --out), the plan records
    the setting, and a bad path or value exits 2 having written nothing."""
    targets = load_targets()
    plain = plan_calibration(baseline, targets, 2)
    variant_world = baseline.with_overrides({"investment.opening_pipeline_install_months": 4})
    settings = {"investment.opening_pipeline_install_months": 4}
    variant = plan_calibration(variant_world, targets, 2, settings=settings)
    assert not set(plain.run_ids) & set(variant.run_ids)
    assert '"investment.opening_pipeline_install_months" = 4' in variant.sweep.text
    assert variant.sweep.tasks[0].scenario.investment.opening_pipeline_install_months == 4
    out = tmp_path / "out"
    assert main(["calibrate", "--set", "investment.nope=3", "--out", str(out)]) == 2
    assert "unknown parameter path 'investment.nope'" in capsys.readouterr().err
    bad = "investment.opening_pipeline_install_months=40"
    assert main(["calibrate", "--set", bad, "--out", str(out)]) == 2
    assert "allowed >= 0 and <= 36" in capsys.readouterr().err
    assert main(["calibrate", "--set", "novalue", "--out", str(out)]) == 2
    assert "--set takes PATH=VALUE" in capsys.readouterr().err
    fit = str(ROOT / "experiments" / "calibration" / "fit.toml")
    assert main(["calibrate", "--fit", fit, "--set", bad, "--out", str(out)]) == 2
    assert "--set cannot be used with --fit" in capsys.readouterr().err
    assert not out.exists()


def test_parse_settings_reads_toml_values_and_bare_strings() -> None:
    got = parse_settings(["a.b=2", "a.c=0.5", "a.d=true", "a.e=[1, 2]", "a.f=pro_rata", 'g="x y"'])
    assert got == {"a.b": 2, "a.c": 0.5, "a.d": True, "a.e": [1, 2], "a.f": "pro_rata", "g": "x y"}
    with pytest.raises(ConfigError, match="--set takes PATH=VALUE"):
        parse_settings(["=3"])


def test_snapshot_months_added_for_the_measures_do_not_move_the_run(baseline) -> None:
    """The calibration asks for contract-backlog snapshots in more months (for backlog and
    commitments); that only records, it changes no table of the run."""
    targets = load_targets()
    task = plan_calibration(baseline, targets, 1).sweep.tasks[0]
    assert set(cal.snapshot_months(targets, "2025-01")) <= set(
        task.scenario.cascade.debtrank_months
    )
    plain, calibrated = simulate(baseline, 2, 15), simulate(task.scenario, 2, 15)
    for name in ("model", "agents", "flows", "accruals", "events"):
        pd.testing.assert_frame_equal(plain.tables[name], calibrated.tables[name])
    assert len(calibrated.tables["exposures"]) > len(plain.tables["exposures"])


def test_each_layers_revenue_splits_into_organic_and_round_trip() -> None:
    """The organic-revenue table beside the targets (issue 18): per layer and year, reported
    revenue, its round-trip part (never more than reported) and organic = the difference;
    zero round trip without deals."""
    from sim.calibration import layer_revenue, organic_report
    from sim.runner import simulate

    from .conftest import small_world

    with_deals = layer_revenue(simulate(small_world(deals=True), 1, 24).tables)
    without = layer_revenue(simulate(small_world(), 1, 24).tables)
    for layer in ("labs", "clouds", "vendors"):
        for year in (0, 1):
            key = f"organic:{layer}:{year}"
            assert 0 <= with_deals[f"{key}:round_trip"] <= with_deals[f"{key}:reported"] + 1e-6
            assert without[f"{key}:round_trip"] == 0.0
    # A lab's round trip is its own capital coming back from an enterprise joint venture it
    # funds (issue 15: the JV buys the lab's services); without that deal labs sell to end
    # users only.
    jv_world = small_world(deals=True)
    no_jv = jv_world.model_copy(
        update={"deals": [d for d in jv_world.deals if d.kind != "enterprise_jv"]}
    )
    assert layer_revenue(simulate(no_jv, 1, 24).tables)["organic:labs:0:round_trip"] == 0.0
    flows = simulate(jv_world, 1, 24).tables["flows"]
    vehicles = {d.vehicle for d in jv_world.deals if d.kind == "enterprise_jv"}
    lab_capital = flows[flows["payee"].isin(vehicles) & flows["payer"].str.startswith("lab")]
    lab_trip = with_deals["organic:labs:0:round_trip"] + with_deals["organic:labs:1:round_trip"]
    assert 0 < lab_trip <= lab_capital["amount"].sum() + 1e-6
    assert with_deals["organic:clouds:0:reported"] > 0
    table = organic_report(pd.DataFrame([with_deals, without]), "2025-01")
    assert set(table["layer"]) == {"labs", "clouds", "vendors"} and set(table["year"]) == {
        2025,
        2026,
    }
    assert (table["organic_usd_bn"] >= 0).all()
    assert (table["organic_usd_bn"] <= table["reported_usd_bn"] + 1e-9).all()
    clouds = table[(table["layer"] == "clouds") & (table["year"] == 2025)].iloc[0]
    share = with_deals["organic:clouds:0:round_trip"] / with_deals["organic:clouds:0:reported"]
    assert clouds["round_trip_share"] == pytest.approx(share / 2)  # median of (share, 0)
