"""Global sensitivity of sweep outputs: Morris elementary effects and Sobol indices (SALib).

A sweep with ``method = "morris"`` or ``"sobol"`` records its SALib problem and sample in its
manifest; once every point has at least one finished run, :func:`analyse` averages each
output over a point's seeds (so a 0/1 outcome becomes a probability) and hands the values,
in sample order, to ``SALib.analyze``. The result is one row per (output, parameter) with the
indices and their 95% bootstrap confidence half-widths.

Morris (Campolongo et al. 2007): ``mu_star`` is the mean absolute elementary effect (overall
influence, in the output's units), ``sigma`` its spread (non-linearity or interaction).
Sobol (Saltelli 2010): ``S1`` is the share of output variance due to the parameter alone,
``ST`` the share including all its interactions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.config import ConfigError
from sim.plots import money_unit, new_figure, save_figure
from sim.results_store import ResultsStore
from sim.runner import SUMMARY_UNITS

CONF_LEVEL = 0.95
"""Confidence level of the bootstrap intervals SALib reports."""


_BOOK_KEEPING = {"run_id", "point", "replicate", "seed", "months", "seconds"}
"""Columns of the runs table that are not outputs."""


def point_means(store: ResultsStore, outputs: list[str]) -> pd.DataFrame:
    """Mean of each output over the finished seeds of every point, indexed by point."""
    manifest = store.manifest()
    runs = store.results()
    missing = [o for o in outputs if o not in runs.columns]
    if missing:
        kept = [c for c in runs.columns if not c.startswith("p:") and c not in _BOOK_KEEPING]
        raise ConfigError(
            f"output(s) {', '.join(missing)} were not kept by this sweep; its outputs are: "
            f"{', '.join(kept)}"
        )
    # by run id through the plan: a design may repeat a point (Morris trajectories share
    # points), and a repeated point is one run
    plan = store.plan()[["point", "run_id"]]
    joined = plan.merge(runs[["run_id", *outputs]], on="run_id", how="inner")
    means = joined.groupby("point")[outputs].mean()
    absent = sorted(set(range(len(manifest["points"]))) - set(means.index))
    if absent:
        raise ConfigError(
            f"{len(absent)} of {len(manifest['points'])} points have no finished run (first: "
            f"{absent[:5]}); finish the sweep (rerun `computesim sweep`) before the analysis"
        )
    return means.sort_index()


def analyse(store: ResultsStore, outputs: list[str], *, seed: int = 1) -> pd.DataFrame:
    """Sensitivity indices of ``outputs`` for a Morris or Sobol sweep in ``store``.

    Returns columns: output, parameter, method and, for Morris, ``mu``, ``mu_star``,
    ``mu_star_conf``, ``sigma``; for Sobol, ``S1``, ``S1_conf``, ``ST``, ``ST_conf``.
    An output that does not vary gives zeros (Morris) or NaN (Sobol: no variance to share).
    """
    manifest = store.manifest()
    method = manifest.get("method")
    if method not in ("morris", "sobol"):
        raise ConfigError(
            f'`computesim sa` needs a sweep with parameters.method = "morris" or "sobol"; '
            f"'{store.root}' used \"{method}\""
        )
    problem = manifest["problem"]
    sample = np.asarray(manifest["sample"], dtype=float)
    means = point_means(store, outputs)
    levels = manifest.get("morris_levels")
    rows = []
    for output in outputs:
        y = means[output].to_numpy(dtype=float)
        rows.extend(_indices(method, problem, sample, y, output, seed, levels))
    return pd.DataFrame(rows)


def _indices(
    method: str,
    problem: dict,
    sample: np.ndarray,
    y: np.ndarray,
    output: str,
    seed: int,
    morris_levels: int | None,
) -> list[dict]:
    names = problem["names"]
    constant = bool(np.nanmax(y) - np.nanmin(y) == 0)
    if method == "morris":
        from SALib.analyze import morris

        res = morris.analyze(
            problem,
            sample,
            y,
            num_levels=morris_levels,
            conf_level=CONF_LEVEL,
            seed=seed,
        )
        return [
            {
                "output": output,
                "parameter": name,
                "method": "morris",
                "mu": float(res["mu"][k]),
                "mu_star": float(res["mu_star"][k]),
                "mu_star_conf": 0.0 if constant else float(res["mu_star_conf"][k]),
                "sigma": float(res["sigma"][k]),
            }
            for k, name in enumerate(names)
        ]
    from SALib.analyze import sobol

    if constant:
        values = {key: [np.nan] * len(names) for key in ("S1", "S1_conf", "ST", "ST_conf")}
    else:
        values = sobol.analyze(
            problem, y, calc_second_order=False, conf_level=CONF_LEVEL, seed=seed
        )
    return [
        {
            "output": output,
            "parameter": name,
            "method": "sobol",
            **{key: float(values[key][k]) for key in ("S1", "S1_conf", "ST", "ST_conf")},
        }
        for k, name in enumerate(names)
    ]


def effect_unit(output: str, effects: list[float]) -> tuple[float, str]:
    """Scale and unit of the axis of effects on summary ``output``: its unit
    (:data:`sim.runner.SUMMARY_UNITS`), USD amounts in billions or millions as ``effects``
    need (:func:`sim.plots.money_unit`)."""
    unit = SUMMARY_UNITS.get(output, "its units")
    if unit == "USD":
        return money_unit(effects)
    return 1.0, unit


def sensitivity_figure(indices: pd.DataFrame, *, title: str) -> Figure:
    """Bars of the indices with their confidence intervals, one panel per output."""
    outputs = list(dict.fromkeys(indices["output"]))
    method = indices["method"].iloc[0]
    n_params = indices["parameter"].nunique()
    fig, axes = new_figure(
        ncols=len(outputs), size=(4.8 * len(outputs) + 1.5, 1.2 + 0.45 * n_params + 1.0)
    )
    for ax, output in zip(axes[0], outputs, strict=True):
        part = indices[indices["output"] == output]
        ys = np.arange(len(part))
        if method == "morris":
            scale, unit = effect_unit(output, [*part["mu_star"], *part["sigma"]])
            ax.barh(
                ys,
                part["mu_star"] * scale,
                xerr=part["mu_star_conf"] * scale,
                color="#1f77b4",
                capsize=3,
                label="μ* (mean |elementary effect|)",
            )
            ax.plot(part["sigma"] * scale, ys, "D", color="#d62728", label="σ (spread of effects)")
            ax.set_xlabel(f"effect on {output}\n({unit})")
        else:
            h = 0.38
            ax.barh(
                ys - h / 2,
                part["S1"],
                h,
                xerr=part["S1_conf"],
                color="#1f77b4",
                capsize=3,
                label="S1 (first order)",
            )
            ax.barh(
                ys + h / 2,
                part["ST"],
                h,
                xerr=part["ST_conf"],
                color="#ff7f0e",
                capsize=3,
                label="ST (total)",
            )
            ax.set_xlabel(f"share of variance of {output}")
        ax.set_yticks(ys, part["parameter"])
        ax.invert_yaxis()
        ax.set_title(output)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    fig.suptitle(
        f"{title} ({'Morris screen' if method == 'morris' else 'Sobol indices'}, "
        f"{int(CONF_LEVEL * 100)}% intervals)"
    )
    return fig


def write_analysis(store: ResultsStore, outputs: list[str], out: Path) -> tuple[Path, Path]:
    """Write ``sensitivity.csv`` and ``sensitivity.png`` into ``out``; return their paths."""
    indices = analyse(store, outputs)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "sensitivity.csv"
    indices.to_csv(csv, index=False)
    name = store.manifest().get("sweep_name", store.root.name)
    png = save_figure(sensitivity_figure(indices, title=f"sweep {name}"), out / "sensitivity.png")
    return csv, png
