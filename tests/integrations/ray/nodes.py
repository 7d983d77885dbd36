"""Nodes for the Ray tests (importable: Ray workers load them by reference)."""

from __future__ import annotations

import asyncio
import os
import sys

import runtree as rt


class Meet(rt.Node[int]):
    """Two of these meet at a FIFO: opening one end blocks until the other end is opened,
    so both must run at the same time, in two worker processes."""

    def __init__(self, fifo: str, side: int) -> None:
        super().__init__()
        self.fifo = fifo
        self.side = side

    def invoke(self) -> int:
        os.close(os.open(self.fifo, os.O_WRONLY if self.side else os.O_RDONLY))
        return os.getpid()


class FanOut(rt.Node[tuple[int, list[int]]]):
    """Hands two Meets back to the session as Ray tasks of their own and waits for both:
    on two CPUs this works only if it lends its CPU while it waits."""

    execution_mode = "ray"

    def __init__(self, fifo: str) -> None:
        super().__init__()
        self.fifo = fifo

    async def invoke(self) -> tuple[int, list[int]]:
        with rt.execution_mode("ray"):
            pids = await rt.call_batch(Meet, [self.fifo, self.fifo], [0, 1])
        return os.getpid(), pids


class Step(rt.Node[int]):
    """Appends ``step INDEX`` to ``log`` (its side effect) and returns ``index``; from
    ``index`` 3 on, while the file ``block`` exists, it writes its process id to
    ``BLOCK.pid`` and waits forever instead (a driver can be killed there)."""

    def __init__(self, log: str, index: int, block: str) -> None:
        super().__init__()
        self.log = log
        self.index = index
        self.block = block

    async def invoke(self) -> int:
        if self.index >= 3 and os.path.exists(self.block):  # noqa: ASYNC240 - a test node
            with open(f"{self.block}.pid", "w", encoding="utf-8") as out:  # noqa: ASYNC230
                out.write(str(os.getpid()))
            await asyncio.Event().wait()
        with open(self.log, "a", encoding="utf-8") as out:  # noqa: ASYNC230 - a test node
            out.write(f"step {self.index}\n")
        return self.index


class Chain(rt.Node[int]):
    """``steps`` Steps one after the other (in ray mode, each is a Ray task of its own)."""

    def __init__(self, log: str, steps: int, block: str) -> None:
        super().__init__()
        self.log = log
        self.steps = steps
        self.block = block

    async def invoke(self) -> int:
        total = 0
        for index in range(self.steps):
            total += await rt.call(Step, self.log, index, self.block)
        return total


class PidThenWait(rt.Node[None]):
    """Broadcasts its process id, then waits forever (until its task is cancelled)."""

    def __init__(self) -> None:
        super().__init__()

    async def invoke(self) -> None:
        await rt.broadcast(os.getpid())
        await asyncio.Event().wait()


class Printer(rt.Node[str]):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    async def invoke(self) -> str:
        print(self.text)
        sys.stdout.flush()
        return self.text


class DiesMidCall(rt.Node[None]):
    """Makes a call in its worker, then one that kills the worker while it is open."""

    def __init__(self) -> None:
        super().__init__()

    async def invoke(self) -> None:
        from tests.execution.nodes import Die
        from tests.support import Adder

        await rt.call(Adder, 1, 2)
        await rt.call(Die, "SIGKILL")
