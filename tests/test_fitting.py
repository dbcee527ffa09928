"""The calibration fit (issue 17): the selector, the distance, a small fit that lowers the
distance, resuming after an interruption, the record and scenario it writes, bad input."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import tomllib
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.calibration import Target, load_targets
from sim.cli import main
from sim.config import ConfigError, load_scenario
from sim.fitting import (
    MAX_GAP,
    distance,
    evaluate,
    fitted_scenario_text,
    load_fit,
    run_fit,
    screen_verdicts,
    select_targets,
    target_gap,
    unit_to_params,
)
from sim.runner import simulate
from sim.sweep import InlineExecutor

from .conftest import ROOT, SWEEP_FIXTURES

SMALL = SWEEP_FIXTURES / "small.toml"


# ------------------------------------------------------------------------ the selector
def test_a_year_picks_the_targets_whose_last_month_is_in_it() -> None:
    targets = load_targets()
    picked = select_targets(targets, "2025")
    assert picked and all(t.months[1].startswith("2025") for t in picked)
    assert {t.id for t in targets if t.months[1].startswith("2025")} == {t.id for t in picked}
    # a fiscal year ending in January 2026 is a 2026 figure
    assert "vendor-leader-revenue-fy26" not in {t.id for t in picked}
    assert [t.id for t in select_targets(targets, "..2025-03")] == [
        t.id for t in targets if t.months[1] <= "2025-03"
    ]


def test_globs_and_exclusions_combine() -> None:
    targets = load_targets()
    picked = {t.id for t in select_targets(targets, "2025,-oracle-*,-coreweave-*")}
    assert picked and not any(i.startswith(("oracle-", "coreweave-")) for i in picked)
    leader = {t.id for t in select_targets(targets, "leader-*")}
    assert leader == {t.id for t in targets if t.id.startswith("leader-")}
    assert {t.id for t in select_targets(targets, "")} == {t.id for t in targets}


@pytest.mark.parametrize("selector", ["2031", "no-such-*", "2025,-nothing-*", "leader-*,-leader-*"])
def test_a_selector_that_picks_nothing_or_has_a_dead_term_is_refused(selector: str) -> None:
    with pytest.raises(ConfigError, match="selector"):
        select_targets(load_targets(), selector)


# ------------------------------------------------------------------------ the distance
def target(low: float, value: float, high: float) -> Target:
    return Target.model_validate(
        {
            "id": "t",
            "quantity": "q",
            "measure": "revenue",
            "agents": ["a"],
            "from": "2025-01",
            "to": "2025-06",
            "value": value,
            "low": low,
            "high": high,
            "unit": "USD billion",
            "source": "test",
        }
    )


@pytest.mark.parametrize(
    ("low", "value", "high", "median", "gap"),
    [
        (10, 15, 20, 15, 0.0),  # in range
        (10, 15, 20, 20, 0.0),  # on the edge
        (10, 15, 20, 40, 2.0),  # a factor 2 above: log 2 / (½ log 2)
        (10, 15, 20, 5, 2.0),  # a factor 2 below
        (-1.8, -1.2, -0.6, -3.0, 2.0),  # a negative range: linear, 1.2 below ÷ half-range 0.6
        (-1.8, -1.2, -0.6, 0.6, 2.0),
        (10, 15, 20, -1.0, MAX_GAP),  # wrong sign for a positive range
        (10, 15, 20, math.nan, MAX_GAP),  # not measured
        (10, 15, 20, 1e9, MAX_GAP),  # capped
    ],
)
def test_gap_in_half_ranges(low, value, high, median, gap) -> None:
    assert target_gap(target(low, value, high), median) == pytest.approx(gap)


@given(st.floats(0.01, 100), st.floats(1.01, 10), st.floats(1.0, 50))
def test_gap_grows_with_the_distance_from_the_range(low, width, factor) -> None:
    t = target(low, low, low * width)
    assert target_gap(t, low * width * factor) >= target_gap(t, low * width * math.sqrt(factor))
    assert target_gap(t, low / factor) >= target_gap(t, low / math.sqrt(factor))


def test_the_distance_is_the_weighted_mean_loss_of_the_gaps() -> None:
    a, b = target(10, 15, 20).model_copy(update={"id": "a"}), target(10, 15, 20)
    b = b.model_copy(update={"id": "b"})
    report = pd.DataFrame({"id": ["a", "b"], "median": [40.0, 15.0]})  # gaps 2 and 0

    def weights(i: str) -> float:
        return 3.0 if i == "a" else 1.0

    assert distance([a, b], report, lambda i: 1.0) == pytest.approx(4.0 / 2)
    assert distance([a, b], report, weights) == pytest.approx(3 * 4.0 / 4)
    assert distance([a, b], report, weights, "cauchy") == pytest.approx(3 * math.log(5) / 4)


# ------------------------------------------------------------------------ a tiny fit
OPEX = "labs.*.other_opex_share_of_revenue"


def tiny_fit(
    tmp_path: Path, *, trials: int = 6, seeds: int = 1, high: float = 1.5, extra: str = ""
) -> Path:
    """A fit of the small world's labs' other costs to lab-a's burn in Q1 2025, recorded as
    what an other-cost share of 1.0 gives (the small world has 0.3): the fit must find it. The
    spot price of June 2025 is a target the fit does not see (out of sample)."""
    world = load_scenario(SMALL).with_overrides({OPEX: 1.0})
    t = {
        "id": "burn-q1",
        "quantity": "lab-a's cash burn, Q1 2025",
        "measure": "cash_burn",
        "agents": ["lab-a"],
        "from": "2025-01",
        "to": "2025-03",
        "value": 1.0,
        "low": 1.0,
        "high": 1.0,
        "unit": "USD billion",
        "source": "test",
    }
    recorded = Target.model_validate(t).measure_on(simulate(world, 1, 3).tables, "2025-01")
    assert recorded > 0.05  # a burn, in USD billion
    targets = tmp_path / "targets.toml"
    lines = [
        "[[targets]]",
        *(f"{k} = {json.dumps(v)}" for k, v in t.items() if k not in ("value", "low", "high")),
        f"value = {recorded}",
        f"low = {recorded * 0.9}",
        f"high = {recorded * 1.1}",
        "[[targets]]",
        'id = "price-2025-06"',
        'quantity = "spot price, June 2025 (held out)"',
        'measure = "spot_price"',
        'date = "2025-06"',
        "value = 2.5",
        "low = 0.1",
        "high = 10",
        'unit = "USD per GPU-hour"',
        'source = "test"',
    ]
    targets.write_text("\n".join(lines) + "\n")
    fit = tmp_path / "fit.toml"
    fit.write_text(
        f"""
