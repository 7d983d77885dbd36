"""Journals for the viewer's tests and benchmark: real runs, and big synthetic ones written
through the real store (same schema, same writer)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import runtree as rt
import runtree.graph as rg
from runtree.store import SqliteRunStore
from runtree.store.record import RequestEnded, RequestStarted, RunEnded, RunStarted

__all__ = [
    "LiveRun",
    "add_attributes",
    "as_schema_v3",
    "build_demo",
    "build_large",
    "run_graph",
]

# -- a small real run: nesting, a failure with a traceback, broadcasts, a model-like call ----


class ParseError(ValueError):
    pass


async def fetch(url: str) -> dict[str, Any]:
    await rt.broadcast(f"fetched {url}")
    return {"url": url, "bytes": len(url) * 100}


async def parse(page: dict[str, Any]) -> list[str]:
    if "broken" in page["url"]:
        raise ParseError(f"cannot parse {page['url']}: unexpected end of document")
    return [page["url"].upper()]


async def chat(messages: list[dict[str, Any]], model: str) -> dict[str, Any]:
    """Looks like a model call (contract 2: messages in, a plain dict out)."""
    return {"role": "assistant", "content": f"{len(messages)} messages read by {model}"}


class Crawl(rt.Node[list[str]]):
    def __init__(self, urls: list[str]) -> None:
        super().__init__()
        self.urls = urls

    async def invoke(self) -> list[str]:
        found: list[str] = []
        for url in self.urls:
            page = await rt.call(fetch, url)
            try:
                found += await rt.call(parse, page)
            except ParseError:
                pass
        await rt.call(
            chat,
            [{"role": "system", "content": "Summarise."}, {"role": "user", "content": "go"}],
            model="tiny-1",
        )
        return found


def build_demo(path: Path, *, name: str = "crawl") -> str:
    """A finished run of :class:`Crawl` (one parse fails); returns its id."""

    async def main() -> str:
        async with rt.Session(store=path, name=name) as session:
            await rt.call(Crawl, ["a.example", "broken.example", "c.example"])
        return session.run_id

    return asyncio.run(main())


# -- a graph run -----------------------------------------------------------------------------


class Check(rg.Node):
    def post(self, shared: Any, prep_res: Any, exec_res: Any) -> str:
        shared["tries"] = shared.get("tries", 0) + 1
        return "ok" if shared["tries"] >= 2 else "again"


class Wait(rg.Node):
    pass


class Done(rg.Node):
    pass


class Skip(rg.Node):
    pass


def make_graph() -> rg.Graph:
    check, wait = Check(), Wait()
    check - "again" >> wait >> check
    check - "ok" >> Done()
    check - "skip" >> Skip()
    return rg.Graph(check, name="retry-loop")


def run_graph(path: Path) -> str:
    """A run holding one graph run (Check, Wait, Check, Done); returns the run id."""

    async def main() -> str:
        async with rt.Session(store=path, name="graph-demo") as session:
            await make_graph().run({})
        return session.run_id

    return asyncio.run(main())


def add_attributes(path: Path, values: dict[str, dict[str, Any]]) -> None:
    """Give requests attributes as schema v4 stores them (adding the column to an older
    file, as the v4 migration does): ``{request_id: {name: value}}``."""
    conn = sqlite3.connect(path)
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(requests)")}
        if "attributes" not in columns:
            conn.execute("ALTER TABLE requests ADD COLUMN attributes TEXT")
        for request_id, attributes in values.items():
            conn.execute(
                "UPDATE requests SET attributes = ? WHERE request_id = ?",
                (json.dumps(attributes), request_id),
            )
        conn.commit()
    finally:
        conn.close()


def as_schema_v3(path: Path) -> None:
    """Turn a journal into what runtree wrote before schema 4: no ``requests.attributes``
    column, no request indexes, none of the later tables, version 3."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("DROP TABLE root_targets")  # schema 5
        conn.execute("DROP TABLE cache_entries")  # schema 6
        conn.execute("DROP INDEX requests_by_seq")
        conn.execute("DROP INDEX requests_by_parent")
        conn.execute("ALTER TABLE requests DROP COLUMN attributes")
        conn.execute("UPDATE runtree_schema SET version = 3")
        conn.commit()
    finally:
        conn.close()


