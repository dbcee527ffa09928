"""Sweeps: validation, designs, the results store, failures, restarts, engines, sensitivity."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.config import ConfigError
from sim.results_store import ResultsStore
from sim.runner import SUMMARY_FIELDS, SUMMARY_UNITS
from sim.sensitivity import effect_unit, sensitivity_figure
from sim.sweep import (
    InlineExecutor,
    executor_for,
    load_sweep,
    local_dask_cluster,
    run_seed,
    run_sweep,
)

from . import sweep_faults
from .conftest import ROOT, slow_sweep_file

FIXTURES = Path(__file__).parent / "fixtures" / "sweeps"
GRID = FIXTURES / "grid.toml"


def write_sweep(tmp_path: Path, body: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(
        f'[sweep]\nname = "t"\nscenario = "{(FIXTURES / "small.toml").as_posix()}"\n' + body
    )
    return path


def results_without_timing(store: ResultsStore) -> pd.DataFrame:
    return store.results().drop(columns=["seconds"]).reset_index(drop=True)


# ------------------------------------------------------------------ validation and designs
@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (
            'months = 0\n[parameters]\nvary = [{path = "demand.noise_sd", values = [0.1]}]\n'
            '[outputs]\nsummary = ["defaults"]\n',
            "months",
        ),
        (
            '[parameters]\nmethod = "halton"\nvary = [{path = "demand.noise_sd", values = [1]}]\n'
            '[outputs]\nsummary = ["defaults"]\n',
            "method",
        ),
        (
            '[parameters]\nmethod = "lhs"\n'
            'vary = [{path = "demand.noise_sd", min = 0.2, max = 0.1}]\n'
            '[outputs]\nsummary = ["defaults"]\n',
            "min",
        ),
        (
            '[parameters]\nvary = [{path = "demand.noise_sd", values = [0.1]}]\n'
            '[outputs]\nsummary = ["profit"]\n',
            "profit",
        ),
        (
            '[parameters]\nvary = [{path = "demand.noise_sd", values = [0.1]}]\n'
            '[outputs]\nsummary = ["defaults"]\ncolour = 1\n',
            "colour",
        ),
        (
            '[parameters]\nvary = [{path = "demand.noise_sd", values = [7.0]}]\n'
            '[outputs]\nsummary = ["defaults"]\n',
            "noise_sd",
        ),
        (
            '[parameters]\nvary = [{path = "demand.no_such", values = [1]}]\n'
            '[outputs]\nsummary = ["defaults"]\n',
            "no_such",
        ),
    ],
)
def test_bad_sweep_files_are_refused_before_any_work(tmp_path, capsys, body, needle) -> None:
    path = write_sweep(tmp_path, body)
    with pytest.raises(ConfigError, match=needle):
        load_sweep(path)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not out.exists()


def test_designs_have_the_documented_sizes_and_bounds(tmp_path) -> None:
    two = (
        'vary = [{path = "cascade.alpha", min = 0.2, max = 0.9}, '
        '{path = "market.initial_spot_price_usd_per_gpu_hour", min = 1.0, max = 6.0, '
        'integer = true}]\n[outputs]\nsummary = ["defaults"]\n'
    )
    sizes = {"lhs": 9, "sobol": 8 * (2 + 2), "morris": 5 * (2 + 1)}
    samples = {"lhs": 9, "sobol": 8, "morris": 5}
    for method, n in sizes.items():
        path = write_sweep(
            tmp_path,
            f'[parameters]\nmethod = "{method}"\nsamples = {samples[method]}\n{two}',
            f"{method}.toml",
        )
        sweep = load_sweep(path)
        assert len(sweep.points) == n, method
        alpha = np.array([p["cascade.alpha"] for p in sweep.points])
        price = [p["market.initial_spot_price_usd_per_gpu_hour"] for p in sweep.points]
        assert alpha.min() >= 0.2 and alpha.max() <= 0.9, method
        assert all(isinstance(v, int) and 1 <= v <= 6 for v in price), method
    grid = load_sweep(GRID)
    assert len(grid.points) == 6 and len(grid.tasks) == 12
    assert len({t.run_id for t in grid.tasks}) == 12 and len({t.seed for t in grid.tasks}) == 12


def test_seeds_and_ids_do_not_move_when_points_are_added(tmp_path) -> None:
    base = load_sweep(GRID)
    wider = tmp_path / "grid.toml"
    wider.write_text(
        GRID.read_text()
        .replace("[0.0, 0.02, 0.04]", "[0.0, 0.01, 0.02, 0.04]")
        .replace('"small.toml"', f'"{(FIXTURES / "small.toml").as_posix()}"')
    )
    more = load_sweep(wider)
    assert {t.run_id for t in base.tasks} < {t.run_id for t in more.tasks}
    params = {"a": 1}
    assert run_seed(5, params, 0) == run_seed(5, params, 0) != run_seed(5, params, 1)
    # a changed fixed override changes every id (no stale reuse)
    changed = tmp_path / "changed.toml"
    changed.write_text(wider.read_text().replace("0.05", "0.06"))
    assert not {t.run_id for t in base.tasks} & {t.run_id for t in load_sweep(changed).tasks}


# ------------------------------------------------------------------------ store and runner
def test_store_records_runs_series_manifest_and_compacts(tmp_path) -> None:
    sweep = load_sweep(GRID)
    store = ResultsStore(tmp_path / "r")
    report = run_sweep(sweep, store, InlineExecutor(), progress=False)
    assert (report.done, report.failed, report.skipped) == (12, 0, 0)
    manifest = store.manifest()
    assert manifest["runs_planned"] == 12 and manifest["sweep_toml"] == GRID.read_text()
    assert manifest["packages"]["mesa"].startswith("3.") and manifest["git_revision"]
    before = results_without_timing(store)
    assert list(before["p:demand.growth_long_run_per_month"][::2]) == [
        0.0,
        0.0,
        0.02,
        0.02,
        0.04,
        0.04,
    ]
    months = store.query("SELECT run_id, count(*) AS n FROM series GROUP BY run_id")
    assert len(months) == 12 and (months["n"] == 18).all()
    store.compact()
    assert not list(store.runs.glob("*.parquet"))
    pd.testing.assert_frame_equal(results_without_timing(store), before)
    again = run_sweep(sweep, store, InlineExecutor(), progress=False)
    assert (again.done, again.skipped) == (0, 12)
    assert store.status() == {"planned": 12, "done": 12, "failed": 0, "pending": 0}


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path, capsys) -> None:
    sweep = load_sweep(GRID)
    store = ResultsStore(tmp_path / "r")
    with executor_for("process", 2) as pool:
        report = run_sweep(sweep, store, pool, run_fn=sweep_faults.fails_on_point, progress=False)
    assert (report.done, report.failed) == (10, 2)
    assert store.status() == {"planned": 12, "done": 10, "failed": 2, "pending": 0}
    failed = sorted(store.failed.glob("*.json"))
    assert len(failed) == 2 and "deliberate failure at point 1" in failed[0].read_text()
    assert main(["status", str(store.root)]) == 0
    assert "RuntimeError: deliberate failure at point 1" in capsys.readouterr().out
    # rerun with a fixed model: only the failed runs run, and the failures are cleared
    report = run_sweep(sweep, store, InlineExecutor(), progress=False)
    assert (report.done, report.skipped, report.failed) == (2, 10, 0)
    assert store.status()["failed"] == 0 and not list(store.failed.glob("*.json"))


def test_a_folder_of_another_sweep_is_refused_without_force(tmp_path) -> None:
    store = ResultsStore(tmp_path / "r")
    run_sweep(load_sweep(GRID), store, InlineExecutor(), progress=False)
    other = write_sweep(
        tmp_path,
        '[parameters]\nvary = [{path = "demand.noise_sd", values = '
        '[0.1]}]\n[outputs]\nsummary = ["defaults"]\n',
    )
    with pytest.raises(ConfigError, match="holds results of sweep 'test-grid'"):
        run_sweep(load_sweep(other), store, InlineExecutor(), progress=False)
    report = run_sweep(load_sweep(other), store, InlineExecutor(), progress=False, force=True)
    assert report.done == 1 and store.status()["planned"] == 1
    assert len(list(store.runs.glob("*.parquet"))) == 1


@pytest.mark.timeout(300)
def test_one_two_workers_and_dask_give_identical_results(tmp_path) -> None:
    sweep = load_sweep(GRID)
    tables = {}
    for engine, workers in (("serial", 1), ("process", 1), ("process", 2), ("dask", 2)):
        store = ResultsStore(tmp_path / f"{engine}{workers}")
        with executor_for(engine, workers) as pool:
            report = run_sweep(sweep, store, pool, progress=False)
        assert report.done == 12, engine
        tables[(engine, workers)] = results_without_timing(store)
    first = tables[("serial", 1)]
    assert first["defaults"].notna().all() and first["mean_utilisation"].nunique() > 6
    for key, table in tables.items():
        pd.testing.assert_frame_equal(table, first, obj=str(key))


@pytest.mark.timeout(300)
def test_a_worker_killed_under_dask_is_retried_and_the_sweep_completes(
    tmp_path, monkeypatch
) -> None:
    marker = tmp_path / "killed.pid"
    monkeypatch.setenv("SWEEP_KILL_MARKER", str(marker))
    sweep = load_sweep(GRID)
    store = ResultsStore(tmp_path / "r")
    with executor_for("dask", 2) as pool:
        report = run_sweep(
            sweep, store, pool, run_fn=sweep_faults.kills_worker_once, progress=False
        )
    assert marker.is_file(), "the worker was never killed: the test did not test anything"
    assert (report.done, report.failed) == (12, 0)
    reference = ResultsStore(tmp_path / "ref")
    run_sweep(sweep, reference, InlineExecutor(), progress=False)
    pd.testing.assert_frame_equal(results_without_timing(store), results_without_timing(reference))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_sweep_restarts_and_finishes_every_run_exactly_once(tmp_path, sig) -> None:
    slow = slow_sweep_file(tmp_path)
    out = tmp_path / "r"
    command = [
        sys.executable,
        "-m",
        "sim",
        "sweep",
        str(slow),
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    store = ResultsStore(out)
    deadline = time.monotonic() + 120
    while len(store.done_ids()) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep finished before it could be killed"
    os.kill(proc.pid, sig)
    if sig == signal.SIGKILL:  # its orphaned workers hold the pipes open: end them too
        proc.wait(timeout=60)
        os.killpg(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGTERM:
        assert proc.returncode == 130, err[-2000:]
    finished_before = store.done_ids()
    assert 4 <= len(finished_before) < 36
    for path in store.runs.glob("*.parquet"):  # whole files only
        assert len(pd.read_parquet(path)) == 1
    restart = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert restart.returncode == 0, restart.stderr[-2000:]
    assert f"({len(finished_before)} already finished)" in restart.stdout
    assert f"{36 - len(finished_before)} runs done" in restart.stdout
    runs = store.results()
    assert len(runs) == 36 and runs["run_id"].is_unique
    assert set(runs["run_id"]) == set(store.plan()["run_id"])
    assert store.status() == {"planned": 36, "done": 36, "failed": 0, "pending": 0}


@pytest.mark.timeout(120)
def test_two_local_dask_clusters_at_once_take_no_port_of_each_other() -> None:
    """Distributed's scheduler serves HTTP on port 8787 even without a dashboard: two
    clusters started at once (two test workers, two sweeps) collided there and Dask warned.
    Ours listen on free loopback ports."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with local_dask_cluster(1) as first, local_dask_cluster(1) as second:
            servers = [c.scheduler.http_server for c in (first, second)]
            assert [s.address for s in servers] == ["127.0.0.1", "127.0.0.1"]
            assert servers[0].port != servers[1].port
            assert 8787 not in {s.port for s in servers}
    assert not [w for w in caught if "already in use" in str(w.message)]


