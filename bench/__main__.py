"""``python -m bench``: run every workload and print a table (also bench/results/latest.json)."""

from __future__ import annotations

import json
import pathlib
import platform
import sys
import tempfile
import time
from typing import Any

from bench import workloads

TARGETS = {
    "W1 overhead per sequential call": ("us", 10.0),
    "W1 journal on/off": ("x", 2.0),
    "W2 overhead per call (10k)": ("us", 15.0),
    "W2 overhead per call (100k)": ("us", 15.0),
    "W2 linearity vs bare (growth 10k->100k)": ("x", 1.25),
    "W3 1,000 parallel sleeps vs bare": ("x", 1.3),
    "300k calls: peak RSS growth": ("MiB", 100.0),
    "300k calls: requests not journaled": ("", 0.0),
    "1M calls: rows not on disk": ("", 0.0),
    "import runtree": ("ms", 150.0),
    "call_sync per call, journal on": ("us", 15.0),
    "viz: open a 100k-request run (API)": ("s", 2.0),
    "viz: open a 100k-request run (Chromium)": ("s", 2.0),
    "agent overhead per model turn": ("us", 100.0),
    "agent overhead per tool call": ("us", 100.0),
    "import runtree imports an SDK (0 = no)": ("", 0.0),
    "ray: 1,000 calls vs bare ray.remote tasks": ("x", 1.3),
}


def main() -> int:
    rows: list[tuple[str, float, str]] = []
    details: dict[str, Any] = {}
    # The journal is on by default (the default a user gets): the main rows measure it on,
    # in a file of its own, next to the same work with store=None, interleaved.
    folder = tempfile.TemporaryDirectory(prefix="runtree-bench-")
    journal = pathlib.Path(folder.name) / "runtree.db"
    variants: dict[str, dict[str, Any]] = {"on": {"store": journal}, "off": {"store": None}}

    w1 = workloads.w1(variants)
    details["w1"] = w1
    rows.append(("W1 overhead per sequential call", w1["on"]["overhead_us_per_call"], "us"))
    rows.append(("W1 overhead, journal off", w1["off"]["overhead_us_per_call"], "us"))
    rows.append(("W1 journal on/off", _ratio(w1), "x"))
    w2_small = workloads.w2(variants, 10_000)
    w2_large = workloads.w2(variants, 100_000, repeats=2)
    details["w2_10k"], details["w2_100k"] = w2_small, w2_large
    rows.append(("W2 overhead per call (10k)", w2_small["on"]["overhead_us_per_call"], "us"))
    rows.append(("W2 overhead per call (100k)", w2_large["on"]["overhead_us_per_call"], "us"))
    rows.append(("W2 overhead (10k), journal off", w2_small["off"]["overhead_us_per_call"], "us"))
    rows.append(("W2 overhead (100k), journal off", w2_large["off"]["overhead_us_per_call"], "us"))
    rows.append(("W2 journal on/off (10k)", _ratio(w2_small), "x"))
    # Per-call cost grows from 10k to 100k for bare asyncio too (a bigger heap, more GC work);
    # runtree is linear when it grows no faster than bare asyncio does in the same run.
    large, small = w2_large["on"], w2_small["on"]
    runtree_growth = large["runtree_us_per_call"] / small["runtree_us_per_call"]
    bare_growth = large["bare_us_per_call"] / small["bare_us_per_call"]
    rows.append(("W2 per-call growth 10k->100k, runtree", runtree_growth, "x"))
    rows.append(("W2 per-call growth 10k->100k, bare", bare_growth, "x"))
    rows.append(("W2 linearity vs bare (growth 10k->100k)", runtree_growth / bare_growth, "x"))
    folder.cleanup()
    w3 = workloads.w3()
    details["w3"] = w3
    rows.append(("W3 1,000 parallel sleeps vs bare", w3["ratio"], "x"))
    w4 = workloads.w4()
    details["w4"] = w4
    rows.append(("W4 peak RSS, call_batch 100k", w4["runtree_peak_mib"], "MiB"))
    rows.append(("W4 peak RSS, bare gather 100k", w4["bare_peak_mib"], "MiB"))
    imp = workloads.import_time()
    details["import"] = imp
    rows.append(("import runtree", imp["import_ms"], "ms"))
    rows.append(("import runtree + first use (rt.Session)", imp["first_use_ms"], "ms"))

    for extra in _extra_suites():
        extra_rows, extra_details = extra()
        rows.extend(extra_rows)
        details.update(extra_details)

    print(f"runtree bench  python {platform.python_version()}  {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"{'workload':44s} {'value':>12s}  {'target':>10s}  ok")
    failed = 0
    for name, value, unit in rows:
        target = TARGETS.get(name)
        if target is None:
            print(f"{name:44s} {value:10.2f} {unit:3s} {'':>10s}")
            continue
        ok = value <= target[1]
        failed += not ok
        print(f"{name:44s} {value:10.2f} {unit:3s} <= {target[1]:<7g}  {'yes' if ok else 'NO'}")
    w1_on = details["w1"]["on"]
    print(
        f"W1 detail (journal on): runtree {w1_on['runtree_us_per_call']:.2f} us/call, "
        f"bare {w1_on['bare_us_per_call']:.2f} us/call (CPU time of the process)"
    )
    out = pathlib.Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(details, indent=2))
    return 1 if failed and "--strict" in sys.argv else 0


def _ratio(measured: dict[str, dict[str, float]]) -> float:
    return measured["on"]["overhead_us_per_call"] / measured["off"]["overhead_us_per_call"]


def _extra_suites() -> list[Any]:
    """Suites added by later parts (journal, channels) register here."""
    suites = []
    for module_name in (
        "bench.journal",
        "bench.comm",
        "bench.viz",
        "bench.agents",
        "bench.process",
        "bench.sync",
        "bench.ray",
    ):
        try:
            module = __import__(module_name, fromlist=["run"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        suites.append(module.run)
    return suites


if __name__ == "__main__":
    sys.exit(main())
