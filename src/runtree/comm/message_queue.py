"""``MessageQueue``: a bounded, buffered queue with an explicit overflow policy and subscribers.

A queue is consumed either by pulling (``await get()``, ``async for``) or by pushing to
subscribers (``subscribe(callback)``: a dispatcher task hands every message, in order, to every
subscriber). When the buffer is full the ``overflow_policy`` decides:

``"drop_oldest"``  the oldest buffered message is evicted, counted in ``dropped`` and passed to
                   ``on_drop`` (if given); publishing never fails.
``"reject_new"``   the new message is refused: ``publish``/``publish_nowait`` raise
                   :class:`~runtree.comm.errors.QueueFullError`, counted in ``rejected``.
``"block"``        ``publish`` waits for room (``timeout`` → ``ChannelTimeoutError``);
                   ``publish_nowait`` raises ``QueueFullError``.

Nothing is dropped silently. A failing subscriber is isolated: the others still get the
message, its failure is counted, kept as an :class:`ErrorMessage` (``recent_errors()``) and
passed to ``on_error``.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Generic, Literal, TypeVar, get_args

from runtree.comm._support import DEFAULT, Default, unique_name
from runtree.comm.channel import Channel
from runtree.comm.errors import ChannelClosedError, QueueFullError
from runtree.comm.listener import Callback, Listener, ListenerStatistics, callback_name
from runtree.comm.message import ErrorMessage
from runtree.comm.registry import PRIVATE_REGISTRY, CommRegistry, notify, register
from runtree.errors import ConfigurationError, ContextError

__all__ = [
    "DEFAULT_MAX_SIZE",
    "OVERFLOW_POLICIES",
    "MessageQueue",
    "MessageQueueStatistics",
    "OverflowPolicy",
]

logger = logging.getLogger("runtree.comm")
T = TypeVar("T")

OverflowPolicy = Literal["drop_oldest", "reject_new", "block"]
OVERFLOW_POLICIES: tuple[str, ...] = get_args(OverflowPolicy)
DEFAULT_MAX_SIZE = 10_000
_RECENT_ERRORS = 100


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MessageQueueStatistics:
    """Counters of a :class:`MessageQueue` at one moment.

    ``consumed`` counts messages taken by ``get``; ``dispatched`` messages handed to the
    subscribers; ``delivered``/``failed`` sum the subscriber calls that returned/raised.
    """

    name: str
    max_size: int
    overflow_policy: str
    depth: int
    high_water: int
    published: int
    consumed: int
    dispatched: int
    delivered: int
    failed: int
    dropped: int
    rejected: int
    timeouts: int
    closed: bool
    subscribers: tuple[ListenerStatistics, ...]


class MessageQueue(Generic[T]):
    """A bounded queue of messages with an overflow policy; see the module docstring."""

    def __init__(
        self,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        overflow_policy: OverflowPolicy = "drop_oldest",
        name: str | None = None,
        on_drop: Callable[[T], object] | None = None,
        on_error: Callable[[ErrorMessage], object] | None = None,
        registry: CommRegistry | None = None,
    ) -> None:
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ConfigurationError(f"max_size must be an int >= 1, got {max_size!r}")
        if overflow_policy not in OVERFLOW_POLICIES:
            raise ConfigurationError(
                f"overflow_policy must be one of {'|'.join(OVERFLOW_POLICIES)}, "
                f"got {overflow_policy!r}"
            )
        self._name = name or unique_name("queue")
        self.max_size = max_size
        self.overflow_policy: OverflowPolicy = overflow_policy
        self.on_drop = on_drop
        self.on_error = on_error
        self._channel: Channel[T] = Channel(
            self._name, buffer_size=max_size, registry=PRIVATE_REGISTRY
        )
        self._subscribers: list[Listener] = []
        self._dispatcher: asyncio.Task[None] | None = None
        self._dispatching = False
        self._recent_errors: collections.deque[ErrorMessage] = collections.deque(
            maxlen=_RECENT_ERRORS
        )
        self._published = 0
        self._dispatched = 0
        self._dropped = 0
        self._rejected = 0
        register(self, registry)

    @property
    def name(self) -> str:
        return self._name

    @property
    def closed(self) -> bool:
        return self._channel.closed

    def __len__(self) -> int:
        return len(self._channel)

    def __repr__(self) -> str:
        return (
            f"<MessageQueue {self._name!r} {len(self)}/{self.max_size} {self.overflow_policy}"
            f" published={self._published} dropped={self._dropped} rejected={self._rejected}>"
        )

    def statistics(self) -> MessageQueueStatistics:
        channel = self._channel.statistics()
        subs = tuple(listener.statistics() for listener in self._subscribers)
        return MessageQueueStatistics(
            name=self._name,
            max_size=self.max_size,
            overflow_policy=self.overflow_policy,
            depth=channel.depth,
            high_water=channel.high_water,
            published=self._published,
            consumed=channel.received - self._dispatched,
            dispatched=self._dispatched,
            delivered=sum(s.delivered for s in subs),
            failed=sum(s.failed for s in subs),
            dropped=self._dropped,
            rejected=self._rejected,
            timeouts=channel.timeouts,
            closed=channel.closed,
            subscribers=subs,
        )

    def recent_errors(self) -> tuple[ErrorMessage, ...]:
        """The last subscriber failures (at most 100), oldest first."""
        return tuple(self._recent_errors)

    # -- publishing ----------------------------------------------------------------------------

    def _refuse(self, message: str) -> QueueFullError:
        self._rejected += 1
        notify("queue.rejected", self._name, self.overflow_policy)
        return QueueFullError(message, name=self._name, max_size=self.max_size)

    def publish_nowait(self, message: T) -> None:
        """Add ``message`` now, applying the overflow policy if the queue is full."""
        channel = self._channel
        if channel.closed:
            raise ChannelClosedError(f"queue {self._name!r} is closed", name=self._name)
        if channel.full():
            if self.overflow_policy == "drop_oldest":
                self._drop_oldest()
            else:
                raise self._refuse(
                    f"queue {self._name!r} is full ({self.max_size} messages, "
                    f"overflow_policy={self.overflow_policy!r})"
                )
        channel.send_nowait(message)
        self._published += 1

    async def publish(self, message: T, *, timeout: float | Default | None = DEFAULT) -> None:
        """Add ``message``; with ``overflow_policy="block"`` wait for room (up to ``timeout``)."""
        if self.overflow_policy != "block":
            self.publish_nowait(message)
            return
        await self._channel.send(message, timeout=None if isinstance(timeout, Default) else timeout)
        self._published += 1

    def _drop_oldest(self) -> None:
        dropped = self._channel._buffer.popleft()
        self._dropped += 1
        notify("queue.dropped", self._name, self._dropped)
        if self.on_drop is not None:
            try:
                self.on_drop(dropped)
            except Exception:
                logger.warning("on_drop of queue %r failed", self._name, exc_info=True)

    # -- pulling -------------------------------------------------------------------------------

    def _check_pull(self) -> None:
        if self._subscribers:
            raise ContextError(
                f"queue {self._name!r} delivers to subscribers; get() would take messages "
                "from them. Unsubscribe them first or use a separate queue"
            )

    async def get(self, *, timeout: float | Default | None = DEFAULT) -> T:
        """Take the oldest message, waiting while the queue is empty (at most ``timeout``).

        Raises :class:`ChannelClosedError` once the queue is closed and drained.
        """
        self._check_pull()
        return await self._channel.receive(
            timeout=None if isinstance(timeout, Default) else timeout
        )

    def get_nowait(self) -> T:
        """Take the oldest message now (``QueueEmptyError`` if there is none)."""
        self._check_pull()
        return self._channel.receive_nowait()

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.get(timeout=None)
        except ChannelClosedError:
            raise StopAsyncIteration from None

    # -- subscribers ---------------------------------------------------------------------------

    def subscribe(self, callback: Callback, *, name: str | None = None) -> Listener:
        """Deliver every message, in order, to ``callback`` (sync or async).

        Must be called inside a running event loop (the dispatcher is a task on it).
        """
        if not callable(callback):
            raise ConfigurationError(f"subscriber must be callable, got {callback!r}")
        if self.closed:
            raise ChannelClosedError(f"queue {self._name!r} is closed", name=self._name)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise ContextError(
                "MessageQueue.subscribe() needs a running event loop (call it from async code)"
            ) from None
        if self._dispatcher is None and self._channel.statistics().waiting_receivers:
            raise ContextError(f"queue {self._name!r} has get() callers waiting; cannot subscribe")
        listener = Listener(callback, name=name or callback_name(callback, "subscriber"))
        self._subscribers.append(listener)
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = loop.create_task(
                self._dispatch(), name=f"runtree-queue-{self._name}"
            )
        return listener

    def unsubscribe(self, listener: Listener) -> None:
        """Stop delivering to ``listener`` (a message being delivered still reaches it)."""
        try:
            self._subscribers.remove(listener)
        except ValueError:
            raise ConfigurationError(f"{listener!r} is not subscribed to {self._name!r}") from None
        listener.active = False
        if not self._subscribers and self._dispatcher is not None and not self._dispatching:
            self._dispatcher.cancel()
            self._dispatcher = None

    async def _dispatch(self) -> None:
        channel = self._channel
        while self._subscribers:
            try:
                message = await channel.receive(timeout=None)
            except ChannelClosedError:
                return
            self._dispatching = True
            try:
                self._dispatched += 1
                for listener in tuple(self._subscribers):
                    error = await listener.invoke(message)
                    if error is not None:
                        self._report(listener, error)
            finally:
                self._dispatching = False
        self._dispatcher = None

    def _report(self, listener: Listener, error: Exception) -> None:
        report = ErrorMessage.from_exception(
            error, source=f"{self._name}:{listener.name}", error_code="subscriber_failed"
        )
        self._recent_errors.append(report)
        logger.warning("subscriber %r of queue %r failed: %r", listener.name, self._name, error)
        notify("queue.subscriber_failed", self._name, report.message)
        if self.on_error is not None:
            try:
                self.on_error(report)
            except Exception:
                logger.warning("on_error of queue %r failed", self._name, exc_info=True)

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Refuse new messages; buffered ones are still delivered / can still be taken."""
        self._channel.close()

    async def aclose(self) -> None:
        """Close and wait until the subscribers received every buffered message."""
        self.close()
        task = self._dispatcher
        if task is not None and task is not asyncio.current_task():
            await asyncio.shield(task)

    async def __aenter__(self) -> MessageQueue[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
