"""The publisher: fan-out of lifecycle messages to isolated subscribers.

``publish`` never blocks and never raises because of a subscriber. Each subscriber owns a
bounded buffer; when it is full the new message is dropped and counted. A synchronous
callback runs in its own thread, an ``async`` callback in its own task on the publisher's
event loop, so a slow or failing subscriber cannot stall or break the run. Messages are
routed by type: publishing touches only the subscribers that asked for that type.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import dataclasses
import inspect
import itertools
import logging
import queue
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from runtree.errors import ConfigurationError, SessionStateError
from runtree.pubsub.messages import Message

__all__ = [
    "PublisherStatistics",
    "RTPublisher",
    "SubscriberStatistics",
    "Subscription",
    "current_publisher",
]

logger = logging.getLogger("runtree.pubsub")

Callback = Callable[[Any], Awaitable[None] | None]

#: The publisher of the session this code runs in (set by the session; read by nodes).
current_publisher: contextvars.ContextVar[RTPublisher | None] = contextvars.ContextVar(
    "runtree_publisher", default=None
)

DEFAULT_MAX_BUFFER = 10_000
_STOP = object()
_names = itertools.count(1)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SubscriberStatistics:
    """What one subscriber received: delivered, dropped (buffer full), failed (it raised)."""

    name: str
    delivered: int
    dropped: int
    failed: int
    pending: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PublisherStatistics:
    """Messages published, and per subscriber what became of them."""

    published: int
    dropped_after_close: int
    subscribers: tuple[SubscriberStatistics, ...]


class Subscription:
    """One subscriber: its callback, the message types it wants, and its buffer."""

    def __init__(
        self,
        callback: Callback,
        *,
        topics: tuple[type[Message], ...] | None,
        name: str,
        max_buffer: int,
    ) -> None:
        self.callback = callback
        self.topics = topics
        self.name = name
        self.max_buffer = max_buffer
        self.is_async = inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
            getattr(callback, "__call__", None)  # noqa: B004 - async callable objects
        )
        self.delivered = 0
        self.dropped = 0
        self.failed = 0
        self._closed = False
        # sync delivery: a thread draining a queue
        self._queue: queue.SimpleQueue[object] | None = None
        self._thread: threading.Thread | None = None
        # async delivery: a task draining a deque on the publisher's loop
        self._buffer: collections.deque[Message] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    def wants(self, message_type: type[Message]) -> bool:
        return self.topics is None or issubclass(message_type, self.topics)

    def statistics(self) -> SubscriberStatistics:
        pending = self._queue.qsize() if self._queue is not None else len(self._buffer)
        return SubscriberStatistics(
            name=self.name,
            delivered=self.delivered,
            dropped=self.dropped,
            failed=self.failed,
            pending=pending,
        )

    # -- delivery ----------------------------------------------------------------------------

    def offer(self, message: Message, loop: asyncio.AbstractEventLoop | None) -> None:
        """Queue ``message`` without blocking; count it as dropped if the buffer is full."""
        if self.is_async:
            self._offer_async(message, loop)
            return
        q = self._queue
        if q is None:
            q = self._start_thread()
        if q.qsize() >= self.max_buffer:
            self.dropped += 1
            return
        q.put(message)

    def _start_thread(self) -> queue.SimpleQueue[object]:
        q: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._queue = q
        thread = threading.Thread(
            target=self._drain_thread,
            args=(q,),
            name=f"runtree-subscriber-{self.name}",
            daemon=True,
        )
        self._thread = thread
        thread.start()
        return q

    def _drain_thread(self, q: queue.SimpleQueue[object]) -> None:
        callback = self.callback
        while True:
            message = q.get()
            if message is _STOP:
                return
            try:
                callback(message)
            except Exception:
                self.failed += 1
                logger.warning(
                    "subscriber %r failed on %s", self.name, type(message).__name__, exc_info=True
                )
            else:
                self.delivered += 1

    def _offer_async(self, message: Message, home: asyncio.AbstractEventLoop | None) -> None:
        loop = self._loop
        if loop is None:  # bind to the publisher's loop, whichever thread publishes first
            if home is None:
                raise SessionStateError(
                    f"async subscriber {self.name!r} needs an event loop; publish from inside "
                    "one, set RTPublisher.loop, or subscribe a synchronous callback"
                )
            loop = self._loop = home
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._offer_local(message)
        else:
            loop.call_soon_threadsafe(self._offer_local, message)

    def _offer_local(self, message: Message) -> None:
        """On the subscriber's loop: buffer ``message``, starting the drain task if needed."""
        if self._task is None:
            assert self._loop is not None
            self._task = self._loop.create_task(
                self._drain_task(), name=f"runtree-subscriber-{self.name}"
            )
        if len(self._buffer) >= self.max_buffer:
            self.dropped += 1
            return
        self._buffer.append(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _drain_task(self) -> None:
        buffer = self._buffer
        callback = self.callback
        loop = asyncio.get_running_loop()
        while True:
            while buffer:
                message = buffer.popleft()
                try:
                    await callback(message)  # type: ignore[misc]
                except Exception:
                    self.failed += 1
                    logger.warning(
                        "subscriber %r failed on %s",
                        self.name,
                        type(message).__name__,
                        exc_info=True,
                    )
                else:
                    self.delivered += 1
            if self._closed:
                return
            self._waiter = loop.create_future()
            await self._waiter
            self._waiter = None

    # -- closing -----------------------------------------------------------------------------

    def _request_stop(self) -> None:
        self._closed = True
        if self._queue is not None:
            self._queue.put(_STOP)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake_for_close)

    def _wake_for_close(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _wait_stopped(self, timeout: float) -> None:
        if self._thread is not None:
            thread = self._thread
            await asyncio.get_running_loop().run_in_executor(None, thread.join, timeout)
            if thread.is_alive():
                logger.warning(
                    "subscriber %r did not finish within %.1fs; %d messages left",
                    self.name,
                    timeout,
                    self._queue.qsize() if self._queue else 0,
                )
        task = self._task
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                task.cancel()
                logger.warning(
                    "subscriber %r did not finish within %.1fs; %d messages left",
                    self.name,
                    timeout,
                    len(self._buffer),
                )

    def _join_thread(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


class RTPublisher:
    """Publishes :class:`~runtree.pubsub.messages.Message` objects to subscribers.

    Subscribe with :meth:`subscribe`; publish with :meth:`publish` from any thread. Close with
    ``await publisher.aclose()`` (or ``close()`` where no loop runs): it delivers what is
    buffered, waiting at most ``close_timeout`` seconds per subscriber.
    """

    def __init__(self, *, max_buffer: int = DEFAULT_MAX_BUFFER, close_timeout: float = 5.0) -> None:
        if max_buffer < 1:
            raise ConfigurationError(f"max_buffer must be >= 1, got {max_buffer}")
        self.max_buffer = max_buffer
        self.close_timeout = close_timeout
        self._subscriptions: list[Subscription] = []
        self._routes: dict[type[Message], tuple[Subscription, ...]] = {}
        self._published = 0
        self._dropped_after_close = 0
        self._closed = False
        #: whether anyone subscribed at all: lets hot paths skip building messages cheaply
        self.listening = False
        #: the loop async subscribers run on (a session sets it); if unset, the loop of the
        #: first publish that reaches them
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def subscribe(
        self,
        callback: Callback,
        *,
        topics: Iterable[type[Message]] | type[Message] | None = None,
        name: str | None = None,
        max_buffer: int | None = None,
    ) -> Subscription:
        """Call ``callback(message)`` for every published message of the given types.

        ``topics`` is a message class or an iterable of them (subclasses match); ``None``
        means every message. A sync callback runs in a dedicated thread, an async one in a
        task on the loop that first publishes to it.
        """
        if self._closed:
            raise SessionStateError("cannot subscribe to a closed publisher")
        if not callable(callback):
            raise ConfigurationError(f"subscriber must be callable, got {callback!r}")
        if isinstance(topics, type):
            topics = (topics,)
        topic_tuple = None if topics is None else tuple(topics)
        for topic in topic_tuple or ():
            if not (isinstance(topic, type) and issubclass(topic, Message)):
                raise ConfigurationError(f"topics must be Message subclasses, got {topic!r}")
        size = self.max_buffer if max_buffer is None else max_buffer
        if size < 1:
            raise ConfigurationError(f"max_buffer must be >= 1, got {size}")
        label = name or getattr(callback, "__name__", None) or f"subscriber-{next(_names)}"
        sub = Subscription(callback, topics=topic_tuple, name=label, max_buffer=size)
        self._subscriptions.append(sub)
        self._routes = {}
        self.listening = True
        return sub

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to ``subscription``; messages already buffered are still delivered."""
        try:
            self._subscriptions.remove(subscription)
        except ValueError:
            raise ConfigurationError(f"{subscription.name!r} is not subscribed here") from None
        self._routes = {}
        self.listening = bool(self._subscriptions)
        subscription._request_stop()

    def wants(self, message_type: type[Message]) -> bool:
        """Whether any subscriber would receive a message of this type (cheap; cached)."""
        subs = self._routes.get(message_type)
        if subs is None:
            subs = self._route(message_type)
        return bool(subs)

    def _route(self, message_type: type[Message]) -> tuple[Subscription, ...]:
        subs = tuple(s for s in self._subscriptions if s.wants(message_type))
        self._routes[message_type] = subs
        return subs

    def publish(self, message: Message) -> None:
        """Hand ``message`` to every interested subscriber. Never blocks; thread-safe."""
        if self._closed:
            self._dropped_after_close += 1
            return
        cls = type(message)
        subs = self._routes.get(cls)
        if subs is None:
            subs = self._route(cls)
        self._published += 1
        if not subs:
            return
        loop = self.loop
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        for sub in subs:
            sub.offer(message, loop)

    def statistics(self) -> PublisherStatistics:
        return PublisherStatistics(
            published=self._published,
            dropped_after_close=self._dropped_after_close,
            subscribers=tuple(s.statistics() for s in self._subscriptions),
        )

    async def aclose(self) -> None:
        """Stop accepting messages and deliver what is buffered (bounded by ``close_timeout``)."""
        if self._closed:
            return
        self._closed = True
        subs = list(self._subscriptions)
        for sub in subs:
            sub._request_stop()
        await asyncio.gather(*(sub._wait_stopped(self.close_timeout) for sub in subs))

    def close(self) -> None:
        """Synchronous close for code without a running loop: joins subscriber threads.

        Async subscribers are stopped without waiting; use :meth:`aclose` to wait for them.
        """
        if self._closed:
            return
        self._closed = True
        for sub in self._subscriptions:
            sub._request_stop()
        for sub in self._subscriptions:
            sub._join_thread(self.close_timeout)
