"""The journal at scale (issue 7), with the journal on (``batch``, the default a user gets):

* 300k sequential calls in one session: every request is in the journal, and the peak RSS
  grows by at most 100 MiB (memory follows what runs, not what finished);
* 1M sequential calls in one session: every row is on disk and the run ``succeeded``.

Each runs in a fresh process (peak RSS from ``/proc``), after a warm-up session; the calls
are made from the session's body, so each is a root request (the widest tree).
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile
from typing import Any

_CODE = """
import asyncio, json, sqlite3, sys, time
sys.path.insert(0, {root!r})
import runtree as rt


async def trivial(i):
    return i


def kib(field):
    return int(open("/proc/self/status").read().split(field + ":")[1].split()[0])


async def main():
    db = {db!r}
    async with rt.Session(store=db):  # warm-up: imports, first file open
        await rt.call(trivial, -1)
    base = kib("VmRSS")
    cpu, wall = time.process_time(), time.perf_counter()
    async with rt.Session(store=db, name="scale") as session:
        for i in range({calls}):
            await rt.call(trivial, i)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peak = kib("VmHWM")
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT count(*) FROM requests WHERE run_id = ? AND status = 'succeeded'",
        (session.run_id,),
    ).fetchone()[0]
    status = conn.execute(
        "SELECT status FROM runs WHERE run_id = ?", (session.run_id,)
    ).fetchone()[0]
    conn.close()
    waits = session.journal.statistics().store.waits
    print(json.dumps(dict(calls={calls}, rows=rows, status=status, base_mib=base / 1024,
                          growth_mib=(peak - base) / 1024, cpu_us=cpu / {calls} * 1e6,
                          wall_us=wall / {calls} * 1e6, waits=waits)))


asyncio.run(main())
"""


def scale(calls: int) -> dict[str, Any]:
    root = str(pathlib.Path(__file__).resolve().parent.parent)
    with tempfile.TemporaryDirectory(prefix="runtree-bench-") as folder:
        db = str(pathlib.Path(folder) / "runtree.db")
        done = subprocess.run(
            [sys.executable, "-c", _CODE.format(root=root, db=db, calls=calls)],
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run() -> tuple[list[tuple[str, float, str]], dict[str, Any]]:
    medium = scale(300_000)
    large = scale(1_000_000)
    rows = [
        ("300k calls: peak RSS growth", medium["growth_mib"], "MiB"),
        ("300k calls: requests not journaled", medium["calls"] - medium["rows"], ""),
        ("1M calls: rows not on disk", large["calls"] - large["rows"], ""),
        ("1M calls: run succeeded", float(large["status"] == "succeeded"), ""),
        ("1M calls: peak RSS growth", large["growth_mib"], "MiB"),
        ("1M calls: CPU per call", large["cpu_us"], "us"),
        ("1M calls: wall per call", large["wall_us"], "us"),
    ]
    return rows, {"journal_scale": {"300k": medium, "1M": large}}


if __name__ == "__main__":
    table, info = run()
    for name, value, unit in table:
        print(f"{name:44s} {value:10.2f} {unit}")
    print(json.dumps(info, indent=2))
