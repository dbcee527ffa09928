"""The run folder's files: zstd Parquet that reads back as the same frames, posting-level
tables only on request, and a palette overview picture."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image

from sim.cli import main
from sim.runner import DETAIL_TABLES, simulate, write_run

from .conftest import small_world


@pytest.fixture(scope="module")
def result():
    return simulate(small_world(**{"run.months": 8}), 3)


def test_tables_read_back_identical_and_zstd(result, tmp_path: Path) -> None:
    written = write_run(result, tmp_path, detail=True)
    tables = {p.stem: p for p in written if p.suffix == ".parquet"}
    assert set(tables) == set(result.tables)
    for name, path in tables.items():
        pd.testing.assert_frame_equal(pd.read_parquet(path), result.tables[name])
        meta = pq.ParquetFile(path).metadata
        codecs = {meta.row_group(0).column(c).compression for c in range(meta.num_columns)}
        assert codecs == {"ZSTD"}, (name, codecs)


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
    with Image.open(out / "overview.png") as image:
        assert image.mode == "P" and image.size == (1200, 800)  # a palette PNG
    assert not (out / "flows.parquet").exists()
