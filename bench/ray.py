"""Ray strategy (issue 10): 1,000 trivial calls through ``execution_mode="ray"`` next to
1,000 bare ``ray.remote`` tasks in the same run, both submitted together.

A local cluster on 127.0.0.1 (two CPUs, usage statistics off, HTTP proxies pointed at a
dead loopback port so that nothing it starts reaches the network), warmed first. Wall
time; rounds alternate (runtree, bare) and the best of each is compared. The runtree calls
run in a session without a journal (the strategy's own cost; the journal's is W1/W2's), and
once more with it, reported beside. Skipped, with a note, when Ray is not installed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pathlib
import secrets
import tempfile
import time
from typing import Any

import runtree as rt
from bench.workloads import Trivial

CALLS = 1_000
ROUNDS = 5
#: what the cluster's processes inherit: no usage statistics, no way out but loopback
_OFFLINE = {
    **{name: "http://127.0.0.1:9" for name in ("http_proxy", "https_proxy")},
    **{name.upper(): "http://127.0.0.1:9" for name in ("http_proxy", "https_proxy")},
    **dict.fromkeys(("no_proxy", "NO_PROXY"), "localhost,127.0.0.1,::1"),
    "RAY_USAGE_STATS_ENABLED": "0",
    "RT_RAY_NUM_CPUS": "2",
    "RAY_AUTH_TOKEN": secrets.token_hex(32),  # its own: nothing read from ~/.ray
}


def trivial(x: int) -> int:
    return x


async def _runtree(store: Any) -> float:
    async with rt.Session(store=store, execution_mode="ray"):
        start = time.perf_counter()
        await asyncio.gather(*(rt.call(Trivial, i) for i in range(CALLS)))
        return time.perf_counter() - start


def _bare(remote: Any) -> float:
    import ray

    start = time.perf_counter()
    ray.get([remote.remote(i) for i in range(CALLS)])
    return time.perf_counter() - start


def _measure(folder: pathlib.Path) -> dict[str, float]:
    import ray

    remote = ray.remote(trivial)
    best = {"runtree": float("inf"), "bare": float("inf"), "journal": float("inf")}
    for round_ in range(ROUNDS + 1):  # the first round warms the workers up
        times = {
            "runtree": asyncio.run(_runtree(None)),
            "bare": _bare(remote),
            "journal": asyncio.run(_runtree(folder / f"run-{round_}.db")),
        }
        if round_:
            best = {name: min(best[name], times[name]) for name in best}
    return best


def run() -> tuple[list[tuple[str, float, str]], dict[str, Any]]:
    if importlib.util.find_spec("ray") is None:
        print("ray: skipped (the `ray` extra is not installed: pip install 'runtree[ray]')")
        return [], {"ray": {"skipped": "ray is not installed"}}
    from runtree.integrations.ray import shared_strategy

    saved = {name: os.environ.get(name) for name in _OFFLINE}
    os.environ.update(_OFFLINE)
    strategy = shared_strategy()  # the one behind execution_mode="ray"
    try:
        strategy.start()  # a local cluster on 127.0.0.1
        with tempfile.TemporaryDirectory(prefix="runtree-bench-ray-") as folder:
            best = _measure(pathlib.Path(folder))
    finally:
        strategy.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    runtree_ms = best["runtree"] / CALLS * 1e3
    bare_ms = best["bare"] / CALLS * 1e3
    details = {
        "ray_call_ms": runtree_ms,
        "bare_ray_task_ms": bare_ms,
        "ratio": runtree_ms / bare_ms,
        "ray_call_with_journal_ms": best["journal"] / CALLS * 1e3,
    }
    rows = [
        ("ray: 1,000 calls vs bare ray.remote tasks", runtree_ms / bare_ms, "x"),
        ("ray: call, with the journal", details["ray_call_with_journal_ms"], "ms"),
    ]
    return rows, {"ray": details}


if __name__ == "__main__":
    table, info = run()
    for name, value, unit in table:
        print(f"{name:44s} {value:10.2f} {unit}")
    for key, value in info["ray"].items():
        print(f"  {key}: {value}")
