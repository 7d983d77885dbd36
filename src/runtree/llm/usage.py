"""Usage accounting and limits: tokens and cost per model call, per agent, per subtree, per run.

* Per model call: the response's ``usage`` (also in the request's ``details`` and attributes).
* Per agent: an agent opens a :class:`UsageScope`; every model call made inside it, including
  those of nested agents and tools, adds to it. The agent's response carries the total.
* Per run: :func:`run_usage` is a running total kept per session, updated as model calls end
  (it never walks the run tree).
* Per subtree: :func:`usage_of` adds up the model calls recorded under a request.

Limits (:class:`UsageLimits`) sit on scopes: an agent's own (``agent_node(usage_limits=...)``)
and any opened with :func:`limit_usage` around a block or a whole run. A model call that would
go past a limit raises :class:`~runtree.errors.UsageLimitExceeded` before it is sent, so
everything that finished stays in the journal and the run can be resumed.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import threading
import weakref
from collections.abc import Iterator
from typing import Any

from runtree.context.central import current_session
from runtree.errors import ConfigurationError, UsageLimitExceeded
from runtree.llm.response import Usage, is_response_dict

__all__ = [
    "UsageLimits",
    "UsageScope",
    "current_scopes",
    "limit_usage",
    "run_usage",
    "usage_of",
]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UsageLimits:
    """Upper bounds on what a scope may use; ``None`` means no bound.

    ``requests``: model calls; ``input_tokens``/``output_tokens``/``total_tokens``: tokens
    reported by the provider; ``tool_calls``: tool calls run by agents.
    """

    requests: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    tool_calls: int | None = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ConfigurationError(
                    f"UsageLimits.{field.name} must be a non-negative int or None, got {value!r}"
                )


class UsageScope:
    """A running total of model usage (and tool calls) with optional limits. Thread-safe."""

    __slots__ = ("_cost", "_input", "_lock", "_output", "_requests", "limits", "name", "tool_calls")

    def __init__(self, name: str, limits: UsageLimits | None = None) -> None:
        self.name = name
        self.limits = limits
        self.tool_calls = 0
        self._requests = self._input = self._output = 0
        self._cost: float | None = None
        self._lock = threading.Lock()

    @property
    def usage(self) -> Usage:
        """The running total."""
        return Usage(
            requests=self._requests,
            input_tokens=self._input,
            output_tokens=self._output,
            cost=self._cost,
        )

    def check_request(self) -> None:
        """Raise if one more model call would break a limit."""
        limits = self.limits
        if limits is None:
            return
        if limits.requests is not None and self._requests >= limits.requests:
            self._exceeded(f"{limits.requests} model requests")
        for name, used in (
            ("input_tokens", self._input),
            ("output_tokens", self._output),
            ("total_tokens", self._input + self._output),
        ):
            bound = getattr(limits, name)
            if bound is not None and used >= bound:
                self._exceeded(f"{bound} {name.replace('_', ' ')} (used {used})")

    def add_tool_calls(self, count: int) -> None:
        """Count ``count`` tool calls about to run; raise if that breaks the limit."""
        with self._lock:
            bound = None if self.limits is None else self.limits.tool_calls
            if bound is not None and self.tool_calls + count > bound:
                self._exceeded(f"{bound} tool calls ({self.tool_calls} ran, {count} more asked)")
            self.tool_calls += count

    def add(self, usage: Usage) -> None:
        with self._lock:
            self._requests += usage.requests
            self._input += usage.input_tokens
            self._output += usage.output_tokens
            if usage.cost is not None:
                self._cost = (self._cost or 0.0) + usage.cost

    def _exceeded(self, what: str) -> None:
        raise UsageLimitExceeded(
            f"{self.name} reached its limit of {what}; what finished is in the journal: "
            "resume the run with a higher limit to go on"
        )

    def __repr__(self) -> str:
        return f"<UsageScope {self.name!r} {self.usage}>"


_scopes: contextvars.ContextVar[tuple[UsageScope, ...]] = contextvars.ContextVar(
    "runtree_usage_scopes", default=()
)
#: running total per run, keyed by the session's ExecutionInfo
_run_totals: weakref.WeakKeyDictionary[Any, UsageScope] = weakref.WeakKeyDictionary()
_totals_lock = threading.Lock()


def current_scopes() -> tuple[UsageScope, ...]:
    """The usage scopes code running here counts into, outermost first."""
    return _scopes.get()


@contextlib.contextmanager
def open_scope(scope: UsageScope) -> Iterator[UsageScope]:
    """Count the model calls made in this block (and below) into ``scope`` too."""
    token = _scopes.set((*_scopes.get(), scope))
    try:
        yield scope
    finally:
        _scopes.reset(token)


@contextlib.contextmanager
def limit_usage(
    *,
    requests: int | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    total_tokens: int | None = None,
    tool_calls: int | None = None,
    name: str = "limit_usage",
) -> Iterator[UsageScope]:
    """Bound the model usage of everything called in this block (a whole run, if it wraps
    the run's calls). Yields the scope, whose ``usage`` is the block's running total."""
    limits = UsageLimits(
        requests=requests,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=total_tokens,
        tool_calls=tool_calls,
    )
    with open_scope(UsageScope(name, limits)) as scope:
        yield scope


def _run_scope(session: Any) -> UsageScope | None:
    if session is None:
        return None
    info = session.info
    scope = _run_totals.get(info)
    if scope is None:
        with _totals_lock:
            scope = _run_totals.get(info)
            if scope is None:
                scope = _run_totals[info] = UsageScope(f"run {info.run_id}")
    return scope


def check_limits() -> None:
    """Raise :class:`UsageLimitExceeded` if a scope in force has no room for one more model
    call."""
    for scope in _scopes.get():
        scope.check_request()


def count_tool_calls(count: int) -> None:
    """Count tool calls about to run into every scope in force (raising past a limit)."""
    for scope in _scopes.get():
        scope.add_tool_calls(count)


def record(usage: Usage) -> None:
    """Add one model call's usage to every scope in force and to the run's total."""
    for scope in _scopes.get():
        scope.add(usage)
    run = _run_scope(current_session.get())
    if run is not None:
        run.add(usage)


def run_usage(session: Any = None) -> Usage:
    """The model usage of a run so far: of ``session``, else of the session open here.

    Updated as each model call ends (answered from the journal included, on resume).
    """
    if session is None:
        session = current_session.get()
        if session is None:
            raise ConfigurationError("run_usage() needs a session: call it inside one or pass it")
    scope = _run_scope(session)
    return Usage() if scope is None else scope.usage


def usage_of(info: Any, request_id: str | None = None) -> Usage:
    """The usage of the model calls recorded under ``request_id`` (itself included) in
    ``info`` (a session's :class:`~runtree.state.ExecutionInfo`); the whole run when
    ``request_id`` is ``None``. Walks the records: use :func:`run_usage` for a running total.
    """
    total = Usage()
    stack = list(info.roots) if request_id is None else [request_id]
    while stack:
        record = info.requests[stack.pop()]
        if record.status == "succeeded" and is_response_dict(record.output):
            total = total + Usage.from_dict(record.output.get("usage"))
        stack.extend(record.children)
    return total
