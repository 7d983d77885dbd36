"""A job fails half-way; once the cause is fixed, it is resumed from the journal and the
steps that had finished are not run again.

    python -m examples.resume_job [--journal FILE]

``SalesReport`` goes through some days in order: ``fetch`` a day's sales (in USD), then
``convert`` them to EUR with that day's exchange rate. The rate of the third day is missing,
so the first run fails there. The script then adds the rate and runs the job again with
``rt.Session(resume=run_id)``: every step that succeeded in the first run is answered from
the journal (marked ``replayed``), and only the rest runs. ``ran`` lists the step bodies
that ran, so you can see it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `examples` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import runtree as rt
from runtree.store import SqliteRunStore, default_store_path

DAYS = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
SALES_USD = {"2026-11-01": 120.0, "2026-11-02": 80.0, "2026-11-03": 200.0, "2026-11-04": 50.0}
#: EUR per USD; the third day's rate is missing until the script adds it (the fix)
RATES = {"2026-11-01": 0.95, "2026-11-02": 0.94, "2026-11-04": 0.92}
MISSING_DAY, MISSING_RATE = "2026-11-03", 0.93

ran: list[str] = []  # the step bodies that ran, in order


@rt.function_node
async def fetch(day: str) -> float:
    """A day's sales in USD (a slow download in real life)."""
    ran.append(f"fetch {day}")
    return SALES_USD[day]


@rt.function_node
async def convert(day: str, usd: float) -> float:
    """USD to EUR at that day's rate."""
    ran.append(f"convert {day}")
    if day not in RATES:
        raise LookupError(f"no exchange rate for {day}")
    return round(usd * RATES[day], 2)


class SalesReport(rt.Node[float]):
    """The sales of some days, in EUR."""

    def __init__(self, days: list[str]):
        super().__init__()
        self.days = days

    async def invoke(self) -> float:
        total = 0.0
        for day in self.days:
            usd = await rt.call(fetch, day)
            total += await rt.call(convert, day, usd)
        return round(total, 2)


@dataclasses.dataclass(frozen=True)
class ResumeReport:
    first_run: str
    error: str
    ran_first: list[str]
    second_run: str
    total: float
    ran_second: list[str]
    second_run_rows: list[str]  # its requests as the journal has them


def read_back(journal: str, run_id: str) -> tuple[str, list[str]]:
    """A run's status and its requests (``node argument: replayed|ran``), from the journal."""
    with SqliteRunStore(journal) as store:
        status = store.get_run(run_id).status
        requests = store.get_requests(run_id)
    rows = []
    for request in requests:
        days = [a for a in request.inputs["args"] if isinstance(a, str)]  # not the list of days
        step = " ".join([request.node_name, *days])
        rows.append(f"{step}: {'replayed' if request.replayed else 'ran'}")
    return status, rows


async def demo(journal: str) -> ResumeReport:
    RATES.pop(MISSING_DAY, None)
    del ran[:]
    first = rt.Session(name="sales-report", store=journal)
    try:
        async with first:
            await rt.call(SalesReport, DAYS)
    except LookupError as exc:
        error = f"{type(exc).__name__}: {exc}"
    else:
        raise AssertionError("the first run was meant to fail")
    ran_first = ran[:]
    status, _ = read_back(journal, first.run_id)
    print(f"first run {first.run_id[:8]}: {status} ({error})")
    print(f"  ran: {', '.join(ran_first)}")

    RATES[MISSING_DAY] = MISSING_RATE  # the fix
    del ran[:]
    print(f"\nthe missing rate is added; resuming run {first.run_id[:8]}")
    async with rt.Session(name="sales-report", store=journal, resume=first.run_id) as second:
        total = await rt.call(SalesReport, DAYS)
    status, rows = read_back(journal, second.run_id)
    print(f"second run {second.run_id[:8]}: {status}, total {total} EUR")
    print(f"  ran: {', '.join(ran)}")
    print(f"\nthe second run in the journal ({journal}):")
    for row in rows:
        print(f"  {row}")
    return ResumeReport(first.run_id, error, ran_first, second.run_id, total, ran[:], rows)


def main(argv: Sequence[str] | None = None) -> ResumeReport:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journal", help="the journal file (default: the project's)")
    args = parser.parse_args(argv)
    return asyncio.run(demo(args.journal or str(default_store_path())))


if __name__ == "__main__":
    main()
