"""``install/link_interpreter.sh`` (run by ``make setup``): a venv whose base Python runs from
a shared libpython gets an interpreter with libpython linked in, which runs the model to
the same results bit for bit; where it cannot link, the script changes nothing, says why and
exits 0 (it never fails the setup)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from .conftest import ROOT

SCRIPT = ROOT / "install" / "link_interpreter.sh"

# A short default run, its model table and every agent's books digested, and whether the
# process runs from a shared libpython (benchmarks/interpreter.py's reading of its memory map)
RUN = """
import hashlib, sys
sys.path.insert(0, sys.argv[1])
from sim.config import load_scenario
from sim.runner import run_model
sys.path.insert(0, sys.argv[1] + "/benchmarks")
from interpreter import libpython_is_shared
from sim.ledger import Line
world = run_model(load_scenario(sys.argv[1] + "/experiments/baseline.toml"), 3, 18)
ledger = world.books.ledger
books = [(name, [ledger.balance_cents(name, line) for line in Line]) for name in ledger.accounts]
table = world.model_table().to_csv(float_format="%.17g")
print(hashlib.sha256((repr(books) + table).encode()).hexdigest(), libpython_is_shared())
"""


def _link(venv: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), str(venv)], capture_output=True, text=True, check=False
    )


def _base_python() -> Path:
    """The base interpreter of this venv (what ``make setup`` made the venv from)."""
    return Path(sys._base_executable)  # type: ignore[attr-defined]


def _base_runs_from_shared_libpython() -> bool:
    """benchmarks/interpreter.py's reading of the base interpreter's memory map."""
    read = (
        "import sys; sys.path.insert(0, sys.argv[1]); import interpreter; "
        "print(interpreter.libpython_is_shared())"
    )
    out = subprocess.run(
        [str(_base_python()), "-c", read, str(ROOT / "benchmarks")],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() == "True"


@pytest.mark.skipif(sys.platform != "linux", reason="the script links on Linux only")
def test_a_shared_base_gets_a_linked_interpreter_with_the_same_results(tmp_path: Path) -> None:
    if not _base_runs_from_shared_libpython():
        pytest.skip(f"{_base_python()} has libpython linked in already: nothing to link")
    if shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0]) is None:
        pytest.skip("no C compiler")
    venv = tmp_path / "venv"
    subprocess.run([str(_base_python()), "-m", "venv", "--without-pip", str(venv)], check=True)
    assert (venv / "bin" / "python3").is_symlink()  # the base's executable, as venv makes it

    linked = _link(venv)
    assert linked.returncode == 0, linked.stderr
    assert "now has libpython linked in" in linked.stdout
    python = venv / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert python.is_file() and not python.is_symlink()
    for name in ("python", "python3"):  # the same file, not a link out of the venv
        assert (venv / "bin" / name).samefile(python)
    assert not list((venv / "bin").glob(".python-linked*"))  # no leftovers

    # the model's own packages, from this venv, for both interpreters
    site = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": site}
    results = {}
    for label, exe in (("base", _base_python()), ("linked", python)):
        out = subprocess.run(
            [str(exe), "-c", RUN, str(ROOT)], capture_output=True, text=True, env=env, check=True
        )
        results[label] = out.stdout.split()
    assert results["base"][1] == "True" and results["linked"][1] == "False"
    assert results["linked"][0] == results["base"][0]  # the same books and model table

    again = _link(venv)  # a second setup keeps it
    assert again.returncode == 0
    assert "already an interpreter of its own" in again.stdout


def test_what_it_cannot_link_it_keeps_and_says_why(tmp_path: Path) -> None:
    missing = _link(tmp_path / "no-venv")
    assert missing.returncode == 0
    assert "kept" in missing.stdout and "no such interpreter" in missing.stdout
    assert not (tmp_path / "no-venv").exists()  # nothing made

    own = tmp_path / "own" / "bin"
    own.mkdir(parents=True)
    (own / "python3").write_text("#!/bin/sh\nexit 0\n")
    (own / "python3").chmod(0o755)
    kept = _link(own.parent)
    assert kept.returncode == 0
    assert "already an interpreter of its own" in kept.stdout
    assert sorted(p.name for p in own.iterdir()) == ["python3"]

    broken = tmp_path / "broken" / "bin"  # a link to a program that is no Python
    broken.mkdir(parents=True)
    program = tmp_path / "not-python"
    program.write_text("#!/bin/sh\nexit 3\n")
    program.chmod(0o755)
    (broken / "python3").symlink_to(program)
    unread = _link(broken.parent)
    assert unread.returncode == 0
    assert "could not read its build configuration" in unread.stdout
    assert sorted(p.name for p in broken.iterdir()) == ["python3"]
