"""Workloads the fault-injection tests run in a child process and SIGKILL.

``python -m tests.store.fault_child DB --mode MODE --durability D [--resume RUN_ID]
[--workload tree|busy|spin|many]``

* ``tree``: a root ``Job`` calls ``Step``s one after another (each calls a ``Sub``), then a
  batch of ``Part``s, then more steps. After each result a caller got it prints
  ``R <label> <monotonic time>``; each node body notes its execution in the file named by
  ``RT_TEST_EXECUTIONS`` (one line per run of a body), so the test can count executions
  across a crash and a resume. Ends with ``RESULT <value>``.
* ``busy``: ``await rt.call(trivial)`` in a loop that never yields to the event loop,
  printing ``P <calls returned> <monotonic time>`` every 500 calls, until killed.
* ``spin``: like ``busy``, but every 2,000 calls the loop computes for 0.3 s without
  calling anything (the writer must commit on its own while the loop holds the GIL).
* ``many``: five sessions one after another, each a batch of ``--size`` parts; prints
  ``RUN`` and ``RESULT`` for each (several of these share one file at once).

With ``RT_TEST_PAUSE_AT=<label>`` a node body prints ``PAUSED <label>`` at that checkpoint
(``Step 3``, ``after Step 3``, ``Sub 3``, ``Part 2``) and blocks there until killed. The
first line is always ``RUN <run id>``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time

import runtree as rt
from runtree.nodes import Node
from tests.store.nodes import note

STEPS = 8
FAN = 6


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def result(label: str) -> None:
    say(f"R {label} {time.monotonic():.6f}")


def checkpoint(label: str) -> None:
    if os.environ.get("RT_TEST_PAUSE_AT") == label:
        say(f"PAUSED {label}")
        threading.Event().wait()  # until killed


class Sub(Node[int]):
    def __init__(self, i: int) -> None:
        super().__init__()
        self.i = i

    async def invoke(self) -> int:
        checkpoint(f"Sub {self.i}")
        note(f"Sub {self.i}")
        return self.i + 1


class Step(Node[int]):
    def __init__(self, i: int) -> None:
        super().__init__()
        self.i = i

    async def invoke(self) -> int:
        checkpoint(f"Step {self.i}")
        note(f"Step {self.i}")
        checkpoint(f"after Step {self.i}")
        await asyncio.sleep(0.015)  # the workload takes a while: kill points spread out
        sub = await rt.call(Sub, self.i)
        result(f"Sub {self.i}")
        return sub * 2


class Part(Node[int]):
    def __init__(self, x: int) -> None:
        super().__init__()
        self.x = x

    async def invoke(self) -> int:
        checkpoint(f"Part {self.x}")
        note(f"Part {self.x}")
        await asyncio.sleep(0.002)
        return self.x * 10


class Job(Node[int]):
    async def invoke(self) -> int:
        note("Job")
        total = 0
        for i in range(STEPS):
            total += await rt.call(Step, i)
            result(f"Step {i}")
        parts = await rt.call_batch(Part, range(FAN))
        for x in range(FAN):
            result(f"Part {x}")
        for i in range(STEPS, 2 * STEPS):
            total += await rt.call(Step, i)
            result(f"Step {i}")
        return total + sum(parts)


EXPECTED = sum((i + 1) * 2 for i in range(2 * STEPS)) + sum(x * 10 for x in range(FAN))
LABELS = (
    {"Job"}
    | {f"{name} {i}" for name in ("Step", "Sub") for i in range(2 * STEPS)}
    | {f"Part {x}" for x in range(FAN)}
)


class Many(Node[int]):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    async def invoke(self) -> int:
        return sum(await rt.call_batch(Part, range(self.n)))


async def trivial(i: int) -> int:
    return i


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


async def forever(spin: bool) -> None:
    calls = 0
    while True:
        await rt.call(trivial, calls)
        calls += 1
        if calls % 500 == 0:
            say(f"P {calls} {time.monotonic():.6f}")
        if spin and calls % 2000 == 0:
            _spin(0.3)
            say(f"P {calls} {time.monotonic():.6f}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--mode", default="async")
    parser.add_argument("--durability", default="batch")
    parser.add_argument("--resume")
    parser.add_argument("--workload", default="tree", choices=("tree", "busy", "spin", "many"))
    parser.add_argument("--size", type=int, default=100)
    options = parser.parse_args()
    if options.workload == "many":
        for _ in range(5):
            async with rt.Session(store=options.db, durability=options.durability) as session:
                say(f"RUN {session.run_id}")
                say(f"RESULT {await rt.call(Many, options.size)}")
        return
    async with rt.Session(
        name=f"faults-{options.workload}",
        store=options.db,
        durability=options.durability,
        execution_mode=options.mode,
        resume=options.resume,
    ) as session:
        say(f"RUN {session.run_id}")
        if options.workload == "tree":
            say(f"RESULT {await rt.call(Job)}")
        else:
            await forever(spin=options.workload == "spin")


if __name__ == "__main__":
    asyncio.run(main())
