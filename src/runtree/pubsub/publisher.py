"""The publisher: fan-out of lifecycle messages to isolated subscribers.

``publish`` never blocks and never raises because of a subscriber. Each subscriber owns a
bounded buffer and a thread of its own that delivers the buffered messages in order; when
the buffer is full the new message is dropped and counted, so a slow or failing subscriber
can neither stall nor break the run. A callback that is ``async`` (or returns an awaitable)
runs on the publisher's :attr:`~RTPublisher.home_loop` when it has one — the event loop of
the code that opened the session with ``async with``, so the callback can use that code's
async objects (a websocket, an ``asyncio.Queue``) — else on an event loop owned by its
thread. Like any
coroutine on your loop, an async callback must not block it: put blocking work in a sync
callback, which runs in its own thread. Messages are routed by type: publishing touches only
the subscribers that asked for that type.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import dataclasses
import inspect
import itertools
import logging
import queue
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from runtree._async import close_loop, is_async_callable, new_loop
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
    """One subscriber: its callback, the message types it wants, and its buffer (drained by
    a thread of its own, started on the first message)."""

    def __init__(
        self,
        callback: Callback,
        *,
        topics: tuple[type[Message], ...] | None,
        name: str,
        max_buffer: int,
        publisher: RTPublisher | None = None,
    ) -> None:
        self.callback = callback
        self._publisher = publisher
        #: whether deliveries may need the publisher's home loop (an async callback)
        self.uses_home_loop = is_async_callable(callback)
        self.topics = topics
        self.name = name
        self.max_buffer = max_buffer
        self.delivered = 0
        self.dropped = 0
        self.failed = 0
        self._queue: queue.SimpleQueue[object] | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        #: set by the thread when it has delivered everything and stopped
        self._stopped: concurrent.futures.Future[None] = concurrent.futures.Future()

    def wants(self, message_type: type[Message]) -> bool:
        return self.topics is None or issubclass(message_type, self.topics)

    def statistics(self) -> SubscriberStatistics:
        return SubscriberStatistics(
            name=self.name,
            delivered=self.delivered,
            dropped=self.dropped,
            failed=self.failed,
            pending=self._queue.qsize() if self._queue is not None else 0,
        )

    # -- delivery ----------------------------------------------------------------------------

    def offer(self, message: Message) -> None:
        """Queue ``message`` without blocking; count it as dropped if the buffer is full."""
        q = self._queue
        if q is None:
            q = self._start_thread()
        if q.qsize() >= self.max_buffer:
            self.dropped += 1
            return
        q.put(message)

    def _start_thread(self) -> queue.SimpleQueue[object]:
        with self._start_lock:  # publishers in two threads at once start one thread
            if self._queue is not None:
                return self._queue
            q: queue.SimpleQueue[object] = queue.SimpleQueue()
            thread = threading.Thread(
                target=self._drain,
                args=(q,),
                name=f"runtree-subscriber-{self.name}",
                daemon=True,
            )
            self._thread = thread
            thread.start()
            self._queue = q
            return q

    def _drain(self, q: queue.SimpleQueue[object]) -> None:
        callback = self.callback
        loop: asyncio.AbstractEventLoop | None = None
        try:
            while True:
                message = q.get()
                if message is _STOP:
                    return
                try:
                    result = callback(message)
                    if inspect.isawaitable(result):
                        home = self._home_loop()
                        if home is not None:  # on the loop of the code that opened the run
                            asyncio.run_coroutine_threadsafe(_awaited(result), home).result()
                        else:
                            if loop is None:
                                loop = new_loop()
                            loop.run_until_complete(result)
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
        finally:
            if loop is not None:
                close_loop(loop)
            self._stopped.set_result(None)

    def _home_loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop async deliveries go to, if any. While a sync close blocks that loop's
        thread waiting for this one, a callback that only turned out to be async uses this
        thread's loop instead (an async callback is not waited for: it keeps the home loop)."""
        publisher = self._publisher
        home = None if publisher is None else publisher.home_loop
        if home is None or home.is_closed():
            return None
        if publisher is not None and publisher._closing_home and not self.uses_home_loop:
            return None
        return home

    # -- closing -----------------------------------------------------------------------------

    def _request_stop(self) -> None:
        """Deliver what is buffered, then stop (a subscriber that never started stops now)."""
        with self._start_lock:
            if self._queue is None:
                self._queue = queue.SimpleQueue()  # later offers are buffered, never delivered
                if not self._stopped.done():
                    self._stopped.set_result(None)
                return
        self._queue.put(_STOP)

    def _warn_unfinished(self, timeout: float) -> None:
        logger.warning(
            "subscriber %r did not finish within %.1fs; %d messages left",
            self.name,
            timeout,
            self._queue.qsize() if self._queue is not None else 0,
        )

    async def _wait_stopped(self, timeout: float) -> None:
        if self._stopped.done():
            return
        waiter = asyncio.wrap_future(self._stopped)
        done, _ = await asyncio.wait({waiter}, timeout=timeout)
        if not done:
            waiter.cancel()
            self._warn_unfinished(timeout)

    def _join(self, timeout: float) -> None:
        try:
            self._stopped.result(timeout)
        except concurrent.futures.TimeoutError:
            self._warn_unfinished(timeout)


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
        #: the loop async callbacks run on (the session sets its caller's loop), or ``None``
        self.home_loop: asyncio.AbstractEventLoop | None = None
        self._closing_home = False  # a sync close is blocking the home loop's thread
        #: whether anyone subscribed at all: lets hot paths skip building messages cheaply
        self.listening = False

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
        means every message. The callback runs in order, in a thread of its own; an async
        one (or one returning an awaitable) on :attr:`home_loop`, else on an event loop owned
        by that thread.
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
        sub = Subscription(
            callback, topics=topic_tuple, name=label, max_buffer=size, publisher=self
        )
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
        for sub in subs:
            sub.offer(message)

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
        """Synchronous :meth:`aclose`. Called on the home loop's thread (a sync ``with``
        session inside async code), it cannot wait for async callbacks, which need that loop:
        they get the rest of their messages when the loop runs again."""
        if self._closed:
            return
        self._closed = True
        home = self.home_loop
        on_home = home is not None and asyncio._get_running_loop() is home
        if on_home:
            self._closing_home = True  # other awaitables: delivered on their threads' loops
        for sub in self._subscriptions:
            sub._request_stop()
        for sub in self._subscriptions:
            if not (on_home and sub.uses_home_loop):
                sub._join(self.close_timeout)
        self._closing_home = False


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
