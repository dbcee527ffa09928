"""The public Python API (`import sim`): shipped scenarios, runs, sweeps from a dict, the
statistics per point and the xarray / NetCDF export."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.config import ConfigError, load_scenario
from sim.runner import simulate
from sim.sweep import load_sweep

from .conftest import BASELINE, ROOT

SWEEP = {
    "sweep": {
        "name": "api-test",
        "scenario": "baseline",
        "months": 2,
        "seeds_per_point": 2,
        "base_seed": 11,
    },
    "fixed": {"demand.regime": "plateau"},
    "parameters": {
        "method": "grid",
        "vary": [{"path": "demand.growth_long_run_per_month", "values": [0.0, 0.04]}],
    },
    "outputs": {
        "summary": ["final_spot_price_usd_per_gpu_hour", "capex_usd"],
        "series": ["spot_price_usd_per_gpu_hour"],
    },
}

SWEEP_TOML = f"""
[sweep]
name = "api-test"
scenario = "{BASELINE.as_posix()}"
months = 2
seeds_per_point = 2
base_seed = 11

[fixed]
"demand.regime" = "plateau"

[parameters]
method = "grid"

[[parameters.vary]]
path = "demand.growth_long_run_per_month"
values = [0.0, 0.04]

[outputs]
summary = ["final_spot_price_usd_per_gpu_hour", "capex_usd"]
series = ["spot_price_usd_per_gpu_hour"]
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> sim.SweepResult:
    out = tmp_path_factory.mktemp("api-sweep")
    return sim.sweep(SWEEP, out=out, engine="serial", progress=False)


def test_public_names_are_exported_and_documented() -> None:
    for name in sim.__all__:
        obj = getattr(sim, name)
        assert obj.__doc__ and obj.__doc__.strip(), name


def test_shipped_scenarios_are_the_experiment_files() -> None:
    assert {"baseline", "telecom_bust"} <= set(sim.scenarios())
    for name, path in [
        ("baseline", BASELINE),
        ("telecom_bust", BASELINE.with_name("telecom_bust.toml")),
    ]:
        assert sim.load(name) == load_scenario(path)
    assert sim.load("telecom_bust").demand.regime == "bust"


def test_load_applies_overrides_and_names_bad_input() -> None:
    world = sim.load("baseline", overrides={"demand.regime": "plateau", "labs.*.optimism": 1.4})
    assert world.demand.regime == "plateau"
    assert {lab.optimism for lab in world.labs} == {1.4}
    shipped = "baseline, endogenous_glut, enterprise_jv, stargate, telecom_bust"
    with pytest.raises(ConfigError, match=shipped):
        sim.load("no-such-world")
    with pytest.raises(ConfigError, match="growth_long_run_per_month"):
        sim.load("baseline", overrides={"demand.growth_long_run_per_month": 9.0})
    with pytest.raises(ConfigError, match="months"):
        sim.run("baseline", months=0)


def test_params_lists_every_parameter_with_unit_and_source() -> None:
    table = sim.params()
    assert list(table.columns) == ["path", "default", "unit", "bounds", "source", "meaning"]
    row = table.set_index("path").loc["demand.growth_start_per_month"]
    assert (row["default"], row["unit"], row["bounds"]) == ("0.12", "1/month", ">= -0.5 and <= 0.5")
    assert "docs/calibration.md" in row["source"]


def test_run_gives_the_runner_tables_with_the_model_indexed_by_date() -> None:
    result = sim.run("baseline", seed=3, months=3)
    direct = simulate(load_scenario(BASELINE), 3, 3)
    assert isinstance(result.model.index, pd.DatetimeIndex)
    assert list(result.model.index.strftime("%Y-%m")) == ["2025-01", "2025-02", "2025-03"]
    pd.testing.assert_frame_equal(result.flows, direct.tables["flows"])
    pd.testing.assert_frame_equal(result.events, direct.tables["events"])
    assert result.summary["months"] == 3
    assert result.summary.to_dict() == pytest.approx(direct.summary)


def test_ensemble_derives_seeds_and_stacks_runs() -> None:
    fan = sim.ensemble("baseline", seeds=2, months=2)
    assert len(fan.seeds) == len(set(fan.seeds)) == 2
    assert sorted(fan.summary["seed"]) == sorted(fan.seeds)
    assert fan.model.groupby("seed").size().tolist() == [2, 2]


def test_sweep_from_a_dict_writes_the_run_ids_of_the_same_toml_file(
    swept: sim.SweepResult, tmp_path
) -> None:
    path = tmp_path / "api_test.toml"
    path.write_text(SWEEP_TOML)
    from_file = {t.run_id for t in load_sweep(path).tasks}
    assert len(from_file) == 4
    assert set(swept.runs["run_id"]) == from_file
    assert swept.status() == {"planned": 4, "done": 4, "failed": 0, "pending": 0}


