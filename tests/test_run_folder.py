"""Issue 19, items 5, 7 and 10: `run` never leaves a mixed folder, checks --out before any
work, and the CLI never prints a traceback for bad input or a closed pipe."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import sim.api
import sim.overview
import sim.runner
from sim.cli import main
from sim.surgery import deal_surgery

from .conftest import BASELINE, ROOT, small_world

MONTHS = "3"


@pytest.fixture
def small_toml(tmp_path: Path) -> Path:
    """The small world as a scenario file (its name says what a run folder holds)."""
    path = tmp_path / "small.toml"
    path.write_text((ROOT / "tests" / "fixtures" / "sweeps" / "small.toml").read_text())
    return path


@pytest.fixture(autouse=True)
def _figure_not_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The overview figure is built but not rendered to PNG here (slow; test_cli does it)."""

    def save(fig: object, path: Path) -> Path:
        plt.close(fig)
        Path(path).write_bytes(b"")
        return Path(path)

    monkeypatch.setattr(sim.overview, "save_png", save)


def _no_simulation(*args: object, **kwargs: object) -> None:
    raise AssertionError("simulated although --out was unusable")


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err
    return code, err


# --- item 7: --out checked before simulating ------------------------------------------------
def test_out_that_is_a_file_is_refused_before_simulating(
    tmp_path: Path, small_toml: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # both names: `computesim run` simulates through sim.api, which imported it from sim.runner
    # (imported here first, so the patch is undone for the tests that follow)
    monkeypatch.setattr(sim.runner, "simulate", _no_simulation)
    monkeypatch.setattr(sim.api, "simulate", _no_simulation)
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "sub"):
        code, err = _run(["run", str(small_toml), "--out", str(out), "--months", MONTHS], capsys)
        assert code == 2 and "--out" in err and "Nothing was run or written" in err, err
    assert afile.read_text() == "x"


# --- item 5: whole folders only ------------------------------------------------------------
def test_run_writes_a_complete_folder_readable_by_others(
    tmp_path: Path, small_toml: Path, capsys
) -> None:
    out = tmp_path / "out"
    code, _ = _run(["run", str(small_toml), "--out", str(out), "--months", MONTHS], capsys)
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert "run.json" in names and not [n for n in names if n.startswith(".")], names
    marker = json.loads((out / "run.json").read_text())
    assert marker["scenario"] == "small" and marker["complete"] is True
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, (p.name, oct(p.stat().st_mode))
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_rerun_replaces_the_folder_whole(tmp_path: Path, small_toml: Path, capsys) -> None:
    out = tmp_path / "out"
    assert _run(["run", str(small_toml), "--out", str(out), "--months", MONTHS], capsys)[0] == 0
    (out / "stray.parquet").write_text("from an older run")
    assert _run(["run", str(small_toml), "--out", str(out), "--months", "4"], capsys)[0] == 0
    assert not (out / "stray.parquet").exists()
    assert len(pd.read_parquet(out / "model.parquet")) == 4


def test_folder_of_another_scenario_is_refused_unless_force(
    tmp_path: Path, small_toml: Path, capsys
) -> None:
    out = tmp_path / "out"
    assert _run(["run", str(small_toml), "--out", str(out), "--months", MONTHS], capsys)[0] == 0
    other = tmp_path / "other.toml"
    other.write_text(small_toml.read_text().replace('name = "small"', 'name = "other"'))
    before = (out / "model.parquet").read_bytes()
    code, err = _run(["run", str(other), "--out", str(out), "--months", MONTHS], capsys)
    assert code == 2 and "--force" in err and "small" in err, err
    assert (out / "model.parquet").read_bytes() == before
    args = ["run", str(other), "--out", str(out), "--months", MONTHS, "--force"]
    assert _run(args, capsys)[0] == 0
    assert json.loads((out / "run.json").read_text())["scenario"] == "other"


