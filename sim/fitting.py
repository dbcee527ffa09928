"""Fitting the estimated parameters to the calibration targets by simulated moments (issue 17).

A fit file (``experiments/calibration/fit.toml``) names a scenario, the targets it is fitted
to (a selector over ``targets.toml``), the seeds, and a bounded list of parameters whose source
is "estimate", each with its scale (linear or log). The fit is the simulated method of moments
(McFadden 1989; Pakes & Pollard 1989; for agent-based models Franke & Westerhoff 2012,
Grazzini & Richiardi 2015): for a candidate θ the model is run over the same seeds as every
other candidate (common random numbers: the seeds are fixed, so differences between candidates
are the parameters' doing, not the draws'), each target's *median over seeds* is taken, and the
distance

    D(θ) = Σ_i w_i g_i(θ)² / Σ_i w_i

is minimised, where ``g_i`` is how far the median lies outside target i's acceptable range in
units of half that range (zero inside it): on a log scale for a positive range (a factor of
the range's geometric half-width), linearly otherwise. The acceptable range plays the part of
the moment's standard error in the SMM weighting matrix (diagonal), so a loosely known figure
weighs less; ``w_i`` are optional extra weights from the fit file. A gap is capped at
:data:`MAX_GAP` so one unreachable target cannot drown the others.

The optimiser is Optuna (Akiba et al. 2019): the tree-structured Parzen estimator (TPE,
Bergstra et al. 2011) by default, CMA-ES (Hansen 2016, needs the ``cmaes`` package) or random
search. Each candidate's runs go through the sweep engine (:func:`sim.calibration.run_calibration`
on a process pool or a Dask cluster, seeds in parallel) and are kept in the fit's folder, and
the Optuna study lives in a journal file there: an interrupted fit resumes where it stopped
(the candidate it was running is retried first, its finished seeds reused), and a folder that
holds another fit (other parameters, targets, seeds, scenario or model version) is refused.

After the fit: the out-of-sample check (the default and the fitted world over all targets, the
ones the fit did not see reported apart), and an identification screen (Morris elementary
effects of the distance over the fitted parameters, SALib; Campolongo et al. 2007).

Sits above the calibration report in the sweeps-and-analysis layers: imports configuration,
runs, the sweep engine, the results store, the calibration report and the plots.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
import math
import os
import platform
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.calibration import (
    DEFAULT_TARGETS,
    ROOT,
    Target,
    load_targets,
    measures_digest,
    plan_calibration,
    run_calibration,
    within_factor_2_count,
)
from sim.config import (
    ConfigError,
    Scenario,
    format_validation_error,
    load_scenario,
    parameter_info,
    read_toml,
)
from sim.plots import new_figure, save_figure
from sim.results_store import PACKAGES, ResultsStore, _git_revision
from sim.runner import MODEL_VERSION, write_atomically

DEFAULT_FIT = ROOT / "experiments" / "calibration" / "fit.toml"
"""The default world's fit file."""

MAX_GAP = 20.0
"""Largest gap of one target, in half-ranges (also a missing median's or a wrong sign's)."""

STUDY_FILE = "study.journal"
FINGERPRINT_FILE = "fingerprint.json"
RECORD_FILE = "fit.json"


# --------------------------------------------------------------------------------------
# The fit file
class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FitParameter(_Section):
    """One fitted parameter: a dotted scenario path (as in ``Scenario.with_overrides``),
    its search bounds and the scale the optimiser searches on."""

    path: str = Field(min_length=1, description="dotted scenario path, e.g. labs.*.optimism")
    low: float = Field(allow_inf_nan=False, description="lower search bound, parameter units")
    high: float = Field(allow_inf_nan=False, description="upper search bound, parameter units")
    scale: Literal["linear", "log"] = Field("linear", description="search scale")
    integer: bool = Field(False, description="integer-valued parameter")
    why: str = Field("", description="why it is fitted / what it should move (free text)")

    @model_validator(mode="after")
    def _bounds(self) -> FitParameter:
        if not self.low < self.high:
            raise ValueError(f"needs low < high (got low {self.low:g}, high {self.high:g})")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"scale 'log' needs low > 0 (got low {self.low:g})")
        return self


class FitInfo(_Section):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    scenario: str = Field(min_length=1, description="scenario file, relative to the fit file")
    targets: str = Field("", description="targets file, relative to the fit file (default: ours)")
    select: str = Field("", description="target selector (see select_targets); empty: all")
    seeds: int = Field(3, strict=True, ge=1, le=1000, description="seeds per candidate (CRN)")
    base_seed: int = Field(1, strict=True, ge=0, le=2**31 - 1, description="first seed")
    trials: int = Field(30, strict=True, ge=1, le=100_000, description="candidates to evaluate")
    sampler: Literal["tpe", "cmaes", "random"] = "tpe"
    loss: Literal["squared", "cauchy"] = Field(
        "squared", description="how a gap counts: squared (SMM) or cauchy (robust)"
    )
    sampler_seed: int = Field(1, strict=True, ge=0, le=2**31 - 1)
    check_seeds: int = Field(
        8, strict=True, ge=1, le=1000, description="seeds of the out-of-sample check"
    )
    description: str = ""


