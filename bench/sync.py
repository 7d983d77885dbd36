"""``rt.call_sync`` from plain code (issue 7): 1,000 sequential calls of a trivial async node
inside ``with rt.Session()``, journal off (``store=None``) and on (``batch`` durability).

Per call: (time of the session with 1,000 calls - time of the same session with none) /
1,000, so opening and closing the session is not counted. Process CPU time (the journal's
writer thread included), best of N, the variants taking turns. Next to it, the same calls
made with ``await rt.call`` in ``async with rt.Session()``: the gap is what the synchronous
path costs. ``python -m bench.sync`` runs it alone.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import runtree as rt
from bench.workloads import Trivial

CALLS = 1000
TARGET_US = 15.0


def _sync(store: Any, calls: int) -> Callable[[], None]:
    def run() -> None:
        with rt.Session(store=store):
            for i in range(calls):
                rt.call_sync(Trivial, i)

    return run


def _async(store: Any, calls: int) -> Callable[[], None]:
    async def body() -> None:
        async with rt.Session(store=store):
            for i in range(calls):
                await rt.call(Trivial, i)

    return lambda: asyncio.run(body())


def _best(repeats: int, runs: dict[str, Callable[[], None]]) -> dict[str, float]:
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            gc.collect()
            start = time.process_time()
            run()
            best[name] = min(best[name], time.process_time() - start)
    return best


def measure(repeats: int = 15) -> dict[str, float]:
    """Microseconds per call: ``sync_off``, ``sync_on``, ``async_off``, ``async_on``."""
    with tempfile.TemporaryDirectory(prefix="runtree-bench-") as folder:
        db = Path(folder) / "runtree.db"
        runs: dict[str, Callable[[], None]] = {}
        for label, store in (("off", None), ("on", db)):
            runs[f"sync_{label}"] = _sync(store, CALLS)
            runs[f"sync_{label}_empty"] = _sync(store, 0)
            runs[f"async_{label}"] = _async(store, CALLS)
            runs[f"async_{label}_empty"] = _async(store, 0)
        t = _best(repeats, runs)
    return {
        name: (t[name] - t[f"{name}_empty"]) / CALLS * 1e6
        for name in ("sync_off", "sync_on", "async_off", "async_on")
    }


def run() -> tuple[list[tuple[str, float, str]], dict[str, Any]]:
    figures = measure()
    rows = [
        ("call_sync per call, journal on", figures["sync_on"], "us"),
        ("call_sync per call, journal off", figures["sync_off"], "us"),
        ("await call per call, journal on (same run)", figures["async_on"], "us"),
        ("await call per call, journal off (same run)", figures["async_off"], "us"),
    ]
    return rows, {"sync": figures}


if __name__ == "__main__":
    table, _ = run()
    for name, value, unit in table:
        print(f"{name:44s} {value:10.2f} {unit}")
