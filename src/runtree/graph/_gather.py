"""Run awaitables concurrently, results in declared order, siblings cancelled on failure.

Python 3.10 has no ``TaskGroup``; this is the small part of it the graph needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

__all__ = ["gather_ordered"]


async def gather_ordered(
    jobs: Sequence[Callable[[], Awaitable[Any]]],
    *,
    max_concurrency: int | None = None,
    return_exceptions: bool = False,
) -> list[Any]:
    """Run every ``job()`` (at most ``max_concurrency`` at once); return results in order.

    Without ``return_exceptions`` the first failure cancels the jobs still running (they are
    awaited, never orphaned), the jobs not started are skipped, and the failure is raised
    unchanged. With it, an exception takes its job's place in the result list. Cancelling
    the caller cancels every job.
    """
    total = len(jobs)
    results: list[Any] = [None] * total
    if total == 0:
        return results
    pending = iter(range(total))
    failures: list[BaseException] = []
    tasks: list[asyncio.Task[None]] = []

    async def worker() -> None:
        for index in pending:
            if failures:
                return
            try:
                results[index] = await jobs[index]()
            except Exception as exc:
                if return_exceptions:
                    results[index] = exc
                    continue
                if not failures:
                    failures.append(exc)
                    current = asyncio.current_task()
                    for task in tasks:
                        if task is not current:
                            task.cancel()
                return

    loop = asyncio.get_running_loop()
    workers = total if max_concurrency is None else min(total, max_concurrency)
    tasks.extend(loop.create_task(worker()) for _ in range(workers))
    try:
        await asyncio.wait(tasks)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        raise
    escaped = [t.exception() for t in tasks if not t.cancelled()]  # retrieve them all
    if failures:
        raise failures[0]
    for error in escaped:  # a BaseException (KeyboardInterrupt, ...) escaped a job
        if error is not None:
            raise error
    if any(t.cancelled() for t in tasks):  # a job was cancelled from inside
        raise asyncio.CancelledError()
    return results