class FitFile(_Section):
    """A validated fit file."""

    fit: FitInfo
    parameters: tuple[FitParameter, ...] = Field(min_length=1, max_length=50)
    weights: dict[str, float] = Field(
        default_factory=dict, description="target id → weight (default 1; 0 drops it)"
    )

    @model_validator(mode="after")
    def _unique(self) -> FitFile:
        paths = [p.path for p in self.parameters]
        for p in paths:
            if paths.count(p) > 1:
                raise ValueError(f"parameter '{p}' appears twice; each path once")
        for tid, w in self.weights.items():
            if not (math.isfinite(w) and 0 <= w <= 1000):
                raise ValueError(f"weights.{tid} must be between 0 and 1000 (got {w})")
        return self


@dataclass(frozen=True)
class Fit:
    """A fit ready to run: its file, scenario, all targets, the fitted-on ones, the seeds."""

    spec: FitFile
    path: Path
    text: str
    scenario: Scenario
    scenario_path: Path
    targets: tuple[Target, ...]
    fitted_on: tuple[Target, ...]
    seeds: tuple[int, ...]
    defaults: dict[str, float | None]
    """Each parameter's value in the scenario (None: it differs between agents)."""

    @property
    def parameters(self) -> tuple[FitParameter, ...]:
        return self.spec.parameters

    @property
    def held_out(self) -> tuple[Target, ...]:
        chosen = {t.id for t in self.fitted_on}
        return tuple(t for t in self.targets if t.id not in chosen)

    def weight(self, target_id: str) -> float:
        return float(self.spec.weights.get(target_id, 1.0))

    def fingerprint(self) -> str:
        """Hash of everything a trial's distance depends on (not the number of trials)."""
        info = self.spec.fit.model_dump(mode="json")
        for key in ("trials", "check_seeds", "description", "name"):
            info.pop(key)
        blob = {
            "fit": info,
            "parameters": [p.model_dump(mode="json", exclude={"why"}) for p in self.parameters],
            "weights": dict(sorted(self.spec.weights.items())),
            "scenario": self.scenario.model_dump(mode="json"),
            "targets": [t.model_dump(mode="json") for t in self.fitted_on],
            "measures": measures_digest(self.fitted_on),
            "seeds": list(self.seeds),
            "model": MODEL_VERSION,
        }
        return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()

    @property
    def moments_span(self) -> str:
        """The years of the fitted-on targets, e.g. ``2025`` or ``2025–26``."""
        years = sorted({int(t.months[1][:4]) for t in self.fitted_on})
        if years[0] == years[-1]:
            return str(years[0])
        return f"{years[0]}–{str(years[-1])[-2:]}"


FIT_FIELDS = {
    "fit": tuple(FitInfo.model_fields),
    "parameters": tuple(FitParameter.model_fields),
}


def load_fit(
    path: str | Path = DEFAULT_FIT,
    *,
    scenario: str | Path | None = None,
    targets: str | Path | None = None,
    select: str | None = None,
    seeds: int | None = None,
    trials: int | None = None,
) -> Fit:
    """Read and check a fit file against its scenario and targets; the keyword arguments
    replace the file's values (command-line options). Raises :class:`ConfigError` naming the
    field and what is allowed; nothing is run or written."""
    path = Path(path)
    data = read_toml(path, "fit file")
    text = path.read_text(encoding="utf-8")
    overrides: dict[str, Any] = {"select": select, "seeds": seeds, "trials": trials}
    fit_table = data.get("fit")
    if isinstance(fit_table, dict):
        data = {
            **data,
            "fit": {**fit_table, **{k: v for k, v in overrides.items() if v is not None}},
        }
    try:
        spec = FitFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_fit_error(exc, data, path)) from None
    scenario_path = Path(scenario) if scenario else (path.parent / spec.fit.scenario).resolve()
    world = load_scenario(scenario_path)
    targets_path = (
        Path(targets)
        if targets
        else (path.parent / spec.fit.targets).resolve()
        if spec.fit.targets
        else DEFAULT_TARGETS
    )
    all_targets = load_targets(targets_path)
    chosen = select_targets(all_targets, spec.fit.select)
    unknown = sorted(set(spec.weights) - {t.id for t in all_targets})
    if unknown:
        raise ConfigError(
            f"fit file {path}, [weights]: {', '.join(unknown)} are not target ids of "
            f"{targets_path}. Nothing was run or written."
        )
    if not any(spec.weights.get(t.id, 1.0) > 0 for t in chosen):
        raise ConfigError(
            f"fit file {path}: every selected target has weight 0; nothing to fit. Nothing was "
            "run or written."
        )
    defaults = {p.path: check_parameter(world, p, path) for p in spec.parameters}
    seed_list = tuple(range(spec.fit.base_seed, spec.fit.base_seed + spec.fit.seeds))
    # the candidates' calibration must be plannable (agents exist, months in the future)
    plan_calibration(world, chosen, spec.fit.seeds, base_seed=spec.fit.base_seed)
    return Fit(spec, path, text, world, scenario_path, all_targets, chosen, seed_list, defaults)


