"""Where it turns systemic: scenario discovery (PRIM, CART) on a Latin hypercube of the
telecom-bust world — which combinations of expectations, supply line, leverage, timing and
prices make a glut, and which a systemic cascade.

The captions are made from :data:`CLAIMS` (coverage, density and the limits of each box);
``tests/test_gallery.py`` checks every claim against the boxes this build writes, so a model
change that moves the boxes fails the test instead of leaving a caption untrue.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.discover_cli import Discovery, Question, discover, outcome_of, parameter_labels
from sim.gallery import (
    BuildContext,
    Experiment,
    GalleryFigure,
    run_gallery_sweep,
    run_standalone,
)
from sim.plots import box_scatter, save_figure
from sim.results_store import ResultsStore

HERE = Path(__file__).resolve().parent
SWEEP = HERE / "sweeps" / "discovery.toml"

GLUT = Question("price_fall_from_peak", "top", 0.2)
"""A glut: the 20% of worlds whose spot price falls furthest from its peak."""
GLUT_DENSITY = 0.75
"""Density the glut box must reach. Bryant and Lempert (2010) report 0.7–0.9; 0.75 until
MODEL_VERSION 0.58 (0.8 before 0.58) and again since 0.64; at 0.61–0.63 no glut box was even
half dense (0.49 at most) and this was 0.45."""
CASCADE = Question("systemic_cascade", "equals", 1.0)
"""A systemic cascade: at least 20% of labs, clouds and vendors default."""
CASCADE_DENSITY = 0.95
"""Density the cascade box must reach: most worlds of this hypercube cascade (see the
caption), so a box must be much denser than that share to say anything."""

PARAMS = {
    "sweep file": "experiments/sweeps/discovery.toml",
    "world": "experiments/telecom_bust.toml (growth stops at the bust month, stays flat)",
    "design": "Latin hypercube, 160 worlds × 1 seed, 60 months (2025-01 to 2029-12)",
    "varied": "lab optimism 1–1.6; supply-line weight 0.2–1; max loan-to-backlog 0.25–3; "
    "bust month 18–42; price adjustment speed 0.05–0.5 per month; take-or-pay share 0.5–1; "
    "fire-sale discount 0.1–0.8",
    "glut": "price fall from peak in the top 20% of worlds; box density ≥ 75%",
    "systemic cascade": "≥ 20% of labs, clouds and vendors default; box density ≥ 95%",
    "PRIM": "EMA Workbench 3 (peel and paste α 0.05, min mass 5%); restrictions with "
    "quasi-p > 0.05 dropped while the box stays dense enough",
}

NAMES = {
    "p:labs.*.optimism": ("lab optimism", "×"),
    "p:clouds.*.supply_line_weight": ("supply-line weight", ""),
    "p:finance.max_loan_to_backlog": ("max loan-to-backlog", "×"),
    "p:demand.bust_month": ("bust month", ""),
    "p:market.price_adjustment_speed": ("price adjustment speed", "/month"),
    "p:market.take_or_pay_share": ("take-or-pay share", ""),
    "p:cascade.fire_sale_discount": ("fire-sale discount", ""),
}
"""Plain names (and a unit suffix) of the varied parameters, for captions and axes."""


@dataclass(frozen=True)
class Claim:
    """What a caption says about a box: its coverage and density (whole percent) and the
    limits of each restricted parameter (None: that side is not restricted)."""

    coverage: float
    density: float
    limits: dict[str, tuple[float | None, float | None]]
    of_interest: int
    """Runs of interest among all the runs (not only those in the box)."""

    def text(self) -> str:
        parts = []
        for param, (low, high) in self.limits.items():
            name, unit = NAMES[param]
            if low is not None and high is not None:
                parts.append(f"{name} {low:g}–{high:g}{unit}")
            elif low is not None:
                parts.append(f"{name} ≥ {low:g}{unit}")
            else:
                parts.append(f"{name} ≤ {high:g}{unit}")
        return f"{', '.join(parts)}: coverage {self.coverage:.0%}, density {self.density:.0%}"


CLAIMS = {
    "glut": Claim(
        coverage=0.78,
        density=0.76,
        limits={
            "p:labs.*.optimism": (1.08, None),
            "p:clouds.*.supply_line_weight": (0.29, 0.95),
            "p:demand.bust_month": (18.5, 26.5),
            "p:market.price_adjustment_speed": (0.12, None),
            "p:market.take_or_pay_share": (0.52, None),
        },
        of_interest=32,
    ),
    "cascade": Claim(
        coverage=0.73,
        density=0.97,
        limits={
            "p:clouds.*.supply_line_weight": (0.21, None),
            "p:finance.max_loan_to_backlog": (0.3, None),
            "p:demand.bust_month": (None, 24.5),
            "p:market.price_adjustment_speed": (0.07, None),
        },
        of_interest=51,
    ),
}
"""The boxes the captions describe; checked against the build by tests/test_gallery.py."""

TOP_FEATURES = {"glut": ("p:demand.bust_month", "p:market.price_adjustment_speed")}
"""The two parameters with the highest feature scores, as the captions say."""

LIMIT_TOLERANCE = 0.01
"""How far a written box limit may lie from the rounded limit a caption states (units of
the parameter; the captions round to two decimals)."""


def run_sweep_into(out: Path, ctx: BuildContext) -> ResultsStore:
    """Run the discovery sweep into ``runs/<build key>/discovery`` (resumable within a
    build; a build for changed sources starts afresh and drops the old runs)."""
    return run_gallery_sweep(SWEEP, out, ctx, "discovery")


def build(out: Path, ctx: BuildContext) -> None:
    store = run_sweep_into(out, ctx)
    runs = store.results()
    runs.to_csv(out / "discovery_runs.csv", index=False)
    ctx.progress("discovery: PRIM on the glut")
    glut = discover(store, GLUT, out, min_density=GLUT_DENSITY, features=True)
    ctx.progress("discovery: PRIM on the cascade")
    cascade = discover(store, CASCADE, out, min_density=CASCADE_DENSITY, cart=True, features=True)
    draw_scatter(
        runs,
        glut,
        "p:demand.bust_month",
        "p:market.price_adjustment_speed",
        "glut_scatter.png",
        title="A glut: the 20% of worlds whose price falls furthest",
        interest="price fall from peak in the top 20%",
    )
    draw_scatter(
        runs,
        cascade,
        "p:finance.max_loan_to_backlog",
        "p:demand.bust_month",
        "cascade_scatter.png",
        title="A systemic cascade: ≥ 20% of labs, clouds and vendors default",
        interest="systemic cascade",
    )


def draw_scatter(
    runs: pd.DataFrame,
    found: Discovery,
    x: str,
    y: str,
    file: str,
    *,
    title: str,
    interest: str,
) -> None:
    """The worlds on two inputs of the box, with the box."""
    of_interest, _ = outcome_of(runs[found.question.output], found.question)
    labels = parameter_labels([x, y])
    save_figure(
        box_scatter(
            runs,
            x,
            y,
            of_interest,
            found.box,
            title=title,
            xlabel=labels[x],
            ylabel=labels[y],
            interest_label=interest,
        ),
        found.files[0].parent / file,
    )


EXPERIMENT = Experiment(
    name="discovery",
    title="Where it turns systemic",
    section="Sweeps",
    description="Scenario discovery (Bryant and Lempert 2010) on 160 worlds of the telecom "
    "bust sampled by Latin hypercube over seven behavioural and financial parameters "
    "(`computesim discover`, PRIM and CART from EMA Workbench). PRIM finds the box of "
    "parameter ranges where the runs of interest concentrate: coverage is the share of those "
    "runs inside the box, density the share of the box's runs that are of interest. Per-run "
    "results are in discovery_runs.csv; the boxes in *_boxes.csv (MODEL_VERSION 0.64).",
    figures=(
        GalleryFigure(
            "glut_scatter.png",
            f"Glut: the {CLAIMS['glut'].of_interest} worlds whose spot price falls furthest "
            "from its peak (top 20%) "
            f"sit where {CLAIMS['glut'].text()}: a bust in months 19–26 in optimistic worlds "
            "whose prices move quickly. The box is the widest with density "
            f"≥ {GLUT_DENSITY:.0%}; at MODEL_VERSION 0.64 boxes up to 96% dense exist again "
            "(at 0.61–0.63 none was even half dense, and the caption's box was 45% dense). "
            "The feature scores rank the bust month and the price's speed of adjustment "
            "highest (an early bust met by prices that move quickly deepens the fall); "
            "leverage does not enter the box.",
        ),
        GalleryFigure(
            "price_fall_from_peak_box.png",
            f"The glut box within the sampled ranges ({CLAIMS['glut'].text()}), with the "
            "quasi-p value of each restriction (one-sided binomial test).",
        ),
        GalleryFigure(
            "price_fall_from_peak_tradeoff.png",
            "PRIM's peeling trajectory for the glut: each point a candidate box; the ringed "
            f"one, the widest with density ≥ {GLUT_DENSITY:.0%}, is the box above.",
        ),
        GalleryFigure(
            "cascade_scatter.png",
            f"Systemic cascade: {CLAIMS['cascade'].of_interest} of the 160 worlds cascade, so "
            "only a box denser than "
            f"95% says something; it is {CLAIMS['cascade'].text()}. A bust by month 24 makes "
            "it near certain unless the clouds' leverage against backlog is below 0.3 or "
            "they ignore their supply line (MODEL_VERSION 0.64; at 0.61 a bust before month "
            "32 sufficed whatever the leverage, at 0.58 leverage above about 0.5 was needed).",
        ),
        GalleryFigure(
            "systemic_cascade_box.png",
            f"The cascade box within the sampled ranges ({CLAIMS['cascade'].text()}).",
        ),
        GalleryFigure(
            "systemic_cascade_tradeoff.png",
            "PRIM's peeling trajectory for the cascade; the ringed box is the widest with "
            "density ≥ 95%.",
        ),
        GalleryFigure(
            "systemic_cascade_cart_tree.png",
            "CART's answer for the cascade (at most 3 splits deep, each leaf at least 5% of "
            "the worlds): the splits that separate cascading worlds (blue) from the others "
            "(orange).",
        ),
        GalleryFigure(
            "price_fall_from_peak_feature_scores.png",
            "Extra-trees feature scores for the glut: "
            f"{NAMES[TOP_FEATURES['glut'][0]][0]} and {NAMES[TOP_FEATURES['glut'][1]][0]} "
            "tell the deepest price falls from the rest, the other parameters score near "
            "an equal share (dashed line).",
        ),
    ),
    params=PARAMS,
    build=build,
    data_files=(
        "discovery_runs.csv",
        "price_fall_from_peak_boxes.csv",
        "systemic_cascade_boxes.csv",
        "systemic_cascade_cart_leaves.csv",
        "price_fall_from_peak_feature_scores.csv",
        "systemic_cascade_feature_scores.csv",
    ),
)

if __name__ == "__main__":
    sys.exit(run_standalone(EXPERIMENT))
