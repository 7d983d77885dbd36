"""Process strategy (issue 7): what a trivial call costs in process mode, next to a bare
``ProcessPoolExecutor`` submit in the same run, and what a call made *inside* a worker
costs (it is reported to the session as it begins and ends).

Wall time (the work crosses processes, so the CPU time of this process alone would hide
the worker's share). Pools are warmed first. Single calls alternate (one runtree call, one
bare submit) and the medians are compared, which a busy machine disturbs far less than
totals; a worker's nested calls are timed as a difference of totals (best of rounds).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import statistics
import time
from typing import Any

import runtree as rt
from bench.workloads import Trivial

CALLS = 300
NESTED = 300
ROUNDS = 5


def trivial(x: int) -> int:
    return x


class Nested(rt.Node[int]):
    """Makes ``n`` sequential calls in ``mode`` from inside its worker."""

    execution_mode = "process"

    def __init__(self, n: int, mode: str = "async") -> None:
        super().__init__()
        self.n = n
        self.mode = mode

    async def invoke(self) -> int:
        total = 0
        with rt.execution_mode(self.mode):
            for i in range(self.n):
                total += await rt.call(Trivial, i)
        return total


async def _runtree_call(i: int) -> None:
    with rt.execution_mode("process"):
        await rt.call(Trivial, i)


async def _bare_call(pool: concurrent.futures.ProcessPoolExecutor, i: int) -> None:
    await asyncio.get_running_loop().run_in_executor(pool, trivial, i)


async def _timed(coroutine: Any, *, collect: bool = True) -> float:
    if collect:
        gc.collect()
    start = time.perf_counter()
    await coroutine
    return time.perf_counter() - start


async def _measure(pool: concurrent.futures.ProcessPoolExecutor) -> dict[str, float]:
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, float("inf")), seconds)

    async with rt.Session(store=None):
        for i in range(4):  # start the workers
            await _runtree_call(i)
            await _bare_call(pool, i)
        await rt.call(Nested, 2)
        await rt.call(Nested, 2, "process")
        runtree, bare = [], []
        for i in range(CALLS * ROUNDS):
            runtree.append(await _timed(_runtree_call(i), collect=False))
            bare.append(await _timed(_bare_call(pool, i), collect=False))
        best["runtree"] = statistics.median(runtree) * CALLS
        best["bare"] = statistics.median(bare) * CALLS
        for _ in range(ROUNDS):
            keep("nested_0", await _timed(rt.call(Nested, 0)))
            keep("nested_async", await _timed(rt.call(Nested, NESTED)))
            keep("nested_process", await _timed(rt.call(Nested, NESTED // 3, "process")))
    return best


def run() -> tuple[list[tuple[str, float, str]], dict[str, Any]]:
    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as pool:
        best = asyncio.run(_measure(pool))
    runtree_us = best["runtree"] / CALLS * 1e6
    bare_us = best["bare"] / CALLS * 1e6
    nested_us = (best["nested_async"] - best["nested_0"]) / NESTED * 1e6
    forwarded_us = (best["nested_process"] - best["nested_0"]) / (NESTED // 3) * 1e6
    details = {
        "process_call_us": runtree_us,
        "bare_process_pool_submit_us": bare_us,
        "ratio": runtree_us / bare_us,
        "nested_async_call_in_worker_us": nested_us,
        "nested_process_call_from_worker_us": forwarded_us,
    }
    rows = [
        ("process call vs bare ProcessPoolExecutor", runtree_us / bare_us, "x"),
        ("nested call made in a process worker", nested_us, "us"),
    ]
    return rows, {"process": details}


if __name__ == "__main__":
    table, info = run()
    for name, value, unit in table:
        print(f"{name:44s} {value:10.2f} {unit}")
    for key, value in info["process"].items():
        print(f"  {key}: {value:.2f}")
