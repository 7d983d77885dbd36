"""Running a node elsewhere while its calls stay in the caller's run: the vocabulary.

A strategy that runs a node outside the session's process (the process strategy, a Ray
strategy) carries messages both ways over a *transport* of its own; what every such
strategy shares is here and in two modules beside this one:

* On the **session side**, a :class:`~runtree.execution.bridge.TaskBridge` per remote task
  turns what the task reports into calls on the run's :class:`CallHost` (implemented by
  :mod:`runtree.state.remote`): requests it opens and closes (nested calls it runs where it
  is), whole calls it hands back (nested calls to run elsewhere, e.g. process mode from a
  process worker) and messages it publishes (``broadcast`` items, ``node.*`` events).
* On the **worker side**, :func:`~runtree.execution.link.run_remote_task` runs the node
  inside the session layer's :data:`WorkerScope`, which routes the node's calls through a
  :class:`~runtree.execution.link.MessageLink` (a :class:`RemoteLink`).

A transport moves ``(kind, msg_id, body)`` messages: worker to session, it hands them to
``TaskBridge.receive`` on the session's loop; session to worker, it hands replies to
``MessageLink.receive_reply`` on the worker's loop. A nested call that runs where the node
is costs two one-way messages (``OPEN``, ``CLOSE``), or one round trip when the run may
answer it from its journal (a resumed run) and a second when ``CLOSE`` must wait for a
durable journal; a call handed back costs one round trip (``CALL``). A call with a policy
(retries, limits, a cache: :class:`runtree.policy.Policy`) is always handed back, because
the run's limits and caches live in the session.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from runtree.context.central import carried_values
from runtree.errors import ExecutionError
from runtree.execution.wire import dumps
from runtree.nodes import settings as node_settings
from runtree.nodes.node import Node
from runtree.pubsub.messages import Message, NodeFailed, NodeFinished, NodeStarted, Streaming

if TYPE_CHECKING:
    from runtree.context.store import RunContext
    from runtree.policy.policy import Policy

__all__ = [
    "CALL",
    "CLOSE",
    "CONTEXT",
    "DONE",
    "DROP",
    "FORWARDED",
    "OPEN",
    "PUBLISH",
    "REPLY",
    "RUN",
    "CallHost",
    "RemoteLink",
    "TaskContext",
    "WorkerScope",
    "encode_task",
    "target_name",
]

logger = logging.getLogger("runtree.execution")

# message kinds. session -> worker:
RUN, REPLY = 1, 2
# worker -> session:
OPEN, CLOSE, CALL, DROP, PUBLISH, DONE, CONTEXT = 10, 11, 12, 13, 14, 15, 16


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
    def journaled(self) -> bool:
        """Whether the run keeps a journal (graph steps then record their changes)."""

    @property
    def answers(self) -> bool:
        """Whether the run may answer a call without running it (a resumed run): then the
        remote side asks before it runs a call; otherwise it only reports it."""

    @property
    def run_context(self) -> RunContext | None:
        """The run's shared values (``rt.context``): a remote node starts from a copy, and
        what it puts or deletes there is applied here as it happens."""

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
        policy: Policy | None = None,
    ) -> Coroutine[Any, Any, Any]:
        """Run a whole call in the session (in ``mode``, under ``policy``: the
        ``rt.policy`` block around the call in the worker); its result or exception."""


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
        policy: Policy | None = None,
    ) -> Any: ...

    def publish(self, message: Message) -> None: ...

    def update_context(self, updates: dict[str, Any], deleted: tuple[str, ...]) -> None: ...


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
    #: the run keeps a journal
    journaled: bool
    #: whether calls the node makes go to a session (else they run in the worker alone)
    hosted: bool
    #: values of the carried context variables, pickled (empty: none)
    carried: bytes
    #: the run context's values (``rt.context``), pickled (empty: none)
    run_context: bytes
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
            if not _pickles(value):
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
    store = None if host is None else host.run_context
    shared = store.snapshot() if store is not None and len(store) else {}
    try:
        run_context = dumps(shared) if shared else b""
    except Exception as exc:
        culprit = next((key for key, value in shared.items() if not _pickles(value)), "?")
        raise ExecutionError(
            f"node {name!r}: the run context value under {culprit!r} cannot be sent to a "
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
        journaled=host is not None and host.journaled,
        hosted=host is not None,
        carried=carried,
        run_context=run_context,
        debug=node_settings.node_debug_enabled(),
    )
    return pickle.dumps(context, protocol=pickle.HIGHEST_PROTOCOL)


def target_name(target: Any) -> str:
    """The name a call target (a node class or a function) goes by in messages."""
    name = getattr(target, "name", None)
    if isinstance(target, type) and callable(name):
        try:
            return str(name())
        except Exception:
            pass
    return str(getattr(target, "__name__", type(target).__name__))


def _pickles(value: Any) -> bool:
    try:
        dumps(value)
    except Exception:
        return False
    return True
