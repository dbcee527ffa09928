"""The dashboard (`computesim dash`) rendered headless: controls generated from the parameter
table, Reset with changed sliders (SolaraViz's own Reset path), twelve steps through every
page, Play stopping at the scenario's last month, and the command's input errors."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import dash_cli
from sim.cli import main
from sim.config import load_scenario, parameter_info, parameter_table
from sim.model import ComputeMarket

solara = pytest.importorskip("solara", reason="extra `dash` not installed")
v = pytest.importorskip("ipyvuetify")
widgets = pytest.importorskip("ipywidgets")
dashboards = pytest.importorskip("sim.dashboards")
solara_viz = pytest.importorskip("mesa.visualization.solara_viz")

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "experiments" / "baseline.toml"


def short_world(tmp_path: Path, months: int) -> Path:
    path = tmp_path / f"short{months}.toml"
    path.write_text(
        f'name = "short"\nbase = "{BASELINE.as_posix()}"\n[overrides]\n"run.months" = {months}\n'
    )
    return path


def render(element):
    return solara.render(solara.AppLayout(children=[element]), handle_error=False)


# ------------------------------------------------------------------------------ controls
def test_controls_come_from_the_parameter_table(baseline) -> None:
    table = {row["parameter"]: row for row in parameter_table()}
    for control in dashboards.HEADLINE:
        section, field = control.key.split(".")
        row = table[f"{section}[].{field}" if section in ("labs", "clouds") else control.key]
        info = parameter_info(control.key)
        assert (info.unit, info.source, info.bounds) == (row["unit"], row["source"], row["bounds"])
        t = dashboards.target(baseline, control.key)
        spec = dashboards.slider_spec(info, t.value)
        assert info.low <= spec.low < spec.high <= info.high
        assert spec.low <= t.value <= spec.high
        tip = dashboards.tooltip(info, t.note)
        assert row["source"] in tip and row["unit"] in tip and row["bounds"] in tip


def test_untouched_controls_leave_the_world_unchanged(baseline) -> None:
    assert dashboards.configure(baseline, dashboards.world_values(baseline)) is baseline


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_slider_value_reaches_the_configuration(baseline, data) -> None:
    control = data.draw(st.sampled_from(dashboards.HEADLINE))
    info = parameter_info(control.key)
    spec = dashboards.slider_spec(info, dashboards.target(baseline, control.key).value)
    value = data.draw(st.floats(spec.low, spec.high))
    values = {**dashboards.world_values(baseline), control.key: value}
    config = dashboards.configure(baseline, values)
    # (a value within 1e-12 of the world's own counts as untouched)
    assert math.isclose(dashboards.world_values(config)[control.key], value, abs_tol=1e-12)
    others = {k: x for k, x in dashboards.world_values(config).items() if k != control.key}
    assert others == {k: x for k, x in dashboards.world_values(baseline).items() if k in others}


def test_the_shock_control_aims_at_the_largest_lab_when_the_world_names_none(baseline) -> None:
    assert baseline.shock.lab == ""
    values = {**dashboards.world_values(baseline), "shock.revenue_shortfall": 0.4}
    shocked = dashboards.configure(baseline, values)
    assert shocked.shock.lab == "frontier-leader" and shocked.shock.revenue_shortfall == 0.4


# ------------------------------------------------------------------------------ SolaraViz
def test_stock_solaraviz_reset_rebuilds_the_model_with_its_config(baseline) -> None:
    """The keyword clash fixed at its root: ComputeMarket takes `config`, so SolaraViz's
    Reset no longer replaces the world with a mesa Scenario."""
    assert "scenario" not in inspect.signature(ComputeMarket.__init__).parameters
    model = solara.reactive(ComputeMarket(baseline, rng=1))
    params = {
        "config": baseline,
        "rng": {"type": "SliderInt", "value": 5, "label": "seed", "min": 0, "max": 9, "step": 1},
    }
    _, rc = render(solara_viz.SolaraViz(model, components=[], model_params=params))
    rc.find(v.Btn, children=["Step"]).widget.click()
    assert model.value.month == 1
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert isinstance(model.value, ComputeMarket)
    assert model.value.cfg is baseline and model.value.seed == 5 and model.value.month == 0


def test_page_renders_and_reset_applies_changed_sliders(tmp_path: Path) -> None:
    path = short_world(tmp_path, 6)
    world = load_scenario(path)
    model = solara.reactive(ComputeMarket(world, rng=3))
    _, rc = render(dashboards.Dashboard(path, 3, model=model))
    assert rc.find(v.Html, children=["short, seed 3: month 0 of 6 · starts Jan 2025"]).widgets
    for name in ("Market", "Exposures", "Balance sheets & flows", "Circularity"):
        assert rc.find(v.Tab, children=[name]).widgets
    rc.find(v.Slider, v_model=0.12).widget.v_model = 0.2  # demand growth
    rc.find(v.Slider, v_model=0.7).widget.v_model = 1.5  # leverage
    rc.find(v.Alert, children=["Changed: press Reset to run with these settings."]).assert_single()
    assert model.value.cfg.demand.growth_start_per_month == 0.12  # not before Reset
    rc.find(v.Btn, children=["Reset"]).widget.click()
    cfg = model.value.cfg
    assert cfg.demand.growth_start_per_month == 0.2 and cfg.finance.max_loan_to_backlog == 1.5
    assert model.value.seed == 3 and model.value.month == 0
    assert cfg.labs == world.labs and cfg.market == world.market  # nothing else moved
    rc.find(v.Btn, children=["Step"]).widget.click()
    assert model.value.month == 1 and model.value.cfg is cfg


def test_twelve_steps_update_every_page_and_play_stops_at_the_last_month(tmp_path: Path) -> None:
    path = short_world(tmp_path, 12)
    model = solara.reactive(ComputeMarket(load_scenario(path), rng=2))
    _, rc = render(dashboards.Dashboard(path, 2, model=model))
    step = rc.find(v.Btn, children=["Step"])
    step.widget.click()
    first = rc.find(widgets.Image).widget.value
    for _ in range(10):
        model.value.step()  # what Step does, without drawing every month
    step.widget.click()
    assert model.value.month == 12 and not model.value.running
    assert step.widget.disabled  # Step and Play stop at the scenario's last month
    assert rc.find(v.Btn, children=["▶"]).widget.disabled
    text = "short, seed 2: month 12 of 12 · Jan 2025 – Dec 2025 · the scenario's last month"
    assert rc.find(v.Html, children=[text + ": Play stops here"]).widgets
    tabs = rc.find(v.Tabs).widget
    images = []
    for index in range(5):
        tabs.v_model = index
        shown = rc.find(v.TabItem, value=index).find(widgets.Image).widgets
        assert len(shown) == (2 if index == 2 else 1), index
        assert all(len(w.value) > 10_000 for w in shown)
        images += [w.value for w in shown]
    assert first not in images  # the market page moved on from month 1
    assert len(set(images)) == len(images)


# ------------------------------------------------------------------------------ command
def test_dash_command_rejects_bad_input(tmp_path: Path, capsys) -> None:
    assert main(["dash", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["dash", str(BASELINE), "--port", "70000"]) == 2
    assert "--port must be between 1 and 65535" in capsys.readouterr().err


def test_dash_command_says_how_to_install_the_extra(monkeypatch, capsys) -> None:
    monkeypatch.setattr(dash_cli, "NEEDS", ("solara", "no_such_module_for_the_test"))
    assert main(["dash", str(BASELINE), "--port", "8765"]) == 2
    err = capsys.readouterr().err
    assert "pip install -e '.[dash]'" in err and "no_such_module_for_the_test" in err


def test_sim_dashboard_returns_the_page_for_jupyter() -> None:
    import sim

    element = sim.dashboard(BASELINE, seed=4)
    assert element.component.name == "AppLayout"
    page = element.kwargs["children"][0]
    assert page.component.f is dashboards.Dashboard.f and page.args == (BASELINE, 4)


def test_scenario_selector_and_seed_apply_on_reset(tmp_path: Path) -> None:
    path = short_world(tmp_path, 6)
    model = solara.reactive(ComputeMarket(load_scenario(path), rng=1))
    _, rc = render(dashboards.Dashboard(path, 1, model=model))
    rc.find(v.Select, label="scenario").widget.v_model = "telecom_bust"
    seed = rc.find(v.TextField, label="seed").widget
    seed.v_model = "9"
    seed.fire_event("focusout", {})  # the seed field takes its value on leaving it
    rc.find(v.Btn, children=["Reset"]).widget.click()
    bust = load_scenario(ROOT / "experiments" / "telecom_bust.toml")
    assert model.value.cfg is not None and model.value.cfg == bust
    assert model.value.seed == 9
    rc.find(v.Slider, v_model=1.5).assert_single()  # the bust's own leverage on its slider
