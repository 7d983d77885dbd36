"""The graph patterns of the seed, on ``runtree.graph``: pipeline, fan-out/fan-in, routing.

Every step of a graph is a request of the run tree (``exec`` attempts are its children).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from typing import Any

import runtree.comm as comm
import runtree.graph as rg

# -- 5. pipeline: stage1 >> stage2 >> stage3 >> output ---------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PipelineReport:
    path: tuple[str, ...]
    output: tuple[dict[str, Any], ...]
    rejected: tuple[str, ...]
    retries: int

    def lines(self) -> list[str]:
        return [
            f"path: {' >> '.join(self.path)}",
            *(f"  output {row}" for row in self.output),
            f"  rejected by validation: {list(self.rejected)}; enrichment retries: {self.retries}",
        ]


class Parse(rg.Node):
    """Stage 1: raw ``name,amount`` lines to records."""

    def prep(self, shared: Any) -> list[str]:
        return shared["raw"]

    def exec(self, lines: list[str]) -> list[dict[str, Any]]:
        records = []
        for line in lines:
            name, _, amount = line.partition(",")
            records.append({"name": name.strip(), "amount": amount.strip()})
        return records

    def post(self, shared: Any, prep_res: Any, exec_res: list[dict[str, Any]]) -> None:
        shared["records"] = exec_res


class Validate(rg.Node):
    """Stage 2: keep records whose amount is a number (a ``comm.Filter``)."""

    def prep(self, shared: Any) -> list[dict[str, Any]]:
        return shared["records"]

    def exec(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        valid = comm.Filter(lambda r: r["amount"].isdigit(), name="numeric-amount")
        return list(valid.run(records))

    def post(self, shared: Any, prep_res: Any, exec_res: list[dict[str, Any]]) -> None:
        shared["valid"] = exec_res
        shared["rejected"] = [r["name"] for r in prep_res if r not in exec_res]


class Enrich(rg.ParallelBatchNode[dict[str, Any], dict[str, Any]]):
    """Stage 3: enrich each record concurrently; the lookup for 'bob' fails once."""

    max_concurrency = 2
    max_retries = 2

    def prep(self, shared: Any) -> list[dict[str, Any]]:
        return shared["valid"]

    async def exec(self, record: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        if record["name"] == "bob" and self.attempt == 1:
            raise ConnectionError("lookup service busy")
        return {
            **record,
            "amount": int(record["amount"]),
            "tier": "gold" if len(record["name"]) > 3 else "std",
        }

    def post(self, shared: Any, prep_res: Any, exec_res: list[dict[str, Any]]) -> None:
        shared["enriched"] = exec_res


class Output(rg.Node):
    """Stage 4: the result."""

    def prep(self, shared: Any) -> list[dict[str, Any]]:
        return shared["enriched"]

    def post(self, shared: Any, prep_res: list[dict[str, Any]], exec_res: Any) -> str:
        shared["output"] = prep_res
        return "done"


async def pipeline() -> PipelineReport:
    enrich = Enrich()
    stage1 = Parse(name="stage1-parse")
    stage1 >> Validate(name="stage2-validate") >> enrich >> Output(name="output")
    shared: dict[str, Any] = {"raw": ["alice, 30", "bob, 12", "carol, n/a", "dave, 7"]}
    result = await rg.Graph(stage1, name="pipeline-graph").run(shared)
    return PipelineReport(
        path=result.path,
        output=tuple(shared["output"]),
        rejected=tuple(shared["rejected"]),
        retries=enrich.statistics().retries,
    )


# -- 6. fan-out / fan-in: splitter >> [worker1, worker2, worker3] >> merger -------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FanOutReport:
    branches: tuple[str, ...]
    results: tuple[Any, ...]
    finished: tuple[str, ...]
    merged: int
    path: tuple[str, ...]
    conflict: tuple[str, tuple[str, ...]] | None

    def lines(self) -> list[str]:
        lines = [
            f"path: {' >> '.join(self.path)}",
            f"  branches ran: {list(self.branches)} (finished in order {list(self.finished)})",
            f"  joined in declared order: {list(self.results)} -> merged total {self.merged}",
        ]
        if self.conflict is not None:
            key, branches = self.conflict
            lines.append(f"  conflicting writes detected: key {key!r} by {list(branches)}")
        return lines


class Splitter(rg.Node):
    def prep(self, shared: Any) -> list[int]:
        return shared["numbers"]

    def exec(self, numbers: list[int]) -> list[list[int]]:
        return [numbers[i::3] for i in range(3)]

    def post(self, shared: Any, prep_res: Any, exec_res: list[list[int]]) -> None:
        shared["chunks"] = exec_res


class Worker(rg.Node):
    """Sums its chunk; worker 3 finishes first, worker 1 last (``sleep(0)`` turns)."""

    def __init__(self, index: int, *, status_key: str | None = None) -> None:
        super().__init__(name=f"worker{index + 1}")
        self.index = index
        self.status_key = status_key

    def prep(self, shared: Any) -> tuple[list[int], list[str]]:
        return shared["chunks"][self.index], shared["finished"]

    async def exec(self, prep_res: tuple[list[int], list[str]]) -> int:
        chunk, finished = prep_res
        for _ in range(3 - self.index):
            await asyncio.sleep(0)
        finished.append(self.name)
        return sum(chunk)

    def post(self, shared: Any, prep_res: Any, exec_res: int) -> None:
        if self.status_key is not None:
            shared[self.status_key] = f"{self.name} done"


class Merger(rg.Node):
    def prep(self, shared: Any) -> list[int]:
        return shared["parallel_results"]

    def exec(self, results: list[int]) -> int:
        return sum(results)

    def post(self, shared: Any, prep_res: Any, exec_res: int) -> None:
        shared["merged"] = exec_res


async def fanout() -> FanOutReport:
    splitter = Splitter()
    workers = [Worker(i) for i in range(3)]
    splitter >> workers >> Merger()
    finished: list[str] = []
    shared: dict[str, Any] = {"numbers": list(range(1, 10)), "finished": finished}
    result = await rg.Graph(splitter, name="fanout-graph").run(shared)

    # the same fan-out where two workers write the same key: detected at the join
    careless = Splitter()
    careless >> [Worker(0, status_key="status"), Worker(1, status_key="status"), Worker(2)]
    conflict = None
    try:
        await rg.Graph(careless, name="careless-fanout").run({"numbers": [1, 2, 3], "finished": []})
    except rg.SharedStateConflictError as exc:
        conflict = (exc.conflicts[0].key, exc.conflicts[0].branches)
    return FanOutReport(
        branches=tuple(w.name for w in workers),
        results=tuple(shared["parallel_results"]),
        finished=tuple(finished),
        merged=shared["merged"],
        path=result.path,
        conflict=conflict,
    )


# -- 7. filtering, transformation and routing -----------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RoutingReport:
    routes: dict[str, str]
    queues: dict[str, tuple[str, ...]]
    filtered_out: tuple[str, ...]
    all_transformed: bool
    router: comm.RouterStatistics
    steps: int

    def lines(self) -> list[str]:
        return [
            *(f"message {mid!r} -> {route}" for mid, route in self.routes.items()),
            f"  filtered out: {list(self.filtered_out)}; all routed messages transformed: "
            f"{self.all_transformed}",
            f"  router counts: {self.router.routes} ({self.steps} graph steps)",
        ]


PROCESSED_AT = dt.datetime(2024, 1, 15, 10, 30, tzinfo=dt.timezone.utc).isoformat()


def mark_transformed(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "transformed": True, "processed_at": PROCESSED_AT}


class Inbox(rg.Node):
    """Filter out invalid messages and transform the rest (``comm.Filter | comm.Transform``)."""

    shared_attributes = frozenset({"operations"})

    def __init__(self, operations: comm.Operation[Any, Any]) -> None:
        super().__init__(name="inbox")
        self.operations = operations

    def prep(self, shared: Any) -> list[dict[str, Any]]:
        return shared["incoming"]

    def exec(self, incoming: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(self.operations.run(incoming))

    def post(self, shared: Any, prep_res: Any, exec_res: list[dict[str, Any]]) -> None:
        shared["inbox"] = exec_res
        kept = {m["id"] for m in exec_res}
        shared["filtered_out"] = [m["id"] for m in prep_res if m["id"] not in kept]


class NextMessage(rg.Node):
    """Take the next message from the inbox, or finish."""

    def post(self, shared: Any, prep_res: Any, exec_res: Any) -> str:
        if not shared["inbox"]:
            return "done"
        shared["current"], *rest = shared["inbox"]
        shared["inbox"] = rest
        return "route"


class RouteMessage(rg.Node):
    """The seed's RouterNode: the action is the route a ``comm.Router`` picks."""

    shared_attributes = frozenset({"router"})

    def __init__(self, router: comm.Router[dict[str, Any]]) -> None:
        super().__init__(name="router")
        self.router = router

    def prep(self, shared: Any) -> dict[str, Any]:
        return shared["current"]

    def exec(self, message: dict[str, Any]) -> str:
        return self.router.route(message)

    def post(self, shared: Any, prep_res: dict[str, Any], exec_res: str) -> str:
        shared["routes"] = {**shared["routes"], prep_res["id"]: exec_res}
        return exec_res


