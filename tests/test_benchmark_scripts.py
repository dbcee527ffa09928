"""The benchmark scripts refuse bad input as the commands do: a clear message naming the
option, exit code 2, nothing run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT

INSTRUCTIONS = ROOT / "benchmarks" / "instructions.py"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--months", "0"], "--months"),
        (["--workers", "0"], "--workers"),
        (["--rev", "no-such-commit-anywhere"], "--rev 'no-such-commit-anywhere'"),
    ],
)
def test_instruction_counts_refuse_bad_options(args: list[str], named: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(INSTRUCTIONS), *args], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert named in proc.stderr
    assert "callgrind" not in proc.stdout  # nothing was counted
