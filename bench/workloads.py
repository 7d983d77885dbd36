"""The core workloads (issue 2): W1 sequential calls, W2 call_batch, W3 parallel sleeps,
W4 peak memory, and the import time of ``runtree``. Each runtree figure is measured next to
the same work done with bare asyncio in the same process."""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import runtree as rt
from runtree.nodes import Node


class Trivial(Node[int]):
    def __init__(self, x: int) -> None:
        super().__init__()
        self.x = x

    async def invoke(self) -> int:
        return self.x


class Sequential(Node[int]):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    async def invoke(self) -> int:
        total = 0
        for i in range(self.n):
            total += await rt.call(Trivial, i)
        return total


class Sleeper(Node[int]):
    def __init__(self, x: int) -> None:
        super().__init__()
        self.x = x

    async def invoke(self) -> int:
        await asyncio.sleep(0.01)
        return self.x


async def bare_trivial(x: int) -> int:
    return x


async def bare_sequential(n: int) -> int:
    total = 0
    for i in range(n):
        total += await bare_trivial(i)
    return total


async def bare_sleeper(x: int) -> int:
    await asyncio.sleep(0.01)
    return x


def fastest(
    repeats: int,
    runs: dict[str, Callable[[], Awaitable[Any]]],
    clock: Callable[[], float] = time.process_time,
) -> dict[str, float]:
    """Best time (seconds) of each of ``runs``, each run in a fresh event loop.

    The runs are interleaved (one of each per round), so a change of load or clock speed on
    the machine hits runtree and its bare-asyncio twin alike. CPU-bound workloads use the
    process's CPU time, which other processes disturb far less than wall time; waiting
    workloads pass ``time.perf_counter``.
    """
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for label, run in runs.items():
            gc.collect()
            start = clock()
            asyncio.run(run())  # type: ignore[arg-type]
            best[label] = min(best[label], clock() - start)
    return best


def _session(**options: Any) -> rt.Session:
    return rt.Session(**options)


def w1(
    variants: dict[str, dict[str, Any]], calls: int = 1000, repeats: int = 25
) -> dict[str, dict[str, float]]:
    """Sequential calls inside a node, for each set of session options in ``variants``
    (all measured in one interleaved run, next to bare asyncio)."""

    def session(options: dict[str, Any], n: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            async with _session(**options):
                await rt.call(Sequential, n)

        return run

    async def bare() -> None:
        await bare_sequential(calls)

    runs: dict[str, Callable[[], Awaitable[Any]]] = {"bare": bare}
    for name, options in variants.items():
        runs[name] = session(options, calls)
        runs[f"{name}:empty"] = session(options, 0)
    best = fastest(repeats, runs)
    out = {}
    for name in variants:
        runtree_time = best[name] - best[f"{name}:empty"]
        out[name] = {
            "runtree_us_per_call": runtree_time / calls * 1e6,
            "bare_us_per_call": best["bare"] / calls * 1e6,
            "overhead_us_per_call": (runtree_time - best["bare"]) / calls * 1e6,
        }
    return out


def w2(
    variants: dict[str, dict[str, Any]], size: int, repeats: int = 5
) -> dict[str, dict[str, float]]:
    """``call_batch`` of ``size`` trivial calls, for each set of session options."""

    def session(options: dict[str, Any]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            async with _session(**options):
                await rt.call_batch(Trivial, range(size))

        return run

    async def bare() -> None:
        await asyncio.gather(*(bare_trivial(i) for i in range(size)))

    runs: dict[str, Callable[[], Awaitable[Any]]] = {"bare": bare}
    runs.update({name: session(options) for name, options in variants.items()})
    best = fastest(repeats, runs)
    return {
        name: {
            "runtree_us_per_call": best[name] / size * 1e6,
            "bare_us_per_call": best["bare"] / size * 1e6,
            "overhead_us_per_call": (best[name] - best["bare"]) / size * 1e6,
        }
        for name in variants
    }


def w3(calls: int = 1000, repeats: int = 9) -> dict[str, float]:
    async def with_runtree() -> None:
        async with rt.Session(store=None):
            await rt.call_batch(Sleeper, range(calls))

    async def bare() -> None:
        await asyncio.gather(*(bare_sleeper(i) for i in range(calls)))

    best = fastest(repeats, {"runtree": with_runtree, "bare": bare}, time.perf_counter)
    runtree_time, bare_time = best["runtree"], best["bare"]
    return {
        "runtree_ms": runtree_time * 1e3,
        "bare_ms": bare_time * 1e3,
        "ratio": runtree_time / bare_time,
    }


def _child(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


# Peak RSS from /proc (VmHWM): ru_maxrss would report the parent's peak, inherited at fork.
_RSS_CODE = """
import asyncio, sys
sys.path.insert(0, {root!r})
{setup}
status = open("/proc/self/status").read().split("VmHWM:")[1]
print(int(status.split()[0]))
"""


def w4(size: int = 100_000) -> dict[str, float]:
    import pathlib

    root = str(pathlib.Path(__file__).resolve().parent.parent)
    base = _child(_RSS_CODE.format(root=root, setup="import runtree"))
    bare = _child(
        _RSS_CODE.format(
            root=root,
            setup=(
                "from bench.workloads import bare_trivial\n"
                "async def main():\n"
                f"    await asyncio.gather(*(bare_trivial(i) for i in range({size})))\n"
                "asyncio.run(main())"
            ),
        )
    )
    ours = _child(
        _RSS_CODE.format(
            root=root,
            setup=(
                "import runtree as rt\nfrom bench.workloads import Trivial\n"
                "async def main():\n"
                "    async with rt.Session(store=None):\n"
                f"        await rt.call_batch(Trivial, range({size}))\n"
                "asyncio.run(main())"
            ),
        )
    )
    return {
        "baseline_mib": int(base) / 1024,
        "bare_peak_mib": int(bare) / 1024,
        "runtree_peak_mib": int(ours) / 1024,
        "runtree_bytes_per_call": (int(ours) - int(bare)) * 1024 / size,
    }


def import_time(repeats: int = 7) -> dict[str, float]:
    """Milliseconds that ``import runtree`` (and its first use, ``runtree.Session``) adds to
    an empty interpreter. Byte-code caching is allowed (a warm-up run writes the cache), as
    it is for an installed package, even where ``PYTHONDONTWRITEBYTECODE`` is set."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run(code: str) -> float:
        subprocess.run([sys.executable, "-c", code], check=True, env=env)  # warm the cache
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=env)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    empty = run("pass")
    with_import = run("import runtree")
    first_use = run("import runtree; runtree.Session")
    return {
        "import_ms": (with_import - empty) * 1e3,
        "first_use_ms": (first_use - empty) * 1e3,
    }
