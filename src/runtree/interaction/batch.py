"""``call_batch``: the same node over many inputs, concurrently, results in input order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from typing import Any

from runtree.context.central import current_session, parent_id
from runtree.errors import ConfigurationError, NodeInvocationError
from runtree.session.session import Session
from runtree.state.state import RTState

__all__ = ["call_batch"]


async def call_batch(
    node: Any,
    *iterables: Iterable[Any],
    return_exceptions: bool = False,
    max_concurrency: int | None = None,
) -> list[Any]:
    """Call ``node`` once per element of ``zip(*iterables)`` and return the outputs in order.

    Without ``return_exceptions``, the first failure cancels the calls still running (they
    are awaited, not orphaned) and is raised. With it, exceptions take their place in the
    result list. ``max_concurrency`` bounds how many calls run at once.
    """
    if not iterables:
        raise NodeInvocationError("call_batch needs at least one iterable of arguments")
    if max_concurrency is not None and (
        isinstance(max_concurrency, bool)
        or not isinstance(max_concurrency, int)
        or max_concurrency < 1
    ):
        raise ConfigurationError(f"max_concurrency must be a positive int, got {max_concurrency!r}")
    try:
        inputs = list(zip(*iterables, strict=True))
    except ValueError:
        lengths = [len(list(it)) if not isinstance(it, Iterator) else "?" for it in iterables]
        raise NodeInvocationError(
            f"call_batch: the iterables have different lengths {lengths}"
        ) from None
    session: Session | None = current_session.get()
    if session is None:
        async with Session(name="call_batch") as temporary:
            return await _run(
                temporary.state, None, node, inputs, return_exceptions, max_concurrency
            )
    return await _run(
        session.state, parent_id.get(), node, inputs, return_exceptions, max_concurrency
    )


async def _run(
    state: RTState,
    parent: str | None,
    node: Any,
    inputs: list[tuple[Any, ...]],
    return_exceptions: bool,
    max_concurrency: int | None,
) -> list[Any]:
    total = len(inputs)
    results: list[Any] = [None] * total
    if total == 0:
        return results
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    first_error: list[BaseException] = []
    tasks: list[asyncio.Task[None]] = []
    remaining = 0

    def fail(exc: BaseException) -> None:
        if not first_error:
            first_error.append(exc)
            for task in tasks:
                task.cancel()  # a finished task ignores this; the failing one is already done

    def worker_done(_: asyncio.Task[None]) -> None:
        nonlocal remaining
        remaining -= 1
        if remaining == 0 and not finished.done():
            finished.set_result(None)

    call_nodes = state.call_nodes

    async def run_one(index: int, args: tuple[Any, ...]) -> None:
        try:
            results[index] = await call_nodes(
                parent_node_id=parent, request_id=None, node=node, args=args, kwargs={}
            )
        except Exception as exc:
            if return_exceptions:
                results[index] = exc
            else:
                fail(exc)

    if max_concurrency is None or max_concurrency >= total:
        coroutines: Iterator[Any] = (run_one(i, args) for i, args in enumerate(inputs))
    else:
        pending = iter(enumerate(inputs))

        async def worker() -> None:
            for index, args in pending:
                if first_error:
                    return
                await run_one(index, args)

        coroutines = (worker() for _ in range(max_concurrency))

    for coroutine in coroutines:
        task = loop.create_task(coroutine)
        task.add_done_callback(worker_done)
        tasks.append(task)
        remaining += 1
    try:
        await finished
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        raise
    if first_error:
        raise first_error[0]
    return results
