"""``call_batch``: the same node over many inputs, concurrently, results in input order."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine, Iterable, Sized
from typing import Any, Literal, TypeVar, overload

from runtree.context.central import current_session, parent_id
from runtree.errors import ConfigurationError, NodeInvocationError
from runtree.nodes.node import Node
from runtree.runtime.session import Session
from runtree.state.state import RTState

__all__ = ["call_batch"]

T = TypeVar("T")


# The overloads give the result type: the node's output type (``Node[T]``, a function node
# of a function returning ``T``, a plain async or sync function), with the exceptions when
# ``return_exceptions=True``.
@overload
async def call_batch(
    node: Callable[..., Node[T]],
    *iterables: Iterable[Any],
    return_exceptions: Literal[False] = False,
    max_concurrency: int | None = None,
    **kwargs: Any,
) -> list[T]: ...
@overload
async def call_batch(
    node: Callable[..., Node[T]],
    *iterables: Iterable[Any],
    return_exceptions: Literal[True],
    max_concurrency: int | None = None,
    **kwargs: Any,
) -> list[T | BaseException]: ...
@overload
async def call_batch(
    node: Callable[..., Coroutine[Any, Any, T]],
    *iterables: Iterable[Any],
    return_exceptions: Literal[False] = False,
    max_concurrency: int | None = None,
    **kwargs: Any,
) -> list[T]: ...
@overload
async def call_batch(
    node: Callable[..., Coroutine[Any, Any, T]],
    *iterables: Iterable[Any],
    return_exceptions: Literal[True],
    max_concurrency: int | None = None,
    **kwargs: Any,
) -> list[T | BaseException]: ...
@overload
async def call_batch(
    node: Callable[..., T],
    *iterables: Iterable[Any],
    return_exceptions: Literal[False] = False,
    max_concurrency: int | None = None,
    **kwargs: Any,
) -> list[T]: ...
@overload
async def call_batch(
    node: Callable[..., T],
    *iterables: Iterable[Any],
    return_exceptions: Literal[True],
    max_concurrency: int | None = None,
    **kwargs: Any,
) -> list[T | BaseException]: ...
@overload
async def call_batch(
    node: Any,
    *iterables: Iterable[Any],
    return_exceptions: bool = False,
    max_concurrency: int | None = None,
    **kwargs: Any,
) -> list[Any]: ...


async def call_batch(
    node: Any,
    *iterables: Iterable[Any],
    return_exceptions: bool = False,
    max_concurrency: int | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Call ``node`` once per element of ``zip(*iterables)`` and return the outputs in order.

    ``kwargs`` are passed, unchanged, to every call. Iterables with a length must agree on
    it; endless ones (``itertools.repeat(x)``) are cut to the others' length.

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
    inputs = _zip_inputs(iterables)
    shared = kwargs or _NO_KWARGS
    session: Session | None = current_session.get()
    if session is None:
        async with Session(name="call_batch", store=None) as temporary:
            return await _run(
                temporary.state, None, node, inputs, shared, return_exceptions, max_concurrency
            )
    return await _run(
        session.state, parent_id.get(), node, inputs, shared, return_exceptions, max_concurrency
    )


def _zip_inputs(iterables: tuple[Iterable[Any], ...]) -> list[tuple[Any, ...]]:
    """``zip(*iterables)`` as a list; iterables that have a length must agree on it."""
    lengths = {len(it) for it in iterables if isinstance(it, Sized)}
    if len(lengths) > 1:
        shown = [len(it) if isinstance(it, Sized) else "?" for it in iterables]
        raise NodeInvocationError(f"call_batch: the iterables have different lengths {shown}")
    if not lengths:  # none has a length: the shortest decides, as zip does
        return list(zip(*iterables, strict=False))
    (length,) = lengths
    inputs = list(itertools.islice(zip(*iterables, strict=False), length))
    if len(inputs) < length:
        raise NodeInvocationError(
            f"call_batch: an iterable ran out after {len(inputs)} items, the others have {length}"
        )
    return inputs


_NO_KWARGS: dict[str, Any] = {}  # shared: call_nodes never mutates or hands it out


async def _run(
    state: RTState,
    parent: str | None,
    node: Any,
    inputs: list[tuple[Any, ...]],
    kwargs: dict[str, Any],
    return_exceptions: bool,
    max_concurrency: int | None,
) -> list[Any]:
    if not inputs:
        return []
    if max_concurrency is not None and max_concurrency < len(inputs):
        return await _run_bounded(
            state, parent, node, inputs, kwargs, return_exceptions, max_concurrency
        )
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()
    remaining = len(inputs)
    failure: list[BaseException] = []
    tasks: list[asyncio.Task[Any]] = []

    def on_done(task: asyncio.Task[Any]) -> None:
        # one shared callback: no allocation per item
        nonlocal remaining
        remaining -= 1
        if not task.cancelled():
            error = task.exception()  # also marks the exception as retrieved
            if error is not None and not return_exceptions and not failure:
                failure.append(error)
                for sibling in tasks:
                    sibling.cancel()  # done tasks ignore this
        if remaining == 0 and not finished.done():
            finished.set_result(None)

    call_nodes = state.call_nodes
    for args in inputs:
        task = loop.create_task(call_nodes(parent, None, node, args, kwargs))
        task.add_done_callback(on_done)
        tasks.append(task)
    try:
        await finished
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        raise
    if failure:
        raise failure[0]
    if return_exceptions:
        return [
            t.exception() or t.result() if not t.cancelled() else asyncio.CancelledError()
            for t in tasks
        ]
    return [t.result() for t in tasks]


async def _run_bounded(
    state: RTState,
    parent: str | None,
    node: Any,
    inputs: list[tuple[Any, ...]],
    kwargs: dict[str, Any],
    return_exceptions: bool,
    max_concurrency: int,
) -> list[Any]:
    """``max_concurrency`` workers pull the inputs in order; a failure stops the queue."""
    results: list[Any] = [None] * len(inputs)
    pending = iter(enumerate(inputs))
    failure: list[BaseException] = []
    call_nodes = state.call_nodes

    async def worker() -> None:
        for index, args in pending:
            if failure:
                return
            try:
                results[index] = await call_nodes(parent, None, node, args, kwargs)
            except Exception as exc:
                if not return_exceptions:
                    failure.append(exc)
                    return
                results[index] = exc

    workers = [asyncio.ensure_future(worker()) for _ in range(max_concurrency)]
    try:
        while workers:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_COMPLETED)
            workers = [w for w in workers if w not in done]
            if failure:
                for other in workers:
                    other.cancel()
                if workers:
                    await asyncio.wait(workers)
                raise failure[0]
    except asyncio.CancelledError:
        for other in workers:
            other.cancel()
        if workers:
            await asyncio.wait(workers)
        raise
    return results
