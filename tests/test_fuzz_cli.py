"""Issue 19: a fuzz test of the CLI. Hypothesis writes random scenario files (wrong types,
missing and unknown fields, extreme numbers, broken TOML, bad encodings, `base` cycles) and
runs `computesim run` on them for a couple of months: every case exits 0 or 2, never with a
traceback."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim.overview
from sim.cli import main

from .conftest import ROOT

SMALL = ROOT / "tests" / "fixtures" / "sweeps" / "small.toml"
BASE: dict[str, Any] = tomllib.loads(SMALL.read_text())
CASES: Counter[str] = Counter()  # cases run, by kind (printed at the end of the test)

EXTREME = [0, -1, 1, 1e308, -1e308, math.inf, -math.inf, math.nan, 10**30, -(10**30), 2**63]
EXTREME += [5e-324, 1e-12, 600, 601, 1e13, 1e14]
WRONG = ["10e9", "", "nan", True, False, [1, 2], {"x": 1}, "2025-13", [], "frontier"]


# --- a small TOML writer for the test inputs ---------------------------------------------------
def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_value(x)}" for k, x in v.items()) + "}"
    return "[" + ", ".join(_value(x) for x in v) + "]"


def to_toml(data: dict[str, Any]) -> str:
    """TOML text of a scenario-shaped dict: scalars, then tables, then arrays of tables."""
    out = [f"{json.dumps(k)} = {_value(v)}" for k, v in data.items() if not _is_table(v)]
    for k, v in data.items():
        if isinstance(v, dict) and v:
            out.append(f"[{json.dumps(k)}]")
            out += [f"{json.dumps(f)} = {_value(x)}" for f, x in v.items()]
        elif _is_table(v) and isinstance(v, list):
            for item in v:
                out.append(f"[[{json.dumps(k)}]]")
                out += [f"{json.dumps(f)} = {_value(x)}" for f, x in item.items()]
    return "\n".join(out) + "\n"


def _is_table(v: Any) -> bool:
    return (isinstance(v, dict) and bool(v)) or (
        isinstance(v, list) and bool(v) and all(isinstance(x, dict) and x for x in v)
    )


def _leaves(data: Any, prefix: tuple = ()) -> list[tuple]:
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _leaves(v, (*prefix, k))] or [prefix]
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return [p for i, v in enumerate(data) for p in _leaves(v, (*prefix, i))]
    return [prefix]


def _set(data: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def _delete(data: Any, path: tuple) -> None:
    for key in path[:-1]:
        data = data[key]
    del data[path[-1]]


# --- the cases -------------------------------------------------------------------------------
KINDS = (
    "valid",
    "wrong_type",
    "missing",
    "unknown",
    "extreme",
    "extremes",
    "broken_toml",
    "encoding",
    "cycle",
    "base_override",
)


def _write_case(folder: Path, kind: str, data: st.DataObject) -> Path:
    scenario = json.loads(json.dumps(BASE))  # a deep copy
    scenario["run"]["months"] = 2
    leaves = _leaves(scenario)
    path = folder / "case.toml"
    if kind == "wrong_type":
        _set(scenario, data.draw(st.sampled_from(leaves)), data.draw(st.sampled_from(WRONG)))
    elif kind == "missing":
        top = data.draw(st.sampled_from([*leaves, ("labs",), ("clouds",), ("investors",)]))
        _delete(scenario, top)
    elif kind == "unknown":
        where = data.draw(st.sampled_from([(), ("run",), ("labs", 0), ("chip_vendors", 0)]))
        _set(scenario, (*where, data.draw(st.sampled_from(["colour", "month", "Name", "x y"]))), 1)
    elif kind in ("extreme", "extremes"):
        numeric = [p for p in leaves if isinstance(_get(scenario, p), (int, float))]
        numeric = [p for p in numeric if not isinstance(_get(scenario, p), bool)]
        for p in data.draw(st.lists(st.sampled_from(numeric), min_size=1, max_size=6)):
            _set(scenario, p, data.draw(st.sampled_from(EXTREME)))
            if kind == "extreme":
                break
    elif kind == "broken_toml":
        text = to_toml(scenario)
        cut = data.draw(st.integers(1, len(text) - 1))
        junk = data.draw(st.sampled_from(["", "[[", "= =", '"unterminated', "\x00", "[run]\n"]))
        path.write_text(text[:cut] + junk + text[cut:], encoding="utf-8")
        return path
    elif kind == "encoding":
        text = to_toml(scenario).replace('"small"', '"smäll – ∑"')
        codec = data.draw(st.sampled_from(["latin-1", "utf-16", "cp1252", "raw"]))
        if codec == "raw":
            raw = data.draw(st.binary(min_size=1, max_size=200))
        else:
            raw = text.encode(codec, errors="replace")
        path.write_bytes(raw)
        return path
    elif kind == "cycle":
        hops = data.draw(st.integers(0, 3))
        names = [path.name] + [f"hop{k}.toml" for k in range(hops)]
        for here, there in zip(names, names[1:] + names[:1], strict=True):
            (folder / here).write_text(f'base = "{there}"\n[overrides]\n"run.months" = 2\n')
        return path
    elif kind == "base_override":
        (folder / "small.toml").write_text(to_toml(scenario), encoding="utf-8")
        value = data.draw(st.sampled_from([*EXTREME, *WRONG]))
        key = data.draw(st.sampled_from(["demand.noise_sd", "labs.*.optimism", "run.months", "x"]))
        base = data.draw(st.sampled_from(["small.toml", "missing.toml", "", "."]))
        path.write_text(f'base = {_value(base)}\n[overrides]\n"{key}" = {_value(value)}\n')
        return path
    path.write_text(to_toml(scenario), encoding="utf-8")
    return path


def _figure_not_rendered(fig: Any, path: Path) -> Path:
    plt.close(fig)
    Path(path).write_bytes(b"")
    return Path(path)


def _get(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


@pytest.fixture(scope="module", autouse=True)
def _report_cases() -> Iterator[None]:
    """Print how many cases ran, by kind and exit code (see it with ``pytest -s``)."""
    yield
    if CASES:
        total = sum(CASES.values())
        print(f"\nfuzz: {total} cases, 0 tracebacks: {dict(sorted(CASES.items()))}")


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_cli_exits_0_or_2_and_never_with_a_traceback(
    kind: str,
    data: st.DataObject,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the overview figure is built from the run's data, but not rendered to PNG (slow;
    # test_cli renders it)
    monkeypatch.setattr(sim.overview, "save_png", _figure_not_rendered)
    folder = Path(tempfile.mkdtemp(prefix="computesim-fuzz-"))
    try:
        path = _write_case(folder, kind, data)
        try:
            code = main(["run", str(path), "--out", str(folder / "out"), "--no-progress"])
        except SystemExit as exc:  # argparse
            code = exc.code
        err = capsys.readouterr().err
        CASES[f"{kind}:{code}"] += 1
        assert code in (0, 2), f"{kind}: exit {code}\n{err}"
        assert "Traceback" not in err
        if code == 2:
            assert "computesim: error:" in err and "Nothing was run or written" in err, err
            assert not (folder / "out").exists()
        else:
            assert (folder / "out" / "run.json").is_file()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("latin1.toml", 'name = "caf\u00e9"\n'.encode("latin-1")),
        ("loop.toml", b'base = "loop.toml"\n'),
    ],
)
def test_cli_subprocess_gives_one_paragraph_and_exit_2(
    tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("computesim: error:") and proc.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()
