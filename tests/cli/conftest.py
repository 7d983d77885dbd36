from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RT_HOME": str(tmp_path / "home")}
    for name in ("RT_TEST_PAUSE_AT", "RT_TEST_FAIL_AT", "RT_TEST_EXECUTIONS", "COLUMNS"):
        env.pop(name, None)
    env["COLUMNS"] = "200"
    return env


@pytest.fixture
def cli(tmp_path: Path, cli_env: dict[str, str]) -> Cli:
    """Run ``python -m runtree.cli ARGS`` in ``tmp_path`` (journal: ``$RT_HOME``)."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runtree.cli", *args],
            cwd=tmp_path,
            env={**cli_env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run
