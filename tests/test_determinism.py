"""Same config and seed give identical tables, in one process or in two; seeds matter."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.runner import run_model, simulate, write_run

from .conftest import BASELINE, small_world

TABLES = ("model", "agents", "flows", "accruals", "events", "debtrank", "exposures")


def test_same_seed_same_tables_different_seed_different() -> None:
    scenario = small_world(**{"run.months": 18, "demand.noise_sd": 0.1})
    a, b, c = simulate(scenario, 7), simulate(scenario, 7), simulate(scenario, 8)
    for name in TABLES:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    assert a.summary == b.summary
    assert not a.tables["model"].equals(c.tables["model"])
    assert not a.tables["flows"].equals(c.tables["flows"])


@pytest.mark.timeout(300)
def test_parquet_identical_across_processes(tmp_path: Path) -> None:
    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sim",
                "run",
                str(BASELINE),
                "--out",
                str(out),
                "--seed",
                "11",
                "--months",
                "24",
                "--no-progress",
                "--detail",
                "--picture",
            ],
            check=True,
            capture_output=True,
            timeout=240,
        )
        outs.append(out)
    in_process = tmp_path / "in_process"
    from sim.config import load_scenario

    write_run(simulate(load_scenario(BASELINE), 11, 24), in_process, detail=True)
    for name in TABLES:
        first = pd.read_parquet(outs[0] / f"{name}.parquet")
        pd.testing.assert_frame_equal(first, pd.read_parquet(outs[1] / f"{name}.parquet"))
        pd.testing.assert_frame_equal(first, pd.read_parquet(in_process / f"{name}.parquet"))
    assert (outs[0] / "overview.png").read_bytes() == (outs[1] / "overview.png").read_bytes()


def test_a_run_pauses_the_cycle_collector_and_restores_it() -> None:
    """run_model pauses Python's cycle collector while the world steps and leaves it as it
    found it (on or off), also when a step raises; results do not depend on it (the golden
    master pins them)."""
    seen: list[bool] = []
    scenario = small_world(**{"run.months": 2})
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        run_model(scenario, 1, 2, on_step=lambda _: seen.append(gc.isenabled()))
        assert gc.isenabled() is enabled

        def fail(_: int) -> None:
            raise RuntimeError("stop")

        with pytest.raises(RuntimeError):
            run_model(scenario, 1, 2, on_step=fail)
        assert gc.isenabled() is enabled
    gc.enable()
    assert seen == [False] * 4
