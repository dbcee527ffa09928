"""`computesim run` writes every table, the config with its seed, and a figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd

from .conftest import BASELINE


def test_run_writes_tables_config_summary_and_figure(tmp_path: Path) -> None:
    out = tmp_path / "base"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "run",
            str(BASELINE),
            "--out",
            str(out),
            "--seed",
            "5",
            "--months",
            "12",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    assert "installed capacity" in proc.stdout and "compute price" in proc.stdout
    assert "defaults" in proc.stdout and "money moved" in proc.stdout
    for name in ("model", "agents", "events", "debtrank", "exposures"):
        assert (out / f"{name}.parquet").is_file()
    for name in ("flows", "accruals", "journal"):  # posting-level tables: only with --detail
        assert not (out / f"{name}.parquet").exists()
    model = pd.read_parquet(out / "model.parquet")
    assert len(model) == 12 and {"utilisation", "spot_price_usd_per_gpu_hour"} <= set(model)
    config = json.loads((out / "config.json").read_text())
    assert config["seed"] == 5 and config["scenario"]["name"] == "baseline"
    image = mpimg.imread(out / "overview.png")
    assert image.shape[0] > 300 and image.std() > 0.01


def test_help_lists_commands() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "--help"], capture_output=True, text=True, check=True
    )
    assert "run" in proc.stdout and "params" in proc.stdout
