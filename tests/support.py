"""Nodes shared by the tests. They live in an importable module so that the process
strategy's workers can load them."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import runtree as rt
from runtree.nodes import Node


class Adder(Node[int]):
    @classmethod
    def name(cls) -> str:
        return "Adder"

    def __init__(self, a: int, b: int):
        super().__init__()
        self.a, self.b = a, b

    async def invoke(self) -> int:
        return self.a + self.b


class SyncAdder(Node[int]):
    def __init__(self, a: int, b: int):
        super().__init__()
        self.a, self.b = a, b

    def invoke(self) -> int:
        return self.a + self.b


class Boom(ValueError):
    pass


class Failing(Node[int]):
    def __init__(self, message: str = "boom"):
        super().__init__()
        self.message = message

    async def invoke(self) -> int:
        raise Boom(self.message)


class FailOn(Node[int]):
    """Returns x, but raises Boom when x == bad."""

    def __init__(self, x: int, bad: int):
        super().__init__()
        self.x, self.bad = x, bad

    async def invoke(self) -> int:
        if self.x == self.bad:
            raise Boom(f"bad item {self.x}")
        await asyncio.sleep(0)
        return self.x


class Where(Node[dict[str, object]]):
    """Reports the process and thread it ran in."""

    def __init__(self) -> None:
        super().__init__()

    async def invoke(self) -> dict[str, object]:
        return {"pid": os.getpid(), "thread": threading.get_ident()}


class Parent(Node[list[int]]):
    """Calls Adder twice (nested calls record their parent)."""

    def __init__(self, base: int):
        super().__init__()
        self.base = base

    async def invoke(self) -> list[int]:
        first = await rt.call(Adder, self.base, 1)
        second = await rt.call(Adder, self.base, 2)
        return [first, second]


class Streamer(Node[int]):
    def __init__(self, n: int):
        super().__init__()
        self.n = n

    async def invoke(self) -> int:
        for i in range(self.n):
            await rt.broadcast(f"chunk {i}")
        return self.n


class Blocking(Node[str]):
    """A sync node that sleeps (runs in a worker thread, must not block the loop)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def invoke(self) -> str:
        time.sleep(self.seconds)
        return "slept"


class Forever(Node[None]):
    """Waits until cancelled; sets `started` (when given) first."""

    started: asyncio.Event | None = None

    def __init__(self) -> None:
        super().__init__()

    async def invoke(self) -> None:
        if Forever.started is not None:
            Forever.started.set()
        await asyncio.Event().wait()


class ReadContext(Node[object]):
    """Returns the run context's value under ``key`` (None if missing)."""

    def __init__(self, key: str):
        super().__init__()
        self.key = key

    async def invoke(self) -> object:
        return rt.context.get(self.key, None)


class ShareContext(Node[list[object]]):
    """Reads ``greeting``, puts ``written``, deletes ``scratch``, then asks a nested call
    what it sees under ``written``."""

    def __init__(self) -> None:
        super().__init__()

    async def invoke(self) -> list[object]:
        seen = [rt.context.get("greeting")]
        rt.context.put("written", "by the node")
        rt.context.delete("scratch")
        seen.append(await rt.call(ReadContext, "written"))
        seen.append(await rt.call(ReadContext, "scratch"))
        return seen


# -- processes (for the tests of strategies that run nodes in other processes) ----------------


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from the parent ids in /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def process_gone(pid: int) -> bool:
    """Whether no process has the id ``pid`` (any more)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def default_sigint() -> None:
    """``preexec_fn`` of a child the tests interrupt: SIGINT as a terminal gives it. A
    non-interactive shell starts background jobs (such as CI's suites on other Pythons) with
    SIGINT ignored, and a child would inherit that and never see Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
