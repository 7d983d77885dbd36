"""``broadcast`` and ``stream``: items sent while nodes run.

``rt.broadcast(item)`` publishes ``item`` as a :class:`~runtree.pubsub.messages.Streaming`
message (it reaches the session's ``broadcast_callback``, its subscribers and the journal).
``rt.stream(node, ...)`` calls ``node`` and yields, in order, every item broadcast by that
call and the calls below it, as they happen; its ``result`` is the call's output.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Generator
from typing import Any, Generic, TypeVar

from runtree.context.central import parent_id
from runtree.errors import SessionStateError
from runtree.interaction.call import call
from runtree.pubsub.messages import Streaming
from runtree.pubsub.publisher import current_publisher

__all__ = ["RunStream", "broadcast", "is_streaming", "stream"]

T = TypeVar("T")

#: items a stream consumer may fall behind by before broadcasting waits for it
STREAM_BUFFER = 10_000
_END = object()
_pending: set[asyncio.Task[Any]] = set()


class _Sink:
    """Where ``broadcast`` also puts items while an ``rt.stream`` call runs (its context)."""

    __slots__ = ("closed", "loop", "outer", "queue")

    def __init__(self, loop: asyncio.AbstractEventLoop, outer: _Sink | None) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Any] = asyncio.Queue(STREAM_BUFFER)
        self.outer = outer
        self.closed = False

    async def put(self, item: Any) -> None:
        sink: _Sink | None = self
        while sink is not None:
            if not sink.closed:
                if _running_loop() is sink.loop:
                    await sink.queue.put(item)
                else:
                    future = asyncio.run_coroutine_threadsafe(sink.queue.put(item), sink.loop)
                    await asyncio.wrap_future(future)
            sink = sink.outer


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_sink: contextvars.ContextVar[_Sink | None] = contextvars.ContextVar(
    "runtree_stream_sink", default=None
)


def is_streaming() -> bool:
    """Whether an ``rt.stream`` consumer receives what is broadcast here (so producing
    fine-grained items, e.g. model tokens, is worth it)."""
    return _sink.get() is not None


async def broadcast(item: Any) -> None:
    """Publish ``item`` as a :class:`~runtree.pubsub.messages.Streaming` message.

    It reaches the session's ``broadcast_callback`` and every ``Streaming`` subscriber, in
    order, without waiting for them, and every ``rt.stream`` consumer of an enclosing call
    (which waits only when that consumer is :data:`STREAM_BUFFER` items behind). Outside a
    session and a stream there is no one to tell and nothing happens.
    """
    publisher = current_publisher.get()
    if publisher is not None:
        publisher.publish(Streaming(item=item, request_id=parent_id.get()))
    sink = _sink.get()
    if sink is not None:
        await sink.put(item)


class RunStream(Generic[T]):
    """A call in progress and what it broadcasts: ``async for item in stream`` yields the
    items; ``stream.result`` is the call's output once iteration ended (``await stream``
    runs it to the end, dropping the items)."""

    def __init__(self, node: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._node = node
        self._args = args
        self._kwargs = kwargs
        self._task: asyncio.Task[T] | None = None
        self._sink: _Sink | None = None
        self._done = False

    def _start(self) -> _Sink:
        if self._sink is not None:
            return self._sink
        sink = _Sink(asyncio.get_running_loop(), _sink.get())
        self._sink = sink

        async def run() -> T:
            _sink.set(sink)  # in this task's own copy of the context
            result: T = await call(self._node, *self._args, **self._kwargs)
            return result

        task = asyncio.ensure_future(run())
        task.add_done_callback(lambda _: sink.loop.call_soon(_finish, sink))
        self._task = task
        return sink

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        if self._done:
            raise SessionStateError("this stream was already consumed; call rt.stream again")
        sink = self._start()
        try:
            while True:
                item = await sink.queue.get()
                if item is _END:
                    break
                yield item
        finally:
            sink.closed = True
            self._done = True
            task = self._task
            assert task is not None
            if not task.done():  # the consumer stopped early: the call is not wanted any more
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        task.result()  # the call's exception, if it raised

    @property
    def result(self) -> T:
        """The output of the call (raises its exception; ``SessionStateError`` before the
        end of the stream)."""
        task = self._task
        if task is None or not task.done():
            raise SessionStateError("the stream has not ended yet: iterate it to the end first")
        return task.result()

    async def aclose(self) -> None:
        """Stop the call if it still runs and drop what it would still send."""
        if self._sink is not None:
            self._sink.closed = True
            while not self._sink.queue.empty():
                self._sink.queue.get_nowait()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._done = True

    def __await__(self) -> Generator[Any, None, T]:
        return self._drain().__await__()

    async def _drain(self) -> T:
        async for _ in self:
            pass
        return self.result


def _finish(sink: _Sink) -> None:
    # after every item the call put: the queue is FIFO, so _END comes last
    if sink.queue.full():
        _pending.add(task := sink.loop.create_task(sink.queue.put(_END)))
        task.add_done_callback(_pending.discard)
    else:
        sink.queue.put_nowait(_END)


def stream(node: Any, /, *args: Any, **kwargs: Any) -> RunStream[Any]:
    """Call ``node(*args, **kwargs)`` like :func:`~runtree.interaction.call.call` and stream
    what it broadcasts: ``async for item in rt.stream(Agent, "hi"): ...``.

    Items come from the call and every call below it, in the order they were broadcast;
    agents broadcast typed events (:mod:`runtree.llm.stream`). After the loop,
    ``stream.result`` is the call's output; if the call raised, the loop re-raises it. Leaving
    the loop early cancels the call.
    """
    return RunStream(node, args, kwargs)