def _fit_error(exc: ValidationError, data: dict[str, Any], path: Path) -> str:
    """Name each bad field: ``parameters[2] (path 'labs.*.optimism'), field `low``` …"""
    rows = data.get("parameters")
    parts = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(str(x) for x in loc) or "(top level)"
        if len(loc) >= 2 and loc[0] == "parameters" and isinstance(loc[1], int):
            k = loc[1]
            row = rows[k] if isinstance(rows, list) and isinstance(rows[k], dict) else {}
            where = f"parameters[{k}]" + (f" (path '{row['path']}')" if "path" in row else "")
            where += "".join(f", field `{x}`" for x in loc[2:])
        if err["type"] == "value_error":
            parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        elif err["type"] == "missing":
            parts.append(f"{where} is required but missing")
        elif err["type"] == "extra_forbidden":
            section = str(loc[0]) if loc else ""
            allowed = FIT_FIELDS.get(section, ("fit", "parameters", "weights"))
            parts.append(f"{where} is not a known field (allowed: {', '.join(allowed)})")
        else:
            parts.append(f"{where}: {err['msg']} (got {err.get('input')!r})")
    if not parts:  # pragma: no cover - pydantic always reports at least one error
        return format_validation_error(exc, f"fit file {path}")
    return f"invalid fit file {path}: " + "; ".join(parts) + ". Nothing was run or written."


def check_parameter(scenario: Scenario, p: FitParameter, path: Path) -> float | None:
    """Check a fitted parameter against the configuration (a real path, an "estimate", search
    bounds inside the allowed ones) and return its value in the scenario (None if it differs
    between the agents a ``*`` path names)."""
    where = f"fit file {path}, parameter '{p.path}'"
    try:
        info = parameter_info(p.path)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}. Nothing was run or written.") from None
    if not info.source.startswith("estimate"):
        raise ConfigError(
            f"{where}: its source is '{info.source}', not 'estimate'; only estimated parameters "
            "are fitted (a sourced figure is data, not a free parameter). Nothing was run or "
            "written."
        )
    if info.low is not None and (p.low < info.low or (info.low_open and p.low == info.low)):
        raise ConfigError(
            f"{where}: `low` {p.low:g} is outside the parameter's allowed range "
            f"({info.bounds}). Nothing was run or written."
        )
    if info.high is not None and (p.high > info.high or (info.high_open and p.high == info.high)):
        raise ConfigError(
            f"{where}: `high` {p.high:g} is outside the parameter's allowed range "
            f"({info.bounds}). Nothing was run or written."
        )
    if p.integer != info.integer:
        raise ConfigError(
            f"{where}: `integer` must be {str(info.integer).lower()} for this parameter. "
            "Nothing was run or written."
        )
    for value in (p.low, p.high):
        try:
            scenario.with_overrides({p.path: int(value) if p.integer else value})
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}. Nothing was run or written.") from None
    values = current_values(scenario, p.path)
    return values[0] if len(set(values)) == 1 else None


def current_values(scenario: Scenario, path: str) -> list[float]:
    """The scenario's value(s) of a dotted path (one per agent a ``*`` path names)."""
    found: list[Any] = [scenario.model_dump(mode="python")]
    for key in path.split("."):
        nxt: list[Any] = []
        for node in found:
            if isinstance(node, (list, tuple)):
                nxt.extend(d for d in node if key == "*" or d.get("name") == key)
            else:
                nxt.append(node[key])
        found = nxt
    return [float(v) for v in found]


# --------------------------------------------------------------------------------------
# The target selector
SPAN = re.compile(r"^(\d{4}-\d{2})?\.\.(\d{4}-\d{2})?$")


def select_targets(targets: Sequence[Target], selector: str) -> tuple[Target, ...]:
    """The targets a selector picks, in file order. A selector is a comma-separated list of
    terms; a target is picked if any plain term matches it and no ``-`` term does:

    - ``2025``: targets whose last month falls in 2025 (the year the figure is known);
    - ``2025-01..2025-12``, ``..2025-12``, ``2026-01..``: last month within the span;
    - anything else: a glob on the target id (``leader-*``); ``-glob`` excludes.

    An empty selector picks every target. A term that matches no target is an error (a
    typo would otherwise silently fit on fewer targets)."""
    terms = [t.strip() for t in selector.split(",") if t.strip()]
    plus = [t for t in terms if not t.startswith("-")]
    minus = [t[1:] for t in terms if t.startswith("-")]
    for term in plus + minus:
        if not any(_matches(term, t) for t in targets):
            raise ConfigError(
                f"target selector term '{term}' matches no target (terms: a year like 2025, a "
                "span of last months like 2025-01..2025-12, or a glob on target ids like "
                f"leader-*; ids are e.g. {', '.join(t.id for t in targets[:3])}). Nothing was "
                "run or written."
            )
    picked = tuple(
        t
        for t in targets
        if (not plus or any(_matches(term, t) for term in plus))
        and not any(_matches(term, t) for term in minus)
    )
    if not picked:
        raise ConfigError(
            f"target selector '{selector}' leaves no target. Nothing was run or written."
        )
    return picked


