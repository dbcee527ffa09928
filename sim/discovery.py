"""Scenario discovery on sweep results: where in parameter space does an outcome concentrate?

PRIM (Friedman and Fisher 1999, the patient rule induction method) peels a box of inputs,
a little at a time, towards the runs where a yes/no outcome of interest is true; every step
of the peeling trajectory trades **coverage** (share of all runs of interest that fall in
the box) for **density** (share of the runs in the box that are of interest). Following
Bryant and Lempert (2010) we pick, from that trajectory, the box with the highest coverage
whose density reaches ``min_density``, then drop any restriction whose quasi-p value (a
one-sided binomial test of the restriction, Bryant and Lempert 2010) says it is not
significant. CART (Breiman et al. 1984) gives a second, tree-shaped answer, and extra-trees
feature scores (Jaxa-Rozen and Kwakkel 2018) rank the inputs.

The algorithms are EMA Workbench's (Kwakkel 2017), an optional extra
(``pip install -e '.[discover]'``), imported only inside this module's functions. Two traps
of its 3.0 release are handled here: its PRIM takes a binary outcome (no ``threshold=``; we
binarise first), and integer input columns crash its PRIM under pandas 3 (we cast every input
to float).

All shares (coverage, density, mass) are fractions in [0, 1]; limits are in the units of
their input.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

INSTALL_HINT = "pip install -e '.[discover]'"
"""How to install the optional extra that provides EMA Workbench and scikit-learn."""

DEFAULT_MIN_DENSITY = 0.8
"""Density the chosen box must reach (share of the runs inside it that are of interest);
Bryant and Lempert (2010) report boxes of density 0.7–0.9."""

PEEL_ALPHA = 0.05
"""Share of the runs in the box peeled off per step (EMA Workbench and Friedman and Fisher
1999 default)."""

PASTE_ALPHA = 0.05
"""Share of runs added back per pasting step (EMA Workbench default)."""

MASS_MIN = 0.05
"""Smallest box PRIM may peel to, as a share of all runs (EMA Workbench default)."""

MAX_QUASI_P = 0.05
"""A restriction whose quasi-p value exceeds this is dropped from the chosen box (the 5%
level of Bryant and Lempert 2010)."""

CART_DEPTH = 3
"""Default depth of the CART tree: at most 8 leaves, few enough to read as scenarios."""

BOX_COLUMNS = (
    "parameter",
    "low",
    "high",
    "qp_low",
    "qp_high",
    "coverage",
    "density",
    "mass",
    "runs_in_box",
    "runs_of_interest",
    "restricted",
    "trajectory_index",
    "meets_min_density",
)
"""Columns of :func:`find_boxes`' table (one row per restricted input)."""


class DiscoveryUnavailable(ImportError):
    """EMA Workbench (the ``discover`` extra) is not installed."""


