"""The code is ruff clean (part of the test suite, so every test run checks it)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT

CHECKED = ("sim", "tests", "benchmarks", "experiments")


def test_ruff_finds_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *CHECKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