@pytest.mark.timeout(300)
def test_cli_runs_a_sweep_on_a_running_dask_scheduler(tmp_path) -> None:
    with local_dask_cluster(2) as cluster:
        out = tmp_path / "r"
        args = ["sweep", str(GRID), "--out", str(out), "--scheduler", cluster.scheduler_address]
        assert main([*args, "--no-progress"]) == 0
    reference = ResultsStore(tmp_path / "ref")
    run_sweep(load_sweep(GRID), reference, InlineExecutor(), progress=False)
    pd.testing.assert_frame_equal(
        results_without_timing(ResultsStore(out)), results_without_timing(reference)
    )
    assert (
        main(["sweep", str(GRID), "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "x")])
        == 2
    )
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------ query, sa
def test_query_cli_prints_and_writes_csv(tmp_path, capsys) -> None:
    out = tmp_path / "r"
    assert (
        main(
            [
                "sweep",
                str(GRID),
                "--out",
                str(out),
                "--workers",
                "1",
                "--engine",
                "serial",
                "--no-progress",
            ]
        )
        == 0
    )
    csv = tmp_path / "q.csv"
    sql = (
        'SELECT "p:finance.max_loan_to_backlog" AS lev, count(*) AS n FROM runs '
        "GROUP BY 1 ORDER BY 1"
    )
    assert main(["query", str(out), sql, "--csv", str(csv), "--compact"]) == 0
    assert pd.read_csv(csv).to_dict("list") == {"lev": [0.5, 2.0], "n": [6, 6]}
    assert main(["query", str(out), "SELECT nope FROM runs"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["status", str(tmp_path)]) == 2


def sa_sweep(tmp_path: Path, method: str, samples: int) -> ResultsStore:
    path = write_sweep(
        tmp_path,
        f'seeds_per_point = 2\n[parameters]\nmethod = "{method}"\nsamples = {samples}\n'
        'vary = [{path = "cascade.alpha", min = 0.0, max = 1.0}, '
        '{path = "cascade.beta", min = 0.0, max = 1.0}]\n'
        '[outputs]\nsummary = ["defaults", "losses_usd"]\n',
        f"{method}.toml",
    )
    store = ResultsStore(tmp_path / method)
    run_sweep(
        load_sweep(path), store, InlineExecutor(), run_fn=sweep_faults.analytic, progress=False
    )
    return store


def test_morris_screen_recovers_exact_elementary_effects(tmp_path, capsys) -> None:
    store = sa_sweep(tmp_path, "morris", 6)
    assert main(["sa", str(store.root), "--output", "defaults", "--output", "losses_usd"]) == 0
    table = pd.read_csv(store.root / "sensitivity.csv").set_index(["output", "parameter"])
    # linear functions: every elementary effect equals the coefficient
    assert table.loc[("defaults", "cascade.alpha"), "mu_star"] == pytest.approx(2.0, abs=1e-9)
    assert table.loc[("defaults", "cascade.beta"), "mu_star"] == pytest.approx(0.0, abs=1e-9)
    assert table.loc[("losses_usd", "cascade.beta"), "mu_star"] == pytest.approx(2.0, abs=1e-9)
    assert table["sigma"].abs().max() < 1e-9
    assert (store.root / "sensitivity.png").stat().st_size > 10_000


def test_every_summary_output_has_a_unit() -> None:
    assert all(SUMMARY_UNITS.values())
    # an amount of money (named *_usd) is in USD, the unit the figures scale to billions
    money = [k for k in SUMMARY_FIELDS if k.endswith("_usd")]
    assert money and all(SUMMARY_UNITS[k] == "USD" for k in money)


def test_morris_axes_name_each_outputs_unit_and_scale_money() -> None:
    indices = pd.DataFrame(
        {
            "output": ["losses_usd", "losses_usd", "defaults", "defaults"],
            "parameter": ["a", "b", "a", "b"],
            "method": "morris",
            "mu_star": [2.0e9, 0.5e9, 1.0, 0.0],
            "mu_star_conf": [0.1e9, 0.1e9, 0.1, 0.0],
            "sigma": [1.0e9, 0.2e9, 0.5, 0.0],
        }
    )
    fig = sensitivity_figure(indices, title="t")
    money, count = fig.axes[:2]
    assert money.get_xlabel() == "effect on losses_usd\n(USD billion)"
    assert count.get_xlabel() == "effect on defaults\n(firms)"
    widths = [bar.get_width() for bar in money.patches]
    assert widths == pytest.approx([2.0, 0.5])  # plotted in billions
    assert effect_unit("final_spot_price_usd_per_gpu_hour", [0.4]) == (1.0, "USD per GPU-hour")
    assert effect_unit("capex_usd", [3e6]) == (1e-6, "USD million")


def test_sobol_indices_match_the_analytic_shares(tmp_path) -> None:
    store = sa_sweep(tmp_path, "sobol", 512)
    assert main(["sa", str(store.root), "--output", "losses_usd"]) == 0
    table = pd.read_csv(store.root / "sensitivity.csv").set_index("parameter")
    # Y = x1 + 2 x2 on U[0,1]^2: S1 = ST = 1/5 and 4/5
    assert table.loc["cascade.alpha", "S1"] == pytest.approx(0.2, abs=0.05)
    assert table.loc["cascade.beta", "S1"] == pytest.approx(0.8, abs=0.05)
    assert table.loc["cascade.beta", "ST"] == pytest.approx(0.8, abs=0.05)
    assert (table["S1_conf"] > 0).all()


def test_sa_refuses_a_grid_sweep_and_an_unfinished_one(tmp_path, capsys) -> None:
    store = ResultsStore(tmp_path / "g")
    run_sweep(load_sweep(GRID), store, InlineExecutor(), progress=False)
    assert main(["sa", str(store.root), "--output", "defaults"]) == 2
    assert "morris" in capsys.readouterr().err
    morris = sa_sweep(tmp_path, "morris", 4)
    next(morris.runs.glob("*.parquet")).unlink()
    for path in morris.runs.glob("*.parquet"):
        frame = pd.read_parquet(path)
        if frame["point"].iloc[0] == 3:
            path.unlink()
    assert main(["sa", str(morris.root), "--output", "defaults"]) == 2
    assert "have no finished run" in capsys.readouterr().err