[fit]
name = "tiny"
scenario = "{SMALL.as_posix()}"
targets = "targets.toml"
select = "..2025-03"
seeds = {seeds}
trials = {trials}
sampler = "tpe"
check_seeds = 1
{extra}
[[parameters]]
path = "{OPEX}"
low = 0.1
high = {high}

[[parameters]]
path = "market.price_adjustment_speed"
low = 0.1
high = 1.0
scale = "log"
"""
    )
    return fit


def test_a_small_fit_lowers_the_distance_and_writes_its_record(tmp_path: Path) -> None:
    fit = load_fit(tiny_fit(tmp_path))
    assert [t.id for t in fit.fitted_on] == ["burn-q1"]
    assert [t.id for t in fit.held_out] == ["price-2025-06"]
    assert fit.defaults == {OPEX: pytest.approx(0.3), "market.price_adjustment_speed": 0.5}
    out = tmp_path / "out"
    outcome = run_fit(fit, out, InlineExecutor(), progress=False)
    assert outcome.default.distance > 1.0  # 0.3 against 1.0: well outside the ±10% range
    assert outcome.best is not None
    assert outcome.best.distance < 0.25 * outcome.default.distance
    assert abs(outcome.best.params[OPEX] - 1.0) < abs(0.3 - 1.0) / 2
    trials = outcome.trials
    assert (trials["state"] == "COMPLETE").sum() == 6
    # the default world is the first trial, on the same seeds (common random numbers)
    first = trials.iloc[0]
    assert first["default"] and first[OPEX] == pytest.approx(0.3)
    assert first["distance"] == pytest.approx(outcome.default.distance)
    record = json.loads((out / "fit.json").read_text())
    assert record["seeds"] == [1] and record["fitted_on"] == ["burn-q1"]
    assert record["best"]["distance"] == pytest.approx(outcome.best.distance)
    assert record["packages"]["optuna"] and record["model_version"]
    assert record["source"].startswith("fitted to 2025 moments (")
    # the fitted scenario loads and holds the best values, each with its source
    text = fitted_scenario_text(fit, record, tmp_path / "fitted.toml")
    assert "fitted to 2025 moments" in text
    (tmp_path / "fitted.toml").write_text(text)
    fitted = load_scenario(tmp_path / "fitted.toml")
    assert fitted.labs[0].other_opex_share_of_revenue == pytest.approx(
        outcome.best.params[OPEX], rel=1e-5
    )


def test_a_fit_with_an_integer_parameter_reaches_its_best_candidate(tmp_path: Path) -> None:
    """An integer parameter's best value comes back from the trials table as a numpy
    integer; the best candidate is run with it as a Python int (a numpy integer was refused
    by the scenario's strict integer field, so a fit with an integer parameter failed at
    its end)."""
    path = tiny_fit(tmp_path, trials=3)
    path.write_text(
        path.read_text()
        + """
