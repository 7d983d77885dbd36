"""A child Python process the journal tests read line by line and SIGKILL (shared by the kill
and fault-injection tests). Every wait is bounded; nothing sleeps for timing."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0  # seconds any expected line may take to arrive


class Child:
    """``python -m MODULE ARGS`` with the tests importable and executions noted in
    ``executions_file``; its stdout is read by a thread into a queue."""

    def __init__(
        self, module: str, *args: str, executions_file: Path, env: dict[str, str] | None = None
    ) -> None:
        full_env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "RT_TEST_EXECUTIONS": str(executions_file),
            **(env or {}),
        }
        if not env or "RT_TEST_PAUSE_AT" not in env:
            full_env.pop("RT_TEST_PAUSE_AT", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        #: the child closed its output (it is exiting, or was killed)
        self.finished = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self) -> str | None:
        try:
            line = self.lines.get(timeout=WAIT)
        except queue.Empty:
            self.kill()
            raise AssertionError(f"child silent for {WAIT}s; saw {self.seen[-5:]}") from None
        if line is not None:
            self.seen.append(line)
        else:
            self.finished = True
        return line

    def wait_for(self, predicate: Callable[[str], bool]) -> str:
        while True:
            line = self.next_line()
            if line is None:
                raise AssertionError(f"child ended early; saw {self.seen[-5:]}; {self.stderr()}")
            if predicate(line):
                return line

    def run_id(self) -> str:
        return self.wait_for(lambda line: line.startswith("RUN ")).split()[1]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=WAIT)

    def rest(self) -> list[str]:
        """Every line still to come (until the process closes its output)."""
        out = []
        while (line := self.next_line()) is not None:
            out.append(line)
        return out

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read() if self.proc.poll() is not None else "(running)"

    def close(self) -> None:
        """Let it exit if it closed its output, else kill it; then close the pipes."""
        if self.finished:
            self.proc.wait(timeout=WAIT)
        self.kill()
        self._reader.join(WAIT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_integrity(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


def count_rows(db: Path, sql: str, *params: object) -> int:
    """A count from the journal, read-only (never creates or converts anything)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(sql, params).fetchone()[0])
    finally:
        conn.close()


def label(node_name: str, inputs: dict[str, list[int]]) -> str:
    """``"Node 3"`` for a request of ``Node(3)`` (``"Node"`` without arguments)."""
    args = inputs["args"]
    return node_name if not args else f"{node_name} {args[0]}"
