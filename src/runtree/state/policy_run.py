"""``PolicyRunner``: the call path of a call that runs under a :class:`~runtree.policy.Policy`.

:meth:`RTState.call_nodes <runtree.state.state.RTState.call_nodes>` hands a call here when
its node class, the ``rt.policy(...)`` block around it, or the worker that made it gives it a
policy; calls without one never come here and cost nothing more. Everything runs on the
session's event loop, whatever strategy runs the node: a call made inside a thread, process
or Ray worker comes back to it (process and Ray workers hand calls with a policy back to
the session), so the limits and caches below hold for the whole run.

A call is one request. Without ``retry`` that request runs the node; with ``retry`` each
attempt is a child request of its own (same node, same inputs, attribute
``runtree.attempt``: 1, 2, ...), and the call's request ends with the last attempt's
outcome. A cache hit ends the call's request at once with the cached output (attribute
``runtree.cache`` = ``"hit"``) and runs nothing. Before each attempt runs it takes a slot
of the node's concurrency limit (held while it runs) and then a start of its rate limit;
``timeout`` bounds the run of one attempt (not the wait for a slot).

Definition and argument errors, cancellation, :class:`~runtree.errors.FatalError` and
:class:`~runtree.errors.RunEndedError` are never retried. A failed attempt that will be
retried does not end the run under ``end_on_error``; the call's final failure does.

Limits and caches are made on first use, once per run, node class and setting (two call
sites that give one node the same limit share it). The time (waits, timeouts, rate windows,
cache ages) comes from the run's :class:`~runtree.policy.PolicyClock`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from runtree.errors import (
    CallDepthError,
    ConfigurationError,
    FatalError,
    NodeDefinitionError,
    NodeInvocationError,
    NodeTimeoutError,
    RunEndedError,
)
from runtree.execution.task import Task
from runtree.nodes.node import Node, take_abandoned
from runtree.nodes.validation import create_node
from runtree.policy.cache import CacheBackend, CacheStatistics, MemoryCacheBackend, ResultCache
from runtree.policy.clock import PolicyClock
from runtree.policy.limit import ConcurrencyLimit, LimitStatistics, RateLimit
from runtree.policy.policy import ATTEMPT_ATTRIBUTE, CACHE_ATTRIBUTE, CachePolicy, Policy
from runtree.policy.retry import RetryPolicy

if TYPE_CHECKING:
    from runtree.state.info import RequestRecord
    from runtree.state.state import RTState

__all__ = ["PolicyRunner", "PolicyStatistics"]

logger = logging.getLogger("runtree")

#: failures no retry policy retries: the call itself is wrong, or the run is ending
_NEVER_RETRIED = (
    NodeDefinitionError,
    NodeInvocationError,
    CallDepthError,
    FatalError,
    RunEndedError,
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PolicyStatistics:
    """Counts over the run's calls with a policy: ``calls``, ``attempts`` (requests that ran
    a node), ``retries`` (attempts after the first), ``timeouts`` (attempts past their
    timeout), ``cache_hits``; and the statistics of each limit and cache, by
    ``"<node name> max_concurrency=<n>"``, ``"<node name> rate_limit=<calls>/<per>s"`` and
    ``"<node name> cache"`` (a node's second cache policy: ``"<node name> cache 2"``...)."""

    calls: int
    attempts: int
    retries: int
    timeouts: int
    cache_hits: int
    limits: dict[str, LimitStatistics]
    caches: dict[str, CacheStatistics]


class PolicyRunner:
    """The run's policies: its limits and caches, and the call path of calls with a policy.

    ``clock`` is where the time comes from (tests pass one that needs no real waiting);
    ``cache_backend`` keeps the outputs of ``CachePolicy(persist=True)`` nodes (the session
    gives one in its journal's file; without it they stay in memory).
    """

    def __init__(
        self,
        state: RTState,
        *,
        clock: PolicyClock | None = None,
        cache_backend: CacheBackend | None = None,
    ) -> None:
        self._state = state
        if clock is not None and not isinstance(clock, PolicyClock):
            raise ConfigurationError(
                f"policy_clock must be a runtree.policy.PolicyClock, got {clock!r}"
            )
        self.clock = clock if clock is not None else PolicyClock()
        #: timeouts use the loop's timers, unless the clock sleeps in a way of its own
        self._real_sleep = self.clock.sleep is asyncio.sleep
        self.cache_backend = cache_backend
        self._concurrency: dict[tuple[type[Node[Any]], int], ConcurrencyLimit] = {}
        self._rates: dict[tuple[type[Node[Any]], int, float], RateLimit] = {}
        self._caches: dict[tuple[type[Node[Any]], CachePolicy], ResultCache] = {}
        self._cache_names: dict[ResultCache, str] = {}
        self._calls = self._attempts = self._retries = self._timeouts = self._hits = 0

    # -- a call --------------------------------------------------------------------------------

    async def call(
        self,
        parent_id: str | None,
        request_id: str | None,
        node_class: type[Node[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        mode: str,
        policy: Policy,
    ) -> Any:
        """Run ``node_class(*args, **kwargs)`` under ``policy`` as a request of the run."""
        state = self._state
        instance = create_node(node_class, args, kwargs)  # bad arguments: nothing recorded
        cache = key = None
        if policy.cache is not None:
            cache = self._cache(node_class, policy.cache)
            key = cache.key_for(args, kwargs)
        record, answer = state.open_request(parent_id, node_class, args, kwargs, mode, request_id)
        if answer is not None:  # a resumed run answered it from the journal
            return answer[0]
        self._calls += 1
        if cache is not None and key is not None:
            found, value = cache.lookup(_namespace(node_class), key)
            if found:
                self._hits += 1
                state.coordinator.state.start_job(record)
                record.attributes = {CACHE_ATTRIBUTE: "hit"}
                await _written(state.close_request(record, value, None))
                return value
        state.coordinator.state.start_job(record)
        if policy.retry is None:
            result = await self._attempt(record, instance, policy, None, 1)
        else:
            try:
                result = await self._retried(record, node_class, instance, policy, policy.retry)
            except BaseException as exc:  # the last attempt's failure, or a cancellation
                await _written(state.close_request(record, None, exc))
                raise
            await _written(state.close_request(record, result, None))
        if cache is not None and key is not None:
            try:
                cache.store(_namespace(node_class), key, result)
            except Exception as exc:  # a cache never fails a call that succeeded
                logger.warning("the output of %s could not be cached: %s", record.node_name, exc)
        return result

    async def _retried(
        self,
        call: RequestRecord,
        node_class: type[Node[Any]],
        instance: Node[Any],
        policy: Policy,
        retry: RetryPolicy,
    ) -> Any:
        """Attempts as child requests of ``call`` until one succeeds or none is left."""
        state = self._state
        args, kwargs = call.args, call.kwargs
        number = 0
        while True:
            number += 1
            if number > 1:
                instance = create_node(node_class, args, kwargs)  # each attempt starts afresh
            record, answer = state.open_request(
                call.request_id, node_class, args, kwargs, call.mode
            )
            if answer is not None:  # this attempt succeeded in the run being resumed
                return answer[0]
            state.coordinator.state.start_job(record)
            record.attributes = {ATTEMPT_ATTRIBUTE: number}
            try:
                return await self._attempt(record, instance, policy, retry, number)
            except _TryAgain as again:
                if again.delay > 0:
                    await self.clock.sleep(again.delay)

    async def _attempt(
        self,
        record: RequestRecord,
        instance: Node[Any],
        policy: Policy,
        retry: RetryPolicy | None,
        number: int,
    ) -> Any:
        """Run ``instance`` as ``record`` (its job started) within the node's limits and
        timeout, and end ``record``. Raises the failure, or :class:`_TryAgain` when
        ``retry`` retries it."""
        state = self._state
        self._attempts += 1
        if number > 1:
            self._retries += 1
        current = state.track_task()
        limit = None
        if policy.max_concurrency is not None:
            limit = self._concurrency_limit(type(instance), policy.max_concurrency)
        abandoned: concurrent.futures.Future[Any] | None = None
        try:
            if limit is not None:
                await limit.acquire()
            try:
                result = await self._run(record, instance, policy)
            except BaseException:
                abandoned = take_abandoned(instance)  # a body that could not be stopped
                raise
            finally:
                if limit is not None:
                    if abandoned is None:
                        limit.release()
                    else:  # its slot is free when the body really ends
                        _release_when_done(limit, abandoned, asyncio.get_running_loop())
        except asyncio.CancelledError:
            if abandoned is not None:  # it goes on: record its end when it really ends
                state.end_when_done(record, instance, abandoned)
            else:
                _keep_attributes(record, instance)
                await _written(state.close_request(record, None, asyncio.CancelledError()))
            raise
        except BaseException as exc:  # (after a timeout, a body that runs on is dropped)
            delay = self._delay(retry, exc, number)
            _keep_attributes(record, instance)
            await _written(state.close_request(record, None, exc, retried=delay is not None))
            if delay is None:
                raise
            raise _TryAgain(delay) from exc
        finally:
            state.forget_task(record, current)
        _keep_attributes(record, instance)
        await _written(state.close_request(record, result, None))
        return result

    async def _run(self, record: RequestRecord, instance: Node[Any], policy: Policy) -> Any:
        """Take a start of the rate limit, then run the node on its strategy (within its
        timeout)."""
        if policy.rate_limit is not None:
            await self._rate_limit(type(instance), *policy.rate_limit).acquire()
        task = Task(request_id=record.request_id, node=instance, host=self._state.remote)
        running = self._state.coordinator.strategy(record.mode).execute(task)
        if policy.timeout is None:
            return await running
        return await self._within(record, running, policy.timeout)

    async def _within(self, record: RequestRecord, running: Awaitable[Any], timeout: float) -> Any:
        """Await ``running`` in this task; past ``timeout`` seconds, cancel it (the strategy
        stops or abandons the node) and raise :class:`NodeTimeoutError` instead of whatever
        it ended with. No task of its own: the timer is a timer handle, or a task sleeping
        the clock's ``sleep`` when the run's clock is not the real one."""
        task = asyncio.current_task()
        assert task is not None  # (calls always run in a task)
        expired = finished = False

        def expire() -> None:
            nonlocal expired
            if not finished:  # (a timer task's callback may come after the end)
                expired = True
                task.cancel()

        stop: Callable[[], Any]
        if self._real_sleep:
            stop = asyncio.get_running_loop().call_later(timeout, expire).cancel
        else:
            timer = asyncio.ensure_future(self.clock.sleep(timeout))
            timer.add_done_callback(lambda done: None if done.cancelled() else expire())
            stop = timer.cancel
        try:
            result = await running
        except (Exception, asyncio.CancelledError):  # (never hides KeyboardInterrupt...)
            if not expired:
                raise
        finally:
            finished = True
            stop()
        if not expired:
            return result
        if _cancelled_elsewhere(task):  # cancelled by its caller too: that wins
            raise asyncio.CancelledError
        self._timeouts += 1
        raise NodeTimeoutError(
            f"node {record.node_name!r} did not finish within its timeout of "
            f"{timeout:g}s (request {record.request_id})"
        )

    def _delay(self, retry: RetryPolicy | None, error: BaseException, number: int) -> float | None:
        if retry is None or not isinstance(error, Exception) or isinstance(error, _NEVER_RETRIED):
            return None
        return retry.next_delay(error, number, random=self.clock.random)

    # -- limits and caches, once per run and node --------------------------------------------

    def _concurrency_limit(self, node_class: type[Node[Any]], size: int) -> ConcurrencyLimit:
        limit = self._concurrency.get((node_class, size))
        if limit is None:
            name = f"{node_class.name()} max_concurrency={size}"
            limit = self._concurrency[(node_class, size)] = ConcurrencyLimit(size, name=name)
        return limit

    def _rate_limit(self, node_class: type[Node[Any]], calls: int, per: float) -> RateLimit:
        limit = self._rates.get((node_class, calls, per))
        if limit is None:
            limit = self._rates[(node_class, calls, per)] = RateLimit(
                calls,
                per,
                name=f"{node_class.name()} rate_limit={calls}/{per:g}s",
                clock=self.clock.monotonic,
                sleep=self.clock.sleep,
            )
        return limit

    def _cache(self, node_class: type[Node[Any]], options: CachePolicy) -> ResultCache:
        cache = self._caches.get((node_class, options))
        if cache is None:
            backend: CacheBackend | None = self.cache_backend if options.persist else None
            if backend is None:
                backend = MemoryCacheBackend(options.max_entries)
            cache = self._caches[(node_class, options)] = ResultCache(
                key=options.key, ttl=options.ttl, backend=backend, clock=self.clock.wall
            )
            name = f"{node_class.name()} cache"
            if name in self._cache_names.values():  # another cache policy of the same node
                name = f"{name} {len(self._cache_names) + 1}"
            self._cache_names[cache] = name
        return cache

    def statistics(self) -> PolicyStatistics:
        limits = {limit.name: limit.statistics() for limit in self._concurrency.values()}
        limits.update((limit.name, limit.statistics()) for limit in self._rates.values())
        caches = {self._cache_names[cache]: cache.statistics() for cache in self._caches.values()}
        return PolicyStatistics(
            calls=self._calls,
            attempts=self._attempts,
            retries=self._retries,
            timeouts=self._timeouts,
            cache_hits=self._hits,
            limits=limits,
            caches=caches,
        )

    def close(self) -> None:
        """The run is over: release what the cache backend holds (its file)."""
        close = getattr(self.cache_backend, "close", None)
        if callable(close):
            close()


class _TryAgain(Exception):
    """A failed attempt that its retry policy retries after ``delay`` seconds (internal)."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay)
        self.delay = delay


def _cancelled_elsewhere(task: asyncio.Task[Any]) -> bool:
    """After a timeout cancelled ``task``: take that cancellation back, and say whether
    another one is pending (Python 3.11+ counts them; 3.10 cannot tell, so it says no)."""
    uncancel = getattr(task, "uncancel", None)
    return uncancel is not None and bool(uncancel())


def _namespace(node_class: type[Node[Any]]) -> str:
    """Where a node's cache entries live: its class's ``module:qualname`` (stable across
    runs of the same code)."""
    return f"{node_class.__module__}:{node_class.__qualname__}"


def _keep_attributes(record: RequestRecord, node: Node[Any]) -> None:
    """Add what the node reported in ``details["attributes"]`` to the record's own."""
    details = node.__dict__.get("details")
    reported = details.get("attributes") if details else None
    if reported:
        record.attributes = {**reported, **(record.attributes or {})}


async def _written(durable: Awaitable[None] | None) -> None:
    if durable is not None:
        await durable


def _release_when_done(
    limit: ConcurrencyLimit,
    work: concurrent.futures.Future[Any],
    loop: asyncio.AbstractEventLoop,
) -> None:
    def done(_: concurrent.futures.Future[Any]) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(limit.release)

    work.add_done_callback(done)
