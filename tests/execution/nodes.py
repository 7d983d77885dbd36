"""Nodes for the process-strategy tests (importable, so workers load them by reference)."""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import os
import signal
import sqlite3
import sys
import threading
from typing import Any

import runtree as rt
import runtree.graph as rg
from runtree.context.central import carry, get_session
from tests.support import Adder, Where

#: carried to workers with every task (registered at import, in the worker too)
TENANT: contextvars.ContextVar[str] = carry(contextvars.ContextVar("tests.tenant"))


class PairError(Exception):
    """Its ``__init__`` takes two arguments: plain pickling cannot re-create it."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class LockedError(Exception):
    """Holds a lock: the exception itself does not pickle."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


class Raise(rt.Node[None]):
    def __init__(self, kind: str, folder: str = "") -> None:
        super().__init__()
        self.kind = kind
        self.folder = folder

    async def invoke(self) -> None:
        if self.kind == "pair":
            raise PairError(7, "seven is not allowed")
        if self.kind == "locked":
            raise LockedError("holds a lock")
        if self.kind == "worker-only":
            # a module only the worker can import: the session cannot load its exception
            sys.path.insert(0, self.folder)
            module = importlib.import_module("worker_only_module")
            raise module.WorkerOnly("made in the worker")
        raise ValueError(self.kind)


class Die(rt.Node[None]):
    """Ends its worker process: with ``code`` as exit code, or by ``signal``."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how

    async def invoke(self) -> None:
        if self.how == "exit":
            os._exit(3)
        os.kill(os.getpid(), getattr(signal, self.how))
        await asyncio.Event().wait()


class Pid(rt.Node[int]):
    def __init__(self) -> None:
        super().__init__()

    async def invoke(self) -> int:
        return os.getpid()


class Nest(rt.Node[list[int]]):
    """Process mode all the way down: ``depth`` levels, each making ``width`` calls."""

    execution_mode = "process"

    def __init__(self, depth: int, width: int = 1) -> None:
        super().__init__()
        self.depth = depth
        self.width = width

    async def invoke(self) -> list[int]:
        if self.depth == 0:
            return [os.getpid()]
        found: list[int] = [os.getpid()]
        children = [self.depth - 1] * self.width
        for pids in await rt.call_batch(Nest, children, [self.width] * self.width):
            found.extend(pids)
        return found


class AnnounceAndWait(rt.Node[None]):
    """Broadcasts its worker's pid, then waits forever (until its worker is stopped)."""

    def __init__(self) -> None:
        super().__init__()

    async def invoke(self) -> None:
        await rt.broadcast(os.getpid())
        await asyncio.Event().wait()


class SyncAnnounceAndWait(rt.Node[None]):
    """Like AnnounceAndWait, in a synchronous body that cannot be cancelled."""

    def __init__(self) -> None:
        super().__init__()

    def invoke(self) -> None:
        rt.call_sync(Announce)  # calls from a synchronous node in the worker
        rt.call_sync(Adder, 1, 2)
        threading.Event().wait()


class Tenant(rt.Node[str]):
    def __init__(self) -> None:
        super().__init__()

    async def invoke(self) -> str:
        return TENANT.get("unset")


class Unpicklable(rt.Node[Any]):
    def __init__(self) -> None:
        super().__init__()

    async def invoke(self) -> Any:
        return threading.Lock()


class Takes(rt.Node[str]):
    def __init__(self, thing: Any) -> None:
        super().__init__()
        self.thing = thing

    async def invoke(self) -> str:
        return type(self.thing).__name__


class CheckJournal(rt.Node[list[tuple[str, str]]]):
    """Calls Adder in the worker, then reads the journal file: with ``durability="sync"``
    the nested request must already be there."""

    def __init__(self, db: str) -> None:
        super().__init__()
        self.db = db

    async def invoke(self) -> list[tuple[str, str]]:
        await rt.call(Adder, 1, 2)
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as connection:
            rows = connection.execute(
                "SELECT node_name, status FROM requests ORDER BY node_name"
            ).fetchall()
        return [(str(name), str(status)) for name, status in rows]


class Steps(rt.Node[int]):
    """Appends a line to ``path`` per step (async steps, in the worker), then fails if the
    file ``fail_flag`` exists."""

    def __init__(self, path: str, steps: int, fail_flag: str) -> None:
        super().__init__()
        self.path = path
        self.steps = steps
        self.fail_flag = fail_flag

    async def invoke(self) -> int:
        total = 0
        for index in range(self.steps):
            total += await rt.call(Step, self.path, index)
        if os.path.exists(self.fail_flag):  # noqa: ASYNC240 - a test node
            raise RuntimeError("failing on purpose after the steps")
        return total


class Step(rt.Node[int]):
    execution_mode = "async"

    def __init__(self, path: str, index: int) -> None:
        super().__init__()
        self.path = path
        self.index = index

    async def invoke(self) -> int:
        with open(self.path, "a", encoding="utf-8") as out:  # noqa: ASYNC230 - a test node
            out.write(f"step {self.index}\n")
        return self.index


class Announce(rt.Node[None]):
    """Broadcasts its worker's pid."""

    def __init__(self) -> None:
        super().__init__()

    async def invoke(self) -> None:
        await rt.broadcast(os.getpid())


class Keeps(rt.Node[list[str]]):
    """In its worker: calls that take and return values that cannot be pickled (recorded
    by the session as descriptions), a thread-mode call, and a process-mode call whose
    result cannot come back."""

    def __init__(self) -> None:
        super().__init__()

    async def invoke(self) -> list[str]:
        lock = await rt.call(Unpicklable)
        seen = [type(lock).__name__, await rt.call(Takes, lock)]
        with rt.execution_mode("thread"):
            where = await rt.call(Where)
        seen.append("same process" if where["pid"] == os.getpid() else "other process")
        seen.append("other thread" if where["thread"] != threading.get_ident() else "same thread")
        with rt.execution_mode("process"):
            try:
                await rt.call(Unpicklable)
            except rt.ExecutionError as exc:
                seen.append(str(exc))
        return seen


class _Count(rg.Node):
    """A graph step that appends to a file each time it really runs."""

    def __init__(self, log: str, name: str) -> None:
        super().__init__()
        self.log = log
        self.label = name

    def exec(self, prep_res: object) -> str:
        with open(self.log, "a", encoding="utf-8") as out:
            out.write(f"{self.label}\n")
        return self.label

    def post(self, shared: dict[str, Any], prep_res: object, exec_res: str) -> None:
        shared.setdefault("ran", []).append(exec_res)


class _Boom(rg.Node):
    def __init__(self, flag: str) -> None:
        super().__init__()
        self.flag = flag

    def exec(self, prep_res: object) -> None:
        if os.path.exists(self.flag):
            raise RuntimeError("failing on purpose")


class GraphInWorker(rt.Node[list[str]]):
    """Runs a graph (first, second, then a step that fails while ``flag`` exists)."""

    execution_mode = "process"

    def __init__(self, log: str, flag: str) -> None:
        super().__init__()
        self.log = log
        self.flag = flag

    async def invoke(self) -> list[str]:
        first = _Count(self.log, "first")
        first >> _Count(self.log, "second") >> _Boom(self.flag)
        result = await rg.Graph(first, name="in-worker").run({})
        return list(result.shared["ran"])


class Closes(rt.Node[str]):
    """Registers a closer on its session (as a connection a node opens does)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    async def invoke(self) -> str:
        def closer() -> None:
            with open(self.path, "w", encoding="utf-8") as out:
                out.write(f"closed in {os.getpid()}")

        get_session().on_close(closer)
        return str(os.getpid())
