"""``TaskBridge``: the session side of one task running elsewhere (see
:mod:`runtree.execution.remote`)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import pickle
from collections.abc import Awaitable, Callable
from typing import Any

from runtree.errors import ExecutionError
from runtree.execution.remote import (
    CALL,
    CLOSE,
    CONTEXT,
    DONE,
    DROP,
    OPEN,
    PUBLISH,
    CallHost,
    target_name,
)
from runtree.execution.wire import pack_outcome, unpack_done, unpack_outcome

__all__ = ["TaskBridge"]

logger = logging.getLogger("runtree.execution")


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
        elif kind == CONTEXT:
            self._context_changed(body)
        elif kind == DONE:
            self._done(body)
        else:
            logger.warning("unknown message kind %d from node %r", kind, self.node_name)

    def _answer(
        self, msg_id: int, value: Any = None, error: BaseException | None = None, name: str = ""
    ) -> None:
        outcome = pack_outcome(
            value,
            error,
            node_name=name or self.node_name,
            recorded=False,
            to="to the worker process that called it",
        )
        self.reply(msg_id, outcome)

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
            parent, target, args, kwargs, mode, policy = pickle.loads(body)
        except Exception as exc:
            self._answer(
                msg_id,
                error=ExecutionError(
                    f"a call made by node {self.node_name!r} in its worker could not be loaded "
                    f"here: {type(exc).__name__}: {exc}"
                ),
            )
            return
        call = self.host.call(parent, target, args, kwargs, mode, policy)
        running: asyncio.Task[Any] = self.context.run(self.loop.create_task, call)
        self._calls[msg_id] = running
        name = target_name(target)
        running.add_done_callback(lambda done: self._call_ended(msg_id, done, name))
        if self.on_calls is not None:
            self.on_calls(len(self._calls))

    def _call_ended(self, msg_id: int, running: asyncio.Task[Any], name: str) -> None:
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
            self._answer(msg_id, running.result(), name=name)

    def _context_changed(self, body: bytes) -> None:
        store = None if self.host is None else self.host.run_context
        if store is None:
            return
        try:
            updates, deleted = pickle.loads(body)
        except Exception as exc:
            logger.warning("a run context change by node %r was lost: %s", self.node_name, exc)
            return
        if updates:
            store.update(updates)
        for key in deleted:
            if key in store:
                store.delete(key)

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
