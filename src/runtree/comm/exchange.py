"""``Exchange``: request/response between nodes, matched by correlation id, with timeouts.

A client calls ``await exchange.request(payload, timeout=...)``; the request travels as a
:class:`~runtree.comm.message.DataMessage` whose ``correlation_id`` identifies it. A server
either runs ``await exchange.serve(handler)`` (``handler(payload)`` returns the answer, sync or
async; an exception becomes a :class:`~runtree.comm.errors.RequestFailedError` for the client)
or takes requests itself with ``receive()``/``async for`` and answers with ``respond``/``fail``.

A request not answered within its timeout raises
:class:`~runtree.comm.errors.RequestTimeoutError` (a ``TimeoutError``). A response whose
request already timed out is counted as ``late``; one for an id never seen as ``unknown``;
requests whose client gave up before a server took them are skipped and counted as
``abandoned``.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

from runtree.comm._support import DEFAULT, Default, call_maybe_async, unique_name, wait
from runtree.comm.channel import DEFAULT_BUFFER_SIZE, Channel
from runtree.comm.errors import ChannelClosedError, RequestFailedError, RequestTimeoutError
from runtree.comm.message import DataMessage, ErrorMessage, new_id
from runtree.comm.registry import PRIVATE_REGISTRY, CommRegistry, notify, register
from runtree.errors import ConfigurationError

__all__ = ["Exchange", "ExchangeStatistics"]

logger = logging.getLogger("runtree.comm")
Req = TypeVar("Req")
Resp = TypeVar("Resp")
_EXPIRED_MEMORY = 4096


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeStatistics:
    """Counters of an :class:`Exchange`.

    ``requests`` were made; ``answered`` got a response, ``failed`` an error response,
    ``timeouts`` none in time; ``pending`` still wait; ``queued`` wait for a server.
    """

    name: str
    requests: int
    answered: int
    failed: int
    timeouts: int
    cancelled: int
    late: int
    unknown: int
    abandoned: int
    pending: int
    queued: int
    closed: bool


class Exchange(Generic[Req, Resp]):
    """A request/response rendezvous; ``timeout`` is the default request timeout (seconds)."""

    def __init__(
        self,
        name: str | None = None,
        *,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        timeout: float | None = None,
        registry: CommRegistry | None = None,
    ) -> None:
        if timeout is not None and (isinstance(timeout, bool) or timeout < 0):
            raise ConfigurationError(f"timeout must be None or >= 0, got {timeout!r}")
        self._name = name or unique_name("exchange")
        self.timeout = timeout
        self._requests: Channel[DataMessage] = Channel(
            self._name, buffer_size=buffer_size, registry=PRIVATE_REGISTRY
        )
        self._pending: dict[str, asyncio.Future[Resp]] = {}
        self._expired: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._count = {
            "requests": 0,
            "answered": 0,
            "failed": 0,
            "timeouts": 0,
            "cancelled": 0,
            "late": 0,
            "unknown": 0,
            "abandoned": 0,
        }
        register(self, registry)

    @property
    def name(self) -> str:
        return self._name

    @property
    def closed(self) -> bool:
        return self._requests.closed

    def __repr__(self) -> str:
        return f"<Exchange {self._name!r} pending={len(self._pending)}>"

    def statistics(self) -> ExchangeStatistics:
        return ExchangeStatistics(
            name=self._name,
            pending=len(self._pending),
            queued=len(self._requests),
            closed=self.closed,
            **self._count,
        )

    # -- client side ---------------------------------------------------------------------------

    async def request(
        self,
        payload: Req,
        *,
        timeout: float | Default | None = DEFAULT,
        source: str | None = None,
    ) -> Resp:
        """Send ``payload`` and wait for its response (at most ``timeout`` seconds).

        Raises :class:`RequestTimeoutError` when no response came in time,
        :class:`RequestFailedError` when the responder failed, and
        :class:`ChannelClosedError` when the exchange is closed.
        """
        limit = self.timeout if isinstance(timeout, Default) else timeout
        loop = asyncio.get_running_loop()
        deadline = None if limit is None else loop.time() + limit
        cid = new_id()
        message = DataMessage(payload=payload, source=source, id=cid, correlation_id=cid)
        future: asyncio.Future[Resp] = loop.create_future()

        def timed_out() -> RequestTimeoutError:
            return RequestTimeoutError(
                f"request {cid} on exchange {self._name!r} got no response within {limit}s",
                name=self._name,
                correlation_id=cid,
                timeout=limit,
            )

        self._pending[cid] = future
        self._count["requests"] += 1
        try:
            try:
                await self._requests.send(message, timeout=limit)
            except TimeoutError:
                raise timed_out() from None
            remaining = None if deadline is None else deadline - loop.time()
            return await wait(future, remaining, timed_out)
        except RequestTimeoutError:
            self._count["timeouts"] += 1
            notify("exchange.timeout", self._name, cid)
            raise
        except asyncio.CancelledError:
            self._count["cancelled"] += 1
            raise
        finally:
            if self._pending.pop(cid, None) is not None:  # nobody answered: it expired
                self._remember_expired(cid)

    def _remember_expired(self, cid: str) -> None:
        self._expired[cid] = None
        if len(self._expired) > _EXPIRED_MEMORY:
            self._expired.popitem(last=False)

    # -- server side ---------------------------------------------------------------------------

    async def receive(self, *, timeout: float | Default | None = DEFAULT) -> DataMessage:
        """The next request still awaited by its client (``ChannelClosedError`` once closed
        and drained)."""
        while True:
            message = await self._requests.receive(timeout=timeout)
            if message.correlation_id in self._pending:
                return message
            self._count["abandoned"] += 1

    def __aiter__(self) -> AsyncIterator[DataMessage]:
        return self

    async def __anext__(self) -> DataMessage:
        try:
            return await self.receive(timeout=None)
        except ChannelClosedError:
            raise StopAsyncIteration from None

    def _settle(self, request: DataMessage | str) -> asyncio.Future[Resp] | None:
        cid = request.correlation_id if isinstance(request, DataMessage) else request
        future = self._pending.pop(cid, None) if cid is not None else None
        if future is not None and not future.done():
            return future
        if cid is not None and cid in self._expired:
            self._count["late"] += 1
            notify("exchange.late_response", self._name, cid)
        else:
            self._count["unknown"] += 1
            notify("exchange.unknown_response", self._name, cid)
        return None

    def respond(self, request: DataMessage | str, response: Resp) -> bool:
        """Answer ``request`` (the message or its correlation id).

        Returns ``False`` (and counts it) when nobody waits for it any more.
        """
        future = self._settle(request)
        if future is None:
            return False
        future.set_result(response)
        self._count["answered"] += 1
        return True

    def fail(self, request: DataMessage | str, error: BaseException | ErrorMessage) -> bool:
        """Answer ``request`` with a failure; the client raises :class:`RequestFailedError`."""
        future = self._settle(request)
        if future is None:
            return False
        cid = request.correlation_id if isinstance(request, DataMessage) else request
        report = (
            error
            if isinstance(error, ErrorMessage)
            else ErrorMessage.from_exception(error, source=self._name, correlation_id=cid)
        )
        exc = RequestFailedError(
            f"request {cid} on exchange {self._name!r} failed: {report.error_code}: "
            f"{report.message}",
            correlation_id=cid,
            error=report,
        )
        if isinstance(error, BaseException):
            exc.__cause__ = error
        future.set_exception(exc)
        self._count["failed"] += 1
        return True

    async def serve(
        self,
        handler: Callable[[Req], Resp | Awaitable[Resp]],
        *,
        concurrency: int = 1,
    ) -> None:
        """Answer requests with ``handler(payload)`` until the exchange is closed and drained.

        Up to ``concurrency`` requests are handled at once. A handler exception is sent to
        the client as a :class:`RequestFailedError`; it does not stop serving.
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be an int >= 1, got {concurrency!r}")
        if concurrency == 1:
            async for request in self:
                await self._answer(handler, request)
            return
        slots = asyncio.Semaphore(concurrency)
        tasks: set[asyncio.Task[None]] = set()

        def finished(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            slots.release()

        try:
            while True:
                await slots.acquire()
                try:
                    request = await self.receive(timeout=None)
                except ChannelClosedError:
                    slots.release()
                    break
                task = asyncio.get_running_loop().create_task(self._answer(handler, request))
                tasks.add(task)
                task.add_done_callback(finished)
            if tasks:
                await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise

    async def _answer(self, handler: Callable[[Req], Any], request: DataMessage) -> None:
        try:
            response = await call_maybe_async(handler, request.payload)
        except asyncio.CancelledError as exc:
            self.fail(request, exc)
            raise
        except Exception as exc:
            self.fail(request, exc)
        else:
            self.respond(request, response)

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Refuse new requests; queued ones are still served, pending ones still answered."""
        self._requests.close()

    async def __aenter__(self) -> Exchange[Req, Resp]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