class Enqueue(rg.Node):
    """One destination queue."""

    def prep(self, shared: Any) -> dict[str, Any]:
        return shared["current"]

    def post(self, shared: Any, prep_res: dict[str, Any], exec_res: Any) -> None:
        queues = shared["queues"]
        shared["queues"] = {**queues, self.name: (*queues.get(self.name, ()), prep_res)}


class Summary(rg.Node):
    def post(self, shared: Any, prep_res: Any, exec_res: Any) -> str:
        return "finished"


async def routing() -> RoutingReport:
    router: comm.Router[dict[str, Any]] = comm.Router(
        [
            ("priority_queue", lambda m: m.get("type") == "urgent"),
            ("batch_processor", lambda m: m.get("type") == "bulk"),
        ],
        default="normal_queue",
        name="message-router",
    )
    operations = comm.Filter(lambda m: m.get("valid", True), name="valid") | comm.Transform(
        mark_transformed, name="transform"
    )
    inbox, fetch, route = Inbox(operations), NextMessage(name="next-message"), RouteMessage(router)
    inbox >> fetch
    fetch - "route" >> route
    fetch - "done" >> Summary(name="summary")
    for destination in ("priority_queue", "batch_processor", "normal_queue"):
        route - destination >> Enqueue(name=destination) >> fetch
    incoming = [
        {"id": "m1", "type": "urgent", "body": "server down"},
        {"id": "m2", "type": "bulk", "body": "nightly export"},
        {"id": "m3", "type": "info", "body": "hello"},
        {"id": "m4", "type": "urgent", "body": "garbled", "valid": False},
        {"id": "m5", "type": "urgent", "body": "disk full"},
    ]
    shared: dict[str, Any] = {"incoming": incoming, "routes": {}, "queues": {}}
    result = await rg.Graph(inbox, name="routing-graph", max_steps=50).run(shared)
    queues = {name: tuple(m["id"] for m in messages) for name, messages in shared["queues"].items()}
    transformed = all(
        m.get("transformed") and m["processed_at"] == PROCESSED_AT
        for messages in shared["queues"].values()
        for m in messages
    )
    return RoutingReport(
        routes=dict(shared["routes"]),
        queues=queues,
        filtered_out=tuple(shared["filtered_out"]),
        all_transformed=transformed,
        router=router.statistics(),
        steps=result.steps,
    )
