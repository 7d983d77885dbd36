"""Process workers seen from outside: scripts without a ``__main__`` guard, ``python -c``
and stdin; workers that die with their parent (SIGKILL included, ``runtree run`` too)."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import descendants

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 30.0  # the most any wait below may take (an upper bound, not a timing)

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and pidfds"),
    pytest.mark.timeout(120),
]

# Nodes, an exception and a function defined in __main__, no `if __name__ == "__main__":`
SCRIPT = textwrap.dedent(
    """
    import json, os
    import runtree as rt

    print("BODY", flush=True)  # must print once: workers never run this script

    class CodeError(Exception):
        def __init__(self, code, reason):
            super().__init__(f"{code}: {reason}")

    def triple(x):
        return 3 * x

    class Leaf(rt.Node[int]):
        def __init__(self, x):
            super().__init__()
            self.x = x

        async def invoke(self):
            await rt.broadcast(f"leaf {self.x}")
            return await rt.call(triple, self.x)

    class Fails(rt.Node[None]):
        def __init__(self):
            super().__init__()

        async def invoke(self):
            raise CodeError(7, "nope")

    class Top(rt.Node[dict]):
        execution_mode = "process"

        def __init__(self, n):
            super().__init__()
            self.n = n

        async def invoke(self):
            leaves = await rt.call_batch(Leaf, range(self.n))
            with rt.execution_mode("process"):
                nested = await rt.call(Leaf, 10)
            try:
                await rt.call(Fails)
            except CodeError as exc:
                error = f"{type(exc).__name__}: {exc}"
            return {"leaves": leaves, "nested": nested, "error": error, "pid": os.getpid()}

    seen = []
    with rt.Session(store=None, broadcast_callback=seen.append) as run:
        result = rt.call_sync(Top, 3)
    result["here"] = result.pop("pid") == os.getpid()
    result["requests"] = len(run.info)
    result["broadcasts"] = sorted(seen)
    print(json.dumps(result), flush=True)
    """
)
EXPECTED = {
    "leaves": [0, 3, 6],
    "nested": 30,
    "error": "CodeError: 7: nope",
    "here": False,
    "requests": 10,  # Top, 3 Leaf + 3 triple, Leaf + triple, Fails
    "broadcasts": ["leaf 0", "leaf 1", "leaf 10", "leaf 2"],
}


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "RT_HOME": str(tmp_path / "home")}


@pytest.mark.parametrize("how", ["file", "-c", "stdin"])
def test_a_script_without_a_main_guard_runs_once(tmp_path: Path, how: str) -> None:
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    command = {
        "file": [sys.executable, str(script)],
        "-c": [sys.executable, "-c", SCRIPT],
        "stdin": [sys.executable, "-"],
    }[how]
    result = subprocess.run(
        command,
        input=SCRIPT if how == "stdin" else None,
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=DEADLINE * 3,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines.count("BODY") == 1, result.stdout
    assert json.loads(lines[-1]) == EXPECTED


def _wait_gone(pids: set[int]) -> set[int]:
    """Wait (up to DEADLINE in all) until every process in ``pids`` has ended; the ones
    still running after that."""
    alive = set()
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            readable, _, _ = select.select([fd], [], [], DEADLINE)
            if not readable:
                alive.add(pid)
        finally:
            os.close(fd)
    return alive


@contextlib.contextmanager
def _started(command: list[str], tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A process running ``command`` in ``tmp_path``, killed and reaped when done."""
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _read_line_with(proc: subprocess.Popen[str], marker: str) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(marker):
            return line
    raise AssertionError(
        f"{marker!r} never came; stderr: {proc.stderr.read() if proc.stderr else ''}"
    )


WAITING_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, threading
    import runtree as rt

    class Wait(rt.Node[None]):
        execution_mode = "process"

        def __init__(self):
            super().__init__()

        def invoke(self):  # a blocking body: only a signal can stop it
            rt.call_sync(Nested)
            threading.Event().wait()

    class Nested(rt.Node[None]):
        execution_mode = "process"

        def __init__(self):
            super().__init__()

        async def invoke(self):
            print("WORKER", os.getpid(), flush=True)
            await asyncio.Event().wait()

    async def main():
        async with rt.Session(store=None):
            await rt.call(Wait)

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_end_with_their_parent(tmp_path: Path, sig: signal.Signals) -> None:
    with _started([sys.executable, "-c", WAITING_SCRIPT], tmp_path) as proc:
        worker = int(_read_line_with(proc, "WORKER").split()[1])
        below = descendants(proc.pid)
        assert worker in below and len(below) >= 2  # Wait's worker and Nested's
        proc.send_signal(sig)
        proc.wait(timeout=DEADLINE)
        assert _wait_gone(below) == set()


PIPELINE = textwrap.dedent(
    """
    import os
    import runtree as rt

    class Step(rt.Node[int]):
        def __init__(self, log, index):
            super().__init__()
            self.log, self.index = log, index

        def invoke(self):
            with open(self.log, "a") as out:
                out.write(f"step {self.index}\\n")
            return self.index

    class Pipeline(rt.Node[int]):
        def __init__(self, log, fifo):
            super().__init__()
            self.log, self.fifo = log, fifo

        async def invoke(self):
            for index in range(2):
                await rt.call(Step, self.log, index)
            print("PAUSED", os.getpid(), flush=True)
            with open(self.fifo) as gate:  # blocks until someone opens it for writing
                gate.read()
            for index in range(2, 4):
                await rt.call(Step, self.log, index)
            return 4
    """
)


def test_sigkill_of_runtree_run_stops_its_worker(tmp_path: Path) -> None:
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    log, fifo = tmp_path / "steps.txt", tmp_path / "gate"
    os.mkfifo(fifo)
    command = [sys.executable, "-m", "runtree.cli", "run", "pipeline.py:Pipeline", str(log)]
    with _started([*command, str(fifo), "--durability", "sync", "--no-progress"], tmp_path) as proc:
        worker = int(_read_line_with(proc, "PAUSED").split()[1])
        assert worker in descendants(proc.pid)
        proc.kill()
        proc.wait(timeout=DEADLINE)
        assert _wait_gone({worker}) == set()
    # nobody reads the gate any more: the steps after it can never run
    with pytest.raises(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert log.read_text().splitlines() == ["step 0", "step 1"]
    with sqlite3.connect(tmp_path / "home" / "runtree.db") as connection:
        rows = connection.execute("SELECT node_name, status FROM requests").fetchall()
    # the steps were journaled as they finished, the root is still marked running
    assert sorted(rows) == [("Pipeline", "running"), ("Step", "succeeded"), ("Step", "succeeded")]
