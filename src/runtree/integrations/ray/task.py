"""The Ray side: what runs in a Ray worker process for each node.

:func:`execute` is the Ray task (a plain function, exported to the cluster by reference, so
runtree must be installed where the tasks run). Each worker process keeps one
:class:`_Runtime`: an event loop that runs the nodes (so what they keep, and the connection
back to the session, outlive one task) and one connection per session it reports to,
opened when a task first needs it.

The loop runs on the task's own thread. When the node hands calls back to the session
(``ray`` or ``process`` mode calls run as tasks of their own), the loop moves to a helper
thread and the task's thread waits in ``ray.get`` on the session's gate actor until the
node needs no more of them: Ray lends the task's CPU to other tasks meanwhile, as it does
for any task blocked in ``ray.get``, so a fan-out from a Ray node never deadlocks a cluster
whose CPUs are all held by waiting parents.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import pickle
import queue
import socket
import struct
import sys
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import ray

from runtree._async import new_loop
from runtree.errors import ExecutionError
from runtree.execution.link import MessageLink, run_remote_task
from runtree.execution.remote import DONE, REPLY, TaskContext
from runtree.execution.wire import FrameBuffer, frame
from runtree.integrations.ray.channel import DIGEST, MAGIC, NONCE, proof
from runtree.policy.policy import Policy
from runtree.runtime.strategies import worker_scope

__all__ = ["GATE_OPTIONS", "Gate", "Route", "execute", "pack"]

logger = logging.getLogger("runtree.integrations.ray")

#: seconds a worker waits to connect to its session and finish the handshake
CONNECT_TIMEOUT = 30.0


class Route(NamedTuple):
    """How a task reaches its session (the same for every task of a strategy)."""

    host: str
    port: int
    key: bytes
    #: the name of the session's :class:`Gate` actor
    gate: str
    #: folders the session had on ``sys.path`` (a local cluster only), added to the
    #: worker's when missing there
    paths: tuple[str, ...]


class _Gate:
    """Where a parked task's thread waits (``wait``) until its node needs no more calls
    handed back (``open``). One per session process; it holds no CPU."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    async def wait(self, token: str) -> None:
        event = self._events.setdefault(token, asyncio.Event())
        try:
            await event.wait()
        finally:
            self._events.pop(token, None)

    async def open(self, token: str) -> None:
        self._events.setdefault(token, asyncio.Event()).set()


#: the gate as a Ray actor class (see :data:`GATE_OPTIONS`)
Gate: Any = ray.remote(_Gate)
#: it holds no CPU, and every parked task of the session may wait on it at once
GATE_OPTIONS: dict[str, Any] = {"num_cpus": 0, "max_concurrency": 100_000}


#: task id, length of the route's pickle: what :func:`pack` puts before the route and body
_HEADER = struct.Struct("!II")
#: the routes this worker has seen, by their pickle (one per session, in practice)
_routes: dict[bytes, Route] = {}


def pack(route: bytes, task_id: int, body: bytes) -> bytes:
    """A task's one argument (one ``bytes`` costs Ray the least to send): its id, the
    pickled :class:`Route` of its session (``route``) and its encoded task (``body``)."""
    return _HEADER.pack(task_id, len(route)) + route + body


def execute(packed: bytes) -> bytes | None:
    """The Ray task: run the node of a :func:`pack`-ed task; its ``DONE`` body, or
    ``None`` when it reported over its connection (``DONE`` went there too, in order)."""
    task_id, size = _HEADER.unpack_from(packed)
    start = _HEADER.size
    raw = packed[start : start + size]
    route = _routes.get(raw)
    if route is None:
        route = _routes[raw] = Route(*pickle.loads(raw))
    return _Runtime.get(route).run(packed[start + size :], route, task_id)


class _Connection:
    """A worker process's connection to one session (any thread may send on it; a reader
    thread hands the session's replies to the tasks' links)."""

    def __init__(self, runtime: _Runtime, route: Route) -> None:
        self.runtime = runtime
        self.route = route
        self.links: dict[int, MessageLink] = {}
        self.closed = False
        self._lock = threading.Lock()
        try:
            sock = socket.create_connection((route.host, route.port), timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            raise ExecutionError(
                f"this Ray worker ({socket.gethostname()}, pid {os.getpid()}) cannot reach its "
                f"session at {route.host}:{route.port}: {exc} (see docs/ray.md: the session "
                "must be reachable from every Ray node)"
            ) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            mine = os.urandom(NONCE)
            sock.sendall(MAGIC + mine)
            answer = _read_exactly(sock, NONCE + DIGEST)
            theirs, shown = answer[:NONCE], answer[NONCE:]
            if not hmac.compare_digest(shown, proof(route.key, b"driver", mine)):
                raise ExecutionError(
                    f"the listener at {route.host}:{route.port} is not this task's session "
                    "(it does not know the session's key)"
                )
            sock.sendall(proof(route.key, b"worker", theirs))
            sock.settimeout(None)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        threading.Thread(target=self._read, name="runtree-ray-reader", daemon=True).start()

    def send(self, kind: int, task_id: int, msg_id: int, body: bytes) -> None:
        data = frame(kind, task_id, msg_id, body)
        with self._lock:
            if self.closed:
                raise ExecutionError("this Ray worker lost its connection to the session")
            try:
                self.sock.sendall(data)
            except OSError as exc:
                self._close()
                raise ExecutionError(
                    f"this Ray worker lost its connection to the session: {exc}"
                ) from exc

    def _read(self) -> None:
        frames = FrameBuffer()
        loop = self.runtime.loop
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                data = b""
            if not data:
                break
            replies = []
            for kind, task_id, msg_id, body in frames.feed(data):
                link = self.links.get(task_id)
                if kind == REPLY and link is not None:
                    replies.append((link, msg_id, body))
            if replies:
                loop.call_soon_threadsafe(_deliver, replies)
        with self._lock:
            self._close()
        error = ExecutionError("this Ray worker lost its connection to the session")
        for link in list(self.links.values()):
            loop.call_soon_threadsafe(link.fail_all, error)

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            self.runtime.forget(self)
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)


