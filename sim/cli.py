"""The `computesim` command: run | params, plus sweep, status, query, sa, calibrate and gallery.

Bad input gives a one-paragraph error naming the field and what is allowed, exit code 2,
no traceback, and nothing written.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sim.errors import ConfigError

EXIT_BAD_INPUT = 2

MAX_MONTHS = 600
"""Longest run `run` and `surgery` accept (the bound of ``run.months``)."""

RUN_COMMANDS = "sim.run_cli"
"""The module whose functions do `run` and `surgery` (their parsers are here; `params` is
done by :mod:`sim.params_cli`, which needs only the configuration)."""

PLUGINS: dict[str, tuple[str, ...]] = {
    "sim.sweep_cli": ("sweep", "status", "query", "sa"),
    "sim.calibration_cli": ("calibrate",),
    "sim.discover_cli": ("discover",),
    "sim.export_cli": ("export",),
    "sim.gallery": ("gallery",),
    "sim.dash_cli": ("dash",),
}
"""Modules that add their own subcommands with ``add_subcommands(subparsers)``, and the
commands each adds. A plugin is imported only when one of its commands is asked for, so the
help of one command does not wait for every module's imports; the command list
(``computesim --help``, or a command nobody knows) is built from :data:`COMMAND_HELP`
without importing any. A test checks that each plugin adds exactly the commands listed
here."""

COMMAND_HELP: dict[str, str] = {
    "sweep": "run a parameter sweep (grid, LHS, Sobol, Morris) with seeds per point",
    "status": "show done, failed and pending runs of a sweep's results folder",
    "query": "run SQL (DuckDB) over a sweep's finished runs",
    "sa": "Morris screen or Sobol indices of a Morris/Sobol sweep's outputs",
    "calibrate": "compare a scenario's outputs with the 2025–26 record (calibration report)",
    "discover": "scenario discovery: the box of parameters where an outcome concentrates (PRIM)",
    "gallery": "build every experiment's figures and the gallery page",
    "dash": "interactive dashboard in the browser (Mesa SolaraViz): sliders, step/play/reset",
    "export": "write a sweep's results as a NetCDF file (xarray: point × replicate × month)",
}
"""The one-line help of each plugin command, for the command list: the same words as the
plugin's own parser (a test checks them), so that listing the commands imports no plugin
(``computesim --help`` took 1–2 s of CPU importing Mesa, pandas and matplotlib for them)."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `computesim` parser. With ``command`` a plugin's command, only that plugin is
    imported; otherwise none is: with ``command`` one of run, surgery or params only those
    are parsed, and with no or an unknown command the plugins' commands are listed from
    :data:`COMMAND_HELP` (each without its arguments: the command list is complete, and
    ``computesim COMMAND --help`` imports the plugin for the rest)."""
    parser = argparse.ArgumentParser(
        prog="computesim",
        description="Agent-based market simulation of the AI compute ecosystem: labs, clouds, "
        "chip vendors and investors trading capacity contracts and capital, month by month.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run one scenario and write its tables and summary (and its figure)",
        description="Run one scenario. Writes model, agents, kinds, lines, events, debtrank and "
        "exposures (zstd .parquet; with --detail also flows, accruals, allocations and journal, "
        "one row per posting), config.json (resolved config and seed), summary.json, "
        "overview.png (with --picture) and, last, run.json (the completion marker) into "
        "--out, and prints a short summary. The folder is written beside --out and renamed into "
        "place when complete: an interrupted run leaves --out as it was. An --out holding a "
        "run of the same scenario is replaced whole; one holding anything else is refused "
        "unless --force.",
    )
    run.add_argument(
        "scenario",
        help="a shipped scenario (baseline, telecom_bust) or a scenario TOML file, e.g. "
        "experiments/baseline.toml",
    )
    run.add_argument(
        "--out", type=Path, default=None, help="output folder (default: results/<scenario name>)"
    )
    run.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's)")
    run.add_argument(
        "--months",
        type=int,
        default=None,
        help=f"months to run, 1 to {MAX_MONTHS} (default: the scenario's)",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="replace --out even if it holds a run of another scenario or other files",
    )
    run.add_argument(
        "--audit",
        action="store_true",
        help="check the books against the instruments after every month (slower)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--detail",
        action="store_true",
        help="also write the posting-level tables flows (one payment per month, payer, payee "
        "and kind), accruals, allocations (what each grouped payment paid of each instrument) "
        "and journal (about 2.2 MB for a default run; the summary and the other tables are "
        "the same without them, and in Python sim.open_run(OUT).flows computes them again "
        "from the folder)",
    )
    run.add_argument(
        "--picture",
        action="store_true",
        help="also draw overview.png, the figure of the run (45 kB; imports the plotting "
        "library and takes about 0.5 s)",
    )
    run.add_argument(
        "--no-picture",
        action="store_true",
        help="draw no overview.png (the default since MODEL_VERSION 0.53; overrides --picture)",
    )
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="change one parameter of the scenario for this run, by its dotted path as in "
        "`computesim params` (e.g. --set investment.preemption_weight=2, --set "
        "'labs.*.optimism=0.1'; repeatable); config.json records the result",
    )
    run.set_defaults(handler=f"{RUN_COMMANDS}:cmd_run")
    surgery = sub.add_parser(
        "surgery",
        help="rerun a scenario with one deal removed or changed (common random numbers)",
        description="Deal surgery: paired runs with and without a named deal (or with some of "
        "its fields changed), same seeds, and the difference in revenues, valuations, "
        "defaults, losses and circularity. Writes surgery_runs.csv and surgery_summary.csv.",
    )
    surgery.add_argument(
        "scenario", help="a shipped scenario (e.g. baseline) or a scenario TOML with [[deals]]"
    )
    surgery.add_argument("--deal", required=True, help="name of the deal to operate on")
    surgery.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change a field of the deal instead of removing it, e.g. "
        "--set amount_usd=60e9 (repeatable)",
    )
    surgery.add_argument("--runs", type=int, default=5, help="paired runs (default 5)")
    surgery.add_argument("--seed", type=int, default=1, help="base seed (default 1)")
    surgery.add_argument(
        "--months",
        type=int,
        default=None,
        help=f"months per run, 1 to {MAX_MONTHS} (default: the scenario's)",
    )
    surgery.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    surgery.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the CSV files (default results/surgery/<deal>)",
    )
    surgery.set_defaults(handler=f"{RUN_COMMANDS}:cmd_surgery")
    params = sub.add_parser(
        "params", help="list every parameter with unit, default, bounds and source"
    )
    params.add_argument("--markdown", action="store_true", help="print a Markdown table")
    params.set_defaults(handler="sim.params_cli:cmd_params")  # the config alone
    for module in plugins_for(command):
        importlib.import_module(module).add_subcommands(sub)
    if command not in sub.choices:  # the command list: every plugin command, by name
        for name in (name for commands in PLUGINS.values() for name in commands):
            sub.add_parser(name, help=COMMAND_HELP[name])
    return parser


def plugins_for(command: str | None) -> list[str]:
    """The plugin module to import for ``command``: its owner in :data:`PLUGINS`, or none
    (for run, surgery and params, for the command list and for an unknown command)."""
    return [module for module, commands in PLUGINS.items() if command in commands]


def command_named(argv: Sequence[str]) -> str | None:
    """The subcommand in ``argv``: its first word that is not an option (every option of the
    top-level parser is a flag, so the first such word is the command), else None."""
    return next((word for word in argv if not word.startswith("-")), None)


def handler_of(args: argparse.Namespace) -> Callable[[argparse.Namespace], int | None]:
    """The function that does the parsed command: a plugin's own function, or the
    ``"module:function"`` name of one (e.g. in :data:`RUN_COMMANDS`), imported now."""
    handler = args.handler
    if isinstance(handler, str):
        module, _, name = handler.partition(":")
        handler = getattr(importlib.import_module(module), name)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_named(words))
    args = parser.parse_args(words)
    try:
        prepare = getattr(args, "prepare", None)  # work to start before the handler's imports
        if prepare is not None:
            prepare(args)
        return int(handler_of(args)(args) or 0)
    except ConfigError as exc:
        message = " ".join(str(exc).split())  # one paragraph, whatever raised it
        if "Nothing was run" not in message:
            message = f"{message.rstrip('.')}. Nothing was run or written."
        print(f"computesim: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # the reader went away (`computesim params | head`): stop quietly, and point stdout
        # at /dev/null so the interpreter's final flush does not raise again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
