"""The agent examples run offline against the local server and say so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL_VARIABLES = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OLLAMA_BASE_URL", "OLLAMA_HOST")


def run_example(name: str, tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in MODEL_VARIABLES}
    env.update(
        PYTHONPATH=str(ROOT),
        RT_HOME=str(tmp_path / "home"),
        NO_PROXY="localhost,127.0.0.1,::1",
        no_proxy="localhost,127.0.0.1,::1",
    )
    result = subprocess.run(
        [sys.executable, "-m", f"examples.agents.{name}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "model: runtree's local test server at http://127.0.0.1:" in result.stdout
    return result.stdout


def test_tool_agent(tmp_path: Path) -> None:
    out = run_example("tool_agent", tmp_path)
    assert "answer: Tokyo is warmer" in out
    assert "tool get_weather({'city': 'Paris'})" in out and "'Tokyo'" in out
    assert "usage: 2 model calls" in out
    assert out.count("get_weather [succeeded]") == 2


def test_structured_agent(tmp_path: Path) -> None:
    assert "plan: 3 nights Paris -> Rome: 510 EUR" in run_example("structured_agent", tmp_path)


def test_agent_as_tool(tmp_path: Path) -> None:
    out = run_example("agent_as_tool", tmp_path)
    assert "Rust 1.0 was released in May 2015." in out
    assert "usage of the whole team: 4 model calls" in out
    assert "    search_notes [succeeded]" in out  # nested under the researcher


def test_streaming(tmp_path: Path) -> None:
    out = run_example("streaming", tmp_path)
    assert "I will count the words first.\n[calling word_count]\n[word_count -> 5]" in out
    assert "final answer: The sentence has five words" in out


@pytest.mark.timeout(180)
def test_crash_resume(tmp_path: Path) -> None:
    out = run_example("crash_resume", tmp_path)
    assert "was killed (exit -9)" in out
    assert "resumed:   answer: Done: 42 EUR charged" in out
    assert "ledger:    ['charged 42'] (the card was charged once)" in out
    assert "model calls sent to the server: 3" in out
