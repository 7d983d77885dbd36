"""Running a node elsewhere while its calls stay in the caller's run.

A strategy that runs a node outside the session's process (the process strategy, a Ray
strategy) carries messages both ways over a *transport* of its own; this module is the part
every such strategy shares:

* On the **session side**, a :class:`TaskBridge` per remote task turns what the task reports
  into calls on the run's :class:`CallHost` (implemented by :mod:`runtree.state`): requests
  it opens and closes (nested calls it runs where it is), whole calls it hands back (nested
  calls to run elsewhere, e.g. process mode from a process worker) and messages it
  publishes (``broadcast`` items, ``node.*`` events).
* On the **worker side**, :func:`run_remote_task` runs the node inside the session layer's
  :data:`WorkerScope`, which routes the node's calls through a :class:`MessageLink`.

A transport moves ``(kind, msg_id, body)`` messages: worker to session, it hands them to
:meth:`TaskBridge.receive` on the session's loop; session to worker, it hands replies to
:meth:`MessageLink.receive_reply` on the worker's loop. One nested call costs at most one
round trip (``OPEN`` and its reply, or ``CALL`` and its reply); ``CLOSE`` and ``PUBLISH``
travel one way (a ``CLOSE`` waits for its reply only when the run's journal is durable).
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import os
import pickle
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, NamedTuple, Protocol

from runtree.context.central import carried_values, restore_carried
from runtree.errors import ExecutionError
from runtree.execution.wire import (
    described,
    dumps,
    pack_done,
    pack_outcome,
    unpack_done,
    unpack_outcome,
)
from runtree.nodes import settings as node_settings
from runtree.nodes.node import Node
from runtree.pubsub.messages import Message, NodeFailed, NodeFinished, NodeStarted, Streaming
from runtree.pubsub.publisher import RTPublisher

__all__ = [
    "CALL",
    "CLOSE",
    "DONE",
    "DROP",
    "OPEN",
    "PUBLISH",
    "REPLY",
    "RUN",
    "CallHost",
    "MessageLink",
    "RemoteLink",
    "TaskBridge",
    "TaskContext",
    "WorkerScope",
    "encode_task",
    "run_remote_task",
]

logger = logging.getLogger("runtree.execution")

# message kinds. session -> worker:
RUN, REPLY = 1, 2
# worker -> session:
OPEN, CLOSE, CALL, DROP, PUBLISH, DONE = 10, 11, 12, 13, 14, 15


class CallHost(Protocol):
    """The session side of remote tasks: the owner of every request's lifecycle.

    All methods run on the session's event loop.
    """

    @property
    def execution_mode(self) -> str:
        """The run's default execution mode."""

    @property
    def durable(self) -> bool:
        """Whether a closed request must be on record before its caller goes on."""

    @property
    def answers(self) -> bool:
        """Whether the run may answer a call without running it (a resumed run): then the
        remote side asks before it runs a call; otherwise it only reports it."""

    def wants(self, message_type: type[Message]) -> bool:
        """Whether anyone in the session listens to messages of this type."""

    def publish(self, message: Message) -> None:
        """Publish a message the remote node published."""

    def open_request(
        self,
        parent_id: str | None,
        target: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        mode: str,
        *,
        request_id: str | None = None,
        start_time: float | None = None,
    ) -> tuple[str, tuple[Any] | None]:
        """Record a call that the remote side runs itself (as ``request_id`` if it chose
        one; begun at ``start_time``); return its request id and, when the run answers it
        without running it (resume), ``(output,)``."""

    def close_request(
        self,
        request_id: str,
        result: Any,
        error: BaseException | None,
        attributes: dict[str, Any] | None,
    ) -> Awaitable[None] | None:
        """Record how an opened request ended; an awaitable when the record must be
        waited for (a durable journal)."""

    def call(
        self,
        parent_id: str | None,
        target: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        mode: str,
    ) -> Coroutine[Any, Any, Any]:
        """Run a whole call in the session (in ``mode``); its result or exception."""