def _ema() -> dict[str, Any]:
    """EMA Workbench's PRIM, CART and feature scoring, or a clear error naming the install
    command when the extra is missing."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "ipyparallel not installed" and friends
            from ema_workbench.analysis import cart, feature_scoring, prim
            from ema_workbench.analysis.scenario_discovery_util import RuleInductionType
    except ImportError as exc:
        raise DiscoveryUnavailable(
            "scenario discovery needs EMA Workbench and scikit-learn, the optional extra "
            f"`discover`: install it with `{INSTALL_HINT}` (make setup installs it) "
            f"({exc})."
        ) from None
    return {
        "prim": prim,
        "cart": cart,
        "feature_scoring": feature_scoring,
        "RuleInductionType": RuleInductionType,
    }


def prepare(inputs: pd.DataFrame, outcome: pd.Series) -> tuple[pd.DataFrame, np.ndarray]:
    """Check and align ``inputs`` (one numeric column per parameter, one row per run) and
    ``outcome`` (True for a run of interest); return float inputs (the integer-column trap)
    with a fresh index, and the outcome as a bool array.

    Raises ValueError when the two differ in length, when an input is not numeric, when no
    input varies, or when the outcome is all true or all false (nothing to discover).
    """
    if len(inputs) != len(outcome):
        raise ValueError(f"inputs have {len(inputs)} rows but the outcome has {len(outcome)}")
    if inputs.shape[1] == 0:
        raise ValueError("no input columns to search over")
    not_numeric = [
        c
        for c in inputs.columns
        if not (pd.api.types.is_numeric_dtype(inputs[c]) or pd.api.types.is_bool_dtype(inputs[c]))
    ]
    if not_numeric:
        raise ValueError(f"inputs must be numeric; not numeric: {', '.join(map(str, not_numeric))}")
    x = inputs.astype(float).reset_index(drop=True)
    if x.isna().any().any():
        bad = [str(c) for c in x.columns if x[c].isna().any()]
        raise ValueError(f"inputs have missing values in {', '.join(bad)}")
    varying = [c for c in x.columns if x[c].nunique() > 1]
    if not varying:
        raise ValueError("no input varies across the runs: there is no box to find")
    y = np.asarray(outcome, dtype=bool)
    if y.all() or not y.any():
        state = "true" if y.all() else "false"
        raise ValueError(
            f"the outcome is {state} in all {len(y)} runs: PRIM needs runs of interest and "
            "runs not of interest; choose another threshold"
        )
    return x[varying], y


@dataclass
class Peeling:
    """One PRIM box search: the trajectory, every candidate box and the chosen one.

    ``trajectory`` has one row per candidate box (index = trajectory index): ``coverage``,
    ``density``, ``mass`` (shares), ``res_dim`` (restricted inputs), ``n`` (runs in the box)
    and ``k`` (runs of interest in it). ``chosen`` is the trajectory index of the chosen box;
    ``pruned`` the inputs whose restriction was dropped as not significant.
    """

    inputs: pd.DataFrame
    outcome: np.ndarray
    trajectory: pd.DataFrame
    limits: list[pd.DataFrame]
    quasi_p: list[dict[str, list[float]]]
    chosen: int
    min_density: float
    pruned: list[str] = field(default_factory=list)

    @property
    def box(self) -> pd.DataFrame:
        """The chosen box as :func:`box_table` rows."""
        return box_table(self)


def peel(
    inputs: pd.DataFrame,
    outcome: pd.Series,
    *,
    min_density: float = DEFAULT_MIN_DENSITY,
    peel_alpha: float = PEEL_ALPHA,
    paste_alpha: float = PASTE_ALPHA,
    mass_min: float = MASS_MIN,
    max_quasi_p: float | None = MAX_QUASI_P,
) -> Peeling:
    """Run PRIM on ``inputs`` × ``outcome`` and choose a box from its peeling trajectory.

    The chosen box is the one with the highest coverage among those with density ≥
    ``min_density`` (ties: fewer restricted inputs, then the earlier box); if none reaches
    it, the densest box. Then, while some restriction's quasi-p value exceeds
    ``max_quasi_p`` (None: never), the least significant one is dropped, as long as the box
    keeps density ≥ ``min_density`` (or, for a box that never reached it, its density).
    """
    if not 0 < min_density <= 1:
        raise ValueError(f"min_density must be in (0, 1], got {min_density}")
    for name, value in (("peel_alpha", peel_alpha), ("paste_alpha", paste_alpha)):
        if not 0 < value < 0.5:
            raise ValueError(f"{name} must be in (0, 0.5), got {value}")
    if not 0 < mass_min < 1:
        raise ValueError(f"mass_min must be in (0, 1), got {mass_min}")
    ema = _ema()
    x, y = prepare(inputs, outcome)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = ema["prim"].Prim(
            x, y.copy(), peel_alpha=peel_alpha, paste_alpha=paste_alpha, mass_min=mass_min
        )
        box = search.find_box()
    trajectory = box.peeling_trajectory.copy()
    chosen = choose(trajectory, min_density)
    box.select(chosen)
    pruned: list[str] = []
    floor = min(min_density, float(trajectory.loc[chosen, "density"]))
    while max_quasi_p is not None:
        qp = _significance(box.p_values[chosen])
        if len(qp) <= 1:
            break
        weakest = max(qp, key=lambda name: qp[name])
        if qp[weakest] <= max_quasi_p:
            break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            box.drop_restriction(weakest, chosen)
        candidate = len(box.peeling_trajectory) - 1
        if box.peeling_trajectory.loc[candidate, "density"] < floor:
            break
        chosen = candidate
        pruned.append(weakest)
    return Peeling(
        inputs=x,
        outcome=y,
        trajectory=_tidy_trajectory(box.peeling_trajectory, len(trajectory)),
        limits=list(box.box_lims),
        quasi_p=list(box.p_values),
        chosen=chosen,
        min_density=min_density,
        pruned=pruned,
    )


def choose(trajectory: pd.DataFrame, min_density: float) -> int:
    """Trajectory index of the box with the highest coverage among those of density ≥
    ``min_density`` (ties: fewer restricted inputs, then earlier); else the densest."""
    ok = trajectory[trajectory["density"] >= min_density]
    if ok.empty:
        best = trajectory.sort_values(["density", "coverage"], ascending=False, kind="stable")
        return int(best.index[0])
    ranked = ok.assign(_i=ok.index).sort_values(
        ["coverage", "res_dim", "_i"], ascending=[False, True, True], kind="stable"
    )
    return int(ranked.index[0])


def _significance(quasi_p: dict[str, list[float]]) -> dict[str, float]:
    """Per restricted input, the quasi-p value of its most significant restricted side
    (EMA marks an unrestricted side with -1)."""
    out = {}
    for name, sides in quasi_p.items():
        values = [v for v in sides if v is not None and v >= 0]
        if values:
            out[name] = float(min(values))
    return out


def _tidy_trajectory(raw: pd.DataFrame, peeled: int) -> pd.DataFrame:
    """The trajectory with plain dtypes and a ``stage`` column: peel/paste for PRIM's own
    boxes, ``pruned`` for boxes made by dropping a restriction."""
    out = raw[["coverage", "density", "mass", "res_dim", "n", "k"]].copy()
    out = out.astype({"coverage": float, "density": float, "mass": float})
    out = out.astype({"res_dim": int, "n": int, "k": int})
    out["stage"] = ["prim" if i < peeled else "pruned" for i in range(len(out))]
    out.index.name = "trajectory_index"
    return out


def box_table(peeling: Peeling, index: int | None = None) -> pd.DataFrame:
    """The box at trajectory ``index`` (default: the chosen one), one row per restricted
    input, with the columns of :data:`BOX_COLUMNS`."""
    i = peeling.chosen if index is None else index
    limits = peeling.limits[i]
    initial = peeling.limits[0]
    stats = peeling.trajectory.loc[i]
    rows = []
    for name in limits.columns:
        low, high = float(limits.loc[0, name]), float(limits.loc[1, name])
        lo0, hi0 = float(initial.loc[0, name]), float(initial.loc[1, name])
        if low == lo0 and high == hi0:
            continue
        qp = peeling.quasi_p[i].get(name, [-1.0, -1.0])
        rows.append(
            {
                "parameter": str(name),
                "low": low,
                "high": high,
                "qp_low": float(qp[0]) if qp[0] >= 0 else np.nan,
                "qp_high": float(qp[1]) if qp[1] >= 0 else np.nan,
                "restricted": ("low " if low > lo0 else "") + ("high" if high < hi0 else ""),
            }
        )
    table = pd.DataFrame(
        rows, columns=["parameter", "low", "high", "qp_low", "qp_high", "restricted"]
    )
    table["restricted"] = table["restricted"].str.strip().replace({"low high": "both"})
    table["coverage"] = float(stats["coverage"])
    table["density"] = float(stats["density"])
    table["mass"] = float(stats["mass"])
    table["runs_in_box"] = int(stats["n"])
    table["runs_of_interest"] = int(stats["k"])
    table["trajectory_index"] = i
    table["meets_min_density"] = bool(stats["density"] >= peeling.min_density)
    return table[list(BOX_COLUMNS)]


def find_boxes(
    inputs: pd.DataFrame,
    outcome: pd.Series,
    min_density: float = DEFAULT_MIN_DENSITY,
    *,
    peel_alpha: float = PEEL_ALPHA,
    paste_alpha: float = PASTE_ALPHA,
    mass_min: float = MASS_MIN,
    max_quasi_p: float | None = MAX_QUASI_P,
) -> pd.DataFrame:
    """The PRIM box where ``outcome`` (True = a run of interest) concentrates in ``inputs``.

    ``inputs``: one numeric column per parameter (integers are fine), one row per run;
    ``outcome``: a bool Series of the same length. Returns one row per restricted input:
    ``parameter``, ``low`` and ``high`` (the box limits, in the input's units; a side left
    at the sampled minimum or maximum is not restricted, see ``restricted``), the quasi-p
    values ``qp_low`` and ``qp_high`` of each restricted side (NaN when that side is free),
    and the box's ``coverage``, ``density`` and ``mass`` (shares of runs), ``runs_in_box``,
    ``runs_of_interest`` and whether it ``meets_min_density``. See :func:`peel` for how the
    box is chosen.
    """
    return box_table(
        peel(
            inputs,
            outcome,
            min_density=min_density,
            peel_alpha=peel_alpha,
            paste_alpha=paste_alpha,
            mass_min=mass_min,
            max_quasi_p=max_quasi_p,
        )
    )


def in_box(inputs: pd.DataFrame, box: pd.DataFrame) -> pd.Series:
    """Which rows of ``inputs`` lie inside ``box`` (a :func:`box_table`), limits included."""
    inside = pd.Series(True, index=inputs.index)
    for row in box.itertuples():
        values = inputs[row.parameter].astype(float)
        inside &= (values >= row.low) & (values <= row.high)
    return inside


def box_statistics(inputs: pd.DataFrame, outcome: pd.Series, box: pd.DataFrame) -> dict[str, float]:
    """Coverage, density and mass (shares) of ``box`` recomputed from the data, to check
    a reported box (or a caption) against the runs."""
    inside = in_box(inputs, box).to_numpy()
    y = np.asarray(outcome, dtype=bool)
    hits = int((inside & y).sum())
    return {
        "coverage": hits / max(int(y.sum()), 1),
        "density": hits / max(int(inside.sum()), 1),
        "mass": float(inside.mean()),
        "runs_in_box": int(inside.sum()),
        "runs_of_interest": hits,
    }


@dataclass
class Tree:
    """A CART classification tree (scikit-learn) fitted through EMA Workbench."""

    classifier: Any
    feature_names: list[str]
    leaves: pd.DataFrame
    rules: str


def cart_tree(
    inputs: pd.DataFrame,
    outcome: pd.Series,
    *,
    mass_min: float = MASS_MIN,
    max_depth: int | None = CART_DEPTH,
    seed: int = 1,
) -> Tree:
    """Fit CART to ``inputs`` × ``outcome``; each leaf holds at least ``mass_min`` of the runs
    (and at least one run, however few runs there are), and the tree is at most
    ``max_depth`` splits deep (None: as deep as ``mass_min`` allows).

    ``leaves`` has one row per leaf: ``leaf``, ``coverage``, ``density``, ``mass`` (shares),
    ``res_dim`` and ``rule`` (the leaf's box as text); sorted by density, then coverage.
    ``rules`` is the whole tree as text (scikit-learn's ``export_text``). ``seed`` fixes
    scikit-learn's tie-breaking between equally good splits, so the tree is reproducible.
    """
    ema = _ema()
    from sklearn.tree import DecisionTreeClassifier, export_text

    x, y = prepare(inputs, outcome)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ema["cart"].CART(x, y, mass_min=mass_min)
        # EMA's build_tree floors mass_min × runs (0 for few runs, which scikit-learn
        # refuses) and leaves the tie-breaking unseeded: fit the same tree ourselves. All
        # inputs are floats, so EMA's design matrix is x itself.
        leaf = max(1, int(mass_min * len(x)))
        model.clf = DecisionTreeClassifier(
            min_samples_leaf=leaf, max_depth=max_depth, random_state=seed
        )
        model.clf.fit(x.to_numpy(), y)
        boxes, stats = model.boxes, model.stats
    initial = pd.DataFrame({c: [x[c].min(), x[c].max()] for c in x.columns})
    rows = []
    for k, (limits, s) in enumerate(zip(boxes, stats, strict=True)):
        parts = []
        for name in limits.columns:
            low, high = float(limits.loc[0, name]), float(limits.loc[1, name])
            if low > initial.loc[0, name]:
                parts.append(f"{name} > {low:.4g}")
            if high < initial.loc[1, name]:
                parts.append(f"{name} ≤ {high:.4g}")
        rows.append(
            {
                "leaf": k,
                "coverage": float(s["coverage"]),
                "density": float(s["density"]),
                "mass": float(s["mass"]),
                "res_dim": int(s["res dim"]),
                "rule": " and ".join(parts) or "(all runs)",
            }
        )
    leaves = pd.DataFrame(rows).sort_values(["density", "coverage"], ascending=False, kind="stable")
    names = [str(n) for n in model.feature_names]
    return Tree(
        model.clf, names, leaves.reset_index(drop=True), export_text(model.clf, feature_names=names)
    )


def feature_scores(
    inputs: pd.DataFrame, outcome: pd.Series, *, seed: int = 1, trees: int = 250
) -> pd.DataFrame:
    """Extra-trees feature scores of each input for the outcome (EMA Workbench, classification
    mode): columns ``parameter`` and ``score`` (shares of the trees' impurity decrease, summing
    to 1), highest first. ``seed`` fixes the forest so the scores are reproducible."""
    ema = _ema()
    x, y = prepare(inputs, outcome)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores, _ = ema["feature_scoring"].get_ex_feature_scores(
            x,
            y.astype(int),
            mode=ema["RuleInductionType"].CLASSIFICATION,
            nr_trees=trees,
            max_features=max(1, round(x.shape[1] / 3)),
            random_state=seed,
        )
    out = scores.reset_index()
    out.columns = ["parameter", "score"]
    return out.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
