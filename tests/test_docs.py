"""The documentation: the strict site build, the generated parameter page, docstrings of the
public API, the executed quickstart notebook, and the built wheel run from outside the
checkout."""

from __future__ import annotations

import html
import inspect
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

import sim
from sim.config import parameter_table

from .conftest import ROOT

BIN = Path(sys.executable).parent


def test_strict_docs_build_lists_every_parameter(tmp_path: Path) -> None:
    site = tmp_path / "site"
    proc = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = html.unescape((site / "parameters.html").read_text())
    missing = [r["parameter"] for r in parameter_table() if f"{r['parameter']}</code>" not in page]
    assert not missing, missing
    for name in ("calibration", "validation", "quickstart", "api"):
        assert (site / f"{name}.html").is_file(), name
    api = (site / "api.html").read_text()
    assert all(f"sim.api.{name}" in api for name in sim.__all__)


def test_every_public_name_and_member_has_a_docstring() -> None:
    undocumented = []
    for name in sim.__all__:
        obj = getattr(sim, name)
        if not inspect.getdoc(obj):
            undocumented.append(name)
        if inspect.isclass(obj):
            for member, value in vars(obj).items():
                if member.startswith("_") or not callable(getattr(value, "fget", value)):
                    continue
                if not inspect.getdoc(value):
                    undocumented.append(f"{name}.{member}")
    assert not undocumented


def test_quickstart_notebook_runs(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(ROOT / "docs" / "quickstart.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    images = [
        o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 2  # the run's overview and the ensemble's fan chart


@pytest.mark.slow
def test_built_wheel_runs_the_default_world_outside_the_checkout(tmp_path: Path) -> None:
    """pip wheel . → a fresh virtual environment → ``sim.run("baseline", months=3)`` from a
    folder outside the checkout, importing the installed copy (not this checkout).

    The wheel goes in with ``--no-deps``; the dependencies are this environment's, through a
    ``.pth`` line (which adds the folder only: the editable install's finder is not loaded).
    Set ``COMPUTESIM_WHEEL_DEPS=index`` to install them from the package index instead
    (several minutes on 2 cores).
    """
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(wheels), "-q"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("computesim-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {
        "sim/scenarios/baseline.toml",
        "sim/scenarios/endogenous_glut.toml",
        "sim/scenarios/enterprise_jv.toml",
        "sim/scenarios/stargate.toml",
        "sim/scenarios/telecom_bust.toml",
        "sim/py.typed",
    } <= names
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    from_index = os.environ.get("COMPUTESIM_WHEEL_DEPS") == "index"
    if not from_index:
        site = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        ours = sysconfig.get_paths()["purelib"]
        Path(site, "computesim-test-deps.pth").write_text(ours + "\n")
    install = [str(python), "-m", "pip", "install", "-q", str(wheel)]
    proc = subprocess.run(
        install if from_index else [*install, "--no-deps"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr
    script = (
        "import sim, sys; assert sim.__file__.startswith(sys.prefix), sim.__file__; "
        "r = sim.run('baseline', months=3); "
        "print(sim.scenarios(), len(r.model), int(r.summary['months']))"
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    proc = subprocess.run(
        [str(python), "-c", script], cwd=outside, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        "['baseline',",
        "'endogenous_glut',",
        "'enterprise_jv',",
        "'stargate',",
        "'telecom_bust']",
        "3",
        "3",
    ]
