"""Nodes for the journal tests (importable: the process strategy and worker scripts load
them). Executions are counted in the file named by ``RT_TEST_EXECUTIONS`` (one line per
run of a node's ``invoke``), so tests can check what ran again after a resume."""

from __future__ import annotations

import dataclasses
import os
import threading

import runtree as rt
from runtree.nodes import Node

_lock = threading.Lock()


def note(label: str) -> None:
    path = os.environ.get("RT_TEST_EXECUTIONS")
    if not path:
        return
    with _lock:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{label}\n".encode())
        finally:
            os.close(fd)


def executions(path: os.PathLike[str] | str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().splitlines()
    except FileNotFoundError:
        return []


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Leaf(Node[int]):
    def __init__(self, x: int) -> None:
        super().__init__()
        self.x = x

    async def invoke(self) -> int:
        note(f"Leaf {self.x}")
        await rt.broadcast(f"leaf {self.x}")
        return self.x + 1


class Pair(Node[tuple[int, int]]):
    def __init__(self, x: int) -> None:
        super().__init__()
        self.x = x

    async def invoke(self) -> tuple[int, int]:
        note(f"Pair {self.x}")
        return (self.x, -self.x)


class MakePoint(Node[Point]):
    def __init__(self, x: int) -> None:
        super().__init__()
        self.x = x

    async def invoke(self) -> Point:
        note(f"MakePoint {self.x}")
        return Point(self.x, 2 * self.x)


class Unpicklable(Node[object]):
    async def invoke(self) -> object:
        note("Unpicklable")
        return threading.Lock()


class Tree(Node[int]):
    """``n`` leaves in a batch, then one sequential leaf per step."""

    def __init__(self, n: int, steps: int = 0) -> None:
        super().__init__()
        self.n = n
        self.steps = steps

    async def invoke(self) -> int:
        note(f"Tree {self.n}")
        total = sum(await rt.call_batch(Leaf, range(self.n)))
        for i in range(self.steps):
            total += await rt.call(Leaf, 100 + i)
        return total


class Fails(Node[int]):
    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    async def invoke(self) -> int:
        note("Fails")
        total = 0
        for i in range(self.after):
            total += await rt.call(Leaf, i)
        raise ValueError(f"failed after {total}")


def clear_executions(path: os.PathLike[str] | str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class Flow(Node[int]):
    """Leaves ``0..n-1`` one after another; fails before leaf ``RT_TEST_FAIL_AT`` if set."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    async def invoke(self) -> int:
        note(f"Flow {self.n}")
        total = 0
        for i in range(self.n):
            if os.environ.get("RT_TEST_FAIL_AT") == str(i):
                raise ValueError(f"failed at {i}")
            total += await rt.call(Leaf, i)
        return total


class Described(Node[int]):
    """Reports attributes about itself, as model and tool calls do."""

    def __init__(self, x: int) -> None:
        super().__init__()
        self.x = x

    async def invoke(self) -> int:
        self.details["attributes"] = {"runtree.kind": "demo", "demo.x": self.x}
        if self.x < 0:
            raise ValueError("negative")
        return self.x
