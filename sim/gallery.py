"""The result gallery: every experiment under ``experiments/`` built into one static page.

An experiment is a script ``experiments/<name>.py`` that defines a module-level
``EXPERIMENT = Experiment(...)``: its title, section, a description, the parameters behind
its figures, the figures it draws with a caption each, and a ``build(out_dir, ctx)`` function
that writes those PNGs (and data files) into ``out_dir``. Each script also runs alone:
``python experiments/<name>.py`` builds just it.

``computesim gallery`` builds every experiment into ``results/gallery/<name>/`` — reusing a
folder whose ``.done.json`` records the same cache key (the experiment's source, the sources
of the ``sim`` package and the scenario files, and its parameters) — and writes
``results/gallery/index.html``. A failing experiment is shown as an error box with its
traceback; the others still build. Rebuilding from the same results gives identical bytes.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import html
import importlib.util
import json
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.config import ConfigError
from sim.results_store import ResultsStore
from sim.sweep import executor_for, load_sweep, run_sweep

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("Baseline", "Calibration", "Overbuild", "Cascades", "Circularity", "Sweeps")
"""Section order on the page; other sections follow alphabetically."""


@dataclass(frozen=True)
class GalleryFigure:
    """A PNG an experiment draws (``file``, inside its folder) and what it shows."""

    file: str
    caption: str


@dataclass
class BuildContext:
    """What an experiment's ``build`` gets: workers to use and a way to report progress."""

    workers: int = 1
    progress: Callable[[str], None] = field(default=lambda message: None)
    cache_key: str = ""  # what this build's results depend on (see :func:`cache_key`)


@dataclass(frozen=True)
class Experiment:
    """One gallery entry: figures with captions and the parameters behind them."""

    name: str
    title: str
    section: str
    description: str
    figures: tuple[GalleryFigure, ...]
    params: Mapping[str, Any]
    build: Callable[[Path, BuildContext], None]
    data_files: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------
def discover(experiments_dir: Path) -> list[Experiment]:
    """Import every ``*.py`` in ``experiments_dir`` that defines ``EXPERIMENT``."""
    found = []
    for path in sorted(Path(experiments_dir).glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"experiment_{path.stem}", path)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # so worker processes can pickle its functions
        spec.loader.exec_module(module)
        exp = getattr(module, "EXPERIMENT", None)
        if isinstance(exp, Experiment):
            found.append(exp)
    order = {s: k for k, s in enumerate(SECTIONS)}
    return sorted(found, key=lambda e: (order.get(e.section, len(SECTIONS)), e.section, e.name))


