"""Batch steps: ``exec`` once per item, sequentially or in parallel.

``prep(shared)`` returns the items (any iterable; ``None`` for none); ``exec(item)`` runs
once per item, each with its own attempts (``max_retries`` per item) and its own
``exec_fallback(item, exc)``; ``post(shared, items, results)`` receives the results in
item order. A :class:`ParallelBatchNode` runs the items concurrently; its sync ``exec``
runs in worker threads (``exec_in_thread = True`` by default there), so blocking work
overlaps too.

Each item runs on its own copy of the node, so attributes set in ``exec`` never leak from
one item to another, and ``self.attempt`` counts that item's attempts. Without
``return_exceptions``, an item that still fails after its retries and fallback ends the
step: a :class:`BatchNode` stops there, a :class:`ParallelBatchNode` cancels the items still
running (they are recorded as cancelled) and skips the rest; the item's exception is raised
unchanged. With ``return_exceptions=True`` the exception takes the item's place in
``results`` and the others go on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

from runtree.graph._gather import gather_ordered
from runtree.graph.base import check_flag, check_limit
from runtree.graph.errors import GraphDefinitionError
from runtree.graph.node import Backoff, Node, Sleep

__all__ = ["BatchNode", "ParallelBatchNode"]

I = TypeVar("I")  # noqa: E741 - the item type
R = TypeVar("R")


class BatchNode(Node[Any, Any], Generic[I, R]):
    """``exec(item)`` for every item ``prep`` returns, one after the other."""

    return_exceptions: bool = False

    def __init__(
        self,
        max_retries: int | None = None,
        wait: float | None = None,
        name: str | None = None,
        *,
        backoff: Backoff | None = None,
        max_wait: float | None = None,
        sleep: Sleep | None = None,
        exec_in_thread: bool | None = None,
        return_exceptions: bool | None = None,
    ) -> None:
        super().__init__(
            max_retries,
            wait,
            name,
            backoff=backoff,
            max_wait=max_wait,
            sleep=sleep,
            exec_in_thread=exec_in_thread,
        )
        if return_exceptions is not None:
            self.return_exceptions = check_flag(
                return_exceptions, f"node {self.name!r}", "return_exceptions"
            )

    def prep(self, shared: Any) -> Iterable[I] | Awaitable[Iterable[I]]:
        """Return the items to process. Default: no items."""
        return ()

    def exec(self, item: I) -> R | Awaitable[R]:
        """Process one item; may be retried. Default: ``None``."""
        return None  # type: ignore[return-value]

    def exec_fallback(self, item: I, exc: BaseException) -> R | Awaitable[R]:
        """Called for an item whose attempts all failed. Default: re-raise."""
        raise exc

    def _items(self, prep_res: Any) -> list[Any]:
        if prep_res is None:
            return []
        if isinstance(prep_res, (str, bytes)) or not isinstance(prep_res, Iterable):
            raise GraphDefinitionError(
                f"prep() of batch node {self.name!r} must return an iterable of items "
                f"(a list, a generator, ...), got {type(prep_res).__name__}"
            )
        return list(prep_res)

    def _item_job(
        self, index: int, item: Any, totals: list[int]
    ) -> Callable[[], Awaitable[tuple[Any, bool]]]:
        async def job() -> tuple[Any, bool]:
            runner = self.fresh()
            assert isinstance(runner, BatchNode)
            try:
                result, _, fallback, _ = await runner._exec_with_retries(
                    item, f"{self.name}.exec", f"[{index}]"
                )
            finally:
                totals[0] += runner.attempt
            return result, fallback

        return job

    async def _exec_all(self, prep_res: Any) -> tuple[Any, int, bool, int]:
        items = self._items(prep_res)
        totals = [0]
        jobs = [self._item_job(index, item, totals) for index, item in enumerate(items)]
        outcomes = await self._run_items(jobs)
        results: list[Any] = []
        fallback = False
        errors = 0
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                results.append(outcome)
                errors += 1
            else:
                results.append(outcome[0])
                fallback = fallback or outcome[1]
        return results, totals[0], fallback, errors

    async def _run_items(self, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
        outcomes: list[Any] = []
        for job in jobs:
            try:
                outcomes.append(await job())
            except Exception as exc:
                if not self.return_exceptions:
                    raise
                outcomes.append(exc)
        return outcomes


class ParallelBatchNode(BatchNode[I, R]):
    """``exec(item)`` for every item concurrently, at most ``max_concurrency`` at once (a
    sync ``exec`` in worker threads)."""

    max_concurrency: int | None = None
    exec_in_thread: bool = True

    def __init__(
        self,
        max_retries: int | None = None,
        wait: float | None = None,
        name: str | None = None,
        *,
        backoff: Backoff | None = None,
        max_wait: float | None = None,
        sleep: Sleep | None = None,
        exec_in_thread: bool | None = None,
        return_exceptions: bool | None = None,
        max_concurrency: int | None = None,
    ) -> None:
        super().__init__(
            max_retries,
            wait,
            name,
            backoff=backoff,
            max_wait=max_wait,
            sleep=sleep,
            exec_in_thread=exec_in_thread,
            return_exceptions=return_exceptions,
        )
        if max_concurrency is not None:
            self.max_concurrency = max_concurrency
        check_limit(self.max_concurrency, f"node {self.name!r}")

    async def _run_items(self, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
        return await gather_ordered(
            jobs, max_concurrency=self.max_concurrency, return_exceptions=self.return_exceptions
        )
