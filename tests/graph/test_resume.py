"""Resuming graph runs: the shared store comes back as each finished step left it, and no
finished step runs again (its prep, exec and post are not repeated).

The job (``tests/graph/resume_job.py``) has a retried step, branches, a parallel fan-out, a
parallel batch graph with a nested batch graph, a loop and a deletion. It is run three
ways: uninterrupted; SIGKILLed mid-graph (``durability="sync"``) and resumed in a new
process; failing on a bug, then fixed and resumed with ``Session(resume=...)``.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest

import runtree as rt
import runtree.graph as rg
from tests.graph import resume_job

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0  # seconds an expected line may take to arrive (a bounded wait, no sleeps)


class Job:
    """``python -m tests.graph.resume_job`` in a child process, its stdout read line by line."""

    def __init__(self, db: Path, effects: Path, *args: str, crash: bool = False) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RT_TEST_EFFECTS": str(effects)}
        env.pop("RT_TEST_CRASH", None)
        if crash:
            env["RT_TEST_CRASH"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.graph.resume_job", str(db), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix: str) -> str:
        """The rest of the next line starting with ``prefix``."""
        while True:
            try:
                line = self.lines.get(timeout=WAIT)
            except queue.Empty:
                self.close()
                raise AssertionError(f"no {prefix!r} line within {WAIT}s") from None
            if line is None:
                self.proc.wait(timeout=WAIT)
                assert self.proc.stderr is not None
                raise AssertionError(f"the job ended before {prefix!r}:\n{self.proc.stderr.read()}")
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def result(self) -> dict[str, Any]:
        outcome: dict[str, Any] = json.loads(self.expect("RESULT"))
        assert self.proc.wait(timeout=WAIT) == 0
        return outcome

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=WAIT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def effects(path: Path) -> collections.Counter[str]:
    return collections.Counter(path.read_text().splitlines())


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Any]:
    """The outcome and side effects of the job run once without interruption."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    job = Job(folder / "journal.db", folder / "effects")
    try:
        outcome = job.result()
    finally:
        job.close()
    return outcome, effects(folder / "effects")


def test_uninterrupted_run_goes_everywhere(uninterrupted: tuple[dict[str, Any], Any]) -> None:
    outcome, done = uninterrupted
    assert outcome["action"] == "done"
    assert outcome["path"] == [
        "Load",
        "Route",
        "Parallel(words, letters)",
        "Each",
        "Tick",
        "Tick",
        "Tick",
        "Cleanup",
        "Sum",
    ]
    assert outcome["shared"]["pieces"] == {"x1": 1, "x2": 2, "y1": 1, "y2": 2, "z1": 1, "z2": 2}
    assert outcome["shared"]["total"] == "XYZ/6/20"
    assert "tmp" not in outcome["shared"]
    assert done["exec Load attempt 1"] == done["exec Load attempt 2"] == 1
    assert done["post Tick"] == 3
    assert set(done.values()) == {1, 3}


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.timeout(180)
def test_sigkill_mid_graph_then_resume(
    tmp_path: Path, uninterrupted: tuple[dict[str, Any], Any]
) -> None:
    expected, expected_effects = uninterrupted
    db, log = tmp_path / "journal.db", tmp_path / "effects"
    crashing = Job(db, log, crash=True)
    try:
        run_id = crashing.expect("RUN")
        crashing.expect("PAUSED")  # every run of the batch graph waits in Hold
        os.kill(crashing.proc.pid, signal.SIGKILL)
        assert crashing.proc.wait(timeout=WAIT) == -signal.SIGKILL
    finally:
        crashing.close()
    after_crash = effects(log)
    assert after_crash["post Gate:z"] == 1 and after_crash["post Tick"] == 0

    resuming = Job(db, log, "--resume", run_id)
    try:
        outcome = resuming.result()
    finally:
        resuming.close()
    assert outcome == expected  # same shared store, action, path and result
    # each step that had finished ran once overall; only the steps the kill interrupted
    # (Hold, in each of the three runs) ran again
    rerun = collections.Counter(
        f"{part} Hold:{key}" + (" attempt 1" if part == "exec" else "")
        for key in "xyz"
        for part in ("prep", "exec")
    )
    assert effects(log) == expected_effects + rerun