def cache_key(exp: Experiment, experiments_dir: Path) -> str:
    """Hash of what the experiment's results depend on."""
    digest = hashlib.sha256()
    sources = [
        *sorted((ROOT / "sim").rglob("*.py")),
        *sorted((ROOT / "sim" / "scenarios").glob("*.toml")),  # the shipped scenarios
        *sorted(Path(experiments_dir).rglob("*.toml")),
    ]
    script = Path(experiments_dir) / f"{exp.name}.py"
    for path in [script, *sources]:
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    digest.update(json.dumps(dict(exp.params), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def is_fresh(exp: Experiment, folder: Path, key: str) -> bool:
    done = folder / ".done.json"
    if not done.is_file():
        return False
    try:
        recorded = json.loads(done.read_text()).get("cache_key")
    except json.JSONDecodeError:
        return False
    return recorded == key and all((folder / f.file).is_file() for f in exp.figures)


def build_one(
    exp: Experiment, out_dir: Path, experiments_dir: Path, ctx: BuildContext, force: bool = False
) -> tuple[str, float, str | None]:
    """Build ``exp`` unless its results are fresh. Returns (status, seconds, traceback)."""
    folder = out_dir / exp.name
    key = cache_key(exp, experiments_dir)
    if not force and is_fresh(exp, folder, key):
        return "reused", 0.0, None
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".done.json").unlink(missing_ok=True)
    (folder / "error.txt").unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        exp.build(folder, dataclasses.replace(ctx, cache_key=key))
        missing = [f.file for f in exp.figures if not (folder / f.file).is_file()]
        if missing:
            raise RuntimeError(f"experiment {exp.name} did not write {', '.join(missing)}")
    except Exception:
        tb = traceback.format_exc()
        (folder / "error.txt").write_text(tb)
        return "failed", time.perf_counter() - start, tb
    (folder / ".done.json").write_text(json.dumps({"cache_key": key}) + "\n")
    return "built", time.perf_counter() - start, None


def build_gallery(
    experiments_dir: Path,
    out_dir: Path,
    *,
    only: list[str] | None = None,
    force: bool = False,
    workers: int = 1,
    show_progress: bool = True,
) -> tuple[Path, dict[str, tuple[str, float, str | None]]]:
    """Build (or reuse) every experiment and write ``index.html``; return its path and the
    status of each experiment."""
    from tqdm import tqdm

    experiments = discover(experiments_dir)
    if only:
        unknown = sorted(set(only) - {e.name for e in experiments})
        if unknown:
            names = ", ".join(e.name for e in experiments)
            raise ConfigError(f"--only: no experiment named {', '.join(unknown)} (have: {names})")
    out_dir.mkdir(parents=True, exist_ok=True)
    status: dict[str, tuple[str, float, str | None]] = {}
    bar = tqdm(
        experiments, desc="gallery", unit="experiment", disable=not show_progress, file=sys.stderr
    )
    for exp in bar:
        bar.set_postfix_str(exp.name)
        if only and exp.name not in only:
            folder = out_dir / exp.name
            fresh = is_fresh(exp, folder, cache_key(exp, experiments_dir))
            status[exp.name] = ("reused" if fresh else "not built", 0.0, None)
            continue
        ctx = BuildContext(workers=workers, progress=lambda m, b=bar: b.set_postfix_str(m))
        status[exp.name] = build_one(exp, out_dir, experiments_dir, ctx, force)
    index = out_dir / "index.html"
    index.write_text(render_index(experiments, out_dir, status), encoding="utf-8")
    return index, status


# --------------------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
.exp{margin:1.5em 0 3em}figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.92em;color:#444;margin-top:.3em}
table.params{border-collapse:collapse;font-size:.85em;margin:.6em 0}
table.params td{border:1px solid #ddd;padding:.15em .5em}
.error{background:#fee;border:1px solid #c33;padding:.6em;white-space:pre-wrap;font-size:.8em}
.data a{margin-right:1em}nav ul{columns:2}
"""


def render_index(
    experiments: list[Experiment],
    out_dir: Path,
    status: Mapping[str, tuple[str, float, str | None]],
) -> str:
    """The gallery page: contents, then sections of experiments with their figures."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>computesim gallery</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>computesim — result gallery</h1>",
        "<p>Every figure is produced by a script under <code>experiments/</code> "
        "(<code>computesim gallery</code> rebuilds the page). Captions say what each "
        "figure shows; the table under each experiment gives the parameters behind it.</p>",
        "<nav><ul>",
    ]
    for exp in experiments:
        parts.append(
            f'<li><a href="#{esc(exp.name)}">{esc(exp.section)}: {esc(exp.title)}</a></li>'
        )
    parts.append("</ul></nav>")
    section = None
    for exp in experiments:
        if exp.section != section:
            section = exp.section
            parts.append(f"<h2>{esc(section)}</h2>")
        state, _, tb = status.get(exp.name, ("not built", 0.0, None))
        parts.append(f'<div class="exp" id="{esc(exp.name)}"><h3>{esc(exp.title)}</h3>')
        parts.append(f"<p>{esc(exp.description)}</p>")
        rows = "".join(
            f"<tr><td>{esc(str(k))}</td><td>{esc(_fmt(v))}</td></tr>" for k, v in exp.params.items()
        )
        parts.append(f'<table class="params">{rows}</table>')
        if state == "failed" and tb:
            parts.append(f'<div class="error">This experiment failed:\n{esc(tb)}</div>')
        for fig in exp.figures:
            path = out_dir / exp.name / fig.file
            if path.is_file():
                parts.append(
                    f'<figure><img src="{esc(exp.name)}/{esc(fig.file)}" '
                    f'alt="{esc(fig.caption)}"><figcaption>{esc(fig.caption)}'
                    "</figcaption></figure>"
                )
        links = [
            f'<a href="{esc(exp.name)}/{esc(f)}">{esc(f)}</a>'
            for f in exp.data_files
            if (out_dir / exp.name / f).is_file()
        ]
        if links:
            parts.append(f'<p class="data">Data: {" ".join(links)}</p>')
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


# --------------------------------------------------------------------------------------
def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``computesim gallery``."""
    p = subparsers.add_parser(
        "gallery",
        help="build every experiment's figures and the gallery page",
        description="Run every experiment under --experiments (reusing finished results), "
        "write the PNGs and <out>/index.html, and print where the page is.",
    )
    p.add_argument(
        "--experiments",
        type=Path,
        default=ROOT / "experiments",
        help="folder of experiment scripts (default: experiments/)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("results") / "gallery",
        help="output folder (default: results/gallery)",
    )
    p.add_argument("--only", nargs="+", metavar="NAME", help="build only these experiments")
    p.add_argument("--force", action="store_true", help="rebuild even if results are fresh")
    p.add_argument("--workers", type=int, default=2, help="processes for the runs (default 2)")
    p.set_defaults(handler=_cmd_gallery)


def _cmd_gallery(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise ConfigError("--workers must be >= 1. Nothing was run or written.")
    if not Path(args.experiments).is_dir():
        raise ConfigError(
            f"--experiments '{args.experiments}' is not a folder. Nothing was run or written."
        )
    start = time.perf_counter()
    index, status = build_gallery(
        args.experiments, args.out, only=args.only, force=args.force, workers=args.workers
    )
    for name, (state, seconds, _) in status.items():
        print(f"  {name:<24} {state:<10} {seconds:6.1f} s")
    failed = [n for n, (s, *_) in status.items() if s == "failed"]
    print(f"gallery written in {time.perf_counter() - start:.1f} s: {index.resolve()}")
    if failed:
        print(
            f"failed: {', '.join(failed)} (tracebacks on the page and in <name>/error.txt)",
            file=sys.stderr,
        )
        return 1
    return 0


def run_gallery_sweep(sweep_file: Path, out: Path, ctx: BuildContext, label: str) -> ResultsStore:
    """Run a sweep file for an experiment into ``out/runs/<build key>/<sweep name>``: an
    interrupted build resumes its runs, while a build for changed sources (a new key) starts
    afresh and drops the old runs. ``label`` names the sweep in progress messages."""
    sweep = load_sweep(sweep_file)
    runs = out / "runs"
    key = ctx.cache_key[:12] or "standalone"
    for old in runs.glob("*"):
        if old.is_dir() and old.name != key:
            shutil.rmtree(old)
    store = ResultsStore(runs / key / sweep.spec.sweep.name)
    with executor_for("process" if ctx.workers > 1 else "serial", ctx.workers) as pool:
        report = run_sweep(
            sweep,
            store,
            pool,
            progress=False,
            on_result=lambda task, ok: ctx.progress(f"{label}: run {task.run_id[:6]} done"),
        )
    if report.failed:
        raise RuntimeError(f"{label}: {report.failed} runs failed (see {store.failed})")
    ctx.progress(f"{label}: {report.done} runs")
    return store


def run_standalone(exp: Experiment, out_dir: Path | None = None, workers: int = 2) -> int:
    """Build one experiment into ``results/gallery/<name>/`` (for ``python experiments/x.py``)."""
    out = out_dir or Path("results") / "gallery"
    state, seconds, tb = build_one(
        exp, out, ROOT / "experiments", BuildContext(workers=workers, progress=print), force=True
    )
    print(f"{exp.name}: {state} in {seconds:.1f} s -> {out / exp.name}")
    if tb:
        print(tb, file=sys.stderr)
    return 0 if state != "failed" else 1
