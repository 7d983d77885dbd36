"""The examples run as a user runs them: offline, from the top of the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: unset, so that the examples use runtree's local test server, never a real model
MODEL_VARIABLES = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OLLAMA_BASE_URL", "OLLAMA_HOST")


def run_example(*args: str, home: Path, cwd: Path = ROOT, timeout: float = 120) -> str:
    """``python ARGS`` offline, with its journal under ``home``; it must succeed. Its stdout."""
    env = {k: v for k, v in os.environ.items() if k not in MODEL_VARIABLES}
    env.update(
        PYTHONPATH=str(ROOT),
        RT_HOME=str(home),
        NO_PROXY="localhost,127.0.0.1,::1",
        no_proxy="localhost,127.0.0.1,::1",
    )
    result = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
