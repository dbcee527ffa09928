"""The code is ruff clean and its layers import one way (part of the test suite, so every
test run checks both)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_layers_import_one_way() -> None:
    """The import-linter contract in pyproject.toml: each layer imports only from below."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