def _deliver(replies: list[tuple[MessageLink, int, bytes]]) -> None:
    for link, msg_id, body in replies:
        link.receive_reply(msg_id, body)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ExecutionError("the session closed the connection during the handshake")
        data += chunk
    return bytes(data)


class _TaskLink(MessageLink):
    """A task's link: connects on first use, and parks the task's thread on the gate while
    the node waits for calls it handed back."""

    def __init__(
        self,
        runtime: _Runtime,
        route: Route,
        task_id: int,
        context: TaskContext,
        park: Callable[[Any], None],
    ) -> None:
        super().__init__(self._transmit, context, runtime.loop)
        self.runtime = runtime
        self.route = route
        self.task_id = task_id
        self.used = False
        self._park = park
        self._connection: _Connection | None = None
        self._handed_back = 0
        self._token: str | None = None

    def _transmit(self, kind: int, msg_id: int, body: bytes) -> None:
        connection = self._connection
        if connection is None:
            connection = self._connection = self.runtime.connection(self.route)
            connection.links[self.task_id] = self
        self.used = True
        connection.send(kind, self.task_id, msg_id, body)

    async def call(
        self,
        parent_id: str | None,
        target: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        mode: str,
        policy: Policy | None = None,
    ) -> Any:
        self._handed_back += 1
        if self._handed_back == 1:
            self._close_gate()
        try:
            return await super().call(parent_id, target, args, kwargs, mode, policy)
        finally:
            self._handed_back -= 1
            if self._handed_back == 0:
                self.open_gate()

    def _close_gate(self) -> None:
        gate = self.runtime.gate(self.route.gate)
        if gate is None:
            return
        self._token = os.urandom(8).hex()
        self._park(gate.wait.remote(self._token))

    def open_gate(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            gate = self.runtime.gate(self.route.gate)
            if gate is not None:
                gate.open.remote(token)

    def detach(self) -> None:
        self.open_gate()
        if self._connection is not None:
            self._connection.links.pop(self.task_id, None)


class _Runtime:
    """What a worker process keeps between tasks (see the module docstring)."""

    _current: _Runtime | None = None
    _creating = threading.Lock()

    def __init__(self) -> None:
        #: runs while a task runs (in the task's thread, or a helper's once it parks)
        self.loop = new_loop()
        self._connections: dict[tuple[str, int, bytes], _Connection] = {}
        self._gates: dict[str, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def get(cls, route: Route) -> _Runtime:
        runtime = cls._current
        if runtime is None:
            with cls._creating:
                if cls._current is None:
                    for path in route.paths:  # a local cluster: the session's folders
                        if path not in sys.path:
                            sys.path.append(path)
                    cls._current = cls()
                runtime = cls._current
        return runtime

    def connection(self, route: Route) -> _Connection:
        key = (route.host, route.port, route.key)
        with self._lock:
            connection = self._connections.get(key)
            if connection is None:
                connection = self._connections[key] = _Connection(self, route)
            return connection

    def forget(self, connection: _Connection) -> None:
        key = (connection.route.host, connection.route.port, connection.route.key)
        if self._connections.get(key) is connection:
            del self._connections[key]

    def gate(self, name: str) -> Any:
        gate = self._gates.get(name)
        if gate is None:
            try:
                gate = self._gates[name] = ray.get_actor(name)
            except ValueError:  # pragma: no cover - the session created it before any task
                logger.warning("runtree's gate actor %r is missing: tasks will not park", name)
                return None
        return gate

    def run(self, body: bytes, route: Route, task_id: int) -> bytes | None:
        """In the Ray task's thread: run the task on the runtime's loop, here; once the node
        parks, the loop goes on in a helper thread while this one waits in ``ray.get``."""
        loop = self.loop
        parked: queue.SimpleQueue[Any] = queue.SimpleQueue()
        moved = False

        def park(waiting: Any) -> None:  # (on the loop)
            parked.put(waiting)
            if not moved:
                loop.stop()

        def ended(_: Any) -> None:
            loop.stop()
            parked.put(None)

        running = loop.create_task(self._run(body, route, task_id, park))
        running.add_done_callback(ended)
        loop.run_forever()
        if not running.done():  # parked: hand the loop over, lend the CPU
            moved = True
            helper = threading.Thread(target=loop.run_forever, name="runtree-ray-loop")
            helper.start()
            while True:
                waiting = parked.get()
                if waiting is None:
                    break
                with contextlib.suppress(Exception):
                    ray.get(waiting)
            helper.join()
        return running.result()

    async def _run(
        self, body: bytes, route: Route, task_id: int, park: Callable[[Any], None]
    ) -> bytes | None:
        context: TaskContext = pickle.loads(body)
        link = _TaskLink(self, route, task_id, context, park)
        try:
            done = await run_remote_task(context, link, worker_scope)
        finally:
            link.detach()
        for stream in (sys.stdout, sys.stderr):  # what it printed goes before its outcome
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        if link.used:  # its reports went over the connection: its outcome follows them
            link._transmit(DONE, 0, done)
            return None
        return done