class RemoteLink(Protocol):
    """The worker side's way to the :class:`CallHost` (see :class:`MessageLink`)."""

    async def open_request(
        self,
        parent_id: str | None,
        target: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        mode: str,
    ) -> tuple[str, tuple[Any] | None]: ...

    def close_request(
        self,
        request_id: str,
        result: Any,
        error: BaseException | None,
        attributes: dict[str, Any] | None,
    ) -> Awaitable[None] | None: ...

    async def call(
        self,
        parent_id: str | None,
        target: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        mode: str,
    ) -> Any: ...

    def publish(self, message: Message) -> None: ...


class TaskContext(NamedTuple):
    """What a remote task takes along besides its node (built by :func:`encode_task`)."""

    request_id: str
    node_name: str
    #: the node, pickled (loaded separately, so that a failure can be reported)
    node: bytes
    #: the run's default execution mode (for the calls the node makes)
    execution_mode: str
    #: node event and broadcast types the session listens to (the worker forwards these)
    wanted: tuple[type[Message], ...]
    #: whether the session listens to other message types (a worker forwards them all then)
    wants_others: bool
    #: closes wait for the session (a durable journal)
    durable: bool
    #: opens wait for the session, which may answer them (a resumed run)
    answers: bool
    #: whether calls the node makes go to a session (else they run in the worker alone)
    hosted: bool
    #: values of the carried context variables, pickled (empty: none)
    carried: bytes
    debug: bool


#: Opens the context a remote node runs in, given its task context and the link to the
#: session; the session layer provides one (a worker-side session that routes calls).
WorkerScope = Callable[[TaskContext, RemoteLink], AbstractAsyncContextManager[None]]


#: what a node publishes while it runs: forwarded when the session listens to them
FORWARDED: tuple[type[Message], ...] = (NodeStarted, NodeFinished, NodeFailed, Streaming)


def encode_task(request_id: str, node: Node[Any], host: CallHost | None) -> bytes:
    """Pickle what a remote worker needs to run ``node`` as request ``request_id``.

    Raises :class:`~runtree.errors.ExecutionError` naming the node (and the attribute)
    when its inputs, or a carried context value, cannot be pickled.
    """
    name = node.name()
    try:
        payload = dumps(node)
    except Exception as exc:
        culprit = ""
        for key, value in vars(node).items():
            try:
                dumps(value)
            except Exception:
                culprit = f" (attribute {key!r}, a {type(value).__name__})"
                break
        raise ExecutionError(
            f"node {name!r} cannot be sent to a worker process: its inputs do not pickle"
            f"{culprit}: {type(exc).__name__}: {exc}"
        ) from exc
    values = carried_values()
    try:
        carried = dumps(values) if values else b""
    except Exception as exc:
        raise ExecutionError(
            f"node {name!r}: a carried context value ({sorted(values)}) cannot be sent to a "
            f"worker process: {type(exc).__name__}: {exc}"
        ) from exc
    wanted = () if host is None else tuple(t for t in FORWARDED if host.wants(t))
    context = TaskContext(
        request_id=request_id,
        node_name=name,
        node=payload,
        execution_mode="async" if host is None else host.execution_mode,
        wanted=wanted,
        wants_others=host is not None and host.wants(Message),
        durable=host is not None and host.durable,
        answers=host is not None and host.answers,
        hosted=host is not None,
        carried=carried,
        debug=node_settings.node_debug_enabled(),
    )
    return pickle.dumps(context, protocol=pickle.HIGHEST_PROTOCOL)


# -- session side ----------------------------------------------------------------------------


