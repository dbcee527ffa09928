"""Issue 19, item 6: workers of a process-pool sweep exit when the sweep process dies."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from sim.results_store import ResultsStore

from .conftest import ROOT, slow_sweep_file


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.timeout(240)
def test_workers_exit_when_the_sweep_process_is_killed(tmp_path: Path) -> None:
    slow = slow_sweep_file(tmp_path)
    out = tmp_path / "r"
    command = [sys.executable, "-m", "sim", "sweep", str(slow), "--out", str(out)]
    command += ["--workers", "2", "--no-progress"]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        store = ResultsStore(out)
        deadline = time.monotonic() + 120
        while len(store.done_ids()) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep finished before it could be killed"
        family = psutil.Process(proc.pid).children(recursive=True)
        workers = [p for p in family if p.cpu_times().user > 0.5]  # busy simulating
        assert len(workers) >= 1, family
        os.kill(proc.pid, signal.SIGKILL)  # only the main process
        proc.wait(timeout=30)
        deadline = time.monotonic() + 5
        while not all(_gone(p.pid) for p in family) and time.monotonic() < deadline:
            time.sleep(0.1)
        alive = [(p.pid, p.name()) for p in family if not _gone(p.pid)]
        assert not alive, f"still running after the sweep process died: {alive}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
