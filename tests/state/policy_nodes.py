"""Nodes for the policy tests. They live in an importable module so that process and Ray
workers can load them; what they count crosses processes in files (a node body may run in
another process than the test)."""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from pathlib import Path

import runtree as rt
from runtree.nodes import Node


def bump(path: str) -> int:
    """Add one to the number in the file ``path`` (under a lock); return the new number."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        text = os.read(fd, 64).decode() or "0"
        count = int(text) + 1
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, str(count).encode())
        return count
    finally:
        os.close(fd)


def count(path: str | Path) -> int:
    """The number :func:`bump` left in ``path`` (0 if none)."""
    try:
        return int(Path(path).read_text() or "0")
    except FileNotFoundError:
        return 0


class Throttled(Exception):
    """A failure that asks for ``retry_after`` seconds of patience."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class Flaky(Node[int]):
    """Fails its first ``failures`` runs (counted in the file ``counter``), then returns
    ``value``; ``hint`` makes the failures :class:`Throttled` with that ``retry_after``."""

    policy = rt.Policy(retry=rt.RetryPolicy(max_attempts=3, base_delay=0.5))

    def __init__(
        self, counter: str, failures: int, value: int = 7, hint: float | None = None
    ) -> None:
        super().__init__()
        self.counter, self.failures, self.value, self.hint = counter, failures, value, hint

    async def invoke(self) -> int:
        run = bump(self.counter)
        self.details["attributes"] = {"test.run": run}
        if run <= self.failures:
            if self.hint is not None:
                raise Throttled(self.hint)
            raise ConnectionError(f"run {run} failed")
        return self.value


class Stuck(Node[None]):
    """Never ends on its own (counts its runs in ``counter``)."""

    def __init__(self, counter: str) -> None:
        super().__init__()
        self.counter = counter

    async def invoke(self) -> None:
        bump(self.counter)
        await asyncio.Event().wait()


class Overlap(RuntimeError):
    """Two runs of an exclusive node overlapped."""


class Exclusive(Node[tuple[float, float]]):
    """Holds the file lock ``lock`` while it runs and fails if another run holds it: with
    ``max_concurrency=1`` no two runs may ever overlap, whatever process they run in.
    Returns when it started and ended (``time.monotonic()``, one clock for every process
    of the machine)."""

    policy = rt.Policy(max_concurrency=1)

    def __init__(self, lock: str, index: int) -> None:
        super().__init__()
        self.lock, self.index = lock, index

    async def invoke(self) -> tuple[float, float]:
        fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Overlap(f"run {self.index} started while another one ran") from None
            start = time.monotonic()
            await asyncio.sleep(0.002)  # (a window for a second run to collide in)
            end = time.monotonic()
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        return start, end


class FanOut(Node[list[tuple[float, float]]]):
    """Calls ``Exclusive`` ``n`` times at once from wherever it runs (a worker hands the
    calls back to the session, whose limit holds them)."""

    def __init__(self, lock: str, n: int) -> None:
        super().__init__()
        self.lock, self.n = lock, n

    async def invoke(self) -> list[tuple[float, float]]:
        return await rt.call_batch(Exclusive, [self.lock] * self.n, range(self.n))


class Doubled(Node[int]):
    """``2 * x``, counting its runs in ``counter`` (cached in memory for the run)."""

    policy = rt.Policy(cache=True)

    def __init__(self, counter: str, x: int) -> None:
        super().__init__()
        self.counter, self.x = counter, x

    async def invoke(self) -> int:
        bump(self.counter)
        return 2 * self.x


class Kept(Node[dict[str, object]]):
    """Like :class:`Doubled`, but its outputs are kept in the journal file for an hour
    (the cache key leaves out the counter's path)."""

    policy = rt.Policy(
        cache=rt.CachePolicy(persist=True, ttl=3600, key=lambda counter, x: f"x={x}")
    )

    def __init__(self, counter: str, x: int) -> None:
        super().__init__()
        self.counter, self.x = counter, x

    async def invoke(self) -> dict[str, object]:
        bump(self.counter)
        return {"double": 2 * self.x, "pair": (self.x, self.x)}


class CallsWithPolicy(Node[int]):
    """Calls ``Flaky`` inside ``rt.policy(...)`` from wherever it runs (a worker carries the
    block's policy to the session)."""

    def __init__(self, counter: str) -> None:
        super().__init__()
        self.counter = counter

    async def invoke(self) -> int:
        with rt.policy(retry=rt.RetryPolicy(max_attempts=4, base_delay=0.25)):
            result: int = await rt.call(Flaky, self.counter, 3)
        return result


class DiesOnce(Node[int]):
    """Ends the process it runs in (its worker) on its first run (counted in ``counter``),
    then returns the process id it ran in; retried on the ``ExecutionError`` that ends."""

    policy = rt.Policy(
        retry=rt.RetryPolicy(max_attempts=2, base_delay=0, retry_on=rt.ExecutionError)
    )

    def __init__(self, counter: str) -> None:
        super().__init__()
        self.counter = counter

    async def invoke(self) -> int:
        if bump(self.counter) == 1:
            os._exit(3)
        return os.getpid()
