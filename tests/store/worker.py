"""A multi-step workflow run in a child process by the kill and multi-process tests.

``python -m tests.store.worker DB [--resume RUN_ID] [--durability D] [--name N]``

Prints ``RUN <id>`` first, ``DONE <label>`` each time a caller got the result of a request
(in ``sync`` durability, that request is on disk by then) and ``RESULT <value>`` at the end.
With ``RT_TEST_PAUSE_AT=<label>`` it prints ``PAUSED <label>`` at that point and blocks, so
the test can kill it there. Executions are noted in ``RT_TEST_EXECUTIONS``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading

import runtree as rt
from runtree.nodes import Node
from tests.store.nodes import note

STEPS = 6
FAN = 4


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


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
        await asyncio.sleep(0.002)
        sub = await rt.call(Sub, self.i)
        say(f"DONE Sub {self.i}")
        return sub * 2


class Part(Node[int]):
    def __init__(self, x: int) -> None:
        super().__init__()
        self.x = x

    async def invoke(self) -> int:
        checkpoint(f"Part {self.x}")
        note(f"Part {self.x}")
        return self.x * 10


class Job(Node[int]):
    async def invoke(self) -> int:
        note("Job")
        total = 0
        for i in range(STEPS):
            total += await rt.call(Step, i)
            say(f"DONE Step {i}")
        parts = await rt.call_batch(Part, range(FAN))
        say("DONE batch")
        return total + sum(parts)


EXPECTED = sum((i + 1) * 2 for i in range(STEPS)) + sum(x * 10 for x in range(FAN))


class Many(Node[int]):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    async def invoke(self) -> int:
        return sum(await rt.call_batch(Part, range(self.n)))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--resume")
    parser.add_argument("--durability", default="sync")
    parser.add_argument("--many", type=int, default=0, help="run Many(n) in 5 sessions")
    options = parser.parse_args()
    if options.many:
        for _ in range(5):
            async with rt.Session(store=options.db, durability=options.durability) as session:
                say(f"RUN {session.run_id}")
                say(f"RESULT {await rt.call(Many, options.many)}")
        return
    async with rt.Session(
        name="worker", store=options.db, durability=options.durability, resume=options.resume
    ) as session:
        say(f"RUN {session.run_id}")
        say(f"RESULT {await rt.call(Job)}")


if __name__ == "__main__":
    asyncio.run(main())
