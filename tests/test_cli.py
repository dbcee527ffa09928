"""`computesim run` writes every table, the config with its seed, and a figure."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest

from sim import cli, fork_server

from .conftest import BASELINE


def test_run_writes_tables_config_summary_and_figure(tmp_path: Path) -> None:
    out = tmp_path / "base"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "run",
            str(BASELINE),
            "--out",
            str(out),
            "--seed",
            "5",
            "--months",
            "12",
            "--picture",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    assert "installed capacity" in proc.stdout and "compute price" in proc.stdout
    assert "defaults" in proc.stdout and "money moved" in proc.stdout
    for name in ("model", "agents", "events", "debtrank", "exposures"):
        assert (out / f"{name}.parquet").is_file()
    for name in ("flows", "accruals", "journal"):  # posting-level tables: only with --detail
        assert not (out / f"{name}.parquet").exists()
    model = pd.read_parquet(out / "model.parquet")
    assert len(model) == 12 and {"utilisation", "spot_price_usd_per_gpu_hour"} <= set(model)
    config = json.loads((out / "config.json").read_text())
    assert config["seed"] == 5 and config["scenario"]["name"] == "baseline"
    image = mpimg.imread(out / "overview.png")
    assert image.shape[0] > 300 and image.std() > 0.01


def test_run_set_changes_a_parameter_and_records_it(tmp_path: Path, capsys) -> None:
    """``computesim run --set PATH=VALUE`` runs a variant: config.json holds the changed
    value; a path that does not exist exits 2 and writes nothing."""
    from sim.cli import main

    out = tmp_path / "run"
    args = ["run", "baseline", "--months", "2", "--no-progress", "--out", str(out)]
    assert main([*args, "--set", "investment.preemption_weight=0.75"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["scenario"]["investment"]["preemption_weight"] == 0.75
    bad = tmp_path / "bad"
    bad_args = ["run", "baseline", "--months", "2", "--no-progress", "--out", str(bad)]
    assert main([*bad_args, "--set", "investment.preemption=2"]) == 2
    assert "unknown parameter path 'investment.preemption'" in capsys.readouterr().err
    assert not bad.exists()


def test_help_lists_commands() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "--help"], capture_output=True, text=True, check=True
    )
    assert "run" in proc.stdout and "params" in proc.stdout


def test_each_plugin_adds_exactly_the_commands_listed_for_it() -> None:
    """`computesim` imports a plugin only for its own commands, so the table of who adds
    which command must be right: a command missing from it would be unreachable."""
    for module, commands in cli.PLUGINS.items():
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(module).add_subcommands(sub)
        assert tuple(sub.choices) == commands, module


def test_the_command_list_gives_each_plugin_command_its_own_help() -> None:
    """The command list is built without importing the plugins, from cli.COMMAND_HELP: its
    words must be the plugins' own."""
    for module in cli.PLUGINS:
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(module).add_subcommands(sub)
        for action in sub._choices_actions:
            assert cli.COMMAND_HELP[action.dest] == action.help, action.dest
    assert set(cli.COMMAND_HELP) == {c for commands in cli.PLUGINS.values() for c in commands}


def test_command_list_imports_no_plugin() -> None:
    """`computesim --help` lists every command without importing a plugin, Mesa, pandas or
    matplotlib (issue 20: fast start)."""
    probe = (
        "import sys\n"
        "from sim.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('mesa', 'pandas', 'matplotlib')\n"
        "         or m.endswith('_cli') and m != 'sim.run_cli' or m == 'sim.gallery']\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    listed = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("    ")}
    assert {"run", "surgery", "params", *cli.COMMAND_HELP} <= listed
    assert cli.COMMAND_HELP["calibrate"] in " ".join(proc.stdout.split())
    assert "HEAVY []" in proc.stdout, proc.stdout[-300:]


def command_output_and_imports(args: list[str], modules: tuple[str, ...]) -> str:
    """The stdout of ``computesim ARGS`` run in a fresh interpreter, followed by a line
    ``HEAVY [...]`` naming which of ``modules`` it imported (a --help exits: caught)."""
    probe = (
        "import sys\n"
        "from sim.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = [m for m in {modules!r} if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return proc.stdout


def test_sweep_help_does_not_import_the_simulation() -> None:
    """`computesim sweep --help` answers from sweep_cli's parser alone: the commands' module
    (sim.sweep_commands: pandas, the runner, the results store) is imported only to run."""
    out = command_output_and_imports(
        ["sweep", "--help"], ("mesa", "pandas", "sim.runner", "sim.sweep_commands")
    )
    assert "--dry-run" in out
    assert "HEAVY []" in out, out[-300:]


def test_a_pool_sweep_starts_its_fork_server_before_importing_the_runner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`computesim sweep` on a local process pool starts the pool's fork server before the
    command's module (pandas, the runner) is imported, so that the server imports the model
    while this process does (about 0.7 s less for a sweep on two cores); a dry run, the
    serial engine and a Dask scheduler start none."""
    calls: list[str] = []
    monkeypatch.setattr(fork_server, "start_fork_server", lambda: calls.append("fork server"))

    def handler_of(args: argparse.Namespace) -> object:
        calls.append("imports")
        return lambda args: 0

    monkeypatch.setattr(cli, "handler_of", handler_of)
    for extra, expected in (
        ([], ["fork server", "imports"]),
        (["--workers", "1"], ["fork server", "imports"]),
        (["--dry-run"], ["imports"]),
        (["--engine", "serial"], ["imports"]),
        (["--engine", "dask"], ["imports"]),
        (["--scheduler", "tcp://127.0.0.1:8786"], ["imports"]),
    ):
        calls.clear()
        assert cli.main(["sweep", "any.toml", *extra]) == 0
        assert calls == expected, extra


def test_calibrate_help_does_not_import_the_simulation() -> None:
    """`computesim calibrate --help` answers from calibration_cli's parser alone: the report
    and the fit (sim.calibration_commands: pandas, the runner, matplotlib through the fitting
    plots) are imported only to run."""
    out = command_output_and_imports(
        ["calibrate", "--help"],
        ("mesa", "pandas", "matplotlib", "sim.runner", "sim.calibration_commands"),
    )
    assert "--fit" in out and "--list-measures" in out
    assert "HEAVY []" in out, out[-300:]


def test_params_imports_only_the_configuration() -> None:
    """`computesim params` prints the parameter table without importing Mesa, pandas or the
    runner (sim.params_cli needs only sim.config)."""
    out = command_output_and_imports(["params"], ("mesa", "pandas", "sim.runner", "sim.run_cli"))
    assert "run.months" in out and "calibration" in out.lower()
    assert "HEAVY []" in out, out[-300:]


def test_run_help_does_not_import_the_simulation() -> None:
    """`computesim run --help` answers from the parser alone: neither Mesa nor the runner
    nor any plugin is imported (issue 20: fast start)."""
    out = command_output_and_imports(
        ["run", "--help"], ("mesa", "pandas", "matplotlib", "sim.runner", "sim.sweep_cli")
    )
    assert "--no-picture" in out
    assert "HEAVY []" in out, out[-300:]


def test_an_unknown_command_lists_every_command_and_exits_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "frobnicate"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    for command in ("run", "surgery", "params", "sweep", "calibrate", "gallery", "dash"):
        assert command in proc.stderr
