"""The run folder's files: zstd Parquet that reads back as the same frames, posting-level
tables only on request (and computed again when a folder without them is asked for them),
and a palette overview picture."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image

import sim
from sim.cli import main
from sim.config import ConfigError
from sim.ensemble import run_ensemble
from sim.runner import (
    DETAIL_TABLES,
    FILE_ORDER,
    TABLES,
    read_table,
    run_folder,
    simulate,
    write_run,
)

from .conftest import small_world


@pytest.fixture(scope="module")
def result():
    return simulate(small_world(**{"run.months": 8}), 3)


def test_tables_read_back_identical_and_zstd(result, tmp_path: Path) -> None:
    written = write_run(result, tmp_path, detail=True)
    tables = {p.stem: p for p in written if p.suffix == ".parquet"}
    assert set(tables) == set(result.tables)
    for name, path in tables.items():
        pd.testing.assert_frame_equal(read_table(path), result.tables[name])
        meta = pq.ParquetFile(path).metadata
        codecs = {meta.row_group(0).column(c).compression for c in range(meta.num_columns)}
        assert codecs == {"ZSTD"}, (name, codecs)


def test_money_in_cents_and_derived_columns_only_where_they_differ(result, tmp_path) -> None:
    """On disk a balance is integer cents (``cash_cents``); retained earnings (book equity
    less paid-in capital) is not stored; a market value is stored only where it is not the
    lab's valuation or the party's book equity (a listed price, a defaulter's 0) — and
    read_table gives back the frame in memory, to the bit."""
    write_run(result, tmp_path)
    on_disk = pd.read_parquet(tmp_path / "agents.parquet")
    agents = result.tables["agents"]
    assert on_disk["cash_cents"].dtype == "int64" and "cash_usd" not in on_disk
    assert "retained_usd" not in on_disk and "retained_cents" not in on_disk
    stored = on_disk["market_value_usd"].notna()
    assert 0 < stored.sum() < len(on_disk)
    listed = on_disk["agent_type"].isin(["Cloud", "ChipVendor"])
    assert not stored[~listed].any() or on_disk.loc[stored & ~listed, "defaulted"].all()
    back = read_table(tmp_path / "agents.parquet")
    pd.testing.assert_frame_equal(back, agents)
    cents = (agents[["equity_usd", "paid_in_usd", "retained_usd"]] * 100).round()
    assert (cents["equity_usd"] - cents["paid_in_usd"] == cents["retained_usd"]).all()


def test_detail_tables_only_on_request(result, tmp_path: Path) -> None:
    names = {p.stem for p in write_run(result, tmp_path / "lean")}
    assert names.isdisjoint(DETAIL_TABLES)
    assert {"model", "agents", "events", "config", "summary"} <= names
    full = {p.stem for p in write_run(result, tmp_path / "full", detail=True)}
    assert full - names == set(DETAIL_TABLES)


def test_cli_detail_and_no_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    args = ["run", "baseline", "--months", "3", "--no-progress", "--out", str(out)]
    assert main([*args, "--detail", "--no-picture"]) == 0
    assert not (out / "overview.png").exists()
    assert all((out / f"{name}.parquet").is_file() for name in DETAIL_TABLES)
    assert "overview.png" not in capsys.readouterr().out
    assert main([*args, "--force"]) == 0
    assert not (out / "overview.png").exists()  # the figure only on request
    assert main([*args, "--force", "--picture"]) == 0
    with Image.open(out / "overview.png") as image:
        assert image.mode == "P" and image.size == (1200, 800)  # a palette PNG
    assert not (out / "flows.parquet").exists()


def test_tables_are_the_declared_ones_and_agents_written_agent_by_agent(result, tmp_path) -> None:
    assert tuple(result.tables) == TABLES
    write_run(result, tmp_path)
    on_disk = pd.read_parquet(tmp_path / "agents.parquet")
    assert list(on_disk["agent_id"]) == sorted(on_disk["agent_id"])  # agent by agent
    first = on_disk[on_disk["agent_id"] == on_disk["agent_id"].iloc[0]]
    assert list(first["step"]) == sorted(first["step"])  # each agent's months in order
    assert list(result.tables["agents"]["agent_id"]) != list(on_disk["agent_id"])
    assert set(FILE_ORDER) == {"agents"}


def _folder(result, out: Path, *, detail: bool) -> Path:
    with run_folder(out, result.scenario.name) as staging:
        write_run(result, staging, detail=detail)
    return out


def test_open_run_reads_a_run_folder(result, tmp_path: Path) -> None:
    run = sim.open_run(_folder(result, tmp_path / "run", detail=True))
    assert run.seed == result.seed and run.scenario == result.scenario
    assert run.result.summary == result.summary
    for name in TABLES:
        pd.testing.assert_frame_equal(run.tables[name], result.tables[name])
    assert run.model.index.name == "date"


def test_open_run_computes_the_detail_tables_again(result, tmp_path: Path) -> None:
    folder = _folder(result, tmp_path / "run", detail=False)
    run = sim.open_run(folder)
    assert not (folder / "flows.parquet").exists()
    for name in DETAIL_TABLES:  # the same rows as the run that wrote the folder
        pd.testing.assert_frame_equal(run.tables[name], result.tables[name])
    pd.testing.assert_frame_equal(run.flows, result.tables["flows"])
    pd.testing.assert_frame_equal(run.allocations, result.tables["allocations"])


def test_open_run_says_which_option_keeps_detail(result, tmp_path: Path) -> None:
    folder = _folder(result, tmp_path / "run", detail=False)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_version": "0.1.0"}))
    old = sim.open_run(folder)
    pd.testing.assert_frame_equal(old.agents, result.tables["agents"])  # written: still read
    with pytest.raises(ConfigError, match=r"version 0\.1\.0.*--detail"):
        _ = old.flows
    (folder / "config.json").write_text(json.dumps(config))
    summary = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**summary, "defaults": 99.0}))
    with pytest.raises(ConfigError, match=r"another summary.*--detail"):
        _ = sim.open_run(folder).accruals
    with pytest.raises(ConfigError, match="not a finished run folder"):
        sim.open_run(tmp_path)


def test_an_ensemble_run_is_simulate_without_the_tables_it_does_not_keep(result) -> None:
    summary, tables = run_ensemble(result.scenario, [result.seed], 8, keep=("agents", "events"))
    assert summary.drop(columns="seed").iloc[0].to_dict() == pytest.approx(
        result.summary, rel=0, abs=0, nan_ok=True
    )
    for name in ("agents", "events"):
        pd.testing.assert_frame_equal(tables[name].drop(columns="seed"), result.tables[name])