@pytest.mark.timeout(300)
def test_sweep_on_a_local_dask_cluster_gives_the_serial_results(
    swept: sim.SweepResult, tmp_path
) -> None:
    on_dask = sim.sweep(SWEEP, out=tmp_path / "d", engine="dask", workers=2, progress=False)
    columns = ["run_id", "final_spot_price_usd_per_gpu_hour", "capex_usd"]
    pd.testing.assert_frame_equal(
        on_dask.runs[columns].sort_values("run_id", ignore_index=True),
        swept.runs[columns].sort_values("run_id", ignore_index=True),
    )
    assert on_dask.status() == {"planned": 4, "done": 4, "failed": 0, "pending": 0}


def test_stats_are_the_moments_of_the_runs_per_point(swept: sim.SweepResult) -> None:
    stats = swept.stats("capex_usd").set_index("point")
    runs = swept.runs.groupby("point")["capex_usd"]
    np.testing.assert_allclose(stats["mean"], runs.mean())
    np.testing.assert_allclose(stats["sd"], runs.std())
    np.testing.assert_allclose(stats["q50"], runs.median())
    assert stats["n"].tolist() == [2, 2]
    assert stats["p:demand.growth_long_run_per_month"].tolist() == [0.0, 0.04]
    monthly = swept.stats(series=True)
    assert len(monthly) == 2 * 2  # points × months, one output
    assert set(monthly["n"]) == {2}


def test_to_xarray_means_equal_duckdb_averages(swept: sim.SweepResult) -> None:
    ds = swept.to_xarray()
    assert dict(ds.sizes) == {"point": 2, "replicate": 2, "month": 2}
    assert ds["demand.growth_long_run_per_month"].dims == ("point",)
    duck = swept.query(
        "SELECT point, avg(final_spot_price_usd_per_gpu_hour) AS price, avg(capex_usd) AS capex "
        "FROM runs GROUP BY point ORDER BY point"
    )
    means = ds.mean("replicate")
    np.testing.assert_allclose(means["final_spot_price_usd_per_gpu_hour"], duck["price"])
    np.testing.assert_allclose(means["capex_usd"], duck["capex"])
    monthly = swept.query(
        "SELECT r.point, s.step, avg(s.spot_price_usd_per_gpu_hour) AS price FROM series s "
        "JOIN runs r USING (run_id) GROUP BY r.point, s.step ORDER BY r.point, s.step"
    )
    np.testing.assert_allclose(
        means["spot_price_usd_per_gpu_hour"].to_numpy().ravel(), monthly["price"]
    )
    assert ds.attrs["sweep_name"] == "api-test"
    assert json.loads(ds.attrs["points"]) == swept.manifest["points"]


def test_netcdf_export_round_trip_keeps_values_and_attributes(
    swept: sim.SweepResult, tmp_path, capsys
) -> None:
    xr = pytest.importorskip("xarray")
    target = tmp_path / "sweep.nc"
    assert main(["export", str(swept.folder), "--netcdf", str(target)]) == 0
    assert "wrote" in capsys.readouterr().out
    with xr.open_dataset(target, engine="h5netcdf") as back:
        xr.testing.assert_identical(back.load(), swept.to_xarray())
    assert main(["export", str(tmp_path), "--netcdf", str(tmp_path / "x.nc")]) == 2
    assert not (tmp_path / "x.nc").exists()


def test_cli_runs_a_shipped_scenario_by_name(tmp_path) -> None:
    out = tmp_path / "run"
    assert main(["run", "baseline", "--months", "2", "--out", str(out), "--no-progress"]) == 0
    assert (out / "model.parquet").is_file()
    assert ROOT.joinpath("sim", "scenarios", "baseline.toml").is_file()


def test_gallery_rebuilds_when_a_shipped_scenario_changes(tmp_path, monkeypatch) -> None:
    from sim import gallery

    scenarios = tmp_path / "sim" / "scenarios"
    scenarios.mkdir(parents=True)
    (tmp_path / "experiments").mkdir()
    shipped = scenarios / "baseline.toml"
    shipped.write_text('name = "baseline"\n')
    monkeypatch.setattr(gallery, "ROOT", tmp_path)
    exp = gallery.Experiment("x", "X", "Baseline", "", (), {}, lambda out, ctx: None)
    before = gallery.cache_key(exp, tmp_path / "experiments")
    shipped.write_text('name = "baseline"\n[run]\nmonths = 12\n')
    assert gallery.cache_key(exp, tmp_path / "experiments") != before
