"""Instructions of one default run at each of several commits: a speed figure this machine's
noise does not move, for comparing changes of a few percent.

Usage: python benchmarks/instructions.py [--rev REV ...] [--months M] [--seed S] [--workers N]
                                         [--sweep]

Each ``--rev`` (a commit, a branch, or ``worktree`` for the files as they are now; default:
``HEAD`` and ``worktree``) has its ``sim`` package exported to a temporary folder, and two
processes run under valgrind's callgrind (which counts the instructions the CPU executes,
not seconds): one that only imports what a run imports, and one that also runs the default
world (``experiments/baseline.toml`` of this checkout) for ``--months`` months without
agent rows. With ``--sweep`` the second process does what a sweep worker of
``bench_sweep.py`` does instead: the run and its five summary outputs
(:func:`sim.runner.simulate_outputs`, which builds the world with only what they read). The
run's instructions are the difference. Counts repeat
to within a few parts in a million for the same code and inputs, whatever else the machine
is doing, where CPU time on this 2-core machine moves by ±15%; a change that saves 1% of a
run is seen. Instructions are not time (a cache miss costs more than an add), so a change
worth keeping is also timed with ``bench_run.py``. Each process takes about 50-100 times its
normal time (about 1.5 minutes for a default run); ``--workers`` run that many at once.
Needs valgrind (Debian's package ``valgrind``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

from bench_sweep import KEPT
from interpreter import describe

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "experiments" / "baseline.toml"
WORKTREE = "worktree"

ENV = {
    "PATH": "/usr/bin:/bin",
    "PYTHONHASHSEED": "0",
    # one BLAS thread: idle BLAS threads spin, and valgrind counts their spinning, which
    # depends on what else the machine runs (two counts of the same code differed by 7%)
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
"""The environment of the counted processes: nothing of the caller's but these."""

RUN = """
import sys
from sim import runner
from sim.config import load_scenario
scenario = load_scenario(sys.argv[1])
months, seed, outputs = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
if months > 0 and outputs:
    runner.simulate_outputs(scenario, seed, months, outputs)
elif months > 0:
    runner.run_model(scenario, seed, months, record_agents=False)
"""


def known_revision(rev: str) -> bool:
    """Whether ``rev`` is :data:`WORKTREE` or names a commit of this repository."""
    if rev == WORKTREE:
        return True
    known = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    return known.returncode == 0


def export(rev: str, folder: Path) -> None:
    """Put ``rev``'s ``sim`` package (or the working tree's) in ``folder``."""
    if rev == WORKTREE:
        shutil.copytree(ROOT / "sim", folder / "sim", ignore=shutil.ignore_patterns("__pycache__"))
        return
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "sim"], capture_output=True, check=False
    )
    if archive.returncode != 0:
        sys.exit(f"--rev {rev!r}: git cannot export it ({archive.stderr.decode().strip()})")
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")


def instructions(folder: Path, months: int, seed: int, outputs: tuple[str, ...] = ()) -> int:
    """Instructions callgrind counts for the run script with ``folder``'s ``sim`` (a bare
    run, or with ``outputs`` a sweep worker's run keeping those summary outputs)."""
    result = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            RUN,
            str(SCENARIO),
            str(months),
            str(seed),
            *outputs,
        ],
        cwd=folder,
        env=ENV | {"PYTHONPATH": str(folder)},
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or found is None:
        sys.exit(f"valgrind failed in {folder}:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument(
        "--rev",
        action="append",
        help=f"a commit or branch, or {WORKTREE!r} (repeat; default: HEAD and {WORKTREE})",
    )
    parser.add_argument("--months", type=int, default=120, help="months of the run (default 120)")
    parser.add_argument("--seed", type=int, default=1, help="the run's seed (default 1)")
    parser.add_argument("--workers", type=int, default=2, help="processes at once (default 2)")
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="count a sweep worker's run keeping bench_sweep.py's five outputs",
    )
    args = parser.parse_args()
    if args.months < 1:
        parser.error(f"--months must be at least 1, got {args.months}")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    revs = args.rev or ["HEAD", WORKTREE]
    outputs = KEPT if args.sweep else ()
    for rev in revs:
        if not known_revision(rev):
            parser.error(f"--rev {rev!r} is not a commit of this repository (or {WORKTREE!r})")
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        folders = []
        for i, rev in enumerate(revs):
            folder = Path(tmp) / f"rev{i}"
            folder.mkdir()
            export(rev, folder)
            # compiled once beforehand: otherwise whichever process imports first compiles
            # the modules, and its count holds the compiler's work (0.8 billion at 120 months)
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder)], check=True)
            folders.append(folder)
        jobs = [(f, m) for f in folders for m in (0, args.months)]
        print(f"counting {len(jobs)} processes under callgrind, {args.workers} at once …")
        with ThreadPoolExecutor(args.workers) as pool:
            counts = list(
                pool.map(lambda job: instructions(job[0], job[1], args.seed, outputs), jobs)
            )
    if outputs:
        print(f"default world, {args.months} months, seed {args.seed}, a sweep worker keeping")
        print(f"  {', '.join(outputs)}")
    else:
        print(f"default world, {args.months} months, seed {args.seed}, no agent rows")
    print(f"interpreter: {describe()}")
    print(f"{'revision':<24} {'imports':>16} {'run':>16} {'run vs first':>13}")
    first = None
    for i, rev in enumerate(revs):
        imports, total = counts[2 * i], counts[2 * i + 1]
        run = total - imports
        first = first or run
        print(f"{rev:<24} {imports:>16,} {run:>16,} {100 * (run / first - 1):>+12.2f}%")


if __name__ == "__main__":
    main()
