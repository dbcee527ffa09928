"""Two versions of the model timed side by side, one on each core at the same moments: a
speed ratio this machine's drifting speed moves far less than timings taken in turn.

Usage: python benchmarks/paired.py [--rev REV --rev REV] [--python PY --python PY]
                                   [--pairs N] [--window S] [--months M]

A side is a revision (``--rev``: a commit, a branch, or ``worktree`` for the files as they
are now; default ``HEAD`` and ``worktree``) run by an interpreter (``--python``; default
this one for both). In each pair both sides start as processes, each pinned to its own
core (the cores swapped from pair to pair), and make one run to warm up; once both are
ready they are told to start at once, and each makes bare runs of the default world
(``experiments/baseline.toml`` of this checkout) for ``--window`` seconds, as
``bench_sweep.py``'s "bare model" line makes them (the world recording what a sweep keeping
its five outputs records, each world freed after its run).
Both sides run the same seeds in the same order; a pair compares the CPU time of the runs
both finished, so the seeds compared are the same and ran in about the same seconds.

Why: on this 2-core machine a run's CPU time drifts by ±15-30% within minutes, as much as
the differences worth measuring, so two figures taken in turn compare the moments as much
as the code. Two processes on the two cores at the same moments see the same machine.
``instructions.py`` counts instructions instead, which do not drift at all but are blind to
what costs time beyond them (cache and branch misses, the dynamic linker's indirections:
the linked interpreter runs 5.9% fewer instructions and takes 7.5% less CPU time). The ratio of
a side against itself (``--rev HEAD --rev HEAD``) shows what is left of the noise.

An interpreter of ``--python`` must import the model's dependencies (NumPy, pandas, Mesa):
the processes get this environment with the revision's folder first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_sweep import KEPT
from instructions import SCENARIO, WORKTREE, export, known_revision
from interpreter import describe

SIDE = """
import os, sys, time
core, months, scenario_path, outputs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
os.sched_setaffinity(0, {core})
from sim import runner
from sim.config import load_scenario
scenario = load_scenario(scenario_path)
records = runner.world_records(outputs)

def run(seed):
    with runner.cycle_collector_paused():
        runner.run_model(scenario, seed, months, **records)
        runner.collect_the_run()

run(0)  # warm-up: caches, lazily built tables
print("ready", flush=True)
deadline = float(sys.stdin.readline())
seed = 1
while True:
    cpu = time.process_time()
    run(seed)
    print("run", seed, time.process_time() - cpu, flush=True)
    seed += 1
    if time.time() >= deadline:
        break
"""
"""One side of a pair: pinned to ``core``, a warm-up run, "ready", then, once the deadline
(epoch seconds) comes in on standard input, bare runs until it has passed, printing each
run's CPU seconds."""


def side_command(python: str, core: int, months: int) -> list[str]:
    return [python, "-c", SIDE, str(core), str(months), str(SCENARIO), *KEPT]


def run_pair(
    sides: list[tuple[str, Path]], cores: tuple[int, int], window: float, months: int
) -> tuple[list[float], list[float]]:
    """Both sides at once, side k pinned to ``cores[k]``: each side's CPU seconds per run.
    Both are told to start once both have made their warm-up run."""
    processes = []
    for (python, folder), core in zip(sides, cores, strict=True):
        path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p)
        processes.append(
            subprocess.Popen(
                side_command(python, core, months),
                cwd=folder,
                env=os.environ | {"PYTHONPATH": path},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for process, (python, folder) in zip(processes, sides, strict=True):
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            _, err = process.communicate()
            sys.exit(f"the side {python} on {folder.name} failed:\n{err[-2000:]}")
    deadline = time.time() + window
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(f"{deadline!r}\n")
        process.stdin.flush()
    times: list[list[float]] = []
    for process, (python, folder) in zip(processes, sides, strict=True):
        out, err = process.communicate()
        if process.returncode != 0:
            sys.exit(f"the side {python} on {folder.name} failed:\n{err[-2000:]}")
        times.append(
            [float(line.split()[2]) for line in out.splitlines() if line.startswith("run ")]
        )
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument(
        "--rev",
        action="append",
        help=f"a commit or branch, or {WORKTREE!r} (twice; default: HEAD and {WORKTREE})",
    )
    parser.add_argument(
        "--python",
        action="append",
        help="the interpreter of each side (twice, or not at all: this one for both)",
    )
    parser.add_argument("--pairs", type=int, default=6, help="pairs to time (default 6)")
    parser.add_argument(
        "--window", type=float, default=40.0, help="seconds of runs per pair (default 40)"
    )
    parser.add_argument("--months", type=int, default=120, help="months of a run (default 120)")
    args = parser.parse_args()
    revs = args.rev or ["HEAD", WORKTREE]
    pythons = args.python or [sys.executable, sys.executable]
    if len(revs) != 2:
        parser.error(f"--rev must be given twice or not at all, got {len(revs)}")
    if len(pythons) != 2:
        parser.error(f"--python must be given twice or not at all, got {len(pythons)}")
    if args.pairs < 1:
        parser.error(f"--pairs must be at least 1, got {args.pairs}")
    if not 0 < args.window <= 3600:
        parser.error(f"--window must be above 0 and at most 3600 seconds, got {args.window}")
    if args.months < 1:
        parser.error(f"--months must be at least 1, got {args.months}")
    for rev in revs:
        if not known_revision(rev):
            parser.error(f"--rev {rev!r} is not a commit of this repository (or {WORKTREE!r})")
    for python in pythons:
        if not os.access(python, os.X_OK):
            parser.error(f"--python {python!r} is not an executable file")
    if not hasattr(os, "sched_getaffinity"):
        sys.exit("paired timing pins its processes to cores, which this system does not offer")
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        sys.exit(f"paired timing needs two cores; this process may use {len(cores)}")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        sides = []
        for i, rev in enumerate(revs):
            folder = Path(tmp) / f"side{i}"
            folder.mkdir()
            export(rev, folder)
            subprocess.run([pythons[i], "-m", "compileall", "-q", str(folder)], check=True)
            sides.append((pythons[i], folder))
        print(f"default world, {args.months} months, bare runs keeping {', '.join(KEPT)}")
        for i, (rev, python) in enumerate(zip(revs, pythons, strict=True)):
            print(f"side {'AB'[i]}: {rev} on {python}")
        print(f"this interpreter: {describe()}")
        head = ("pair", "started", "cores", "runs", "A s/run", "B s/run", "B/A")
        print("{:>4} {:>9} {:>6} {:>9} {:>8} {:>8} {:>6}".format(*head))
        for pair in range(args.pairs):
            cores_used = (cores[0], cores[1]) if pair % 2 == 0 else (cores[1], cores[0])
            at = time.strftime("%H:%M:%S", time.gmtime())
            a, b = run_pair(sides, cores_used, args.window, args.months)
            common = min(len(a), len(b))  # the same seeds on both sides
            a_mean, b_mean = sum(a[:common]) / common, sum(b[:common]) / common
            ratios.append(b_mean / a_mean)
            print(
                f"{pair + 1:>4} {at:>9} {cores_used[0]},{cores_used[1]:<4} "
                f"{len(a):>4},{len(b):<4} {a_mean:>8.3f} {b_mean:>8.3f} {ratios[-1]:>6.3f}",
                flush=True,
            )
    median, spread = statistics.median(ratios), f"{min(ratios):.3f}-{max(ratios):.3f}"
    print(f"B/A, CPU per run: median {median:.3f} over {len(ratios)} pairs ({spread})")


if __name__ == "__main__":
    main()
