"""Issue 19, items 2 and 7: a sweep folder knows its plan; bad sweep input never gives a
traceback."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.results_store import ResultsStore

FIXTURES = Path(__file__).parent / "fixtures" / "sweeps"


def sweep_file(tmp_path: Path, values: str, months: str = "3", name: str = "plan") -> Path:
    path = tmp_path / f"{name}-{abs(hash((values, months)))}.toml"
    path.write_text(
        f'[sweep]\nname = "{name}"\nscenario = "{(FIXTURES / "small.toml").as_posix()}"\n'
        f"months = {months}\n[parameters]\n"
        f'vary = [{{path = "demand.noise_sd", values = {values}}}]\n'
        '[outputs]\nsummary = ["defaults", "mean_utilisation"]\n'
    )
    return path


def sweep(path: Path, out: Path, *extra: str) -> int:
    return main(
        ["sweep", str(path), "--out", str(out), "--engine", "serial", "--no-progress", *extra]
    )


def test_a_changed_sweep_file_is_refused_with_a_way_on(tmp_path: Path, capsys) -> None:
    out = tmp_path / "r"
    assert sweep(sweep_file(tmp_path, "[0.01, 0.02]"), out) == 0
    manifest = (out / "manifest.json").read_text()
    capsys.readouterr()
    changed = sweep_file(tmp_path, "[0.01, 0.02]", months="4")  # same name, other runs
    assert sweep(changed, out) == 2
    err = capsys.readouterr().err
    assert "--force" in err and "--out" in err and "plan" in err, err
    assert (out / "manifest.json").read_text() == manifest
    assert ResultsStore(out).status()["planned"] == 2
    assert sweep(changed, out, "--force") == 0
    assert ResultsStore(out).status() == {"planned": 2, "done": 2, "failed": 0, "pending": 0}
    assert (
        len(ResultsStore(out).results()) == 2 and (ResultsStore(out).results()["months"] == 4).all()
    )


def test_adding_points_extends_the_plan_and_keeps_earlier_runs(tmp_path: Path, capsys) -> None:
    out = tmp_path / "r"
    assert sweep(sweep_file(tmp_path, "[0.01, 0.02]"), out) == 0
    assert sweep(sweep_file(tmp_path, "[0.01, 0.02, 0.03]"), out) == 0
    assert "1 runs done" in capsys.readouterr().out
    assert ResultsStore(out).status() == {"planned": 3, "done": 3, "failed": 0, "pending": 0}


def test_status_and_query_count_only_the_current_plan(tmp_path: Path, capsys) -> None:
    out = tmp_path / "r"
    assert sweep(sweep_file(tmp_path, "[0.01, 0.02]"), out) == 0
    store = ResultsStore(out)
    first = pd.read_parquet(next(store.runs.glob("*.parquet")))
    foreign = first.assign(run_id="0123456789abcdef0123", months=60)  # a run of no plan
    foreign.to_parquet(store.runs / "0123456789abcdef0123.parquet", index=False)
    assert store.status()["done"] == 2
    assert len(store.results()) == 2
    assert store.query("SELECT count(*) AS n FROM runs")["n"].iloc[0] == 2
    capsys.readouterr()
    assert main(["query", str(out), "SELECT count(*) AS n FROM runs"]) == 0
    assert capsys.readouterr().out.split()[-1] == "2"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('months = "3"', "sweep.months"),
        ("months = 3.0", "sweep.months"),
    ],
)
def test_numbers_as_strings_are_refused_in_sweep_files(
    tmp_path: Path, capsys, text: str, needle: str
) -> None:
    path = sweep_file(tmp_path, "[0.01]")
    path.write_text(path.read_text().replace("months = 3", text))
    assert sweep(path, tmp_path / "r") == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_string_value_for_a_number_parameter_is_refused(tmp_path: Path, capsys) -> None:
    assert sweep(sweep_file(tmp_path, '["0.01"]'), tmp_path / "r") == 2
    assert "noise_sd" in capsys.readouterr().err


def test_sweep_file_that_is_not_utf8_and_out_that_is_a_file(tmp_path: Path, capsys) -> None:
    path = sweep_file(tmp_path, "[0.01]")
    path.write_bytes(path.read_bytes().replace(b'name = "plan"', b'name = "pl\xe9n"'))
    assert sweep(path, tmp_path / "r") == 2
    assert "UTF-8" in capsys.readouterr().err
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert sweep(sweep_file(tmp_path, "[0.01]"), afile) == 2
    assert "is a file" in capsys.readouterr().err and afile.read_text() == "x"