[[parameters]]
path = "investment.opening_pipeline_install_months"
integer = true
low = 2
high = 6
"""
    )
    outcome = run_fit(load_fit(path), tmp_path / "out", InlineExecutor(), progress=False)
    assert outcome.best is not None
    value = outcome.best.params["investment.opening_pipeline_install_months"]
    assert type(value) is int and 2 <= value <= 6


class Interrupting(Executor):
    """Runs tasks in this process; the ``after``-th submission raises KeyboardInterrupt (a
    Ctrl-C part way through a candidate)."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.calls = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        self.calls += 1
        if self.calls == self.after:
            raise KeyboardInterrupt
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_an_interrupted_fit_resumes_and_mixes_in_no_other_fit(tmp_path: Path) -> None:
    fit = load_fit(tiny_fit(tmp_path, trials=4))
    out = tmp_path / "out"
    # default world: 1 run; trial 0: 1 run; Ctrl-C while trial 1's run is submitted
    stopped = run_fit(fit, out, Interrupting(after=3), progress=False)
    assert stopped.interrupted and stopped.best is None
    states = list(stopped.trials["state"])
    assert states == ["COMPLETE", "FAIL", "WAITING"]  # the lost point, queued to be retried
    lost = stopped.trials.iloc[1]
    assert not (out / "fitted.toml").exists()
    counting = Interrupting(after=10**9)
    resumed = run_fit(fit, out, counting, progress=False)
    assert not resumed.interrupted and resumed.new_trials == 3
    complete = resumed.trials[resumed.trials["state"] == "COMPLETE"]
    assert len(complete) == 4
    retried = complete.iloc[1]  # the interrupted point is asked again first
    assert all(retried[p] == pytest.approx(lost[p]) for p in fit.defaults)
    # runs: the retried point + 2 new trials; the default world and the best candidate are
    # read back from the folder, not run again
    assert counting.calls == 1 + 2

    # a changed fit in the same folder is refused; nothing of it is written
    other = load_fit(tiny_fit(tmp_path, trials=2, high=1.4))
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(ConfigError, match="holds another fit"):
        run_fit(other, out, InlineExecutor(), progress=False)
    assert sorted(p.name for p in out.iterdir()) == before
    # more trials of the same fit only extend it
    more = load_fit(tiny_fit(tmp_path, trials=5))
    assert run_fit(more, out, InlineExecutor(), progress=False).new_trials == 1
    # --force starts the other fit afresh, deleting the fit's files and nothing else
    (out / "notes.txt").write_text("mine")
    fresh = run_fit(other, out, InlineExecutor(), progress=False, force=True)
    assert fresh.new_trials == 2 and (out / "notes.txt").read_text() == "mine"
    # a folder that is not a fit's is refused
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x").write_text("x")
    with pytest.raises(ConfigError, match="does not hold a fit"):
        run_fit(fit, tmp_path / "elsewhere", InlineExecutor(), progress=False)