def test_current_folder_is_never_replaced(
    tmp_path: Path, small_toml: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("keep")
    monkeypatch.chdir(work)
    for out in (".", ".."):
        args = ["run", str(small_toml), "--out", out, "--months", MONTHS, "--force"]
        code, err = _run(args, capsys)
        assert code == 2 and "current folder" in err, err
    assert (work / "notes.txt").read_text() == "keep"


def test_folder_with_foreign_files_is_refused(tmp_path: Path, small_toml: Path, capsys) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    code, err = _run(["run", str(small_toml), "--out", str(out), "--months", MONTHS], capsys)
    assert code == 2 and "not a run folder" in err, err
    assert (out / "thesis.tex").read_text() == "precious"


def test_crash_while_writing_leaves_the_old_run_whole(
    tmp_path: Path, small_toml: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    out = tmp_path / "out"
    assert _run(["run", str(small_toml), "--out", str(out), "--months", MONTHS], capsys)[0] == 0
    old = {p.name: p.read_bytes() for p in out.iterdir()}
    real = sim.runner.write_table
    written: list[str] = []

    def crash_on_third(df: pd.DataFrame, path: str, name: str = "") -> None:
        written.append(path)
        if len(written) == 3:
            raise KeyboardInterrupt  # killed part way through writing
        real(df, path, name)

    monkeypatch.setattr(sim.runner, "write_table", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        main(["run", str(small_toml), "--out", str(out), "--months", "4", "--no-progress"])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == old
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# --- item 7: surgery months, broken pipes ---------------------------------------------------
@pytest.mark.parametrize("months", ["0", "-3", "601"])
def test_surgery_months_out_of_range(months: str, capsys) -> None:
    code, err = _run(
        ["surgery", str(BASELINE), "--deal", "nvidia-openai-stake", "--months", months], capsys
    )
    assert code == 2 and "--months must be between 1 and 600" in err, err


@pytest.mark.parametrize(
    "command",
    [
        ["params"],
        ["params", "--markdown"],
        ["sweep", str(ROOT / "tests" / "fixtures" / "sweeps" / "grid.toml"), "--dry-run"],
    ],
)
def test_closed_pipe_exits_quietly(command: list[str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # like `| head` that has gone before the first line
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and b"Traceback" not in err, err.decode()


# --- item 10 ----------------------------------------------------------------------------------
def test_params_say_required_not_pydantic_undefined(capsys) -> None:
    assert main(["params"]) == 0
    out = capsys.readouterr().out
    assert "PydanticUndefined" not in out
    line = next(x for x in out.splitlines() if x.startswith("labs[].name "))
    assert "required" in line


def test_surgery_change_labels_read_original_and_changed() -> None:
    scenario = small_world(deals=True, **{"run.months": 6})
    per_run, summary = deal_surgery(scenario, "credits", {"amount_usd": 3e9}, runs=1, months=6)
    assert {"original", "changed"} <= set(summary) and "without_deal" not in summary
    row = summary.set_index("outcome").loc["reported_revenue_usd"]
    assert row["effect"] == pytest.approx(row["changed"] - row["original"])
    removed_runs, removed = deal_surgery(scenario, "credits", runs=1, months=6)
    row = removed.set_index("outcome").loc["reported_revenue_usd"]
    assert row["effect"] == pytest.approx(row["with_deal"] - row["without_deal"])
    assert len(per_run) == len(removed_runs)


def test_readme_surgery_and_audit_examples_write_distinct_folders() -> None:
    text = (ROOT / "README.md").read_text()
    commands = [
        line.split("#")[0]
        for line in text.splitlines()
        if line.startswith(".venv/bin/computesim ") and (" surgery " in line or " run " in line)
    ]
    outs = [c.split("--out ")[1].split()[0] for c in commands]
    assert len(commands) >= 5 and len(outs) == len(commands)
    assert len(set(outs)) == len(outs), outs
    for table in ("debtrank", "exposures", "journal", "kinds", "lines"):
        assert f"`{table}`" in text, table
