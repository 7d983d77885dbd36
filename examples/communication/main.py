"""Communication patterns between nodes (seed 003), on runtree.

    python examples/communication/main.py [--pattern all|producer-consumer|pubsub|...] [--tree]
    python -m examples.communication.main

Runs each pattern inside one ``rt.Session`` (so every message's producer, consumer, handler
and graph step is a request of the run tree), prints what happened and returns a
:class:`CommunicationReport` from ``main(argv)``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `examples` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import runtree as rt
from examples.communication import flows, messaging

PATTERNS: dict[str, Callable[[], Awaitable[Any]]] = {
    "producer-consumer": messaging.producer_consumer,
    "pubsub": messaging.pubsub,
    "request-response": messaging.request_response,
    "pipeline": flows.pipeline,
    "fanout": flows.fanout,
    "reliable": messaging.reliable,
    "routing": flows.routing,
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CommunicationReport:
    """What every pattern did, plus the run tree it left."""

    patterns: dict[str, Any]
    requests: int
    failed_requests: int
    tree: str
    communication: dict[str, Any]
    seconds: float

    def lines(self) -> list[str]:
        lines: list[str] = []
        for name, report in self.patterns.items():
            lines.append(f"== {name}")
            lines.extend(f"   {line}" for line in report.lines())
        failed = (
            f", {self.failed_requests} failed on purpose (retried attempts, dead letters)"
            if self.failed_requests
            else ""
        )
        lines.append(
            f"== run tree: {self.requests} requests{failed}; "
            f"{len(self.communication)} communication objects in the session; {self.seconds:.2f}s"
        )
        return lines


async def run(patterns: Sequence[str]) -> CommunicationReport:
    """Run ``patterns`` in one session; each pattern is a root request of the run tree."""
    started = time.perf_counter()
    reports: dict[str, Any] = {}
    async with rt.Session(name="communication") as session:
        for name in patterns:
            reports[name] = await rt.call(PATTERNS[name])
    stats = session.info.statistics()
    return CommunicationReport(
        patterns=reports,
        requests=stats.requests,
        failed_requests=stats.failed,
        tree=session.info.tree_text(),
        communication=session.statistics().communication,
        seconds=time.perf_counter() - started,
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pattern", choices=["all", *PATTERNS], default="all")
    parser.add_argument("--tree", action="store_true", help="also print the run tree")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> CommunicationReport:
    args = parse_args(argv)
    patterns = list(PATTERNS) if args.pattern == "all" else [args.pattern]
    report = asyncio.run(run(patterns))
    print("\n".join(report.lines()))
    if args.tree:
        print(report.tree)
    return report


if __name__ == "__main__":
    logging.basicConfig(format="   [log] %(name)s: %(message)s", level=logging.WARNING)
    main()
