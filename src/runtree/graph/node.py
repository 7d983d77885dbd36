"""``Node``: a graph step in three parts, ``prep`` → ``exec`` → ``post``.

``prep(shared)`` reads what the step needs from the shared store, ``exec(prep_res)`` does
the work (no shared store: it can be retried safely), ``post(shared, prep_res, exec_res)``
writes results back and returns the next action (``None`` means ``"default"``).

Each method may be sync or async. Sync methods run on the event loop's thread, one after
the other, so an object made in ``prep`` (a sqlite3 connection, say) can be used in
``exec`` and ``post``. ``exec_in_thread = True`` runs a sync ``exec`` in a worker thread
instead, so blocking work does not hold up the event loop (and the branches of a parallel
step really run at once); ``async def exec`` needs neither.

``max_retries`` is the number of ``exec`` attempts (default 1: no retry); a failed attempt
is retried after ``wait`` seconds, growing with ``backoff`` (``"fixed"``, ``"linear"``,
``"exponential"``) up to ``max_wait``; only exceptions in ``retry_on`` are retried; an
exception that carries a ``retry_after`` hint (seconds) waits that long instead (not
retried when the hint is longer than ``max_wait``). These options are a
:class:`runtree.policy.RetryPolicy` (:meth:`Node.retry_policy`): graph steps, node calls,
model calls and reliable delivery all retry with the same code. ``self.attempt`` is the
number of the running attempt (1-based), ``self.cur_retry`` its index (0-based). When the
attempts are used up, ``exec_fallback(prep_res, exc)`` decides: by default it re-raises
``exc``; override it to return a result instead.

In the run tree, a step is a request named after the node, and every ``exec`` attempt is
a child request ``"<name>.exec"`` (failed attempts are recorded as failed; with
``max_retries > 1`` each carries the attribute ``runtree.attempt``: 1, 2, ...).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable
from typing import Any, ClassVar, Generic, TypeVar

from runtree._async import is_async_callable
from runtree._threads import run_in_thread
from runtree.errors import ConfigurationError
from runtree.graph._tracking import Record, StepContext, maybe_await, track
from runtree.graph.base import BaseNode, Shared, StepOutcome, check_action, check_flag
from runtree.graph.errors import GraphDefinitionError
from runtree.policy.clock import Sleep
from runtree.policy.policy import ATTEMPT_ATTRIBUTE
from runtree.policy.retry import BACKOFFS, Backoff, RetryPolicy

__all__ = ["BACKOFFS", "Backoff", "Node", "NodeStatistics", "Sleep"]

P = TypeVar("P")
E = TypeVar("E")

#: what the graph's retry options are called in :class:`~runtree.policy.RetryPolicy`
_RETRY_OPTIONS = {
    "max_attempts": "max_retries",
    "base_delay": "wait",
    "max_delay": "max_wait",
    "backoff": "backoff",
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NodeStatistics:
    """Counters of a graph node over all its runs.

    ``steps`` counts steps run, ``attempts`` the ``exec`` attempts (``retries`` of them were
    retries), ``failures`` the steps that raised, ``fallbacks`` the results produced by
    ``exec_fallback``, ``peak_concurrency`` the most ``exec`` calls seen running at once.
    """

    name: str
    steps: int
    attempts: int
    retries: int
    failures: int
    fallbacks: int
    peak_concurrency: int


class _Counters:
    """Mutable counters shared by a node and its per-run copies."""

    __slots__ = ("attempts", "failures", "fallbacks", "peak", "retries", "running", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.attempts = 0
        self.retries = 0
        self.failures = 0
        self.fallbacks = 0
        self.running = 0
        self.peak = 0


def _retry_policy(where: str, options: Any) -> RetryPolicy:
    """The :class:`RetryPolicy` of a graph node's (or class's) retry options; a bad option
    is named as the graph calls it (``where`` is a template: ``"Fetch.{}"`` gives
    ``Fetch.max_retries must be >= 1, got 0``)."""
    return RetryPolicy.named(
        {field: where.format(name) for field, name in _RETRY_OPTIONS.items()},
        max_attempts=options.max_retries,
        backoff=options.backoff,
        base_delay=options.wait,
        max_delay=options.max_wait,
        retry_on=options.retry_on,
    )


class Node(BaseNode, Generic[P, E]):
    """A graph step: ``prep`` → ``exec`` (retried) → ``post``; see the module docstring.

    Options are class attributes, overridable per instance with the same keyword:
    ``Fetch(max_retries=3, wait=0.5, backoff="exponential")``; the first three may be given
    by position: ``Fetch(3, 0.5)``, ``Fetch(3, 0.5, "fetch")``. ``sleep`` replaces
    ``asyncio.sleep`` between retries (tests inject a recorder).
    """

    #: number of ``exec`` attempts (1: no retry)
    max_retries: int = 1
    wait: float = 0.0
    backoff: Backoff = "fixed"
    max_wait: float | None = None
    #: exception types that trigger a retry (others go straight to ``exec_fallback``)
    retry_on: ClassVar[tuple[type[BaseException], ...]] = (Exception,)
    #: run a sync ``exec`` in a worker thread (``False``: on the event loop, like prep/post)
    exec_in_thread: bool = False

    _definition_attributes: ClassVar[frozenset[str]] = frozenset(
        {"_successors", "_name", "_counters", "_sleep"}
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        where = cls.__qualname__
        for method in ("prep", "exec", "post", "exec_fallback"):
            raw = cls.__dict__.get(method)
            if raw is not None and (
                isinstance(raw, (classmethod, staticmethod)) or not callable(raw)
            ):
                raise GraphDefinitionError(
                    f"{where}.{method} must be a plain method (`def {method}(self, ...)` or "
                    f"`async def {method}(self, ...)`)"
                )
        if not isinstance(cls.exec_in_thread, bool):
            raise GraphDefinitionError(
                f"{where}.exec_in_thread must be True or False, got {cls.exec_in_thread!r}"
            )
        retry_on = cls.retry_on
        if not isinstance(retry_on, tuple) or not all(
            isinstance(t, type) and issubclass(t, BaseException) for t in retry_on
        ):
            raise GraphDefinitionError(
                f"{where}.retry_on must be a tuple of exception classes, got {retry_on!r}"
            )
        _retry_policy(f"{where}.{{}}", cls)

    def __init__(
        self,
        max_retries: int | None = None,
        wait: float | None = None,
        name: str | None = None,
        *,
        backoff: Backoff | None = None,
        max_wait: float | None = None,
        sleep: Sleep | None = None,
        exec_in_thread: bool | None = None,
    ) -> None:
        super().__init__(name=name)
        if max_retries is not None:
            self.max_retries = max_retries
        if wait is not None:
            self.wait = wait
        if backoff is not None:
            self.backoff = backoff
        if max_wait is not None:
            self.max_wait = max_wait
        self.retry_policy()  # bad options fail here
        if sleep is not None and not callable(sleep):
            raise ConfigurationError(f"node {self.name!r}: sleep must be callable, got {sleep!r}")
        if exec_in_thread is not None:
            self.exec_in_thread = check_flag(
                exec_in_thread, f"node {self.name!r}", "exec_in_thread"
            )
        self._sleep: Sleep = sleep if sleep is not None else asyncio.sleep
        self._counters = _Counters()
        #: 1-based number of the ``exec`` attempt running (per run, per item)
        self.attempt = 0
        #: 0-based index of the ``exec`` attempt running (``attempt - 1``)
        self.cur_retry = 0

    # -- the three steps (override these) ----------------------------------------------------

    def prep(self, shared: Shared) -> P | Awaitable[P]:
        """Read what ``exec`` needs from the shared store. Default: ``None``."""
        return None  # type: ignore[return-value]

    def exec(self, prep_res: P) -> E | Awaitable[E]:
        """Do the work on ``prep_res``; may be retried. Default: ``None``."""
        return None  # type: ignore[return-value]

    def post(self, shared: Shared, prep_res: P, exec_res: E) -> str | Awaitable[str | None] | None:
        """Write results to the shared store; return the next action (``None``: default)."""
        return None

    def exec_fallback(self, prep_res: P, exc: BaseException) -> E | Awaitable[E]:
        """Called when every attempt failed; return a result or raise. Default: re-raise."""
        raise exc

    # -- bookkeeping -------------------------------------------------------------------------

    def statistics(self) -> NodeStatistics:
        c = self._counters
        return NodeStatistics(
            name=self.name,
            steps=c.steps,
            attempts=c.attempts,
            retries=c.retries,
            failures=c.failures,
            fallbacks=c.fallbacks,
            peak_concurrency=c.peak,
        )

    def retry_policy(self) -> RetryPolicy:
        """This node's retry options as a :class:`runtree.policy.RetryPolicy`
        (``max_retries`` attempts, ``wait`` growing with ``backoff`` up to ``max_wait``,
        only ``retry_on`` failures), read from the node as it is now."""
        return _retry_policy(f"node {self.name!r}: {{}}", self)

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one."""
        return self.retry_policy().delay(attempt)

    # -- running -----------------------------------------------------------------------------

    async def _step_body(self, ctx: StepContext) -> Record:
        run = self.fresh()
        assert isinstance(run, Node)
        run.params = {**self.params, **ctx.params}
        return await run._run_step(ctx.store)

    async def _run_step(self, shared: Shared) -> Record:
        counters = self._counters
        counters.steps += 1
        try:
            prep_res = await maybe_await(self.prep(shared))
            exec_res, attempts, fallback, errors = await self._exec_all(prep_res)
            action = await maybe_await(self.post(shared, prep_res, exec_res))
        except BaseException:
            counters.failures += 1
            raise
        return StepOutcome(
            node=self.name,
            action=check_action(action, f"post() of node {self.name!r} returned {action!r}"),
            result=exec_res,
            attempts=attempts,
            fallback=fallback,
            errors=errors,
        ).to_record()

    async def _exec_all(self, prep_res: Any) -> tuple[Any, int, bool, int]:
        """Run ``exec`` (with retries and fallback): result, attempts, fallback, errors."""
        return await self._exec_with_retries(prep_res, f"{self.name}.exec", "")

    async def _exec_with_retries(
        self, prep_res: Any, request_name: str, item_label: str
    ) -> tuple[Any, int, bool, int]:
        policy = self.retry_policy()
        attempts = policy.max_attempts
        counters = self._counters
        for number in range(1, attempts + 1):
            self.attempt = number
            self.cur_retry = number - 1
            counters.attempts += 1
            if number > 1:
                counters.retries += 1
            label = f"{request_name}{item_label} attempt {number}/{attempts}"
            try:
                result = await track(
                    request_name,
                    lambda: self._exec_once(prep_res),
                    label=label,
                    attributes={ATTEMPT_ATTRIBUTE: number} if attempts > 1 else None,
                )
            except Exception as exc:
                delay = policy.next_delay(exc, number)
                if delay is not None:
                    if delay > 0:
                        await self._sleep(delay)
                    continue
                fallback = await maybe_await(self.exec_fallback(prep_res, exc))
                counters.fallbacks += 1
                return fallback, number, True, 0
            return result, number, False, 0
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exec_once(self, prep_res: Any) -> Any:
        counters = self._counters
        counters.running += 1
        counters.peak = max(counters.peak, counters.running)
        try:
            method = self.exec
            if is_async_callable(method) or not self.exec_in_thread:
                return await maybe_await(method(prep_res))
            return await maybe_await(await run_in_thread(method, prep_res))
        finally:
            counters.running -= 1
