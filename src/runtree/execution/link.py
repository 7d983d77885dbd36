"""The worker side of a task running elsewhere (see :mod:`runtree.execution.remote`):
:class:`MessageLink` reports the node's calls and messages to its session,
:func:`run_remote_task` runs the node."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import pickle
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from runtree.context.central import restore_carried
from runtree.context.store import RunContext
from runtree.errors import ExecutionError
from runtree.execution.remote import (
    CALL,
    CLOSE,
    CONTEXT,
    DROP,
    FORWARDED,
    OPEN,
    PUBLISH,
    RemoteLink,
    TaskContext,
    WorkerScope,
    target_name,
)
from runtree.execution.wire import described, dumps, pack_done, pack_outcome, unpack_outcome
from runtree.nodes import settings as node_settings
from runtree.nodes.node import Node
from runtree.policy.policy import Policy
from runtree.pubsub.messages import Message
from runtree.pubsub.publisher import RTPublisher

__all__ = ["ForwardingContext", "ForwardingPublisher", "MessageLink", "run_remote_task"]

logger = logging.getLogger("runtree.execution")


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
        opened: tuple[str, tuple[Any] | None] = await self._ask(OPEN, body, target_name(target))
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
        policy: Policy | None = None,
    ) -> Any:
        name = target_name(target)
        try:
            body = dumps((parent_id, target, args, kwargs, mode, policy))
        except Exception as exc:
            raise ExecutionError(
                f"the call of node {name!r} cannot be sent from this worker process to its "
                f"session (mode {mode!r}): {type(exc).__name__}: {exc}"
            ) from exc
        return await self._ask(CALL, body, name)

    def update_context(self, updates: dict[str, Any], deleted: tuple[str, ...]) -> None:
        try:
            body = dumps((updates, deleted))
        except Exception as exc:
            raise ExecutionError(
                f"rt.context: a value stored by node {self._node_name!r} in a worker process "
                f"must pickle (it is sent to its session): {type(exc).__name__}: {exc}"
            ) from exc
        self._send(CONTEXT, 0, body)

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
            f"node {target_name(target)!r} cannot be reported from this worker process to its "
            f"session: {type(exc).__name__}: {exc}"
        ) from exc


class ForwardingContext(RunContext):
    """The run context a remote node sees: a copy of the session's, whose changes are sent
    to the session as they are made (so calls handed back see them)."""

    __slots__ = ("_link",)

    def __init__(self, values: dict[str, Any], link: RemoteLink) -> None:
        super().__init__(values)
        self._link = link

    def put(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, values: Mapping[str, Any]) -> None:
        super().update(values)
        link = getattr(self, "_link", None)  # (None while __init__ fills the copy)
        if link is not None:
            link.update_context(dict(values), ())

    def delete(self, key: str) -> None:
        super().delete(key)
        self._link.update_context({}, (key,))


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
