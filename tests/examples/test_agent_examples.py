"""The agent examples run offline against the local server and say so."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.examples import run_example as run


def run_example(name: str, tmp_path: Path) -> str:
    out = run("-m", f"examples.agents.{name}", home=tmp_path / "home")
    assert "model: runtree's local test server at http://127.0.0.1:" in out
    return out


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
