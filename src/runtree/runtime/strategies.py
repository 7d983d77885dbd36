"""The thread and process strategies shared by every session (pools start on first use and
are shut down when the interpreter exits), and the worker side of a session: what a node
running in a worker process (or on another machine) sees as its session.

Inside a worker, :func:`worker_scope` makes ``rt.call``, ``rt.call_batch``, ``rt.call_sync``
and ``rt.broadcast`` work as they do in the session: a call in ``async`` or ``thread`` mode
runs in the worker and is recorded by the session as it begins and ends (one round trip to
open it, the outcome sent one way); a call in any other mode (``process``, ``ray``, a mode
registered on the session), and any call with a policy (whose limits and caches are the
run's), is handed back to the session, which runs it on its strategy.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib
import inspect
import logging
import pickle
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

from runtree._threads import run_on_loop
from runtree.context.central import choose_mode, current_session, parent_id
from runtree.context.policy import carried_policy, effective_policy
from runtree.errors import ConfigurationError, ContextError
from runtree.execution.execution_strategy import (
    AsyncioExecutionStrategy,
    ExecutionStrategy,
    ThreadExecutionStrategy,
)
from runtree.execution.link import ForwardingContext, ForwardingPublisher
from runtree.execution.process import ProcessExecutionStrategy
from runtree.execution.remote import RemoteLink, TaskContext
from runtree.execution.task import Task
from runtree.nodes.node import Node
from runtree.nodes.validation import create_node, resolve_node
from runtree.policy.policy import POLICY_USE, Policy
from runtree.pubsub.publisher import current_publisher

__all__ = [
    "PluginStrategy",
    "RemoteState",
    "WorkerSession",
    "check_available",
    "default_strategies",
    "worker_scope",
]

T = TypeVar("T")
logger = logging.getLogger("runtree")
#: what a worker-side session has as its ``journal`` when the session keeps one (it is not
#: usable there: the session records what the worker reports)
_SESSION_JOURNAL = "the session's journal"


class RemoteState:
    """The worker-side stand-in for :class:`~runtree.state.state.RTState`: the calls a
    remote node makes, routed as the module docstring says."""

    def __init__(
        self,
        context: TaskContext,
        link: RemoteLink,
        loop: asyncio.AbstractEventLoop,
        local: dict[str, ExecutionStrategy],
    ) -> None:
        self.context = context
        self.link = link
        self.loop = loop
        self.local = local
        self._node_classes: dict[Any, type[Node[Any]]] = {}

    async def call_nodes(
        self,
        parent_node_id: str | None,
        request_id: str | None,
        node: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        mode: str | None = None,
        policy: Policy | None = None,
    ) -> Any:
        """Run ``node(*args, **kwargs)`` as a request of the caller's run (``request_id`` is
        chosen by the session)."""
        if asyncio.get_running_loop() is not self.loop:  # a thread-mode node: hop home
            return await run_on_loop(
                self.call_nodes(parent_node_id, request_id, node, args, kwargs, mode, policy),
                self.loop,
            )
        try:
            node_class = self._node_classes[node]
        except (KeyError, TypeError):
            node_class = resolve_node(node)
            with contextlib.suppress(TypeError):
                self._node_classes[node] = node_class
        chosen = choose_mode(
            mode, node_class.execution_mode, parent_node_id, self.context.execution_mode
        )
        strategy = self.local.get(chosen)
        if strategy is None or (
            POLICY_USE.seen and effective_policy(node_class, parent_node_id, policy) is not None
        ):
            # another process (or machine) runs it, or the run's limits and caches apply:
            # the session decides
            carried = carried_policy(parent_node_id, policy)
            return await self.link.call(parent_node_id, node, args, kwargs, chosen, carried)
        instance = create_node(node_class, args, kwargs)
        opened, answer = await self.link.open_request(parent_node_id, node, args, kwargs, chosen)
        if answer is not None:  # the session answered it from its journal (resume)
            return answer[0]
        try:
            result = await strategy.execute(Task(request_id=opened, node=instance))
        except BaseException as exc:
            closing = self.link.close_request(opened, None, exc, _attributes(instance))
            if closing is not None:
                await closing
            raise
        closing = self.link.close_request(opened, result, None, _attributes(instance))
        if closing is not None:
            await closing
        return result


def _attributes(node: Node[Any]) -> dict[str, Any] | None:
    details = node.__dict__.get("details")
    attributes = details.get("attributes") if details else None
    return dict(attributes) if attributes else None


class WorkerSession:
    """What ``rt.call`` and friends find as the current session inside a worker: the parts
    of :class:`~runtree.runtime.Session` they use (``state``, ``run_sync``, ``status``,
    ``on_close``; ``context``, the run's shared values: a copy whose changes go to the
    session; ``journal``, a stand-in for the session's when it has one)."""

    def __init__(self, task: TaskContext, link: RemoteLink, state: RemoteState) -> None:
        self.name = f"worker for {task.request_id}"
        self.task = task
        self.state = state
        self.status = "open"
        shared = pickle.loads(task.run_context) if task.run_context else {}
        self.context = ForwardingContext(shared, link)
        self.journal: object | None = _SESSION_JOURNAL if task.journaled else None
        self._closers: list[Callable[[], Any]] = []

    def on_close(self, closer: Callable[[], Any]) -> None:
        """Call ``closer()`` (sync or async) when the node's task ends in this worker."""
        if not callable(closer):
            raise ConfigurationError(f"on_close needs a callable, got {closer!r}")
        self._closers.append(closer)

    async def close(self) -> None:
        """Run the closers, the last registered first (one that raises is logged)."""
        self.status = "closed"
        closers, self._closers = self._closers, []
        for closer in reversed(closers):
            try:
                result = closer()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.warning("a closer of %s failed", self.name, exc_info=True)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.state.loop

    def run_sync(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the worker's loop for a synchronous node (``call_sync``)."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.state.loop:
            coroutine.close()
            raise ContextError("call_sync() cannot run on the event loop; use `await rt.call(...)`")
        return asyncio.run_coroutine_threadsafe(coroutine, self.state.loop).result()

    def __repr__(self) -> str:
        return f"<WorkerSession {self.name!r}>"


@contextlib.asynccontextmanager
async def worker_scope(context: TaskContext, link: RemoteLink) -> AsyncIterator[None]:
    """In a worker: the context a node of the caller's run executes in (a
    :class:`WorkerSession` and a publisher that forwards what the session listens to)."""
    local: dict[str, ExecutionStrategy] = {"async": _ASYNC, "thread": _SHARED["thread"]}
    state = RemoteState(context, link, asyncio.get_running_loop(), local)
    session = WorkerSession(context, link, state)
    tokens = (
        current_session.set(session),
        current_publisher.set(ForwardingPublisher(link, context)),
        parent_id.set(None),
    )
    try:
        yield
    finally:
        await session.close()
        parent_id.reset(tokens[2])
        current_publisher.reset(tokens[1])
        current_session.reset(tokens[0])


class PluginStrategy(ExecutionStrategy):
    """Stands for the strategy of an optional integration (``"ray"``) until it is first
    used: then its module is imported (the integration's library with it) and its
    ``shared_strategy()`` runs the tasks. Without the library, using the mode raises a
    :class:`~runtree.errors.ConfigurationError` that names the extra to install."""

    def __init__(self, mode: str, module: str, extra: str) -> None:
        self.mode = mode
        self.module = module
        self.extra = extra
        self._strategy: ExecutionStrategy | None = None
        self._lock = threading.Lock()

    def resolve(self) -> ExecutionStrategy:
        """The integration's strategy (its module is imported the first time)."""
        strategy = self._strategy
        if strategy is None:
            with self._lock:
                if self._strategy is None:
                    try:
                        module = importlib.import_module(self.module)
                    except ImportError as exc:
                        raise ConfigurationError(
                            f"execution mode {self.mode!r} needs the {self.extra!r} extra: "
                            f"pip install 'runtree[{self.extra}]' ({exc})"
                        ) from exc
                    self._strategy = module.shared_strategy()
                strategy = self._strategy
        assert strategy is not None
        return strategy

    async def execute(self, task: Task[Any]) -> Any:
        return await self.resolve().execute(task)

    def shutdown(self) -> None:
        strategy = self._strategy
        if strategy is not None:
            strategy.shutdown()


def check_available(strategy: ExecutionStrategy, source: str) -> None:
    """Raise ``ConfigurationError`` now (naming ``source``, the setting that chose it) when
    ``strategy`` stands for an integration whose library is missing."""
    if isinstance(strategy, PluginStrategy):
        try:
            strategy.resolve()
        except ConfigurationError as exc:
            raise ConfigurationError(f"{source} is {strategy.mode!r}: {exc}") from exc.__cause__


_ASYNC = AsyncioExecutionStrategy()
_SHARED: dict[str, ExecutionStrategy] = {
    "thread": ThreadExecutionStrategy(),
    "process": ProcessExecutionStrategy(worker_scope=worker_scope),
    # optional integrations, imported when first used
    "ray": PluginStrategy("ray", "runtree.integrations.ray", "ray"),
}


def default_strategies() -> dict[str, ExecutionStrategy]:
    """``{"thread": ..., "process": ..., "ray": ...}`` shared by all sessions (``"async"``
    is built in; ``"ray"`` imports its integration when first used)."""
    return dict(_SHARED)


@atexit.register
def _shutdown_shared() -> None:
    for strategy in _SHARED.values():
        strategy.shutdown()