def test_unit_cube_maps_onto_the_search_scales(tmp_path: Path) -> None:
    fit = load_fit(tiny_fit(tmp_path))
    lo = unit_to_params(fit, [0.0, 0.0])
    mid = unit_to_params(fit, [0.5, 0.5])
    assert lo == {OPEX: pytest.approx(0.1), "market.price_adjustment_speed": pytest.approx(0.1)}
    assert mid[OPEX] == pytest.approx(0.8)  # linear
    assert mid["market.price_adjustment_speed"] == pytest.approx(math.sqrt(0.1))  # log


def test_screen_verdicts() -> None:
    table = pd.DataFrame(
        {"mu_star": [10.0, 5.0, 0.5, 4.0], "mu_star_conf": [2.0, 1.0, 0.1, 6.0]},
    )
    assert screen_verdicts(table) == ["pinned", "pinned", "weak", "unclear"]


def test_evaluate_uses_the_same_seeds_for_every_candidate(tmp_path: Path) -> None:
    fit = load_fit(tiny_fit(tmp_path, seeds=2))
    a = evaluate(fit, {OPEX: 0.5}, tmp_path / "c", InlineExecutor())
    b = evaluate(fit, {OPEX: 0.5}, tmp_path / "d", InlineExecutor())
    assert a.report["median"].equals(b.report["median"]) and a.runs_done == 2