def _matches(term: str, target: Target) -> bool:
    last = target.months[1]
    if re.fullmatch(r"\d{4}", term):
        return last[:4] == term
    span = SPAN.match(term)
    if span:
        first, end = span.groups()
        return (first is None or last >= first) and (end is None or last <= end)
    return fnmatch.fnmatchcase(target.id, term)


# --------------------------------------------------------------------------------------
# The distance
def target_gap(target: Target, median: float) -> float:
    """How far ``median`` lies outside the target's acceptable range, in half-ranges (0 in
    range): on a log scale when the range and the median are positive, linearly otherwise;
    :data:`MAX_GAP` for a missing median or one of the wrong sign for a positive range."""
    if not math.isfinite(median):
        return MAX_GAP
    low, high = target.low, target.high
    if low <= median <= high:
        return 0.0
    if low > 0:
        if median <= 0:
            return MAX_GAP
        half = 0.5 * math.log(high / low) if high > low else 0.05
        gap = (math.log(low / median) if median < low else math.log(median / high)) / half
    else:
        half = 0.5 * (high - low) if high > low else max(0.05 * abs(target.value), 1e-9)
        gap = ((low - median) if median < low else (median - high)) / half
    return min(gap, MAX_GAP)


Loss = Literal["squared", "cauchy"]

LOSSES: dict[str, Callable[[float], float]] = {
    "squared": lambda g: g * g,
    "cauchy": lambda g: math.log1p(g * g),
}
"""How a target's gap g counts in the distance: ``squared`` (g², the method of moments'
quadratic form) or ``cauchy`` (log(1 + g²), a robust loss: a target far out of reach weighs
little more than one just out of range, so the fit works on bringing near misses into range)."""


def distance(
    targets: Sequence[Target],
    report: pd.DataFrame,
    weights: Callable[[str], float],
    loss: Loss = "squared",
) -> float:
    """Weighted mean loss of the gaps of the report's medians over ``targets`` (see the
    module and :data:`LOSSES`)."""
    medians = dict(zip(report["id"], report["median"], strict=True))
    rho = LOSSES[loss]
    total = norm = 0.0
    for t in targets:
        w = weights(t.id)
        total += w * rho(target_gap(t, float(medians.get(t.id, math.nan))))
        norm += w
    return total / norm if norm else math.nan


# --------------------------------------------------------------------------------------
# Candidates
@dataclass
class Evaluation:
    """One candidate on the fit's seeds: its parameters, report, distance, targets in range."""

    params: dict[str, float]
    report: pd.DataFrame
    distance: float
    in_range: int
    runs_done: int