def test_failure_fixed_and_resumed_in_process(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    uninterrupted: tuple[dict[str, Any], Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    expected, expected_effects = uninterrupted
    log = tmp_path / "effects"
    monkeypatch.setenv("RT_TEST_EFFECTS", str(log))
    monkeypatch.setitem(resume_job.BROKEN, "sum", True)
    db = str(tmp_path / "journal.db")
    with pytest.raises(RuntimeError, match="Sum is broken"):
        asyncio.run(resume_job.run(db))
    run_id = capsys.readouterr().out.split()[1]
    resume_job.BROKEN["sum"] = False  # the bug is fixed
    outcome = asyncio.run(resume_job.run(db, resume=run_id))
    assert json.loads(json.dumps(outcome)) == expected
    # Sum failed the first time: its prep and exec ran twice, everything else once
    assert effects(log) == expected_effects + collections.Counter(
        ["prep Sum", "exec Sum attempt 1"]
    )


class Counted(rg.Node):
    """Counts its runs in ``runs`` (a module-level Counter) and writes ``shared[name]``."""

    runs: ClassVar[collections.Counter[str]] = collections.Counter()
    broken: ClassVar[set[str]] = set()

    def exec(self, prep_res: Any) -> Any:
        Counted.runs[self.name] += 1
        if self.name in Counted.broken:
            raise ValueError(f"{self.name} is broken")
        return {"by": self.name, "n": [1, 2.5, None, True]}

    def post(self, shared: Any, prep_res: Any, exec_res: Any) -> Any:
        shared[self.name] = exec_res
        shared.setdefault("log", {})[self.name] = len(shared)


@pytest.fixture
def counted() -> Any:
    Counted.runs.clear()
    Counted.broken.clear()
    yield Counted
    Counted.runs.clear()
    Counted.broken.clear()


async def test_a_finished_graph_run_is_replayed_into_the_callers_store(
    tmp_path: Path, counted: Any
) -> None:
    first = rg.Graph(Counted(name="a"), name="first")
    second_start = Counted(name="b")
    second_start >> Counted(name="c")
    second = rg.Graph(second_start, name="second")

    async def job() -> dict[str, Any]:
        shared: dict[str, Any] = {"given": 1}
        await first.run(shared)
        await second.run(shared)
        return shared

    async with rt.Session(store=None):
        expected = await rt.call(job)
    assert expected["log"] == {"a": 2, "b": 4, "c": 5}
    counted.runs.clear()

    db = tmp_path / "journal.db"
    counted.broken.add("c")
    async with rt.Session(store=db) as session:
        with pytest.raises(ValueError, match="c is broken"):
            await rt.call(job)
    counted.broken.clear()
    async with rt.Session(store=db, resume=session.run_id) as resumed:
        shared = await rt.call(job)
    assert shared == expected
    assert counted.runs == {"a": 1, "b": 1, "c": 2}
    assert resumed.journal is not None and resumed.journal.statistics().replayed == 2
    # what each step recorded is plain JSON data: it is replayed exactly, without pickles
    for _, record in session.info.walk():
        if record.status == "succeeded" and record.node_name in {"first", "a", "b"}:
            assert json.loads(json.dumps(record.output)) == record.output


async def test_a_parallel_step_resumes_with_its_finished_branches(
    tmp_path: Path, counted: Any
) -> None:
    start = Counted(name="start")
    start >> rg.Parallel(Counted(name="left"), Counted(name="right"), into="joined")
    graph = rg.Graph(start, name="fan")
    expected = (await graph.run({})).shared
    assert expected["log"] == {"start": 1, "left": 3, "right": 3}  # each sees its own writes
    counted.runs.clear()
    db = tmp_path / "journal.db"
    counted.broken.add("right")
    async with rt.Session(store=db) as session:
        with pytest.raises(ValueError, match="right is broken"):
            await graph.run({})
    counted.broken.clear()
    async with rt.Session(store=db, resume=session.run_id):
        result = await graph.run({})
    assert counted.runs == {"start": 1, "left": 1, "right": 2}
    assert result.shared == expected
    assert result.shared["joined"] == [result.shared["left"], result.shared["right"]]


async def test_without_a_journal_nothing_is_recorded() -> None:
    async with rt.Session(store=None) as session:
        await rg.Graph(Counted(name="solo")).run({})
    assert all("shared" not in record.output for _, record in session.info.walk())
