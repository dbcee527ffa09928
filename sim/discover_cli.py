"""`computesim discover`: scenario discovery on a sweep's results (PRIM, CART, feature scores).

Which region of the sampled parameter space holds the runs where an outcome of interest
happens? The outcome is one recorded output of the sweep made yes/no by ``--top Q`` (the
highest Q share of runs), ``--above X``, ``--below X`` or ``--equals V``; the inputs are the
sweep's varied parameters (columns ``p:<path>``). PRIM (see :mod:`sim.discovery`) finds a
box of parameter ranges; the command prints it and writes into ``DIR/discover/`` (or
``--out``), every file named after the output:

* ``<output>_boxes.csv``: the chosen box, one row per restricted parameter (limits,
  quasi-p values, coverage, density, mass);
* ``<output>_trajectory.csv`` and ``<output>_tradeoff.png``: PRIM's peeling trajectory, the
  coverage–density trade-off the box was chosen from;
* ``<output>_box.png``: the box's limits within the sampled ranges;
* with ``--cart``: ``<output>_cart_tree.png``, ``<output>_cart_tree.txt`` and
  ``<output>_cart_leaves.csv`` (CART's leaves with coverage and density);
* with ``--features``: ``<output>_feature_scores.csv`` and ``.png`` (extra-trees scores).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from sim.config import ConfigError, parameter_table
from sim.discovery import (
    CART_DEPTH,
    DEFAULT_MIN_DENSITY,
    MASS_MIN,
    MAX_QUASI_P,
    PEEL_ALPHA,
    DiscoveryUnavailable,
    Peeling,
    box_table,
    cart_tree,
    feature_scores,
    peel,
)
from sim.results_store import ResultsStore

PARAMETER_PREFIX = "p:"
"""How the runs table names a parameter column (see :mod:`sim.results_store`)."""

BOOK_KEEPING = ("run_id", "point", "replicate", "seed", "months", "seconds")
"""Columns of the runs table that are neither parameters nor outputs."""

LIST_SECTIONS = ("labs", "clouds", "chip_vendors", "investors", "deals")
"""Scenario sections addressed by agent name (``labs.*.optimism``)."""

MIN_RUNS = 10
"""Fewest finished runs the command accepts: PRIM peels 5% at a time, so fewer runs give no
trajectory worth reading."""


# --------------------------------------------------------------------------------------
def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``computesim discover``."""
    p = subparsers.add_parser(
        "discover",
        help="scenario discovery: the box of parameters where an outcome concentrates (PRIM)",
        description="Scenario discovery on a finished sweep (Bryant and Lempert 2010): make "
        "one recorded output yes/no (--top, --above, --below or --equals), find with PRIM "
        "the box of parameter ranges where the runs of interest concentrate, print it and "
        "write into DIR/discover/ the box (CSV), the peeling trade-off and box figures, and "
        "with --cart a CART tree, with --features extra-trees feature scores. Coverage is "
        "the share of the runs of interest inside the box, density the share of the runs in "
        "the box that are of interest. Needs the optional extra `discover` "
        "(pip install -e '.[discover]'; make setup installs it).",
        epilog="examples: computesim discover results/sweeps/discovery --output "
        "systemic_cascade --equals 1 --cart --features;  computesim discover "
        "results/sweeps/discovery --output price_fall_from_peak --top 0.2",
    )
    p.add_argument("dir", type=Path, help="results folder of `computesim sweep`")
    p.add_argument(
        "--output", required=True, help="recorded output to explain, e.g. systemic_cascade"
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--top",
        type=float,
        metavar="Q",
        help="runs of interest: the highest Q share of the output (0 < Q < 1), e.g. 0.2",
    )
    which.add_argument(
        "--above", type=float, metavar="X", help="runs of interest: output > X (its units)"
    )
    which.add_argument(
        "--below", type=float, metavar="X", help="runs of interest: output < X (its units)"
    )
    which.add_argument(
        "--equals", type=float, metavar="V", help="runs of interest: output = V, e.g. 1 for a flag"
    )
    p.add_argument(
        "--min-density",
        type=float,
        default=DEFAULT_MIN_DENSITY,
        metavar="D",
        help="density the chosen box must reach: the share of its runs that are of interest "
        f"(0 < D <= 1, default {DEFAULT_MIN_DENSITY})",
    )
    p.add_argument(
        "--min-mass",
        type=float,
        default=MASS_MIN,
        metavar="M",
        help=f"smallest box, as a share of all runs (0 < M < 0.5, default {MASS_MIN})",
    )
    p.add_argument(
        "--peel-alpha",
        type=float,
        default=PEEL_ALPHA,
        metavar="A",
        help=f"share of the box's runs peeled per step (0 < A < 0.5, default {PEEL_ALPHA})",
    )
    p.add_argument(
        "--max-quasi-p",
        type=float,
        default=MAX_QUASI_P,
        metavar="P",
        help="drop restrictions whose quasi-p value exceeds P (0 < P <= 1; 1 keeps every "
        f"restriction; default {MAX_QUASI_P})",
    )
    p.add_argument("--cart", action="store_true", help="also fit and draw a CART tree")
    p.add_argument(
        "--cart-depth",
        type=int,
        default=CART_DEPTH,
        metavar="N",
        help=f"deepest CART split level (1 to 10, default {CART_DEPTH})",
    )
    p.add_argument("--features", action="store_true", help="also write extra-trees scores")
    p.add_argument("--seed", type=int, default=1, help="seed of the feature-score forest")
    p.add_argument(
        "--out", type=Path, default=None, help="folder for the files (default DIR/discover)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_discover)


# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    """Which runs are of interest: ``output`` compared with a threshold."""

    output: str
    kind: str  # "top", "above", "below" or "equals"
    value: float

    def describe(self, threshold: float | None = None) -> str:
        """E.g. ``price_fall_from_peak in the top 20% (≥ 0.931)``."""
        if self.kind == "top":
            cut = "" if threshold is None else f" (≥ {threshold:.4g})"
            return f"{self.output} in the top {self.value:.0%}{cut}"
        sign = {"above": ">", "below": "<", "equals": "="}[self.kind]
        return f"{self.output} {sign} {self.value:g}"


def question_from(args: argparse.Namespace) -> Question:
    """The question the flags ask, checked."""
    for kind in ("top", "above", "below", "equals"):
        value = getattr(args, kind)
        if value is not None:
            break
    if not np.isfinite(value):
        raise ConfigError(f"--{kind} must be a finite number (got {value}). Nothing was written.")
    if kind == "top" and not 0 < value < 1:
        raise ConfigError(
            f"--top is the share of runs of interest and must be between 0 and 1, exclusive "
            f"(got {value}; e.g. --top 0.2 for the highest 20%). Nothing was written."
        )
    return Question(args.output, kind, float(value))


def check_settings(args: argparse.Namespace) -> None:
    """Range checks of the tuning flags (one clear message each)."""
    checks = [
        ("--min-density", args.min_density, 0, 1, "0 < D <= 1", True),
        ("--min-mass", args.min_mass, 0, 0.5, "0 < M < 0.5", False),
        ("--peel-alpha", args.peel_alpha, 0, 0.5, "0 < A < 0.5", False),
        ("--max-quasi-p", args.max_quasi_p, 0, 1, "0 < P <= 1", True),
    ]
    for flag, value, lo, hi, allowed, closed in checks:
        ok = lo < value <= hi if closed else lo < value < hi
        if not ok:
            raise ConfigError(f"{flag} must satisfy {allowed} (got {value}). Nothing was written.")
    if not 1 <= args.cart_depth <= 10:
        raise ConfigError(
            f"--cart-depth must be between 1 and 10 (got {args.cart_depth}). Nothing was written."
        )


def recorded_outputs(runs: pd.DataFrame) -> list[str]:
    """The outputs a sweep recorded: its columns that are neither parameters nor
    book-keeping."""
    return [c for c in runs.columns if not c.startswith(PARAMETER_PREFIX) and c not in BOOK_KEEPING]


def parameter_columns(runs: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The numeric parameter columns that vary across the runs, and the parameter columns
    left out (constant, or not numbers)."""
    used, skipped = [], []
    for c in runs.columns:
        if not c.startswith(PARAMETER_PREFIX):
            continue
        col = runs[c]
        numeric = pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
        (used if numeric and col.nunique(dropna=True) > 1 else skipped).append(c)
    return used, skipped


def outcome_of(values: pd.Series, question: Question) -> tuple[pd.Series, float | None]:
    """The yes/no outcome of each run, and the cut-off value for ``--top``."""
    v = values.astype(float)
    if question.kind == "top":
        cut = float(v.quantile(1 - question.value, interpolation="higher"))
        return v >= cut, cut
    if question.kind == "above":
        return v > question.value, None
    if question.kind == "below":
        return v < question.value, None
    return pd.Series(np.isclose(v, question.value), index=v.index), None


def parameter_labels(columns: list[str]) -> dict[str, str]:
    """Display name with unit of each ``p:<path>`` column, e.g.
    ``labs.*.optimism (× observed growth)``."""
    units = {r["parameter"]: r["unit"] for r in parameter_table()}
    labels = {}
    for c in columns:
        path = c.removeprefix(PARAMETER_PREFIX)
        parts = path.split(".")
        key = f"{parts[0]}[].{parts[-1]}" if parts[0] in LIST_SECTIONS else path
        unit = units.get(key, "")
        labels[c] = f"{path} ({unit})" if unit else path
    return labels


# --------------------------------------------------------------------------------------
@dataclass
class Discovery:
    """What one `discover` found and wrote."""

    question: Question
    description: str
    runs: int
    of_interest: int
    peeling: Peeling
    box: pd.DataFrame
    files: list[Path]
    skipped: list[str]


def prepared_runs(
    store: ResultsStore, question: Question
) -> tuple[pd.DataFrame, pd.Series, list[str], list[str], float | None]:
    """Check the question against the finished runs of ``store`` and return the inputs
    (parameter columns), the outcome, the parameter columns used and skipped, and the cut-off.
    Raises ConfigError (nothing written) on anything that cannot be analysed."""
    store.manifest()
    runs = store.results()
    outputs = recorded_outputs(runs)
    if question.output not in runs.columns or question.output not in outputs:
        raise ConfigError(
            f"--output '{question.output}' is not an output recorded by the sweep in "
            f"'{store.root}'; its recorded outputs are: {', '.join(outputs)}. Parameters "
            f"(columns {PARAMETER_PREFIX}<path>) are inputs, not outputs. Nothing was written."
        )
    values = pd.to_numeric(runs[question.output], errors="coerce")
    runs = runs[values.notna()].reset_index(drop=True)
    values = values[values.notna()].reset_index(drop=True)
    if len(runs) < MIN_RUNS:
        raise ConfigError(
            f"'{store.root}' has {len(runs)} finished runs with a value of "
            f"{question.output}; scenario discovery needs at least {MIN_RUNS} (finish the "
            "sweep with `computesim sweep`, or sample more points). Nothing was written."
        )
    used, skipped = parameter_columns(runs)
    if not used:
        raise ConfigError(
            f"no numeric parameter varies across the runs of '{store.root}' (parameter "
            f"columns: {', '.join(skipped) or 'none'}); there is no box to find. Nothing "
            "was written."
        )
    outcome, cut = outcome_of(values, question)
    hits = int(outcome.sum())
    if hits in (0, len(outcome)):
        which = "no run" if hits == 0 else "every run"
        raise ConfigError(
            f"{question.describe(cut)} holds for {which} of {len(outcome)}: scenario discovery "
            f"needs some runs of interest and some not. {question.output} ranges from "
            f"{values.min():.4g} to {values.max():.4g} (median {values.median():.4g}); choose "
            "another threshold. Nothing was written."
        )
    return runs[used], outcome, used, skipped, cut


def discover(
    store: ResultsStore,
    question: Question,
    out: Path,
    *,
    min_density: float = DEFAULT_MIN_DENSITY,
    min_mass: float = MASS_MIN,
    peel_alpha: float = PEEL_ALPHA,
    max_quasi_p: float | None = MAX_QUASI_P,
    cart: bool = False,
    cart_depth: int = CART_DEPTH,
    features: bool = False,
    seed: int = 1,
    progress: bool = False,
) -> Discovery:
    """Run scenario discovery on the finished runs of ``store`` and write its files into
    ``out`` (created only once the question is known to be answerable)."""
    # plotting: imported only when figures are drawn, so the CLI starts without matplotlib
    from sim.plots import (
        box_limits,
        decision_tree,
        feature_score_bars,
        peeling_tradeoff,
        save_figure,
    )

    inputs, outcome, used, skipped, cut = prepared_runs(store, question)
    labels = parameter_labels(used)
    description = question.describe(cut)
    name = question.output
    steps = 3 + int(cart) + int(features)
    bar = tqdm(total=steps, desc="discover", unit="step", disable=not progress, file=sys.stderr)
    try:
        bar.set_postfix_str("PRIM")
        peeling = peel(
            inputs,
            outcome,
            min_density=min_density,
            mass_min=min_mass,
            peel_alpha=peel_alpha,
            max_quasi_p=max_quasi_p,
        )
        bar.update()
        box = box_table(peeling).assign(output=name, outcome=description)
        out.mkdir(parents=True, exist_ok=True)
        files = [out / f"{name}_boxes.csv", out / f"{name}_trajectory.csv"]
        box.to_csv(files[0], index=False)
        peeling.trajectory.to_csv(files[1])
        ranges = {c: (float(inputs[c].min()), float(inputs[c].max())) for c in used}
        short = {c: c.removeprefix(PARAMETER_PREFIX) for c in used}
        title = f"Where {description}"
        files.append(
            save_figure(
                peeling_tradeoff(
                    peeling.trajectory,
                    peeling.chosen,
                    min_density=min_density,
                    title=f"PRIM peeling trajectory: {description}",
                ),
                out / f"{name}_tradeoff.png",
            )
        )
        bar.update()
        files.append(
            save_figure(
                box_limits(box, ranges, title=title, labels=labels), out / f"{name}_box.png"
            )
        )
        bar.update()
        if cart:
            bar.set_postfix_str("CART")
            tree = cart_tree(
                inputs.rename(columns=short),
                outcome,
                mass_min=min_mass,
                max_depth=cart_depth,
                seed=seed,
            )
            files.append(out / f"{name}_cart_leaves.csv")
            tree.leaves.to_csv(files[-1], index=False)
            files.append(out / f"{name}_cart_tree.txt")
            files[-1].write_text(tree.rules, encoding="utf-8")
            files.append(
                save_figure(
                    decision_tree(
                        tree.classifier,
                        tree.feature_names,
                        title=f"CART tree: {description}",
                    ),
                    out / f"{name}_cart_tree.png",
                )
            )
            bar.update()
        if features:
            bar.set_postfix_str("feature scores")
            scores = feature_scores(inputs, outcome, seed=seed)
            files.append(out / f"{name}_feature_scores.csv")
            scores.to_csv(files[-1], index=False)
            files.append(
                save_figure(
                    feature_score_bars(
                        scores,
                        title=f"Feature scores (extra trees): {description}",
                        labels=labels,
                    ),
                    out / f"{name}_feature_scores.png",
                )
            )
            bar.update()
    finally:
        bar.close()
    return Discovery(
        question, description, len(outcome), int(outcome.sum()), peeling, box, files, skipped
    )


def format_box(found: Discovery) -> str:
    """The chosen box as text, for the terminal."""
    box, traj = found.box, found.peeling.trajectory
    stats = traj.loc[found.peeling.chosen]
    lines = [
        f"PRIM box for {found.description}: {found.of_interest} of {found.runs} runs of "
        f"interest ({found.of_interest / found.runs:.0%})",
        f"  coverage {stats['coverage']:.0%}  density {stats['density']:.0%}  mass "
        f"{stats['mass']:.0%}  ({int(stats['n'])} runs in the box, {int(stats['k'])} of "
        "interest)",
    ]
    if not bool(stats["density"] >= found.peeling.min_density):
        lines.append(
            f"  note: no box reached density {found.peeling.min_density:.0%}; this is the "
            "densest one"
        )
    labels = parameter_labels(list(box["parameter"]))
    for row in box.itertuples():
        if row.restricted == "low":
            rng = f">= {row.low:.4g}"
        elif row.restricted == "high":
            rng = f"<= {row.high:.4g}"
        else:
            rng = f"{row.low:.4g} to {row.high:.4g}"
        qps = ", ".join(f"{q:.2g}" for q in (row.qp_low, row.qp_high) if not pd.isna(q))
        lines.append(f"  {labels[row.parameter]:<58} {rng:<22} quasi-p {qps}")
    if box.empty:
        lines.append("  (no restriction: the runs of interest are spread over the whole space)")
    if found.peeling.pruned:
        dropped = ", ".join(p.removeprefix(PARAMETER_PREFIX) for p in found.peeling.pruned)
        lines.append(f"  dropped as not significant: {dropped}")
    if found.skipped:
        lines.append(
            "  not searched (constant or not numeric): "
            + ", ".join(s.removeprefix(PARAMETER_PREFIX) for s in found.skipped)
        )
    return "\n".join(lines)


def cmd_discover(args: argparse.Namespace) -> int:
    question = question_from(args)
    check_settings(args)
    store = ResultsStore(args.dir)
    out = args.out or Path(args.dir) / "discover"
    try:
        found = discover(
            store,
            question,
            out,
            min_density=args.min_density,
            min_mass=args.min_mass,
            peel_alpha=args.peel_alpha,
            max_quasi_p=None if args.max_quasi_p >= 1 else args.max_quasi_p,
            cart=args.cart,
            cart_depth=args.cart_depth,
            features=args.features,
            seed=args.seed,
            progress=not args.no_progress,
        )
    except DiscoveryUnavailable as exc:
        print(f"computesim: error: {exc}", file=sys.stderr)
        return 1
    print(format_box(found))
    print(f"wrote {out}/: " + ", ".join(f.name for f in found.files))
    return 0
