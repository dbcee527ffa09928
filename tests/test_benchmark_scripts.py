"""The benchmark scripts refuse bad input as the commands do: a clear message naming the
option, exit code 2, nothing run."""

from __future__ import annotations

import importlib.util
import platform
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import ROOT

INSTRUCTIONS = ROOT / "benchmarks" / "instructions.py"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--months", "0"], "--months"),
        (["--workers", "0"], "--workers"),
        (["--rev", "no-such-commit-anywhere"], "--rev 'no-such-commit-anywhere'"),
    ],
)
def test_instruction_counts_refuse_bad_options(args: list[str], named: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(INSTRUCTIONS), *args], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert named in proc.stderr
    assert "callgrind" not in proc.stdout  # nothing was counted


def _interpreter_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "interpreter", ROOT / "benchmarks" / "interpreter.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_libpython_linking_is_read_from_the_loaded_libraries(tmp_path: Path) -> None:
    interpreter = _interpreter_module()
    shared = tmp_path / "shared"
    shared.write_text(
        "7f00-7f01 r--p 00000000 fd:01 42 /opt/python/lib/libpython3.12.so.1.0\n"
        "7f02-7f03 r--p 00000000 fd:01 43 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    )
    linked_in = tmp_path / "linked_in"
    linked_in.write_text(
        "5500-5501 r--p 00000000 fd:01 41 /usr/bin/python3.13\n"
        "7f02-7f03 r--p 00000000 fd:01 43 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
        "7ffc-7ffd rw-p 00000000 00:00 0 [stack]\n"
    )
    assert interpreter.libpython_is_shared(shared) is True
    assert interpreter.libpython_is_shared(linked_in) is False
    assert interpreter.libpython_is_shared(tmp_path / "missing") is None


def test_interpreter_description_names_this_python() -> None:
    text = _interpreter_module().describe()
    assert platform.python_version() in text
    assert sys.executable in text