def candidate_key(params: Mapping[str, Any]) -> str:
    """A folder name for a candidate: a hash of its parameters (``default``: none)."""
    if not params:
        return "default"
    blob = json.dumps({k: float(v) for k, v in sorted(params.items())}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def evaluate(
    fit: Fit,
    params: Mapping[str, Any],
    folder: Path,
    executor: Executor,
    *,
    targets: Sequence[Target] | None = None,
    seeds: int | None = None,
) -> Evaluation:
    """Run the scenario with ``params`` over the fit's seeds (or the first ``seeds`` of them
    from the same base seed: common random numbers) through the sweep engine, keeping the runs
    in ``folder/<candidate>``; measure ``targets`` (default: the fitted-on ones). Raises
    KeyboardInterrupt if the runs were interrupted (finished ones are kept)."""
    targets = tuple(targets or fit.fitted_on)
    world = fit.scenario.with_overrides(dict(params)) if params else fit.scenario
    calibration = plan_calibration(
        world,
        targets,
        seeds or len(fit.seeds),
        base_seed=fit.seeds[0],
        scenario_path=fit.scenario_path,
    )
    store = ResultsStore(folder / candidate_key(params))
    outcome = run_calibration(calibration, store, executor, progress=False)
    if outcome.sweep.interrupted:
        raise KeyboardInterrupt
    report = outcome.report
    chosen = {t.id for t in fit.fitted_on}
    in_range = int(report.loc[report["id"].isin(chosen), "in_range"].sum())
    return Evaluation(
        dict(params),
        report,
        distance([t for t in targets if t.id in chosen], report, fit.weight, fit.spec.fit.loss),
        in_range,
        outcome.sweep.done,
    )


# --------------------------------------------------------------------------------------
# The study
def _optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def distributions(fit: Fit) -> dict[str, Any]:
    """Optuna's search space: each parameter's bounds and scale."""
    optuna = _optuna()
    out: dict[str, Any] = {}
    for p in fit.parameters:
        if p.integer:
            out[p.path] = optuna.distributions.IntDistribution(
                math.ceil(p.low), math.floor(p.high), log=p.scale == "log"
            )
        else:
            out[p.path] = optuna.distributions.FloatDistribution(
                p.low, p.high, log=p.scale == "log"
            )
    return out


def sampler_for(fit: Fit, offset: int) -> Any:
    """The fit's sampler; its seed is the fit's ``sampler_seed`` plus ``offset`` (the trials
    already in the study), so a resumed fit does not propose the same points again."""
    optuna = _optuna()
    seed = fit.spec.fit.sampler_seed + offset
    kind = fit.spec.fit.sampler
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise ConfigError(
                "sampler 'cmaes' needs the cmaes package (pip install cmaes); or use "
                'sampler = "tpe". Nothing was run or written.'
            ) from None
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    startup = max(1, min(10, fit.spec.fit.trials // 3))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True)


FIT_ENTRIES = (
    STUDY_FILE,
    FINGERPRINT_FILE,
    RECORD_FILE,
    "trials.csv",
    "report.csv",
    "counts.csv",
    "screen.csv",
    "screen.png",
    "fitted.toml",
    "candidates",
    "check",
    "screen",
)
"""What a fit writes in its folder (and all that ``force`` deletes there)."""


def prepare_folder(fit: Fit, out: Path, *, force: bool) -> None:
    """Make ``out`` the fit's folder: refuse one that holds another fit or anything else
    (unless ``force``, which deletes a fit's files there and nothing else), and record the
    fingerprint of this one."""
    marker = out / FINGERPRINT_FILE
    mine = fit.fingerprint()
    if force:
        for name in FIT_ENTRIES:
            entry = out / name
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)
    elif out.exists() and any(out.iterdir()):
        if not marker.is_file():
            raise ConfigError(
                f"--out '{out}' exists and does not hold a fit: choose another --out (or an "
                "empty folder). Nothing was run or written."
            )
        theirs = json.loads(marker.read_text()).get("fingerprint")
        if theirs != mine:
            raise ConfigError(
                f"--out '{out}' holds another fit (other parameters, bounds, targets, weights, "
                "seeds, scenario or model version): its trials cannot be mixed with this "
                "one's. Choose another --out, or pass --force to delete it. Nothing was run "
                "or written."
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    write_atomically(
        marker,
        lambda p: Path(p).write_text(
            json.dumps({"fingerprint": mine, "fit": fit.spec.fit.name}, indent=1)
        ),
    )


def open_study(fit: Fit, out: Path) -> Any:
    """The fit's Optuna study, in a journal file in ``out`` (created or resumed)."""
    optuna = _optuna()
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(out / STUDY_FILE)))
    study = optuna.create_study(
        study_name=fit.spec.fit.name,
        storage=storage,
        direction="minimize",
        load_if_exists=True,
    )
    return study


@dataclass
class FitOutcome:
    """What :func:`run_fit` did: the study's trials, the default and best candidates."""

    trials: pd.DataFrame
    default: Evaluation
    best: Evaluation | None
    new_trials: int
    interrupted: bool = False
    record: dict[str, Any] = field(default_factory=dict)


def run_fit(
    fit: Fit,
    out: Path,
    executor: Executor,
    *,
    force: bool = False,
    progress: bool = True,
    on_trial: Callable[[int, Evaluation], None] | None = None,
) -> FitOutcome:
    """Run the fit until the study holds ``fit.spec.fit.trials`` finished candidates.

    The default world is evaluated first on the same seeds (the "before"); when every fitted
    parameter has one value in it, that point is also the study's first trial, so the fit can
    only improve on it. A trial left running by an interrupted fit is marked failed and its
    point asked again first (its finished seeds are reused). Ctrl-C stops after recording
    what finished; rerunning resumes."""
    from tqdm import tqdm

    optuna = _optuna()
    prepare_folder(fit, out, force=force)
    folder = out / "candidates"
    study = open_study(fit, out)
    space = distributions(fit)
    State = optuna.trial.TrialState
    for t in study.get_trials(deepcopy=False, states=(State.RUNNING, State.WAITING)):
        if t.state == State.RUNNING:  # left by an interrupted fit: retry its point first
            study.enqueue_trial(t.params, skip_if_exists=False)
            study.tell(t.number, state=State.FAIL)
    if not study.trials and all(v is not None for v in fit.defaults.values()):
        study.enqueue_trial(
            {p.path: _inside(fit.defaults[p.path], p) for p in fit.parameters},
            user_attrs={"default": True},
        )
    study.sampler = sampler_for(fit, len(study.trials))
    interrupted = False
    new = 0
    default = evaluate(fit, {}, folder, executor)
    done = len(study.get_trials(deepcopy=False, states=(State.COMPLETE,)))
    bar = tqdm(
        total=fit.spec.fit.trials,
        initial=min(done, fit.spec.fit.trials),
        desc=f"fit {fit.spec.fit.name}",
        unit="trial",
        disable=not progress,
        dynamic_ncols=True,
    )
    try:
        while done < fit.spec.fit.trials:
            trial = study.ask(space)
            try:
                ev = evaluate(fit, trial.params, folder, executor)
            except KeyboardInterrupt:
                study.enqueue_trial(trial.params, skip_if_exists=False)
                study.tell(trial, state=State.FAIL)
                raise
            trial.set_user_attr("in_range", ev.in_range)
            study.tell(trial, ev.distance)
            done += 1
            new += 1
            bar.update()
            bar.set_postfix(best=f"{study.best_value:.3g}", last=f"{ev.distance:.3g}")
            if on_trial is not None:
                on_trial(trial.number, ev)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    trials = trials_table(study, fit)
    best = None
    complete = trials[trials["state"] == "COMPLETE"]
    if len(complete) and not interrupted:
        row = complete.sort_values(["distance", "number"]).iloc[0]
        # a trials-table row holds numpy scalars; the scenario takes Python ints and floats
        values = {
            p.path: int(row[p.path]) if p.integer else float(row[p.path]) for p in fit.parameters
        }
        best = evaluate(fit, values, folder, executor)
    outcome = FitOutcome(trials, default, best, new, interrupted)
    outcome.record = fit_record(fit, outcome)
    trials.to_csv(out / "trials.csv", index=False)
    write_atomically(
        out / RECORD_FILE,
        lambda p: Path(p).write_text(json.dumps(outcome.record, indent=1, default=str)),
    )
    return outcome


def _inside(value: float | None, p: FitParameter) -> float:
    """The default value clipped into the search bounds (as the sampler's first point)."""
    assert value is not None
    clipped = min(max(value, p.low), p.high)
    return round(clipped) if p.integer else float(clipped)


def trials_table(study: Any, fit: Fit) -> pd.DataFrame:
    """One row per trial: number, state, distance, targets in range, each parameter."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "distance": t.value if t.value is not None else math.nan,
                "in_range": t.user_attrs.get("in_range", math.nan),
                "default": bool(t.user_attrs.get("default", False)),
                **{p.path: t.params.get(p.path, math.nan) for p in fit.parameters},
            }
        )
    cols = ["number", "state", "distance", "in_range", "default", *(p.path for p in fit.parameters)]
    return pd.DataFrame(rows, columns=cols)


def fitted_source(fit: Fit, date: dt.date) -> str:
    """The source a fitted value carries: ``fitted to 2025–26 moments (2026-11-26)``."""
    return f"fitted to {fit.moments_span} moments ({date.isoformat()})"


def fit_record(fit: Fit, outcome: FitOutcome) -> dict[str, Any]:
    """The fit's record: what was fitted, to what, how, when, with which code, and the result."""
    now = dt.datetime.now(dt.UTC)
    best = outcome.best
    packages = {p: _version(p) for p in (*PACKAGES, "optuna")}
    return {
        "fit": fit.spec.fit.name,
        "fit_file": _shown(fit.path),
        "fit_toml": fit.text,
        "fingerprint": fit.fingerprint(),
        "date": now.isoformat(timespec="seconds"),
        "source": fitted_source(fit, now.date()),
        "scenario": _shown(fit.scenario_path),
        "seeds": list(fit.seeds),
        "check_seeds": fit.spec.fit.check_seeds,
        "sampler": fit.spec.fit.sampler,
        "sampler_seed": fit.spec.fit.sampler_seed,
        "trials_complete": int((outcome.trials["state"] == "COMPLETE").sum()),
        "trials_failed": int((outcome.trials["state"] == "FAIL").sum()),
        "interrupted": outcome.interrupted,
        "distance": f"weighted mean {fit.spec.fit.loss} loss of the gaps outside the acceptable "
        "ranges, in half-ranges (log scale for positive ranges), each gap capped at "
        f"{MAX_GAP:g}",
        "fitted_on": [t.id for t in fit.fitted_on],
        "held_out": [t.id for t in fit.held_out],
        "weights": dict(fit.spec.weights),
        "parameters": [
            {**p.model_dump(mode="json"), "default": fit.defaults[p.path]} for p in fit.parameters
        ],
        "default": {"distance": outcome.default.distance, "in_range": outcome.default.in_range},
        "best": None
        if best is None
        else {"params": best.params, "distance": best.distance, "in_range": best.in_range},
        "model_version": MODEL_VERSION,
        "packages": packages,
        "python": platform.python_version(),
        "git_revision": _git_revision(),
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------
# The fitted scenario
def fitted_scenario_text(fit: Fit, record: Mapping[str, Any], dest: Path) -> str:
    """A scenario file (``base`` = the fitted scenario, relative to ``dest``) whose overrides
    are the best values, each with its source as a comment; ``computesim run`` reads it."""
    best = record.get("best")
    if not best:
        raise ConfigError(
            "the fit has no finished best candidate yet (interrupted?): rerun the fit to finish "
            "it before writing a scenario. Nothing was written."
        )
    base = os.path.relpath(fit.scenario_path.resolve(), dest.resolve().parent)
    lines = [
        f"# written by `computesim calibrate --fit` from {record['fit_file']} on {record['date']}",
        f"# distance {best['distance']:.4g} (default {record['default']['distance']:.4g}); "
        f"{best['in_range']} of {len(record['fitted_on'])} fitted-on targets in range "
        f"(default {record['default']['in_range']}); seeds {record['seeds']}; model "
        f"{record['model_version']}",
        f'name = "{fit.scenario.name}-fitted"',
        f'base = "{base}"',
        "",
        "[overrides]",
    ]
    for p in fit.parameters:
        value = best["params"][p.path]
        shown = repr(int(value)) if p.integer else f"{float(value):.6g}"
        was = fit.defaults[p.path]
        before = "varies by agent" if was is None else f"{was:g}"
        lines.append(
            f'"{p.path}" = {shown}   # {record["source"]}; was {before}; searched '
            f"{p.low:g}–{p.high:g} ({p.scale})"
        )
    return "\n".join(lines) + "\n"


def write_fitted_scenario(fit: Fit, record: Mapping[str, Any], dest: Path) -> Path:
    """Write :func:`fitted_scenario_text` to ``dest`` (checked by loading it back)."""
    text = fitted_scenario_text(fit, record, dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(dest, lambda p: Path(p).write_text(text, encoding="utf-8"))
    load_scenario(dest)
    return dest


# --------------------------------------------------------------------------------------
# Out of sample
def out_of_sample(fit: Fit, best: Mapping[str, Any], out: Path, executor: Executor) -> pd.DataFrame:
    """The default and the fitted world over every target of the targets file, on the fit's
    seeds extended to ``check_seeds``: one row per target, ``fitted_on`` saying whether the fit
    saw it, each world's median, in range, ratio to the record."""
    folder = out / "check"
    seeds = fit.spec.fit.check_seeds
    before = evaluate(fit, {}, folder, executor, targets=fit.targets, seeds=seeds).report
    after = evaluate(fit, best, folder, executor, targets=fit.targets, seeds=seeds).report
    chosen = {t.id for t in fit.fitted_on}
    table = before[["id", "date", "unit", "low", "high"]].copy()
    table["year"] = [t.months[1][:4] for t in fit.targets]
    table["fitted_on"] = table["id"].isin(chosen)
    for name, rep in (("default", before), ("fitted", after)):
        table[f"{name}_median"] = rep["median"].to_numpy()
        table[f"{name}_in_range"] = rep["in_range"].to_numpy()
        table[f"{name}_ratio"] = rep["ratio"].to_numpy()
    table["seeds"] = after["seeds"].to_numpy()
    return table


def sample_counts(table: pd.DataFrame) -> pd.DataFrame:
    """In range before and after, for the fitted-on targets and the held-out ones by year."""
    rows = []
    groups = [("fitted on (in sample)", table[table["fitted_on"]])]
    held = table[~table["fitted_on"]]
    for year in sorted(held["year"].unique()):
        groups.append((f"held out, {year} (out of sample)", held[held["year"] == year]))
    groups.append(("all targets", table))
    for label, rows_ in groups:
        rows.append(
            {
                "targets": label,
                "count": len(rows_),
                "default_in_range": int(rows_["default_in_range"].sum()),
                "fitted_in_range": int(rows_["fitted_in_range"].sum()),
                "default_within_factor_2": within_factor_2_count(rows_["default_ratio"]),
                "fitted_within_factor_2": within_factor_2_count(rows_["fitted_ratio"]),
            }
        )
    return pd.DataFrame(rows)


def format_out_of_sample(table: pd.DataFrame) -> str:
    """The check as text: every target, then the counts."""
    from sim.calibration import format_number

    lines = [
        f"{'target':<36} {'when':<17} {'fit':<4} {'range':>15} {'default':>9} {'':1} "
        f"{'fitted':>9} {'':1}"
    ]
    for r in table.itertuples():
        rng = f"{format_number(r.low)}–{format_number(r.high)}"
        lines.append(
            f"{r.id:<36} {r.date:<17} {'in' if r.fitted_on else 'out':<4} {rng:>15} "
            f"{format_number(r.default_median):>9} {'✓' if r.default_in_range else '✗'} "
            f"{format_number(r.fitted_median):>9} {'✓' if r.fitted_in_range else '✗'}"
        )
    counts = sample_counts(table)
    lines.append("")
    for c in counts.itertuples():
        lines.append(
            f"{c.targets:<34} {c.count:>3} targets: in range {c.default_in_range:>3} default → "
            f"{c.fitted_in_range:>3} fitted; within ×2 {c.default_within_factor_2:>3} → "
            f"{c.fitted_within_factor_2:>3}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Identification: a Morris screen of the distance
def unit_to_params(fit: Fit, unit: np.ndarray) -> dict[str, float]:
    """A point of the unit cube as parameter values (log-scale parameters on a log scale)."""
    out: dict[str, float] = {}
    for p, u in zip(fit.parameters, unit, strict=True):
        if p.scale == "log":
            x = math.exp(math.log(p.low) + float(u) * (math.log(p.high) - math.log(p.low)))
        else:
            x = p.low + float(u) * (p.high - p.low)
        out[p.path] = round(x) if p.integer else float(x)
    return out


def identification_screen(
    fit: Fit,
    out: Path,
    executor: Executor,
    *,
    trajectories: int,
    levels: int = 4,
    seed: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """Morris elementary effects (SALib; Campolongo et al. 2007) of the distance over the
    fitted parameters, each moved over its search range on its search scale (the unit cube):
    ``mu_star`` is the mean absolute change of the distance per unit move, ``sigma`` its
    spread. A parameter whose ``mu_star`` is small against the largest is not pinned down by
    the fitted-on targets (the distance is flat along it). Runs are kept in ``out/screen``
    (CRN seeds as in the fit), so an interrupted screen resumes."""
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample
    from tqdm import tqdm

    if len(fit.parameters) < 2:
        raise ConfigError("the identification screen needs at least 2 fitted parameters")
    problem = {
        "num_vars": len(fit.parameters),
        "names": [p.path for p in fit.parameters],
        "bounds": [[0.0, 1.0]] * len(fit.parameters),
    }
    sample = morris_sample.sample(problem, trajectories, num_levels=levels, seed=seed)
    y = np.empty(len(sample))
    folder = out / "screen"
    for k, row in enumerate(tqdm(sample, desc="identification screen", disable=not progress)):
        y[k] = evaluate(fit, unit_to_params(fit, row), folder, executor).distance
    res = morris_analyze.analyze(problem, sample, y, num_levels=levels, conf_level=0.95, seed=seed)
    table = pd.DataFrame(
        {
            "parameter": problem["names"],
            "mu_star": res["mu_star"],
            "mu_star_conf": res["mu_star_conf"],
            "sigma": res["sigma"],
            "mu": res["mu"],
        }
    )
    table["verdict"] = screen_verdicts(table)
    table["pinned"] = table["verdict"] == "pinned"
    return table.sort_values("mu_star", ascending=False, ignore_index=True)


WEAK_SHARE = 0.1
"""A parameter whose μ* is below this share of the largest barely moves the distance."""


def screen_verdicts(table: pd.DataFrame) -> list[str]:
    """Per parameter of a Morris table: ``pinned`` (μ* at least :data:`WEAK_SHARE` of the
    largest and above its 95% half-width: the targets move with it), ``weak`` (μ* below that
    share: the distance is nearly flat along it, its fitted value means little) or
    ``unclear`` (a large μ* within its 95% half-width: more trajectories are needed)."""
    top = float(table["mu_star"].max())
    out = []
    for mu, conf in zip(table["mu_star"], table["mu_star_conf"], strict=True):
        if top <= 0 or mu < WEAK_SHARE * top:
            out.append("weak")
        elif mu > conf:
            out.append("pinned")
        else:
            out.append("unclear")
    return out


VERDICT_TEXT = {
    "pinned": "yes",
    "weak": "no: the targets barely move the distance",
    "unclear": "unclear: μ* within its 95% interval (more trajectories)",
}


def format_screen(table: pd.DataFrame) -> str:
    lines = [
        "identification: Morris screen of the distance (mu* = mean |change of the distance| "
        "per move over the search range; pinned = mu* ≥ 10% of the largest and above its 95% "
        "half-width; weak = below 10% of the largest)",
        f"{'parameter':<44} {'mu*':>9} {'±95%':>9} {'sigma':>9}  pinned",
    ]
    for r in table.itertuples():
        lines.append(
            f"{r.parameter:<44} {r.mu_star:>9.3g} {r.mu_star_conf:>9.3g} {r.sigma:>9.3g}  "
            f"{VERDICT_TEXT[r.verdict]}"
        )
    return "\n".join(lines)


def screen_figure(table: pd.DataFrame, *, title: str = "What the data pin down") -> Any:
    """Horizontal bars of mu* with their 95% intervals, and sigma as dots."""
    fig, axes = new_figure(size=(8.0, max(2.5, 0.5 * len(table) + 1.5)))
    ax = axes[0, 0]
    order = table.iloc[::-1]
    ypos = np.arange(len(order))
    palette = {"pinned": "tab:blue", "unclear": "tab:orange", "weak": "tab:grey"}
    verdicts = order["verdict"] if "verdict" in order else screen_verdicts(order)
    colours = [palette[v] for v in verdicts]
    ax.barh(ypos, order["mu_star"], xerr=order["mu_star_conf"], color=colours, alpha=0.8)
    ax.plot(order["sigma"], ypos, "o", color="black", label="σ (non-linearity, interaction)")
    ax.set_yticks(ypos, order["parameter"])
    ax.set_xlabel("μ*: change of the distance per move over the search range")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return fig


def save_screen(table: pd.DataFrame, out: Path) -> list[Path]:
    table.to_csv(out / "screen.csv", index=False)
    save_figure(screen_figure(table), out / "screen.png")
    return [out / "screen.csv", out / "screen.png"]


def counts_figure(counts: pd.DataFrame, *, title: str) -> Any:
    """Targets in range, the default world against the fitted one, for the targets the fit
    saw and those it did not (by year), from :func:`sample_counts`."""
    rows = counts.iloc[::-1].reset_index(drop=True)
    fig, axes = new_figure(size=(9.0, max(2.8, 0.7 * len(rows) + 1.4)))
    ax = axes[0, 0]
    y = np.arange(len(rows))
    total = rows["count"].to_numpy(dtype=float)
    for k, (col, colour, label) in enumerate(
        (("default_in_range", "0.6", "default world"), ("fitted_in_range", "tab:blue", "fitted"))
    ):
        share = rows[col].to_numpy(dtype=float) / total
        ax.barh(y + (0.2 if k == 0 else -0.2), share, height=0.38, color=colour, label=label)
        for yy, s, n, t in zip(y, share, rows[col], rows["count"], strict=True):
            ax.text(s + 0.01, yy + (0.2 if k == 0 else -0.2), f"{n} of {t}", va="center", size=8)
    ax.set_yticks(y, rows["targets"])
    ax.set_xlim(0, 1.15)
    ax.set_xlabel("share of the targets whose model median is in the acceptable range")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return fig
