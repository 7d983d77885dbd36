"""Journal overhead (issue 3): W1 and W2 with the SQLite journal on, in ``batch`` durability,
next to the same workloads with the journal off (``store=None``).

Two clocks, both reported: *CPU time* of the whole process (the journal's writer thread
included: its JSON and SQLite work is fully counted, as is the last flush at session exit)
and *wall time* (what the caller waits for; the writer runs beside the event loop). The
on and off runs alternate so that both see the same machine. Target: the overhead per call
with the journal is at most 2x the overhead without it.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import runtree as rt
from bench.workloads import Sequential, Trivial, bare_sequential, bare_trivial

TARGET_RATIO = 2.0
Clock = Callable[[], float]


def _best(
    repeats: int, runs: dict[str, Callable[[], Awaitable[None]]], clock: Clock
) -> dict[str, float]:
    """Best time of each run, the runs taking turns (fresh event loop each time)."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            gc.collect()
            start = clock()
            asyncio.run(run())  # type: ignore[arg-type]
            best[name] = min(best[name], clock() - start)
    return best


def _w1(db: Path, clock: Clock, calls: int = 1000, repeats: int = 15) -> dict[str, float]:
    def session(store: Any, n: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            async with rt.Session(store=store):
                await rt.call(Sequential, n)

        return run

    async def bare() -> None:
        await bare_sequential(calls)

    t = _best(
        repeats,
        {
            "off": session(None, calls),
            "off_empty": session(None, 0),
            "on": session(db, calls),
            "on_empty": session(db, 0),
            "bare": bare,
        },
        clock,
    )
    off = (t["off"] - t["off_empty"] - t["bare"]) / calls * 1e6
    on = (t["on"] - t["on_empty"] - t["bare"]) / calls * 1e6
    return {"off_overhead_us": off, "on_overhead_us": on, "ratio": on / off}


def _w2(db: Path, clock: Clock, size: int = 10_000, repeats: int = 5) -> dict[str, float]:
    def session(store: Any) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            async with rt.Session(store=store):
                await rt.call_batch(Trivial, range(size))

        return run

    async def bare() -> None:
        await asyncio.gather(*(bare_trivial(i) for i in range(size)))

    t = _best(repeats, {"off": session(None), "on": session(db), "bare": bare}, clock)
    off = (t["off"] - t["bare"]) / size * 1e6
    on = (t["on"] - t["bare"]) / size * 1e6
    return {"off_overhead_us": off, "on_overhead_us": on, "ratio": on / off}


def run() -> tuple[list[tuple[str, float, str]], dict[str, Any]]:
    details: dict[str, Any] = {"target_ratio": TARGET_RATIO}
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="runtree-bench-") as folder:
        db = Path(folder) / "runtree.db"
        for clock_name, clock in (("cpu", time.process_time), ("wall", time.perf_counter)):
            w1 = _w1(db, clock)
            w2 = _w2(db, clock)
            details[f"w1_{clock_name}"] = w1
            details[f"w2_{clock_name}"] = w2
            rows += [
                (f"W1 overhead, journal on ({clock_name})", w1["on_overhead_us"], "us"),
                (f"W1 journal on/off ratio ({clock_name})", w1["ratio"], "x"),
                (f"W2 overhead (10k), journal on ({clock_name})", w2["on_overhead_us"], "us"),
                (f"W2 journal on/off ratio ({clock_name})", w2["ratio"], "x"),
            ]
    return rows, {"journal": details}


if __name__ == "__main__":
    table, info = run()
    for name, value, unit in table:
        flag = ("ok" if value <= TARGET_RATIO else "over target") if unit == "x" else ""
        print(f"{name:44s} {value:10.2f} {unit:3s} {flag}")
    for key, value in info["journal"].items():
        if isinstance(value, dict):
            off, on = value["off_overhead_us"], value["on_overhead_us"]
            print(f"  {key}: off {off:.2f} us, on {on:.2f} us")
