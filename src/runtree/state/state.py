"""``RTState``: the lifecycle of requests in one run.

``call_nodes`` validates a call, opens the request (records it in :class:`ExecutionInfo`,
publishes ``RequestCreation``, tells the observer), runs it through the coordinator and
closes it with the outcome. A call with a policy (retries, timeout, limits, cache) takes
the same steps through :class:`~runtree.state.policy_run.PolicyRunner` instead. Requests
that a node running in another process runs there are opened and closed the same way,
through :attr:`RTState.remote`. Everything here runs on the
session's event loop; a call made from another thread or loop (a node on the thread
strategy) hops to it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from runtree._json import describe_error
from runtree._threads import run_on_loop
from runtree.context.central import choose_mode
from runtree.context.policy import effective_policy
from runtree.context.store import RunContext
from runtree.errors import CallDepthError, ConfigurationError, FatalError, RunEndedError
from runtree.execution.coordinator import Coordinator
from runtree.execution.task import Task
from runtree.nodes.node import Node, take_abandoned
from runtree.nodes.validation import create_node, resolve_node
from runtree.policy.cache import CacheBackend
from runtree.policy.clock import PolicyClock
from runtree.policy.policy import POLICY_USE, Policy
from runtree.pubsub.messages import FatalFailure, RequestCreation
from runtree.pubsub.publisher import RTPublisher
from runtree.state.config import ExecutorConfig
from runtree.state.info import ExecutionInfo, RequestRecord
from runtree.state.observer import RequestObserver
from runtree.state.policy_run import PolicyRunner
from runtree.state.remote import RemoteHost

__all__ = ["RTState"]


class RTState:
    """Creates, runs and finishes the requests of one run."""

    def __init__(
        self,
        execution_info: ExecutionInfo,
        executor_config: ExecutorConfig,
        coordinator: Coordinator,
        publisher: RTPublisher,
        *,
        observer: RequestObserver | None = None,
        run_context: RunContext | None = None,
        policy_clock: PolicyClock | None = None,
        cache_backend: CacheBackend | None = None,
    ) -> None:
        self.info = execution_info
        #: the run's shared values (``rt.context``), for nodes that run in other processes
        self.run_context = run_context
        self.config = executor_config
        self.coordinator = coordinator
        self.publisher = publisher
        self.logger = logging.getLogger("runtree")
        self.ended_by: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._prefix = (execution_info.run_id or "run")[:8]
        self._counter = itertools.count(1)
        self._running_tasks: dict[asyncio.Task[Any], int] = {}
        self._track_tasks = executor_config.end_on_error
        self.cancelled_tasks: set[asyncio.Task[Any]] = set()
        self._node_classes: dict[Any, type[Node[Any]]] = {}  # call target -> its node class
        #: depth in the call tree (a root is 1) of each running request that made calls,
        #: noted by its first call (so a leaf, most requests, costs nothing here)
        self._depths: dict[str, int] = {}
        self._max_depth = executor_config.max_call_depth
        #: work that went on after its caller was cancelled (it cannot be interrupted):
        #: its request is ended when the work really ends
        self._abandoned: dict[concurrent.futures.Future[Any], tuple[RequestRecord, Node[Any]]] = {}
        self._settled: asyncio.Event | None = None
        #: sees every request begin and end (the run journal), or ``None``
        self.observer = observer
        # bound once: the hot path tests these for None instead of the observer's methods
        self._created: Callable[[RequestRecord, type[Node[Any]]], tuple[Any] | None] | None = (
            None if observer is None else observer.request_created
        )
        self._ended: Callable[[RequestRecord], Awaitable[None] | None] | None = (
            None if observer is None else observer.request_ended
        )
        #: what nodes running in other processes report to (see :mod:`.remote`)
        self.remote = RemoteHost(self)
        #: the run's policies: limits, caches and the path of calls with a policy
        self.policies = PolicyRunner(self, clock=policy_clock, cache_backend=cache_backend)

    def track_tasks(self, enabled: bool) -> None:
        """Remember which tasks run requests, so :meth:`end_run` can cancel them."""
        self._track_tasks = enabled

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
        """Run ``node(*args, **kwargs)`` as a request under ``parent_node_id``; return its
        output or raise its exception. ``mode`` overrides every other mode choice;
        ``policy`` overrides the node's and the ``rt.policy`` block's, option by option.

        The arguments may be passed by keyword (as the seed does) or by position (as the
        interaction layer does, which is cheaper on the hot path).
        """
        loop = asyncio.get_running_loop()
        if loop is not self.loop:
            if self.loop is None or self.loop.is_closed():
                self.loop = loop
            else:
                return await run_on_loop(
                    self.call_nodes(parent_node_id, request_id, node, args, kwargs, mode, policy),
                    self.loop,
                )
        self.check_open()
        try:
            node_class = self._node_classes[node]
        except (KeyError, TypeError):  # first call of this target, or an unhashable one
            node_class = resolve_node(node)
            with contextlib.suppress(TypeError):
                self._node_classes[node] = node_class
        chosen = choose_mode(
            mode, node_class.execution_mode, parent_node_id, self.config.execution_mode
        )
        if chosen not in self.coordinator.execution_modes:
            raise ConfigurationError(
                f"node {node_class.name()!r} asks for execution mode {chosen!r}; this session has "
                f"{sorted(self.coordinator.execution_modes)}"
            )
        if parent_node_id is not None:
            depth = self._depths.get(parent_node_id)
            if depth is None:
                depth = self._parent_depth(parent_node_id)
            if depth >= self._max_depth:
                raise self._too_deep(parent_node_id, node_class, depth + 1)
        if POLICY_USE.seen:  # (until a Policy exists, no call can have one)
            chosen_policy = effective_policy(node_class, parent_node_id, policy)
            if chosen_policy is not None:
                return await self.policies.call(
                    parent_node_id, request_id, node_class, args, kwargs, chosen, chosen_policy
                )
        instance = create_node(node_class, args, kwargs)
        record, answer = self.open_request(
            parent_node_id, node_class, args, kwargs, chosen, request_id
        )
        if answer is not None:
            return answer[0]
        current = self.track_task() if self._track_tasks else None
        task = Task(request_id=record.request_id, node=instance, host=self.remote)
        try:
            result = await self.coordinator.begin(task, record)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                work = take_abandoned(instance)
                if work is not None:  # it goes on: record its end when it really ends
                    self.end_when_done(record, instance, work)
                    raise
            _take_attributes(record, instance)
            durable = self.close_request(record, None, exc)
            if durable is not None:
                await durable
            raise
        finally:
            if record.children or current is not None:
                self.forget_task(record, current)
        _take_attributes(record, instance)
        durable = self.close_request(record, result, None)
        if durable is not None:
            await durable
        return result

    def _parent_depth(self, parent_id: str) -> int:
        """Depth of running request ``parent_id`` (noted for its later calls)."""
        missing = []
        request_id: str | None = parent_id
        depth = 0
        while request_id is not None:
            known = self._depths.get(request_id)
            if known is not None:
                depth = known
                break
            missing.append(request_id)
            record = self.info.requests.get(request_id)
            request_id = None if record is None else record.parent_id
        for request_id in reversed(missing):
            depth += 1
            self._depths[request_id] = depth
        return depth

    def _too_deep(
        self, parent_node_id: str | None, node_class: type[Node[Any]], depth: int
    ) -> CallDepthError:
        names = [node_class.name()]
        request_id = parent_node_id
        while request_id is not None and len(names) < depth:
            parent = self.info.requests.get(request_id)
            if parent is None:
                break
            names.append(parent.node_name)
            request_id = parent.parent_id
        names.reverse()
        if len(names) > 7:
            names[3:-3] = [f"({len(names) - 6} more)"]
        return CallDepthError(
            f"call depth {depth} exceeds max_call_depth={self.config.max_call_depth} "
            f"(a node calling itself without end?): {' > '.join(names)}"
        )

    def track_task(self) -> asyncio.Task[Any] | None:
        """Note that the current task runs a request (so :meth:`end_run` can cancel it);
        returns the task to pass to :meth:`forget_task`, or ``None`` when not tracking."""
        current = asyncio.current_task() if self._track_tasks else None
        if current is not None:
            self._running_tasks[current] = self._running_tasks.get(current, 0) + 1
        return current

    def forget_task(self, record: RequestRecord, current: asyncio.Task[Any] | None) -> None:
        """``record``'s run is over in ``current`` (from :meth:`track_task`)."""
        if record.children:  # it made calls: forget its depth
            self._depths.pop(record.request_id, None)
        if current is not None:
            left = self._running_tasks[current] - 1
            if left:
                self._running_tasks[current] = left
            else:
                del self._running_tasks[current]

    # -- work that outlives its caller -------------------------------------------------------

    def end_when_done(
        self, record: RequestRecord, node: Node[Any], work: concurrent.futures.Future[Any]
    ) -> None:
        """End ``record`` when ``work`` (the node's uninterruptible body) really ends."""
        self._abandoned[work] = (record, node)
        loop = self.loop

        def done(finished: concurrent.futures.Future[Any]) -> None:
            if loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop closed: the run is over
                    loop.call_soon_threadsafe(self._end_abandoned, finished)

        work.add_done_callback(done)

    def _end_abandoned(self, work: concurrent.futures.Future[Any]) -> None:
        entry = self._abandoned.pop(work, None)
        if entry is None:
            return  # already settled when the session closed
        record, node = entry
        error: BaseException | None
        if work.cancelled():
            error, output = asyncio.CancelledError(), None
        else:
            error, output = work.exception(), None
            if error is None:
                output = work.result()
        if isinstance(error, asyncio.CancelledError):
            inner = take_abandoned(node)  # stopped, but it left a body of its own running
            if inner is not None:
                self.end_when_done(record, node, inner)
                return
        self._finish(record, node, output, error)
        if not self._abandoned and self._settled is not None:
            self._settled.set()

    def _finish(
        self, record: RequestRecord, node: Node[Any], output: Any, error: BaseException | None
    ) -> None:
        """End ``record`` outside its caller (the caller was cancelled and has gone)."""
        _take_attributes(record, node)
        durable = self.close_request(record, output, error)
        if isinstance(durable, asyncio.Future):  # nobody waits: do not leave it unread
            durable.add_done_callback(_consume)

    async def settle(self, timeout: float, *, interrupted: bool) -> list[RequestRecord]:
        """Before the run closes: wait at most ``timeout`` seconds for work that went on
        after its caller was cancelled, recording how each really ended. On an interrupt
        (Ctrl-C: the process is going down, and the work with it) what still runs is
        recorded ``cancelled``; otherwise it stays ``running`` (its outcome is unknown) and
        is returned."""
        if self._abandoned and timeout > 0:
            self._settled = asyncio.Event()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._settled.wait(), timeout)
        return self._give_up(interrupted)

    def settle_now(self, timeout: float, *, interrupted: bool) -> list[RequestRecord]:
        """:meth:`settle` for a session closing synchronously on its own loop's thread (the
        loop cannot run meanwhile: the work's end is recorded here, not by the loop)."""
        if self._abandoned and timeout > 0:
            concurrent.futures.wait(list(self._abandoned), timeout)
        for work in [work for work in self._abandoned if work.done()]:
            self._end_abandoned(work)
        return self._give_up(interrupted)

    def _give_up(self, interrupted: bool) -> list[RequestRecord]:
        left = list(self._abandoned.values())
        self._abandoned.clear()
        if interrupted:
            for record, node in left:
                self._finish(record, node, None, asyncio.CancelledError())
            return []
        return [record for record, _ in left]

    def check_open(self) -> None:
        """Raise :class:`~runtree.errors.RunEndedError` once the run has ended."""
        if self.ended_by is not None:
            raise RunEndedError(
                f"the run ended after a failure ({describe_error(self.ended_by)}); "
                "no new calls are accepted"
            ) from self.ended_by

    def open_request(
        self,
        parent_node_id: str | None,
        node_class: type[Node[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        mode: str,
        request_id: str | None = None,
        start_time: float | None = None,
    ) -> tuple[RequestRecord, tuple[Any] | None]:
        """Record a new request (running from now on): it joins the tree, ``RequestCreation``
        is published and the observer sees it. Returns the record and, when the observer
        answered it (resume), ``(output,)``: that request is closed already."""
        if request_id is None:
            request_id = f"{self._prefix}-{next(self._counter)}"
        record = RequestRecord(
            request_id,
            parent_node_id,
            node_class.name(),
            args,
            kwargs,
            mode,
            time.time() if start_time is None else start_time,
        )
        self.info.add_request(record)
        publisher = self.publisher
        if publisher.listening and publisher.wants(RequestCreation):
            publisher.publish(
                RequestCreation(
                    request_id=request_id,
                    parent_id=parent_node_id,
                    node_name=record.node_name,
                    args=args,
                    kwargs=kwargs,
                    mode=mode,
                    start_time=record.start_time,
                )
            )
        if self._created is not None:
            answer = self._created(record, node_class)
            if answer is not None:  # answered from the journal (resume): a job done at once
                self.coordinator.state.start_job(record)
                self.coordinator.succeed(record, answer[0])
                self.info.set_output(record, answer[0])
                return record, answer
        return record, None

    def close_request(
        self,
        record: RequestRecord,
        output: Any,
        error: BaseException | None,
        *,
        retried: bool = False,
    ) -> Awaitable[None] | None:
        """Record how a running request ended (its coordinator job too, publishing
        ``RequestSuccess``/``RequestFailure``) and tell the observer. A failure is logged and
        ends the run with ``end_on_error`` (unless it is a failed attempt that will be
        ``retried``); a cancellation is only recorded. Returns what the caller must await
        before it sees the outcome (a durable journal write), or ``None``.
        """
        if error is None:
            self.coordinator.succeed(record, output)
            self.info.set_output(record, output)
        else:
            self.coordinator.fail(record, error)
            record.error = error
            self.info.finish(record)
        durable = self._ended(record) if self._ended is not None else None
        if error is not None and not isinstance(error, asyncio.CancelledError):
            self.logger.info(
                "request %s (%s) failed%s: %s",
                record.request_id,
                record.node_name,
                " (it will be retried)" if retried else "",
                describe_error(error),
            )
            if retried:
                return durable
            if self.config.end_on_error or isinstance(error, FatalError):
                self.end_run(error, request_id=record.request_id)
        return durable

    def detach_observer(self) -> None:
        """Stop reporting requests (the run is over; late calls are not journaled), and
        release the journal's part in the run's policies (a persistent cache's file)."""
        self._created = self._ended = None
        self.policies.close()

    def end_run(self, error: BaseException, *, request_id: str | None = None) -> None:
        """End the run: publish ``FatalFailure``, cancel other running requests, refuse new
        calls. Only the first call has an effect."""
        if self.ended_by is not None:
            return
        self.ended_by = error
        self.logger.error("run %s ends: %s", self.info.run_id, describe_error(error))
        self.publisher.publish(FatalFailure(error=error, request_id=request_id))
        current = asyncio.current_task() if self.loop is not None else None
        for task in list(self._running_tasks):
            if task is not current and not task.done():
                task.cancel()
                self.cancelled_tasks.add(task)


def _take_attributes(record: RequestRecord, node: Node[Any]) -> None:
    """Copy the attributes the node set in ``details["attributes"]`` to its record."""
    details = node.__dict__.get("details")
    if details:
        attributes = details.get("attributes")
        if attributes:
            record.attributes = dict(attributes)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