class TaskBridge:
    """The session side of one remote task (on the session's event loop).

    ``reply(msg_id, body)`` sends an answer to the worker. ``on_calls(n)`` is told how many
    whole calls the task has handed back and waits for (a process pool lets another worker
    run meanwhile). :attr:`outcome` resolves with ``(value, error, details)`` when the task
    reports ``DONE``.
    """

    def __init__(
        self,
        host: CallHost | None,
        *,
        node_name: str,
        reply: Callable[[int, bytes], None],
        on_calls: Callable[[int], None] | None = None,
        context: contextvars.Context | None = None,
    ) -> None:
        self.host = host
        self.node_name = node_name
        self.reply = reply
        self.on_calls = on_calls
        self.context = context if context is not None else contextvars.copy_context()
        self.loop = asyncio.get_running_loop()
        self.outcome: asyncio.Future[tuple[Any, BaseException | None, dict[str, Any]]] = (
            self.loop.create_future()
        )
        self._open: set[str] = set()
        self._calls: dict[int, asyncio.Task[Any]] = {}
        self._writes: list[Awaitable[None]] = []
        self._closed = False

    def receive(self, kind: int, msg_id: int, body: bytes) -> None:
        """Handle one message from the task."""
        if self._closed:
            return
        if kind == OPEN:
            self._opened(msg_id, body)
        elif kind == CLOSE:
            self._closed_request(msg_id, body)
        elif kind == CALL:
            self._called(msg_id, body)
        elif kind == DROP:
            running = self._calls.get(msg_id)
            if running is not None:
                running.cancel()
        elif kind == PUBLISH:
            if self.host is None:
                return
            try:
                self.host.publish(pickle.loads(body))
            except Exception as exc:
                logger.warning("a message from node %r was lost: %s", self.node_name, exc)
        elif kind == DONE:
            self._done(body)
        else:
            logger.warning("unknown message kind %d from node %r", kind, self.node_name)

    def _answer(self, msg_id: int, value: Any = None, error: BaseException | None = None) -> None:
        self.reply(msg_id, pack_outcome(value, error, node_name=self.node_name, recorded=False))

    def _no_host(self, msg_id: int) -> bool:
        if self.host is not None:
            return False
        self._answer(msg_id, error=ExecutionError("this task has no session to report calls to"))
        return True

    def _opened(self, msg_id: int, body: bytes) -> None:
        """``OPEN``: with a message id the worker waits for the request id (and maybe an
        answer); without, it chose the id itself and runs the call already."""
        if msg_id and self._no_host(msg_id):
            return
        try:
            request_id, parent, target, mode, start, args, kwargs = pickle.loads(body)
            if self.host is None:
                return
            opened, answer = self.host.open_request(
                parent, target, args, kwargs, mode, request_id=request_id, start_time=start
            )
        except Exception as exc:
            if msg_id:
                self._answer(msg_id, error=exc)
            else:
                logger.warning(
                    "a call made by node %r in its worker could not be recorded: %s",
                    self.node_name,
                    exc,
                )
            return
        if answer is None:
            self._open.add(opened)
        if msg_id:
            self._answer(msg_id, (opened, answer))

    def _closed_request(self, msg_id: int, body: bytes) -> None:
        try:
            request_id, outcome, attributes = pickle.loads(body)
        except Exception as exc:
            logger.warning("a request made by node %r could not be closed: %s", self.node_name, exc)
            return
        value, error = unpack_outcome(outcome, node_name=self.node_name)
        if self.host is None or request_id not in self._open:
            return
        self._open.discard(request_id)
        written = self.host.close_request(request_id, value, error, attributes)
        if msg_id:  # the worker waits until the record is written
            if written is None:
                self._answer(msg_id)
            else:
                self.loop.create_task(self._acknowledge(msg_id, written))
        elif written is not None:
            self._writes.append(written)

    async def _acknowledge(self, msg_id: int, written: Awaitable[None]) -> None:
        try:
            await written
        except Exception as exc:
            self._answer(msg_id, error=exc)
        else:
            self._answer(msg_id)

    def _called(self, msg_id: int, body: bytes) -> None:
        if self._no_host(msg_id):
            return
        assert self.host is not None
        try:
            parent, target, args, kwargs, mode = pickle.loads(body)
        except Exception as exc:
            self._answer(
                msg_id,
                error=ExecutionError(
                    f"a call made by node {self.node_name!r} in its worker could not be loaded "
                    f"here: {type(exc).__name__}: {exc}"
                ),
            )
            return
        call = self.host.call(parent, target, args, kwargs, mode)
        running: asyncio.Task[Any] = self.context.run(self.loop.create_task, call)
        self._calls[msg_id] = running
        running.add_done_callback(lambda done: self._call_ended(msg_id, done))
        if self.on_calls is not None:
            self.on_calls(len(self._calls))

    def _call_ended(self, msg_id: int, running: asyncio.Task[Any]) -> None:
        self._calls.pop(msg_id, None)
        if self.on_calls is not None and not self._closed:
            self.on_calls(len(self._calls))
        if self._closed:
            return
        if running.cancelled():
            self._answer(msg_id, error=asyncio.CancelledError())
            return
        error = running.exception()
        if error is not None:
            self._answer(msg_id, error=error)
        else:
            self._answer(msg_id, running.result())

    def _done(self, body: bytes) -> None:
        value, error, details = unpack_done(body, node_name=self.node_name)
        if not self.outcome.done():
            self.outcome.set_result((value, error, details))

    async def finish(self) -> None:
        """After ``DONE``: wait for the records still being written; close what the task
        left open (it cannot run any more)."""
        self._closed = True
        if self._writes:
            writes, self._writes = self._writes, []
            for written in writes:
                await written
        self.abandon(
            ExecutionError(f"node {self.node_name!r} ended before this nested request did")
        )

    def abandon(self, error: BaseException) -> None:
        """The task is gone (its worker died or was stopped): close its open requests with
        ``error`` and cancel the calls it was waiting for."""
        self._closed = True
        for request_id in list(self._open):
            self._open.discard(request_id)
            if self.host is None:
                continue
            written = self.host.close_request(request_id, None, error, None)
            if written is not None:
                self.loop.create_task(_swallow(written))
        for running in list(self._calls.values()):
            running.cancel()
        if not self.outcome.done():
            self.outcome.set_result((None, error, {}))


