"""The connection from Ray tasks back to their session (the driver side, and the handshake
both sides speak).

A Ray task whose node makes calls, publishes messages or changes ``rt.context`` reports
them to the session over TCP (:mod:`runtree.execution.remote` says which messages): the
session listens on one address (:class:`DriverChannel`), each Ray worker process opens one
connection to it when one of its tasks first needs it and keeps it for the tasks that
follow. Frames carry the task id, so one connection serves every task the worker runs.

Nothing else may talk on it: a connection must prove, before its first frame, that it knows
the session's secret (a random 32-byte key that reaches the tasks as one of their Ray
arguments, never over this connection). Both sides prove it with HMAC-SHA256 over a fresh
nonce of the other side, so the key itself never crosses the wire::

    worker -> driver   MAGIC, worker nonce (16 bytes)
    driver -> worker   driver nonce (16 bytes), HMAC(key, "driver" + worker nonce)
    worker -> driver   HMAC(key, "worker" + driver nonce)

A connection that fails the check (or takes longer than :data:`HANDSHAKE_TIMEOUT`) is
closed; frames never reach a task's bridge before the check passed. The traffic itself is
not encrypted (see ``docs/ray.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runtree._async import new_loop
from runtree.errors import ExecutionError
from runtree.execution.remote import REPLY
from runtree.execution.wire import FrameBuffer, frame

if TYPE_CHECKING:
    from runtree.execution.bridge import TaskBridge

__all__ = ["DIGEST", "HANDSHAKE_TIMEOUT", "MAGIC", "NONCE", "DriverChannel", "proof"]

logger = logging.getLogger("runtree.integrations.ray")

MAGIC = b"RTRAY\x00\x01\n"
NONCE = 16
DIGEST = 32
#: seconds a new connection has to prove it knows the key
HANDSHAKE_TIMEOUT = 10.0


def proof(key: bytes, role: bytes, nonce: bytes) -> bytes:
    """What ``role`` (``b"driver"`` or ``b"worker"``) sends to show it knows ``key``."""
    return hmac.new(key, role + nonce, hashlib.sha256).digest()


class DriverChannel:
    """The session's end: a TCP listener on ``host:port`` served by a thread of its own
    (with its own event loop), so that tasks of sessions on any event loop can use it.

    Frames for a registered task go to its :class:`TaskBridge` on the bridge's loop (all
    the frames of one read in one hop); :meth:`reply` sends an answer back over the
    connection the task spoke on.
    """

    def __init__(self, host: str, port: int = 0) -> None:
        self.key = os.urandom(32)
        self.bridges: dict[int, TaskBridge] = {}
        #: task id -> the connection its worker reports on
        self.routes: dict[int, _DriverConnection] = {}
        #: connections that proved the key, in all; connections refused
        self.connections = 0
        self.refused = 0
        #: connections open now (touched on the channel's thread only)
        self.open_connections: set[_DriverConnection] = set()
        self._loop = new_loop()
        self._server: asyncio.base_events.Server | None = None
        started: list[BaseException | tuple[str, int]] = []
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(host, port, started, ready), name="runtree-ray-channel"
        )
        self._thread.daemon = True
        self._thread.start()
        ready.wait()
        outcome = started[0]
        if isinstance(outcome, BaseException):
            self._thread.join()
            raise ExecutionError(
                f"runtree could not listen on {host}:{port} for its Ray tasks: "
                f"{type(outcome).__name__}: {outcome}"
            ) from outcome
        self.host, self.port = outcome

    def _serve(
        self,
        host: str,
        port: int,
        started: list[BaseException | tuple[str, int]],
        ready: threading.Event,
    ) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(
                loop.create_server(lambda: _DriverConnection(self), host, port, reuse_address=True)
            )
            bound = self._server.sockets[0].getsockname()
            started.append((str(bound[0]), int(bound[1])))
        except BaseException as exc:
            started.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    # -- tasks (called from the sessions' loops) ---------------------------------------------

    def register(self, task_id: int, bridge: TaskBridge) -> None:
        self.bridges[task_id] = bridge

    def unregister(self, task_id: int) -> None:
        self.bridges.pop(task_id, None)
        self.routes.pop(task_id, None)

    def reply(self, task_id: int, msg_id: int, body: bytes) -> None:
        """Send the answer ``body`` to message ``msg_id`` of task ``task_id`` (any thread)."""
        connection = self.routes.get(task_id)
        if connection is None:  # the task never spoke, or its worker is gone
            return
        data = frame(REPLY, task_id, msg_id, body)
        with contextlib.suppress(RuntimeError):  # (the channel is closed)
            self._loop.call_soon_threadsafe(connection.write, data)

    def close(self) -> None:
        """Stop listening, close every connection and end the thread."""
        loop = self._loop
        if loop.is_closed() or not self._thread.is_alive():
            return

        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            connections = list(self.open_connections)
            for connection in connections:
                connection.abort()
            await asyncio.gather(*(connection.ended for connection in connections))
            if self._server is not None:
                await self._server.wait_closed()

        try:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        except (RuntimeError, TimeoutError):  # closed meanwhile, or stuck: give up on it
            return
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)


class _DriverConnection(asyncio.Protocol):
    """One worker process's connection (on the channel's thread)."""

    def __init__(self, channel: DriverChannel) -> None:
        self.channel = channel
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._frames = FrameBuffer()
        self._nonce = b""
        self._state = "hello"
        self._timer: asyncio.TimerHandle | None = None
        #: resolves when the connection has closed
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.channel.open_connections.add(self)
        self._timer = asyncio.get_running_loop().call_later(HANDSHAKE_TIMEOUT, self._refuse, "late")

    def _refuse(self, why: str) -> None:
        self.channel.refused += 1
        peer = None if self.transport is None else self.transport.get_extra_info("peername")
        logger.warning("refused a connection to runtree's Ray channel from %s (%s)", peer, why)
        self.abort()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        if self._state == "open":
            self._deliver(data)
            return
        self._buffer += data
        if self._state == "hello":
            if self._buffer[: len(MAGIC)] != MAGIC[: len(self._buffer)]:
                self._refuse("not a runtree worker")
                return
            if len(self._buffer) < len(MAGIC) + NONCE:
                return
            theirs = bytes(self._buffer[len(MAGIC) : len(MAGIC) + NONCE])
            del self._buffer[: len(MAGIC) + NONCE]
            self._nonce = os.urandom(NONCE)
            self.write(self._nonce + proof(self.channel.key, b"driver", theirs))
            self._state = "proof"
        if self._state == "proof":
            if len(self._buffer) < DIGEST:
                return
            expected = proof(self.channel.key, b"worker", self._nonce)
            if not hmac.compare_digest(bytes(self._buffer[:DIGEST]), expected):
                self._refuse("wrong key")
                return
            rest = bytes(self._buffer[DIGEST:])
            self._buffer.clear()
            self._state = "open"
            self.channel.connections += 1
            if self._timer is not None:
                self._timer.cancel()
            if rest:
                self._deliver(rest)

    def _deliver(self, data: bytes) -> None:
        channel = self.channel
        batches: dict[asyncio.AbstractEventLoop, list[tuple[TaskBridge, int, int, bytes]]] = {}
        for kind, task_id, msg_id, body in self._frames.feed(data):
            bridge = channel.bridges.get(task_id)
            if bridge is None:  # a task that ended (or was never ours): nothing to tell
                continue
            if channel.routes.get(task_id) is not self:
                channel.routes[task_id] = self
            batches.setdefault(bridge.loop, []).append((bridge, kind, msg_id, body))
        for loop, batch in batches.items():
            _call_soon(loop, _receive, batch)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.channel.open_connections.discard(self)
        if not self.ended.done():
            self.ended.set_result(None)
        channel = self.channel
        lost = [task_id for task_id, route in list(channel.routes.items()) if route is self]
        for task_id in lost:
            channel.routes.pop(task_id, None)
            bridge = channel.bridges.get(task_id)
            if bridge is not None:
                _call_soon(bridge.loop, _lost, bridge, exc)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # (that session's loop is closed: nobody waits)
        loop.call_soon_threadsafe(callback, *args)


def _receive(batch: list[tuple[TaskBridge, int, int, bytes]]) -> None:
    for bridge, kind, msg_id, body in batch:
        bridge.receive(kind, msg_id, body)


def _lost(bridge: TaskBridge, exc: Exception | None) -> None:
    if bridge.outcome.done():  # it had reported its end: nothing is lost
        return
    how = "" if exc is None else f": {type(exc).__name__}: {exc}"
    bridge.abandon(
        ExecutionError(
            f"the connection from the Ray worker running node {bridge.node_name!r} to its "
            f"session was lost{how}; the request failed"
        )
    )
