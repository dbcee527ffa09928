"""The benchmark scripts refuse bad input as the commands do: a clear message naming the
option, exit code 2, nothing run."""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import ROOT

INSTRUCTIONS = ROOT / "benchmarks" / "instructions.py"
PAIRED = ROOT / "benchmarks" / "paired.py"


@pytest.mark.parametrize(
    ("script", "args", "named"),
    [
        (INSTRUCTIONS, ["--months", "0"], "--months"),
        (INSTRUCTIONS, ["--workers", "0"], "--workers"),
        (INSTRUCTIONS, ["--rev", "no-such-commit-anywhere"], "--rev 'no-such-commit-anywhere'"),
        (PAIRED, ["--rev", "HEAD"], "--rev must be given twice"),
        (PAIRED, ["--python", sys.executable], "--python must be given twice"),
        (PAIRED, ["--python", sys.executable, "--python", "/no/such"], "--python '/no/such'"),
        (PAIRED, ["--pairs", "0"], "--pairs"),
        (PAIRED, ["--window", "0"], "--window"),
        (PAIRED, ["--window", "nan"], "--window"),
        (PAIRED, ["--months", "0"], "--months"),
        (PAIRED, ["--rev", "HEAD", "--rev", "no-such-commit"], "--rev 'no-such-commit'"),
    ],
)
def test_benchmark_scripts_refuse_bad_options(script: Path, args: list[str], named: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert named in proc.stderr
    assert proc.stdout == ""  # nothing was counted or timed


@pytest.mark.skipif(
    len(getattr(os, "sched_getaffinity", lambda _: ())(0)) < 2,
    reason="paired timing pins its processes to two cores (Linux)",
)
def test_paired_timing_compares_the_same_seeds_on_both_cores() -> None:
    """Two short pairs of a revision against itself: each side's runs are counted and timed,
    the cores swap between pairs, and the ratio is of the same runs on both sides."""
    options = ["--rev", "HEAD", "--rev", "HEAD", "--pairs", "2", "--window", "1", "--months", "3"]
    proc = subprocess.run(
        [sys.executable, str(PAIRED), *options],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line[:4].strip().isdigit()]
    assert [row[2] for row in rows] == ["0,1", "1,0"]
    for row in rows:
        a_runs, b_runs = (int(n) for n in row[3].split(","))
        assert a_runs >= 1 and b_runs >= 1
        a, b, ratio = float(row[4]), float(row[5]), float(row[6])
        assert a > 0 and b > 0
        # each printed to three decimals: the ratio of the printed times, within their rounding
        assert ratio == pytest.approx(b / a, rel=0.0005 / a + 0.0005 / b + 0.001)
    assert "median" in proc.stdout.splitlines()[-1]


def _interpreter_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "interpreter", ROOT / "benchmarks" / "interpreter.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_libpython_linking_is_read_from_the_loaded_libraries(tmp_path: Path) -> None:
    interpreter = _interpreter_module()
    shared = tmp_path / "shared"
    shared.write_text(
        "7f00-7f01 r--p 00000000 fd:01 42 /opt/python/lib/libpython3.12.so.1.0\n"
        "7f02-7f03 r--p 00000000 fd:01 43 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    )
    linked_in = tmp_path / "linked_in"
    linked_in.write_text(
        "5500-5501 r--p 00000000 fd:01 41 /usr/bin/python3.13\n"
        "7f02-7f03 r--p 00000000 fd:01 43 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
        "7ffc-7ffd rw-p 00000000 00:00 0 [stack]\n"
    )
    assert interpreter.libpython_is_shared(shared) is True
    assert interpreter.libpython_is_shared(linked_in) is False
    assert interpreter.libpython_is_shared(tmp_path / "missing") is None


def test_interpreter_description_names_this_python() -> None:
    text = _interpreter_module().describe()
    assert platform.python_version() in text
    assert sys.executable in text
