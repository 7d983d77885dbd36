"""Batch graphs: run a graph's steps once per parameter set that its ``prep`` returns.

``prep(shared)`` returns the parameter sets (an iterable of dicts; ``None`` for none). For
each, the steps run from the start node as in a :class:`~runtree.graph.Graph`, with
``self.params`` of every node set to the graph's params updated with that set, so a node
reads ``self.params["file"]``. A :class:`BatchGraph` runs one set after the other; a
:class:`ParallelBatchGraph` runs them concurrently (at most ``max_concurrency`` at once),
all on the one shared store: let each run write keys (or sub-keys) of its own.

Then ``post(shared, prep_res, None)`` runs; what it returns is the graph's action (by
default ``None``). The result of the step is the list of each run's last result, in the
order of the parameter sets. Each run is a request ``"<graph>[i]"`` of the run tree, with
its steps below it. A run that fails ends the step with its exception (a
:class:`ParallelBatchGraph` cancels the runs still going and starts no more). Batch graphs
nest: the parameter sets of an inner batch graph update the params of the outer run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from runtree.graph._gather import gather_ordered
from runtree.graph._tracking import Record, StepContext, maybe_await, run_step
from runtree.graph.base import BaseNode, Shared, check_limit, check_params
from runtree.graph.errors import GraphDefinitionError
from runtree.graph.graph import DEFAULT_MAX_STEPS, Graph, UnmatchedPolicy

__all__ = ["BatchGraph", "ParallelBatchGraph"]

_LABEL_CHARS = 200


class BatchGraph(Graph):
    """Run the steps once per parameter set from ``prep``, one set after the other."""

    def prep(self, shared: Shared) -> Iterable[Mapping[str, Any]] | None:
        """Return the parameter sets (dicts), one per run. Default: none."""
        return ()

    def _param_sets(self, prep_res: Any) -> list[dict[str, Any]]:
        if prep_res is None:
            return []
        if isinstance(prep_res, (str, bytes, Mapping)) or not isinstance(prep_res, Iterable):
            hint = "; wrap one set in a list: [params]" if isinstance(prep_res, Mapping) else ""
            raise GraphDefinitionError(
                f"prep() of batch graph {self.name!r} must return an iterable of parameter "
                f"sets (dicts), got {type(prep_res).__name__}{hint}"
            )
        return [
            check_params(item, f"prep() of batch graph {self.name!r}, parameter set {index}")
            for index, item in enumerate(prep_res)
        ]

    async def _execute(self, ctx: StepContext) -> Record:
        base = ctx.params
        prep_res = await maybe_await(self.prep(ctx.store))
        sets = self._param_sets(prep_res)
        records = await self._run_all([self._run_job(ctx, base, i, p) for i, p in enumerate(sets)])
        path = [name for record in records for name in record["path"]]
        combined: Record = {
            "node": self.name,
            "action": None,
            "result": [record.get("result") for record in records],
            "last_node": records[-1]["last_node"] if records else self.name,
            "steps": len(path),
            "path": path,
        }
        conflicts = [c for record in records for c in record.get("conflicts", ())]
        if conflicts:
            combined["conflicts"] = conflicts
        unmatched = [record["unmatched"] for record in records if "unmatched" in record]
        if unmatched:
            combined["unmatched"] = unmatched[0]
        return await self._finish(ctx, prep_res, None, combined)

    def _run_context(self, ctx: StepContext, params: dict[str, Any]) -> StepContext:
        return ctx.with_params(params)

    def _run_job(
        self, ctx: StepContext, base: dict[str, Any], index: int, params: dict[str, Any]
    ) -> Callable[[], Awaitable[Record]]:
        async def job() -> Record:
            run_ctx = self._run_context(ctx, {**base, **params})
            label = f"run {index} of {self.name}: {params!r}"
            if len(label) > _LABEL_CHARS:
                label = label[: _LABEL_CHARS - 3] + "..."
            return await run_step(
                f"{self.name}[{index}]", label, run_ctx, lambda: self._walk(run_ctx)
            )

        return job

    async def _run_all(self, jobs: Sequence[Callable[[], Awaitable[Record]]]) -> list[Record]:
        return [await job() for job in jobs]


class ParallelBatchGraph(BatchGraph):
    """Run the steps once per parameter set from ``prep``, the sets concurrently (at most
    ``max_concurrency`` at once), on the one shared store."""

    max_concurrency: int | None = None

    def __init__(
        self,
        start: BaseNode | Sequence[BaseNode] | None = None,
        *,
        name: str | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        on_unmatched: UnmatchedPolicy = "stop",
        max_concurrency: int | None = None,
    ) -> None:
        super().__init__(start, name=name, max_steps=max_steps, on_unmatched=on_unmatched)
        if max_concurrency is not None:
            self.max_concurrency = max_concurrency
        check_limit(self.max_concurrency, f"graph {self.name!r}")

    def _run_context(self, ctx: StepContext, params: dict[str, Any]) -> StepContext:
        return ctx.concurrent(params)

    async def _run_all(self, jobs: Sequence[Callable[[], Awaitable[Record]]]) -> list[Record]:
        return await gather_ordered(jobs, max_concurrency=self.max_concurrency)
