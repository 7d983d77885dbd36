"""``Channel[T]``: a named, typed, bounded async channel with close semantics.

``send`` waits while the buffer is full, ``receive`` waits while it is empty; both take a
``timeout`` (seconds; the channel's default when omitted) and raise
:class:`~runtree.comm.errors.ChannelTimeoutError` (a ``TimeoutError``) when it passes.
``close()`` refuses further sends; receivers drain what is buffered and then get
:class:`~runtree.comm.errors.ChannelClosedError`, and ``async for`` stops. Waiting is done on
futures that are woken by the opposite operation: nothing polls.

A channel belongs to one event loop and is not thread-safe (like ``asyncio.Queue``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Generic, TypeVar

from runtree.comm._support import DEFAULT, Default, unique_name, wait
from runtree.comm.errors import (
    ChannelClosedError,
    ChannelTimeoutError,
    ChannelTypeError,
    QueueEmptyError,
    QueueFullError,
)
from runtree.comm.registry import CommRegistry, notify, register
from runtree.errors import ConfigurationError

__all__ = ["DEFAULT_BUFFER_SIZE", "Channel", "ChannelStatistics"]

T = TypeVar("T")
DEFAULT_BUFFER_SIZE = 1000


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ChannelStatistics:
    """Counters of a :class:`Channel` at one moment."""

    name: str
    sent: int
    received: int
    depth: int
    buffer_size: int
    closed: bool
    high_water: int
    waiting_senders: int
    waiting_receivers: int
    timeouts: int
    rejected: int


def _type_label(expected: type[Any] | tuple[type[Any], ...]) -> str:
    if isinstance(expected, tuple):
        return " | ".join(t.__qualname__ for t in expected)
    return expected.__qualname__


def _wake_one(waiters: collections.deque[asyncio.Future[None]]) -> None:
    while waiters:
        waiter = waiters.popleft()
        if not waiter.done():
            waiter.set_result(None)
            return


def _forget(waiters: collections.deque[asyncio.Future[None]], waiter: asyncio.Future[None]) -> None:
    with contextlib.suppress(ValueError):
        waiters.remove(waiter)


class Channel(Generic[T]):
    """A bounded FIFO between producers and consumers in one event loop.

    ``type_`` (a class or tuple of classes) makes ``send`` check each item with
    ``isinstance`` and raise :class:`~runtree.comm.errors.ChannelTypeError`; ``timeout`` is
    the default for ``send``/``receive`` (``None``: wait for ever).
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        type_: type[T] | tuple[type[Any], ...] | None = None,
        timeout: float | None = None,
        registry: CommRegistry | None = None,
    ) -> None:
        if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 1:
            raise ConfigurationError(f"buffer_size must be an int >= 1, got {buffer_size!r}")
        if timeout is not None and (isinstance(timeout, bool) or timeout < 0):
            raise ConfigurationError(f"timeout must be None or >= 0, got {timeout!r}")
        if type_ is not None and not (
            isinstance(type_, type)
            or (isinstance(type_, tuple) and all(isinstance(t, type) for t in type_))
        ):
            raise ConfigurationError(f"type_ must be a class or a tuple of classes, got {type_!r}")
        self._name = name or unique_name("channel")
        self.buffer_size = buffer_size
        self.type_ = type_
        self.timeout = timeout
        self._buffer: collections.deque[T] = collections.deque()
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._putters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False
        self._sent = 0
        self._received = 0
        self._high_water = 0
        self._waiting_senders = 0
        self._waiting_receivers = 0
        self._timeouts = 0
        self._rejected = 0
        register(self, registry)

    # -- state ---------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def state(self) -> str:
        """``"open"`` or ``"closed"``."""
        return "closed" if self._closed else "open"

    def __len__(self) -> int:
        return len(self._buffer)

    def empty(self) -> bool:
        return not self._buffer

    def full(self) -> bool:
        return len(self._buffer) >= self.buffer_size

    def __repr__(self) -> str:
        return (
            f"<Channel {self._name!r} {self.state} {len(self._buffer)}/{self.buffer_size}"
            f" sent={self._sent} received={self._received}>"
        )

    def statistics(self) -> ChannelStatistics:
        return ChannelStatistics(
            name=self._name,
            sent=self._sent,
            received=self._received,
            depth=len(self._buffer),
            buffer_size=self.buffer_size,
            closed=self._closed,
            high_water=self._high_water,
            waiting_senders=self._waiting_senders,
            waiting_receivers=self._waiting_receivers,
            timeouts=self._timeouts,
            rejected=self._rejected,
        )

    # -- sending -------------------------------------------------------------------------------

    def _closed_error(self, action: str) -> ChannelClosedError:
        return ChannelClosedError(
            f"cannot {action}: channel {self._name!r} is closed", name=self._name
        )

    def _check(self, item: T) -> None:
        if self._closed:
            raise self._closed_error("send")
        expected = self.type_
        if expected is not None and not isinstance(item, expected):
            self._rejected += 1
            label = _type_label(expected)
            raise ChannelTypeError(
                f"channel {self._name!r} carries {label}, got {type(item).__qualname__}",
                name=self._name,
                expected=label,
                actual=type(item).__qualname__,
            )

    def _put(self, item: T) -> None:
        buffer = self._buffer
        buffer.append(item)
        self._sent += 1
        if len(buffer) > self._high_water:
            self._high_water = len(buffer)
        if self._getters:
            _wake_one(self._getters)

    def send_nowait(self, item: T) -> None:
        """Buffer ``item`` now, or raise :class:`QueueFullError` if the buffer is full."""
        self._check(item)
        if len(self._buffer) >= self.buffer_size:
            raise QueueFullError(
                f"channel {self._name!r} is full ({self.buffer_size} items)",
                name=self._name,
                max_size=self.buffer_size,
            )
        self._put(item)

    async def send(self, item: T, *, timeout: float | Default | None = DEFAULT) -> None:
        """Buffer ``item``, waiting while the buffer is full (at most ``timeout`` seconds)."""
        self._check(item)
        if len(self._buffer) >= self.buffer_size:
            await self._wait_for_room(self.timeout if isinstance(timeout, Default) else timeout)
        self._put(item)

    async def _wait_for_room(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while len(self._buffer) >= self.buffer_size:
            remaining = None if deadline is None else deadline - loop.time()
            await self._wait(self._putters, remaining, "send", timeout)
            if self._closed:
                raise self._closed_error("send")

    # -- receiving -----------------------------------------------------------------------------

    def _take(self) -> T:
        item = self._buffer.popleft()
        self._received += 1
        if self._putters:
            _wake_one(self._putters)
        return item

    def receive_nowait(self) -> T:
        """Take the oldest item now; :class:`QueueEmptyError` if none (closed and drained:
        :class:`ChannelClosedError`)."""
        if self._buffer:
            return self._take()
        if self._closed:
            raise self._closed_error("receive")
        raise QueueEmptyError(f"channel {self._name!r} is empty", name=self._name)

    async def receive(self, *, timeout: float | Default | None = DEFAULT) -> T:
        """Take the oldest item, waiting while the channel is empty (at most ``timeout``).

        Raises :class:`ChannelClosedError` once the channel is closed and drained.
        """
        if not self._buffer:
            limit = self.timeout if isinstance(timeout, Default) else timeout
            loop = asyncio.get_running_loop()
            deadline = None if limit is None else loop.time() + limit
            while not self._buffer:
                if self._closed:
                    raise self._closed_error("receive")
                remaining = None if deadline is None else deadline - loop.time()
                await self._wait(self._getters, remaining, "receive", limit)
        return self._take()

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive(timeout=None)
        except ChannelClosedError:
            raise StopAsyncIteration from None

    # -- waiting -------------------------------------------------------------------------------

    async def _wait(
        self,
        waiters: collections.deque[asyncio.Future[None]],
        remaining: float | None,
        operation: str,
        timeout: float | None,
    ) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        sending = waiters is self._putters
        if sending:
            self._waiting_senders += 1
        else:
            self._waiting_receivers += 1

        def timed_out() -> ChannelTimeoutError:
            return ChannelTimeoutError(
                f"{operation} on channel {self._name!r} timed out after {timeout}s",
                name=self._name,
                operation=operation,
                timeout=timeout,
            )

        try:
            await wait(waiter, remaining, timed_out)
        except ChannelTimeoutError:
            self._timeouts += 1
            _forget(waiters, waiter)
            notify("channel.timeout", self._name, operation)
            raise
        except BaseException:
            # cancelled: if we had been woken, hand the wake-up to the next waiter
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                if (sending and not self.full()) or (not sending and self._buffer):
                    _wake_one(waiters)
            else:
                waiter.cancel()
                _forget(waiters, waiter)
            raise
        finally:
            if sending:
                self._waiting_senders -= 1
            else:
                self._waiting_receivers -= 1

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Refuse further sends; waiting senders fail, receivers drain then fail. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for waiters in (self._getters, self._putters):
            while waiters:
                waiter = waiters.popleft()
                if not waiter.done():
                    waiter.set_result(None)
        notify("channel.closed", self._name, {"sent": self._sent, "received": self._received})

    async def aclose(self) -> None:
        """Same as :meth:`close` (for ``async with`` symmetry)."""
        self.close()

    def __enter__(self) -> Channel[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Channel[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
