"""`computesim dash`: an interactive playground over one world, built on Mesa's SolaraViz.

The page is Mesa's SolaraViz machinery — its :func:`ModelController` (Step, Play/Pause,
Reset, which re-creates the model from the chosen parameters exactly as SolaraViz does) and
its update counter — around controls generated from the parameter table
(:func:`sim.config.parameter_info`: bounds, unit, and the source in the tooltip) and five
pages drawn with the gallery's plotting functions (:mod:`sim.plots`):

- **Market**: price against full cost, capacity against need, utilisation, defaults.
- **Exposures**: who is exposed to whom now (loans, stake marks, contract backlog), with
  the parties in default crossed out.
- **Balance sheets & flows**: balance sheets by agent type, and last month's payments.
- **Circularity**: the share of each party's revenue that is its own invested money coming
  back (:func:`sim.metrics.round_trip_by_party`).
- **Compare with the default**: the same seed with the world's own parameters, overlaid.

Changed controls take effect on Reset (as in SolaraViz); Play stops after the scenario's
last month. Needs the optional extra ``dash`` (``pip install -e '.[dash]'``).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import solara
import solara.lab
from matplotlib.figure import Figure
from mesa.visualization.solara_viz import ModelController
from mesa.visualization.utils import update_counter

from sim.config import ConfigError, ParameterInfo, Scenario, load_scenario, parameter_info
from sim.metrics import revenue_provenance, round_trip_by_party
from sim.model import ComputeMarket
from sim.phases.resolve import exposure_pairs
from sim.plots import (
    balance_sheets,
    exposure_network,
    flow_diagram,
    market_panels,
    money,
    round_trip_shares,
)
from sim.runner import simulate

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS = ROOT / "experiments"
DEFAULT_SCENARIO = EXPERIMENTS / "baseline.toml"
SCENARIO_ENV = "COMPUTESIM_DASH_SCENARIO"
"""Environment variable through which `computesim dash` hands its scenario to the server."""
SEED_ENV = "COMPUTESIM_DASH_SEED"
PLAY_INTERVAL_MS = 150
"""Pause between two months while playing (milliseconds)."""


@dataclass(frozen=True)
class Control:
    """A headline parameter on the dashboard: its path in the parameter table and a label."""

    key: str
    """``section.field`` or ``labs.field`` / ``clouds.field`` (agent parameters)."""
    label: str


HEADLINE: tuple[Control, ...] = (
    Control("demand.growth_start_per_month", "demand growth, first month"),
    Control("demand.price_elasticity", "price elasticity of demand"),
    Control("labs.optimism", "lab optimism"),
    Control("clouds.supply_line_weight", "supply-line weight"),
    Control("finance.max_loan_to_backlog", "leverage: loan to backlog"),
    Control("market.take_or_pay_share", "take-or-pay share"),
    Control("market.price_adjustment_speed", "price adjustment speed"),
    Control("shock.revenue_shortfall", "shock: lab revenue shortfall"),
)
"""The curated parameters the dashboard has sliders for (all others keep the world's)."""


# --------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class Target:
    """Where a control's value goes in one world, and the world's own value there."""

    overrides: tuple[tuple[str, object], ...]
    """Dotted path(s) for :meth:`Scenario.with_overrides`; the slider value goes to the first."""
    value: float
    note: str
    """Which agents the control moves in this world (for the tooltip)."""


def target(scenario: Scenario, key: str) -> Target:
    """The override path of control ``key`` in ``scenario`` and the scenario's value.

    An agent parameter moves every agent of its kind when they share one value, otherwise
    the first archetype listed (the largest, by convention of the scenario files). The
    shock control hits the scenario's shock lab, or, if it names none, the lab with the
    largest demand share, from the scenario's shock month."""
    section, field = key.split(".")
    if section in ("labs", "clouds"):
        specs = getattr(scenario, section)
        values = {getattr(s, field) for s in specs}
        if len(values) == 1:
            return Target(
                ((f"{section}.*.{field}", None),), float(values.pop()), f"every {section[:-1]}"
            )
        first = specs[0]
        return Target(
            ((f"{section}.{first.name}.{field}", None),),
            float(getattr(first, field)),
            f"{first.name} (the {section} differ: the first is moved)",
        )
    value = float(getattr(getattr(scenario, section), field))
    if section == "shock":
        lab = scenario.shock.lab or max(scenario.labs, key=lambda s: s.demand_share).name
        where = f"{lab} from month {scenario.shock.month}"
        return Target((("shock.revenue_shortfall", None), ("shock.lab", lab)), value, where)
    return Target(((key, None),), value, "")


def world_values(scenario: Scenario) -> dict[str, float]:
    """The scenario's own value of every headline parameter."""
    return {c.key: target(scenario, c.key).value for c in HEADLINE}


def configure(scenario: Scenario, values: Mapping[str, float]) -> Scenario:
    """``scenario`` with the headline parameters set to ``values`` (those equal to the
    scenario's own value are left alone, so untouched controls give the world unchanged).
    Raises :class:`ConfigError` for an invalid combination."""
    overrides: dict[str, object] = {}
    for key, value in values.items():
        t = target(scenario, key)
        if math.isclose(value, t.value, rel_tol=1e-12, abs_tol=1e-12):
            continue
        (path, _), *rest = t.overrides
        overrides[path] = value
        overrides.update({p: v for p, v in rest})
    return scenario.with_overrides(overrides) if overrides else scenario


@dataclass(frozen=True)
class SliderSpec:
    """Range and step of the slider of one parameter (from its bounds)."""

    low: float
    high: float
    step: float


def slider_spec(info: ParameterInfo, value: float) -> SliderSpec:
    """A slider over the parameter's allowed range (an open bound moved in by one step;
    an unbounded side at four times the value), with about a hundred steps."""
    low = info.low if info.low is not None else min(0.0, 4 * value)
    high = info.high if info.high is not None else max(1.0, 4 * abs(value))
    step = 10 ** math.floor(math.log10((high - low) / 100))
    if info.integer:
        step = max(1.0, step)
    if info.low_open:
        low += step
    if info.high_open:
        high -= step
    return SliderSpec(low, high, step)


def tooltip(info: ParameterInfo, note: str) -> str:
    """The tooltip of a control: meaning, unit, allowed range and source."""
    moved = f" Moves: {note}." if note else ""
    return (
        f"{info.path} — {info.meaning} [{info.unit}]. Allowed {info.bounds}.{moved} "
        f"Source: {info.source}"
    )


def scenario_files(experiments: Path = EXPERIMENTS) -> dict[str, Path]:
    """The scenario files offered by the selector: name → path (experiments/*.toml)."""
    return {p.stem: p for p in sorted(experiments.glob("*.toml"))}


def world_named(worlds: Mapping[str, Path], name: str, fallback: Scenario) -> Scenario:
    """The scenario called ``name`` among the files ``worlds`` (``fallback`` if it has
    that name, or if none has): the world a running model came from, whatever the selector
    shows now."""
    if fallback.name == name:
        return fallback
    for path in worlds.values():
        try:
            scenario = load_scenario(path)
        except ConfigError:
            continue
        if scenario.name == name:
            return scenario
    return fallback


# --------------------------------------------------------------------------- live tables
# Everything the dashboard reads from a running model goes through the functions of this
# section (the run tables as `sim.runner.simulate` builds them, so far; and the instrument
# book for the exposures now).
def flow_log(model: ComputeMarket) -> pd.DataFrame:
    """The flow table so far (every cash payment), as in :func:`sim.runner.simulate`."""
    return model.books.ledger.flows()


def live_exposures(model: ComputeMarket) -> pd.DataFrame:
    """Who is exposed to whom now (:func:`sim.phases.resolve.exposure_pairs`: loans
    outstanding, stake marks, and the take-or-pay backlog a cloud stands to lose), one row
    per pair, as in the run's exposures table; the model is not changed."""
    _, rows = exposure_pairs(model, model.month)
    return pd.DataFrame(rows, columns=["creditor", "debtor", "amount"])


def agent_types(model: ComputeMarket) -> dict[str, str]:
    return {a.name: a.kind for a in model.all_agents}


def defaulted(model: ComputeMarket) -> list[str]:
    return sorted(a.name for a in model.all_agents if a.defaulted)


@functools.lru_cache(maxsize=4)
def _reference_run(config_json: str, seed: int) -> pd.DataFrame:
    scenario = Scenario.model_validate_json(config_json)
    return simulate(scenario, seed).tables["model"]


def reference_model_table(scenario: Scenario, seed: int, months: int) -> pd.DataFrame:
    """The model table of ``scenario`` with ``seed`` over its first ``months`` months (the
    whole run is computed once and cached)."""
    table = _reference_run(scenario.model_dump_json(), seed)
    return table[table["step"] < months]


# --------------------------------------------------------------------------- components
def _show(fig: Figure, model: ComputeMarket, key: str) -> None:
    """Show a matplotlib figure as a PNG (released from pyplot: nothing accumulates)."""
    plt.close(fig)
    solara.FigureMatplotlib(fig, format="png", dependencies=[id(model), model.month, key])


def _waiting(model: ComputeMarket) -> bool:
    if model.month == 0:
        solara.Info("Month 0: nothing has happened yet. Press Step or ▶ (play).")
        return True
    return False


def month_text(model: ComputeMarket) -> str:
    """``month 4 of 120 · Jan 2025 – Apr 2025`` (months simulated so far)."""
    months = model.cfg.run.months
    if model.month == 0:
        return f"month 0 of {months} · starts {model.start_date:%b %Y}"
    last = model.start_date + pd.DateOffset(months=model.month - 1)
    done = " · the scenario's last month: Play stops here" if not model.running else ""
    return f"month {model.month} of {months} · {model.start_date:%b %Y} – {last:%b %Y}{done}"


@solara.component
def MonthBanner(model: ComputeMarket) -> None:
    update_counter.get()
    defaults = len(defaulted(model))
    with solara.Column(gap="2px"):
        solara.Text(
            f"{model.cfg.name}, seed {model.seed}: {month_text(model)}",
            style={"font-size": "1.35em", "font-weight": "bold"},
        )
        solara.Text(
            f"spot price {model.spot_price:.2f} USD/GPU-hour · investor sentiment "
            f"{model.sentiment:.2f} (1 = neutral) · parties in default {defaults}"
        )


@solara.component
def MarketPage(model: ComputeMarket) -> None:
    update_counter.get()
    if _waiting(model):
        return
    last = model.start_date + pd.DateOffset(months=model.month - 1)
    title = f"{model.cfg.name}, seed {model.seed}: the market to {last:%b %Y}"
    _show(market_panels(model.model_table(), title=title), model, "market")


@solara.component
def ExposurePage(model: ComputeMarket) -> None:
    update_counter.get()
    exposures = live_exposures(model)
    failed = defaulted(model)
    title = f"Who is exposed to whom, month {model.month} ({len(failed)} in default, ×)"
    _show(
        exposure_network(exposures, agent_types(model), title=title, defaulted=failed), model, "net"
    )


@solara.component
def BooksPage(model: ComputeMarket) -> None:
    update_counter.get()
    if _waiting(model):
        return
    step = model.month - 1
    when = f"{model.start_date + pd.DateOffset(months=step):%b %Y}"
    types = agent_types(model)
    with solara.Columns([1, 1]):
        fig = balance_sheets(
            model.agent_table(), step, title=f"Balance sheets by agent type, end of {when}"
        )
        _show(fig, model, "books")
        flows = flow_log(model)
        fig = flow_diagram(flows[flows["step"] == step], types, title=f"Payments in {when}")
        _show(fig, model, "flows")


@solara.component
def CircularityPage(model: ComputeMarket) -> None:
    update_counter.get()
    if _waiting(model):
        return
    ledger = model.books.ledger
    table = round_trip_by_party(revenue_provenance(ledger.flows(), ledger.accruals()))
    title = (
        f"Revenue that is the party's own money coming back, {model.start_date:%b %Y} – "
        f"{model.start_date + pd.DateOffset(months=model.month - 1):%b %Y}"
    )
    _show(round_trip_shares(table, agent_types(model), title=title), model, "circ")
    solara.Markdown(
        "A seller's revenue (compute and chips, in cash or in shares) traced back to where its "
        "money came from (`sim.metrics.revenue_provenance`, proportional tracing): the bar is "
        "the share that is the seller's own money or credits coming back, through any chain. "
        "Lend-and-repay cycles are financing, not revenue, and do not count."
    )


@solara.component
def ComparePage(model: ComputeMarket, world: Scenario) -> None:
    update_counter.get()
    if _waiting(model):
        return
    reference = reference_model_table(world, model.seed, model.month)
    title = f"{model.cfg.name}, seed {model.seed}: this run (solid) and the default (dashed)"
    fig = market_panels(
        model.model_table(),
        title=title,
        reference=reference,
        reference_label=f"{world.name}'s own parameters",
    )
    _show(fig, model, "compare")
    now, ref = model.model_table().iloc[-1], reference.iloc[-1]
    rows = [
        ("spot price, USD/GPU-hour", "spot_price_usd_per_gpu_hour", 1.0, "{:.2f}"),
        ("installed, million GPUs", "installed_gpus", 1e-6, "{:.2f}"),
        ("utilisation, %", "utilisation", 100.0, "{:.0f}"),
        ("lab revenue this month", "lab_revenue_usd", 1.0, "money"),
        ("defaults so far", "defaults_cumulative", 1.0, "{:.0f}"),
    ]
    lines = ["| at the latest month | this run | default |", "|---|---:|---:|"]
    for name, column, scale, fmt in rows:
        show = money if fmt == "money" else fmt.format
        lines.append(f"| {name} | {show(scale * now[column])} | {show(scale * ref[column])} |")
    changed = changed_parameters(world, model.cfg)
    lines.append("")
    lines.append("Changed: " + (", ".join(changed) if changed else "nothing (the default itself)"))
    solara.Markdown("\n".join(lines))


def changed_parameters(world: Scenario, config: Scenario) -> list[str]:
    """``label = value`` for each headline parameter whose value differs from the world's."""
    mine, theirs = world_values(config), world_values(world)
    return [
        f"{c.label} = {mine[c.key]:g} (default {theirs[c.key]:g})"
        for c in HEADLINE
        if not math.isclose(mine[c.key], theirs[c.key], rel_tol=1e-12, abs_tol=1e-12)
    ]


@solara.component
def ParameterControls(
    world: Scenario, values: dict[str, float], on_values: Callable[[dict[str, float]], None]
) -> None:
    """One slider per headline parameter; the tooltip gives meaning, unit, range, source."""
    for control in HEADLINE:
        info = parameter_info(control.key)
        t = target(world, control.key)
        spec = slider_spec(info, t.value)

        def set_value(v: float, key: str = control.key) -> None:
            on_values({**values, key: float(v)})

        with solara.Tooltip(tooltip(info, t.note)), solara.Column(gap="0px"):
            solara.Text(
                f"{control.label}: {values[control.key]:g} {info.unit}",
                style={"font-size": "0.9em"},
            )
            slider = solara.SliderFloat if not info.integer else solara.SliderInt
            slider(
                "",
                value=values[control.key],
                min=spec.low,
                max=spec.high,
                step=spec.step,
                on_value=set_value,
            )


@solara.component
def Dashboard(
    scenario: str | Path | None = None,
    seed: int | None = None,
    model: solara.Reactive[ComputeMarket] | None = None,
) -> None:
    """The whole page: controls in the sidebar, the month, and the five pages.

    ``scenario``: a scenario TOML (default experiments/baseline.toml); ``seed``: default the
    scenario's; ``model``: optionally a reactive variable holding the model to show (as
    SolaraViz accepts one); Reset puts the new model in it."""
    start = Path(scenario) if scenario is not None else DEFAULT_SCENARIO
    worlds = solara.use_memo(lambda: {**scenario_files(), start.stem: start}, [])
    first = solara.use_memo(lambda: load_scenario(start), [])
    world_name = solara.use_reactive(start.stem)
    world = solara.use_memo(lambda: load_scenario(worlds[world_name.value]), [world_name.value])
    chosen_seed = solara.use_reactive(first.run.seed if seed is None else int(seed))
    values = solara.use_reactive(solara.use_memo(lambda: world_values(first), []))
    error = solara.use_reactive("")
    initial = solara.use_memo(
        lambda: model if model is not None else ComputeMarket(first, rng=chosen_seed.value), []
    )
    model = solara.use_reactive(initial)  # the given reactive variable, or a new one
    # use_reactive(value) resets the variable whenever `value` changes between renders:
    # hand it the same (memoised) starting dict every time
    start_params = solara.use_memo(lambda: {"config": first, "rng": chosen_seed.value}, [])
    params = solara.use_reactive(start_params)
    play_interval = solara.use_reactive(PLAY_INTERVAL_MS)
    render_interval = solara.use_reactive(1)
    use_threads = solara.use_reactive(False)

    def refresh(new_world: Scenario, new_values: Mapping[str, float], new_seed: int) -> None:
        try:
            params.set({"config": configure(new_world, new_values), "rng": int(new_seed)})
            error.set("")
        except ConfigError as exc:
            error.set(str(exc))

    def choose_world(name: str) -> None:
        new_world = load_scenario(worlds[name])
        new_values = world_values(new_world)
        world_name.set(name)
        values.set(new_values)
        chosen_seed.set(new_world.run.seed)
        refresh(new_world, new_values, new_world.run.seed)

    # handlers read the reactive state when called, never a value captured at a render
    def current_world() -> Scenario:
        return load_scenario(worlds[world_name.value])

    def choose_values(new_values: dict[str, float]) -> None:
        values.set(new_values)
        refresh(current_world(), new_values, chosen_seed.value)

    def choose_seed(new_seed: int | None) -> None:
        if new_seed is None or new_seed < 0:
            error.set("seed must be an integer >= 0")
            return
        chosen_seed.set(int(new_seed))
        refresh(current_world(), values.value, int(new_seed))

    def defaults() -> None:
        choose_values(world_values(current_world()))

    with solara.AppBar():
        solara.AppBarTitle("computesim: the AI compute market, month by month")
    with solara.Sidebar(), solara.Column():
        with solara.Card("Run"):
            ModelController(
                model,
                model_parameters=params,
                play_interval=play_interval,
                render_interval=render_interval,
                use_threads=use_threads,
            )
            solara.SliderInt(
                "play: ms between months", value=play_interval, min=10, max=1000, step=10
            )
        with solara.Card("World (applies on Reset)"):
            solara.Select(
                "scenario", values=sorted(worlds), value=world_name.value, on_value=choose_world
            )
            solara.InputInt("seed", value=chosen_seed.value, on_value=choose_seed)
            pending = (
                params.value["config"] is not model.value.cfg
                or params.value["rng"] != model.value.seed
            )
            if pending:
                solara.Warning("Changed: press Reset to run with these settings.", dense=True)
            if error.value:
                solara.Error(error.value)
        with solara.Card("Headline parameters (applies on Reset)"):
            solara.Text("Hover a slider for its meaning, unit, range and source.")
            ParameterControls(world, values.value, choose_values)
            solara.Button("back to the world's own values", on_click=defaults, text=True)
    origin = solara.use_memo(
        lambda: world_named(worlds, model.value.cfg.name, world),
        [model.value.cfg.name, world_name.value],
    )
    MonthBanner(model.value)
    with solara.lab.Tabs(lazy=True):
        with solara.lab.Tab("Market"):
            MarketPage(model.value)
        with solara.lab.Tab("Exposures"):
            ExposurePage(model.value)
        with solara.lab.Tab("Balance sheets & flows"):
            BooksPage(model.value)
        with solara.lab.Tab("Circularity"):
            CircularityPage(model.value)
        with solara.lab.Tab("Compare with the default"):
            ComparePage(model.value, origin)


@solara.component
def Page() -> None:
    """The page `computesim dash` serves (scenario and seed from the environment)."""
    seed = os.environ.get(SEED_ENV)
    Dashboard(os.environ.get(SCENARIO_ENV) or None, int(seed) if seed else None)


def dashboard(scenario: str | Path | None = None, seed: int | None = None) -> solara.Element:
    """The dashboard as a solara element: display it in Jupyter (the last expression of a
    cell). ``scenario``: a scenario TOML (default experiments/baseline.toml); ``seed``:
    default the scenario's."""
    if scenario is not None:
        load_scenario(scenario)  # a clear ConfigError now rather than inside the page
    return solara.AppLayout(children=[Dashboard(scenario, seed)])
