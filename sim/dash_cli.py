"""The `computesim dash` subcommand: checks its input, then serves :mod:`sim.dashboards`.

This module imports nothing of the optional extra, so the command exists (and can say how
to install what it needs) even where the extra ``dash`` is not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from sim.config import ConfigError, load_scenario

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "experiments" / "baseline.toml"
NEEDS = ("solara", "mesa.visualization", "ipyvuetify")
"""Modules the dashboard imports from the optional extra ``dash``."""
INSTALL_HINT = (
    "the dashboard needs the optional extra `dash` (Mesa's SolaraViz with pins that work "
    "offline), which is not installed: run `pip install -e '.[dash]'` in the project folder "
    "(`make setup` installs it). Nothing was started."
)


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    dash = subparsers.add_parser(
        "dash",
        help="interactive dashboard in the browser (Mesa SolaraViz): sliders, step/play/reset",
        description="Serve an interactive dashboard over one world: headline parameters as "
        "sliders (bounds, units and sources from the parameter table), a scenario selector, "
        "the seed, Step / Play / Reset, and pages for the market, the exposure network, "
        "balance sheets and flows, circularity, and a comparison with the world's own "
        "parameters. Open the printed address in a browser; Ctrl-C stops the server. "
        "Needs the optional extra `dash` (pip install -e '.[dash]').",
    )
    dash.add_argument(
        "scenario",
        type=Path,
        nargs="?",
        default=DEFAULT_SCENARIO,
        help="scenario TOML file (default: experiments/baseline.toml)",
    )
    dash.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    dash.add_argument(
        "--port", type=int, default=8765, help="port to listen on, 1–65535 (default 8765)"
    )
    dash.add_argument("--seed", type=int, default=None, help="seed (default: the scenario's)")
    dash.set_defaults(handler=cmd_dash)


def missing_extra() -> list[str]:
    """Modules of the extra ``dash`` that cannot be imported here."""
    missing = []
    for name in NEEDS:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


def solara_command(host: str, port: int) -> list[str]:
    """The solara server command line that serves the dashboard page."""
    return [
        sys.executable,
        "-m",
        "solara",
        "run",
        "sim.dashboards:Page",
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--no-open",
        "--no-check-version",  # offline: no look-up of solara's newest version
        "--log-level",
        "warning",
    ]


def cmd_dash(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    if not 1 <= args.port <= 65535:
        raise ConfigError(
            f"--port must be between 1 and 65535 (got {args.port}). Nothing was started."
        )
    if args.seed is not None and args.seed < 0:
        raise ConfigError(f"--seed must be an integer >= 0 (got {args.seed}). Nothing was started.")
    if not args.host:
        raise ConfigError("--host must be an address such as 127.0.0.1. Nothing was started.")
    missing = missing_extra()
    if missing:
        raise ConfigError(f"{INSTALL_HINT} (missing: {', '.join(missing)})")
    from sim.dashboards import SCENARIO_ENV, SEED_ENV

    os.environ[SCENARIO_ENV] = str(args.scenario.resolve())
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")  # offline: no telemetry
    if args.seed is not None:
        os.environ[SEED_ENV] = str(args.seed)
    print(
        f"computesim dash: {scenario.name} ({args.scenario}) at http://{args.host}:{args.port}/ "
        "— Ctrl-C stops the server",
        flush=True,
    )
    command = solara_command(args.host, args.port)
    os.execv(command[0], command)  # the server replaces this process
    return 0  # not reached
