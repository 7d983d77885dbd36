"""``RemoteHost``: the run's side of nodes that run in other processes.

A strategy that runs a node elsewhere (process workers, Ray) reports what the node does
there through a :class:`~runtree.execution.remote.TaskBridge`; this host turns each report
into the same lifecycle steps as a local call (:meth:`RTState.open_request
<runtree.state.state.RTState.open_request>` and :meth:`~runtree.state.state.RTState.close_request`),
so the requests join the caller's tree, the observer (the journal) sees them begin and end
as they do, resume answers them, and their messages reach the session's subscribers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine
from typing import TYPE_CHECKING, Any

from runtree.nodes.validation import resolve_node
from runtree.pubsub.messages import Message

if TYPE_CHECKING:
    from runtree.context.store import RunContext
    from runtree.policy.policy import Policy
    from runtree.state.info import RequestRecord
    from runtree.state.state import RTState

__all__ = ["RemoteHost"]


class RemoteHost:
    """Implements :class:`~runtree.execution.remote.CallHost` for one :class:`RTState`."""

    __slots__ = ("_open", "_state")

    def __init__(self, state: RTState) -> None:
        self._state = state
        self._open: dict[str, RequestRecord] = {}

    @property
    def execution_mode(self) -> str:
        return self._state.config.execution_mode

    @property
    def durable(self) -> bool:
        # a journal with durability="sync" makes callers wait for each record
        return getattr(self._state.observer, "durability", None) == "sync"

    @property
    def journaled(self) -> bool:
        return self._state.observer is not None

    @property
    def answers(self) -> bool:
        observer = self._state.observer
        if observer is None:
            return False
        # the journal answers calls only when it resumes a run; another observer may
        return getattr(observer, "resumed_from", True) is not None

    @property
    def run_context(self) -> RunContext | None:
        return self._state.run_context

    def wants(self, message_type: type[Message]) -> bool:
        publisher = self._state.publisher
        return publisher.listening and publisher.wants(message_type)

    def publish(self, message: Message) -> None:
        self._state.publisher.publish(message)

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
        state = self._state
        state.check_open()
        record, answer = state.open_request(
            parent_id, resolve_node(target), args, kwargs, mode, request_id, start_time
        )
        if answer is None:
            state.coordinator.state.start_job(record)
            self._open[record.request_id] = record
        return record.request_id, answer

    def close_request(
        self,
        request_id: str,
        result: Any,
        error: BaseException | None,
        attributes: dict[str, Any] | None,
    ) -> Awaitable[None] | None:
        record = self._open.pop(request_id, None)
        if record is None:
            return None
        if attributes:
            record.attributes = dict(attributes)
        return self._state.close_request(record, result, error)

    def call(
        self,
        parent_id: str | None,
        target: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        mode: str,
        policy: Policy | None = None,
    ) -> Coroutine[Any, Any, Any]:
        return self._state.call_nodes(parent_id, None, target, args, kwargs, mode, policy)
