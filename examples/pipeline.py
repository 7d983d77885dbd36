"""The same small pipeline in thread mode and in process mode.

    python -m examples.pipeline [--mode thread|process] [--tree]

``Orders`` parses some order lines (``parse``), prices the orders in parallel (``price``)
and adds them up. Nothing in the nodes says where they run: the session's
``execution_mode`` does. In ``"thread"`` mode each call runs on an event loop of its own in
a worker thread of this process; in ``"process"`` mode in the worker processes of runtree's
pool (the nodes travel pickled; the calls they make still belong to this run, so the tree
is the same). The script runs the pipeline both ways and shows that the answers agree.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `examples` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import runtree as rt

ORDERS = ["3 x apple @ 0.50", "2 x pear @ 0.75", "10 x plum @ 0.20", "1 x melon @ 2.40"]
MODES = ("thread", "process")


def where() -> tuple[int, bool]:
    """The process this code runs in, and whether on its main thread."""
    return os.getpid(), threading.current_thread() is threading.main_thread()


def described(pid: int, main_thread: bool) -> str:
    if pid != os.getpid():
        return "a worker process"
    return "the main thread" if main_thread else "a worker thread of this process"


@rt.function_node
def parse(line: str) -> dict[str, Any]:
    """One order line, ``"3 x apple @ 0.50"``, as a dict."""
    count, _, item, _, unit_price = line.split()
    return {"item": item, "count": int(count), "unit_price": float(unit_price)}


@rt.function_node
def price(order: dict[str, Any]) -> dict[str, Any]:
    """The order with its total (in cents, so that the sums are exact) and where it ran."""
    cents = round(order["count"] * order["unit_price"] * 100)
    return {**order, "cents": cents, "where": where()}


class Orders(rt.Node[dict[str, Any]]):
    """Parse every line, price the orders in parallel, add them up."""

    def __init__(self, lines: list[str]):
        super().__init__()
        self.lines = lines

    async def invoke(self) -> dict[str, Any]:
        orders = await rt.call_batch(parse, self.lines)
        priced = await rt.call_batch(price, orders)
        cents = sum(order["cents"] for order in priced)
        return {
            "orders": len(priced),
            "total": f"{cents // 100}.{cents % 100:02d}",
            "priced in": sorted({tuple(order["where"]) for order in priced}),
        }


@dataclasses.dataclass(frozen=True)
class PipelineReport:
    mode: str
    result: dict[str, Any]
    tree: str


def run_pipeline(mode: str) -> PipelineReport:
    """Run ``Orders`` with every call in ``mode``."""
    with rt.Session(name=f"pipeline ({mode})", execution_mode=mode) as run:
        result = rt.call_sync(Orders, ORDERS)
    result["priced in"] = sorted({described(*place) for place in result["priced in"]})
    return PipelineReport(mode, result, run.info.tree_text())


def main(argv: Sequence[str] | None = None) -> list[PipelineReport]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, action="append", help="(default: both)")
    parser.add_argument("--tree", action="store_true", help="print each run's request tree")
    args = parser.parse_args(argv)
    reports = []
    for mode in args.mode or MODES:
        report = run_pipeline(mode)
        reports.append(report)
        result = report.result
        print(f"{mode} mode: {result['orders']} orders, {result['total']} EUR")
        print(f"  priced in: {', '.join(result['priced in'])}")
        if args.tree:
            print("  " + report.tree.replace("\n", "\n  "))
    if len({report.result["total"] for report in reports}) == 1:
        print("the same answer in every mode")
    return reports


if __name__ == "__main__":
    main()