async def _swallow(written: Awaitable[None]) -> None:
    try:
        await written
    except Exception as exc:
        logger.warning("journal write failed: %s", exc)


# -- worker side -----------------------------------------------------------------------------


class MessageLink:
    """A :class:`RemoteLink` over a transport's ``send(kind, msg_id, body)``; the transport
    hands the session's replies to :meth:`receive_reply` (on the worker's loop)."""

    def __init__(
        self,
        send: Callable[[int, int, bytes], None],
        context: TaskContext,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._send = send
        self._node_name = context.node_name
        self._task_request = context.request_id
        self._durable = context.durable
        self._answers = context.answers
        self._loop = loop
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[bytes]] = {}
        self.lost_messages = 0

    def receive_reply(self, msg_id: int, body: bytes) -> None:
        waiter = self._waiting.pop(msg_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(body)

    def fail_all(self, error: BaseException) -> None:
        """The session is gone: every waiting call fails with ``error``."""
        waiting, self._waiting = self._waiting, {}
        for waiter in waiting.values():
            if not waiter.done():
                waiter.set_exception(error)

    async def _ask(self, kind: int, body: bytes, what: str) -> Any:
        msg_id = next(self._ids)
        waiter = self._loop.create_future()
        self._waiting[msg_id] = waiter
        self._send(kind, msg_id, body)
        try:
            answer = await waiter
        except asyncio.CancelledError:
            self._waiting.pop(msg_id, None)
            if kind == CALL:
                self._send(DROP, msg_id, b"")
            raise
        value, error = unpack_outcome(answer, node_name=what)
        if error is not None:
            raise error
        return value

    async def open_request(
        self,
        parent_id: str | None,
        target: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        mode: str,
    ) -> tuple[str, tuple[Any] | None]:
        request_id = None if self._answers else f"{self._task_request}.{next(self._ids)}"
        body = _pack_open(request_id, parent_id, target, mode, args, kwargs)
        if request_id is not None:  # nothing to wait for: report it and go on
            self._send(OPEN, 0, body)
            return request_id, None
        opened: tuple[str, tuple[Any] | None] = await self._ask(OPEN, body, _name(target))
        return opened

    def close_request(
        self,
        request_id: str,
        result: Any,
        error: BaseException | None,
        attributes: dict[str, Any] | None,
    ) -> Awaitable[None] | None:
        outcome = pack_outcome(result, error, node_name=request_id, recorded=True)
        try:
            body = dumps((request_id, outcome, attributes))
        except Exception:
            body = dumps((request_id, outcome, None))
        if self._durable:
            return self._ask(CLOSE, body, request_id)
        self._send(CLOSE, 0, body)
        return None

    async def call(
        self,
        parent_id: str | None,
        target: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        mode: str,
    ) -> Any:
        name = _name(target)
        try:
            body = dumps((parent_id, target, args, kwargs, mode))
        except Exception as exc:
            raise ExecutionError(
                f"the call of node {name!r} cannot be sent from this worker process to its "
                f"session (mode {mode!r}): {type(exc).__name__}: {exc}"
            ) from exc
        return await self._ask(CALL, body, name)

    def publish(self, message: Message) -> None:
        try:
            body = dumps(message)
        except Exception as exc:
            self.lost_messages += 1
            logger.warning(
                "%s from node %r cannot be sent: %s", type(message).__name__, self._node_name, exc
            )
            return
        self._send(PUBLISH, 0, body)


def _pack_open(
    request_id: str | None,
    parent: str | None,
    target: Any,
    mode: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> bytes:
    start = time.time()
    try:
        return dumps((request_id, parent, target, mode, start, args, kwargs))
    except Exception:
        pass  # inputs that do not pickle are recorded as descriptions
    try:
        args, kwargs = described(args), described(kwargs)
        return dumps((request_id, parent, target, mode, start, args, kwargs))
    except Exception as exc:
        raise ExecutionError(
            f"node {_name(target)!r} cannot be reported from this worker process to its "
            f"session: {type(exc).__name__}: {exc}"
        ) from exc


def _name(target: Any) -> str:
    name = getattr(target, "name", None)
    if isinstance(target, type) and callable(name):
        try:
            return str(name())
        except Exception:
            pass
    return str(getattr(target, "__name__", type(target).__name__))


class ForwardingPublisher(RTPublisher):
    """The publisher a remote node sees: messages the session listens to go over the link,
    in order with the node's other reports; others are dropped at once."""

    def __init__(self, link: RemoteLink, context: TaskContext) -> None:
        super().__init__()
        self._link = link
        self._wanted = frozenset(context.wanted)
        self._others = context.wants_others
        self.listening = bool(self._wanted) or self._others

    def wants(self, message_type: type[Message]) -> bool:
        if message_type in self._wanted:
            return True
        return self._others and message_type not in FORWARDED

    def publish(self, message: Message) -> None:
        if self.wants(type(message)):
            self._link.publish(message)


def _apply_settings(context: TaskContext) -> None:
    if node_settings.node_debug_enabled() != context.debug:
        os.environ["RT_NODE_DEBUG"] = "true" if context.debug else "false"
        node_settings.reload()


async def run_remote_task(
    context: TaskContext, link: RemoteLink | None, scope: WorkerScope | None
) -> bytes:
    """In the worker: run the node of ``context`` and return its ``DONE`` body (the packed
    outcome and the node's ``details``)."""
    try:
        node: Node[Any] = pickle.loads(context.node)
        if context.carried:
            restore_carried(pickle.loads(context.carried))
    except Exception as exc:
        error = ExecutionError(
            f"node {context.node_name!r} could not be loaded in its worker process "
            f"(pid {os.getpid()}): {type(exc).__name__}: {exc}"
        )
        return pack_done(None, error, {}, node_name=context.node_name)
    node.__dict__["_uuid"] = context.request_id
    _apply_settings(context)
    value: Any = None
    failure: BaseException | None = None
    try:
        if scope is not None and link is not None and context.hosted:
            async with scope(context, link):
                value = await node.tracked_invoke()
        else:
            value = await node.tracked_invoke()
    except BaseException as exc:  # reported like any failure; the worker lives on
        failure = exc
    return pack_done(
        value, failure, node.__dict__.get("details") or {}, node_name=context.node_name
    )
