"""How long the dashboard takes to answer Step, per page, rendered headless.

Usage: python benchmarks/bench_dashboard.py [--months M] [--clicks N]
Steps the baseline world to month M (without drawing), then for each page clicks Step N
times and prints the median wall time of one click (model step + redraw of that page).
"""

from __future__ import annotations

import argparse
import statistics
import time

import ipyvuetify as v
import solara

from sim import dashboards
from sim.config import load_scenario
from sim.model import ComputeMarket

PAGES = ("Market", "Exposures", "Balance sheets & flows", "Circularity", "Compare with the default")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--months", type=int, default=60, help="month to start clicking at")
    parser.add_argument("--clicks", type=int, default=3, help="clicks per page")
    args = parser.parse_args()
    world = load_scenario(dashboards.DEFAULT_SCENARIO)
    model = solara.reactive(ComputeMarket(world, rng=1))
    for _ in range(args.months):
        model.value.step()
    page = dashboards.Dashboard(dashboards.DEFAULT_SCENARIO, 1, model=model)
    _, rc = solara.render(solara.AppLayout(children=[page]), handle_error=False)
    step = rc.find(v.Btn, children=["Step"]).widget
    tabs = rc.find(v.Tabs).widget
    print(f"baseline from month {args.months}, {args.clicks} clicks per page (median s/click)")
    for index, name in enumerate(PAGES):
        tabs.v_model = index
        times = []
        for _ in range(args.clicks):
            start = time.perf_counter()
            step.click()
            times.append(time.perf_counter() - start)
        print(f"  {name:<26} {statistics.median(times):6.2f} s")


if __name__ == "__main__":
    main()