# ------------------------------------------------------------------------ the command
def test_fit_command_checks_out_of_sample_and_writes_the_scenario(tmp_path: Path, capsys) -> None:
    fit = tiny_fit(tmp_path, trials=2)
    out = tmp_path / "out"
    code = main(
        [
            "calibrate",
            "--fit",
            str(fit),
            "--out",
            str(out),
            "--engine",
            "serial",
            "--screen",
            "2",
            "--no-progress",
            "--write-scenario",
            str(tmp_path / "mine.toml"),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert "held out, 2025 (out of sample)" in text and "identification" in text
    for name in ("fit.json", "trials.csv", "report.csv", "counts.csv", "fitted.toml"):
        assert (out / name).is_file(), name
    assert (out / "screen.png").is_file() and (out / "screen.csv").is_file()
    assert load_scenario(tmp_path / "mine.toml").name == "small-fitted"


BAD_FITS = {
    "bound outside the allowed range": ("high = 1.0\nscale", "high = 2.0\nscale", "`high` 2"),
    "not an estimate": (
        '"market.price_adjustment_speed"',
        '"demand.initial_revenue_usd_per_month"',
        "not 'estimate'",
    ),
    "unknown path": ('"market.price_adjustment_speed"', '"market.nope"', "unknown parameter"),
    "low above high": ("low = 0.1\nhigh = 1.0", "low = 1.0\nhigh = 0.1", "low < high"),
    "log of zero": ("low = 0.1\nhigh = 1.0", "low = 0.0\nhigh = 1.0", "log' needs low > 0"),
    "bad selector": ('select = "..2025-03"', 'select = "2019"', "selector term '2019'"),
    "bad seeds": ("seeds = 1", "seeds = 0", "fit.seeds"),
    "unknown field": ("sampler = ", "samplr = ", "not a known field"),
    "unknown weight": ("check_seeds = 1", "check_seeds = 1\n[weights]\nnope = 1", "nope"),
}


@pytest.mark.parametrize("case", sorted(BAD_FITS))
def test_bad_fit_files_exit_2_naming_the_field_and_write_nothing(
    case: str, tmp_path: Path, capsys
) -> None:
    old, new, message = BAD_FITS[case]
    fit = tiny_fit(tmp_path)
    text = fit.read_text()
    assert old in text
    fit.write_text(text.replace(old, new, 1))
    out = tmp_path / "out"
    assert main(["calibrate", "--fit", str(fit), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trials", "0"], "--trials must be between 1 and 100000"),
        (["--seeds", "1001"], "--seeds must be between 1 and 1000"),
        (["--screen", "-1"], "--screen must be 0 or between 2 and 100"),
        (["--write-scenario", "x.txt"], "--write-scenario must name a .toml"),
        (["--select", "2024"], "selector term '2024' matches no target"),
        (["--screen", "1"], "--screen must be 0 or between 2 and 100"),
    ],
)
def test_bad_fit_options_exit_2_and_write_nothing(tmp_path: Path, capsys, args, message) -> None:
    out = tmp_path / "out"
    code = main(["calibrate", "--fit", str(tiny_fit(tmp_path)), "--out", str(out), *args])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_fit_options_need_fit(capsys) -> None:
    assert main(["calibrate", "--trials", "3"]) == 2
    assert "--trials needs --fit" in capsys.readouterr().err


def test_the_shipped_fit_file_is_valid() -> None:
    fit = load_fit(ROOT / "experiments" / "calibration" / "fit.toml")
    assert fit.held_out and all(not t.months[1].startswith("2025") for t in fit.held_out)
    assert all(v is not None for v in fit.defaults.values())  # the default is trial 0


# ------------------------------------------------------------------------ the committed record
RECORD = ROOT / "experiments" / "calibration" / "fit-record"
GALLERY_SCRIPT = ROOT / "experiments" / "calibration.py"


def test_the_committed_fit_record_is_what_the_gallery_captions_say(tmp_path: Path) -> None:
    """The calibration gallery's fit figures read experiments/calibration/fit-record: their
    captions say it was fitted on the 2025 targets only with TPE and common seeds, checked
    over 8 seeds on the 2025 targets and the 2026 and 2027 ones it did not see."""
    spec = importlib.util.spec_from_file_location("calibration_gallery", GALLERY_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    gallery = module.EXPERIMENT
    record = json.loads((RECORD / "fit.json").read_text())
    targets = {t.id: t for t in load_targets()}
    assert record["fitted_on"] and all(
        targets[i].months[1].startswith("2025") for i in record["fitted_on"]
    )
    held_years = {targets[i].months[1][:4] for i in record["held_out"]}
    assert {"2026", "2027"} <= held_years and "2025" not in held_years
    assert record["sampler"] == "tpe"
    assert tomllib.loads(record["fit_toml"])["fit"]["check_seeds"] == 8
    assert record["best"]["distance"] <= record["default"]["distance"]
    captions = " ".join(f.caption for f in gallery.figures)
    assert "fitted to the 2025 targets only" in captions and "8 seeds" in captions
    counts = {r["targets"]: r for r in csv_rows(RECORD / "counts.csv")}
    assert {"held out, 2026 (out of sample)", "held out, 2027 (out of sample)"} <= set(counts)
    fitted = load_scenario(RECORD / "fitted.toml")  # the best values, loadable
    assert fitted.name == "baseline-fitted"
    screen = csv_rows(RECORD / "screen.csv")
    assert {r["parameter"] for r in screen} == {p["path"] for p in record["parameters"]}
    assert {r["verdict"] for r in screen} <= {"pinned", "weak", "unclear"}
    module.fit_figures(RECORD, tmp_path)
    assert (tmp_path / "fit_out_of_sample.png").stat().st_size > 10_000
    assert (tmp_path / "fit_screen.png").stat().st_size > 10_000


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_plain_report_takes_a_selector_too(tmp_path: Path, capsys) -> None:
    tiny_fit(tmp_path)  # writes targets.toml
    code = main(
        [
            "calibrate",
            str(SMALL),
            "--targets",
            str(tmp_path / "targets.toml"),
            "--select",
            "..2025-03",
            "--seeds",
            "1",
            "--engine",
            "serial",
            "--no-progress",
            "--out",
            str(tmp_path / "report"),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0 and "burn-q1" in text and "price-2025-06" not in text
    assert "of 1 targets in range" in text