# -- a big synthetic run ---------------------------------------------------------------------


#: the attributes of the large run's model calls
USAGE = {"runtree.kind": "llm", "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 7}


def build_large(path: Path, *, requests: int = 100_000, fanout: int = 1000) -> str:
    """One finished run of ``requests`` requests: a root, ``requests // fanout`` batches under
    it, and items under each batch (every 97th failed; every 10th a model call with token
    usage in its attributes; modes mixed; overlapping in time)."""
    run_id = f"large{requests:09d}".ljust(32, "0")
    start = time.time() - 120
    batches = max(1, (requests - 1) // (fanout + 1))
    items = requests - 1 - batches
    modes = ("async", "thread", "process")
    with SqliteRunStore(path, flush_interval=0.5) as store:
        store.write(
            RunStarted(
                run_id, f"large-{requests}", "running", start, 0, "nowhere", None, None,
                "batch", None, None, "test",
            )
        )  # fmt: skip
        seq = 0

        def request(rid: str, parent: str | None, name: str, t0: float, t1: float, i: int) -> None:
            nonlocal seq
            seq += 1
            failed = i % 97 == 96
            inputs = json.dumps({"args": [i], "kwargs": {}})
            store.write(RequestStarted(run_id, rid, seq, parent, name, modes[i % 3], inputs, t0))
            error = (
                json.dumps({"type": "ValueError", "message": f"item {i}", "traceback": "..."})
                if failed
                else None
            )
            output = None if failed else json.dumps(i * 2)
            attributes = json.dumps(USAGE) if i % 10 == 5 else None
            store.write(
                RequestEnded(
                    "failed" if failed else "succeeded", output, None, 0, error, t1, 0,
                    attributes, run_id, rid,
                )
            )  # fmt: skip

        request("root", None, "Pipeline", start, start + 100, 0)
        for b in range(batches):
            b0 = start + b * (100 / batches)
            batch_id = f"b{b}"
            request(batch_id, "root", "Batch", b0, b0 + 2, 1 + b * 3)
            for k in range(items // batches + (b < items % batches)):
                t0 = b0 + k * 0.001
                request(f"b{b}-{k}", batch_id, "Item", t0, t0 + 0.5, k)
        store.write(RunEnded("succeeded", start + 100, None, run_id))
    return run_id


# -- a run that advances when the test says so -----------------------------------------------


async def step(i: int) -> int:
    return i * 10


class LiveRun:
    """A run in a background thread: ``step(0)``, then ``slow`` runs until :meth:`advance`,
    then ``step(1..3)``; the run ends at the second :meth:`advance`. Completed requests are
    on disk before the run goes on (``durability="sync"``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run_id = ""
        self.started = threading.Event()
        self._gates = [threading.Event(), threading.Event()]
        self._stage = 0
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        gate = self._gates[0]

        async def slow() -> str:
            await asyncio.to_thread(gate.wait)
            return "done waiting"

        async with rt.Session(store=self.path, name="live", durability="sync") as session:
            self.run_id = session.run_id
            await rt.call(step, 0)
            waiting = asyncio.ensure_future(rt.call(slow))
            self.started.set()
            await waiting
            for i in (1, 2, 3):
                await rt.call(step, i)
            await asyncio.to_thread(self._gates[1].wait)

    def start(self) -> LiveRun:
        self._thread.start()
        if not self.started.wait(30):
            raise RuntimeError("the live run did not start")
        return self

    def advance(self) -> None:
        self._gates[self._stage].set()
        self._stage += 1

    def join(self) -> None:
        for gate in self._gates:
            gate.set()
        self._thread.join(30)
