"""A crashed agent resumes mid tool-loop: SIGKILL a child process while a tool runs, then
resume the run. Finished model calls are not sent again, finished tools do not run again,
and the answer is the same as a fresh run's."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtree.store import SqliteRunStore
from runtree.testing import LocalOpenAIServer, Reply, tool_call

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0

pytestmark = [
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL"),
    pytest.mark.timeout(180),
]


def collector(request: Any) -> Reply:
    """The scripted model: fetch a, then b, then answer with both (decided from the
    conversation, so a resumed run is answered like a fresh one)."""
    results = [m["content"] for m in request["messages"] if m["role"] == "tool"]
    if not results:
        return Reply("First a.", tool_calls=[tool_call("fetch_a", key="x")], usage=(10, 5))
    if len(results) == 1:
        return Reply(tool_calls=[tool_call("fetch_b", key="y")], usage=(20, 5))
    return Reply(f"Collected {results[0]} and {results[1]}.", usage=(30, 7))


class Child:
    def __init__(
        self, db: Path, server: LocalOpenAIServer, effects: Path, *args: str, block: bool
    ) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RT_TEST_BLOCK_B": "1" if block else "0"}
        env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1,::1"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.llm.agent_worker",
                str(db),
                server.base_url,
                str(effects),
                *args,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix: str) -> str:
        while True:
            try:
                line = self.lines.get(timeout=WAIT)
            except queue.Empty:
                self.proc.kill()
                raise AssertionError(f"no {prefix!r} within {WAIT}s") from None
            if line is None:
                self.proc.wait()
                assert self.proc.stderr is not None
                raise AssertionError(f"child ended before {prefix!r}:\n{self.proc.stderr.read()}")
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def finish(self) -> None:
        assert self.proc.wait(timeout=WAIT) == 0
        self.close()

    def close(self) -> None:
        self.proc.wait(timeout=WAIT)
        self.reader.join(WAIT)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_a_killed_agent_resumes_without_paying_or_running_again(
    serve: Callable[..., LocalOpenAIServer], tmp_path: Path
) -> None:
    server = serve(collector)
    db, effects = tmp_path / "run.db", tmp_path / "effects"
    effects.mkdir()

    first = Child(db, server, effects, block=True)
    run_id = first.expect("RUN")
    first.expect("BLOCKED")  # model call 1, fetch_a, model call 2 finished; fetch_b runs
    first.proc.send_signal(signal.SIGKILL)
    first.close()
    before = [dict(r) for r in server.requests]
    assert len(before) == 2
    assert lines(effects / "a") == ["x"] and lines(effects / "b") == ["y"]

    resumed = Child(db, server, effects, run_id, block=False)
    resumed.expect("RUN")
    answer = resumed.expect("ANSWER")
    usage = resumed.expect("USAGE")
    resumed.finish()
    after = server.requests[len(before) :]
    assert len(after) == 1, "a model call that had finished was sent again"
    assert all(request not in before for request in after)
    assert [m["role"] for m in after[0]["messages"]] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
    ]
    assert lines(effects / "a") == ["x"], "a tool that had finished ran again"
    assert lines(effects / "b") == ["y", "y"]  # it never finished: it ran again
    assert answer == "Collected A(x) and B(y)."
    assert usage == "3 77"  # usage counts the replayed calls: it is the answer's usage

    fresh_effects = tmp_path / "fresh"
    fresh_effects.mkdir()
    fresh = Child(tmp_path / "fresh.db", server, fresh_effects, block=False)
    fresh.expect("RUN")
    assert fresh.expect("ANSWER") == answer
    fresh.finish()

    with SqliteRunStore(db) as store:
        runs = {run.run_id: run for run in store.list_runs()}
        resumed_runs = [r for r in runs.values() if r.resumed_from == run_id]
        assert len(resumed_runs) == 1 and resumed_runs[0].status == "succeeded"
        assert runs[run_id].status == "crashed"
        stored = store.get_requests(resumed_runs[0].run_id)
    chats = [r for r in stored if r.node_name.startswith("chat ")]
    assert [r.replayed for r in chats] == [True, True, False]
    last = chats[-1]  # journaled as plain JSON: the request in, the response out
    assert last.inputs["args"][0]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1_0",
        "name": "fetch_b",
        "content": "B(y)",
    }
    assert last.output["message"]["content"] == answer
    assert last.output["usage"]["input_tokens"] == 30
    assert last.attributes is not None and last.attributes["gen_ai.usage.output_tokens"] == 7
    tools = {r.node_name: r for r in stored if r.node_name.startswith("fetch_")}
    assert tools["fetch_a"].replayed and not tools["fetch_b"].replayed
    assert tools["fetch_b"].attributes["gen_ai.tool.call.id"] == "call_1_0"


async def test_a_run_stopped_by_a_limit_resumes_with_a_higher_one(tmp_path: Path) -> None:
    import runtree as rt
    from runtree.errors import UsageLimitExceeded
    from runtree.testing import ScriptedLLM
    from tests.llm.tools import add

    def model(request: Any) -> Reply:
        done = sum(1 for m in request["messages"] if m["role"] == "tool")
        if done < 3:
            return Reply(tool_calls=[tool_call("add", a=done, b=1)])
        return Reply("three additions")

    llm = ScriptedLLM(model)
    db = tmp_path / "limits.db"
    strict = rt.agent_node("Adder", tool_nodes=[add], llm=llm, max_tool_calls=2)
    with pytest.raises(UsageLimitExceeded, match="max_tool_calls=2"):
        async with rt.Session(store=db, durability="sync") as first:
            await rt.call(strict, "add thrice")
    assert len(llm.requests) == 3  # the third reply asked for a third tool call: refused
    relaxed = rt.agent_node("Adder", tool_nodes=[add], llm=llm, max_tool_calls=5)
    async with rt.Session(store=db, resume=first.run_id) as second:
        response = await rt.call(relaxed, "add thrice")
    assert response.text == "three additions"
    assert len(llm.requests) == 4  # only the last model call was sent again
    replayed = second.journal.statistics().replayed if second.journal else 0
    assert replayed == 5  # three model calls and two tool calls answered from the journal
