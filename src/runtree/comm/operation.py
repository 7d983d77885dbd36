"""Filtering, transformation and routing as composable operations.

An :class:`Operation` turns one item into one item, or drops it (returns :data:`DROP`).
``Filter(pred)`` keeps items for which ``pred`` is true, ``Transform(fn)`` maps them (``fn`` may
also return ``DROP``), ``Router(rules, default=...)`` tags each item with the first route whose
predicate matches. Compose them with ``|`` or :func:`pipeline`; apply them to one item
(``op(item)``), an iterable (``op.run(items)``), an async iterable such as a
:class:`~runtree.comm.channel.Channel` (``op.stream(channel)``), or move items from a source
to a sink (``await op.pump(source, sink)``). A router can also ``split`` items by route or
``forward`` them to one sink per route.

Functions are synchronous; an exception they raise passes through unchanged (and is counted).
Every operation counts what it saw, passed and dropped; a router counts each route taken.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from runtree.comm._support import call_maybe_async, unique_name
from runtree.comm.channel import Channel
from runtree.comm.errors import RoutingError
from runtree.comm.message_queue import MessageQueue
from runtree.errors import ConfigurationError

__all__ = [
    "DROP",
    "Dropped",
    "Filter",
    "Operation",
    "OperationStatistics",
    "Pipeline",
    "Routed",
    "Router",
    "RouterStatistics",
    "Sink",
    "Transform",
    "pipeline",
]

In = TypeVar("In")
Out = TypeVar("Out")
X = TypeVar("X")

#: Where ``pump``/``forward`` put items: a channel, a message queue, or a (sync/async) callable.
Sink = Channel[Any] | MessageQueue[Any] | Callable[[Any], Any]


class Dropped:
    """Type of :data:`DROP`, the value an operation returns to drop an item."""

    _instance: Dropped | None = None

    def __new__(cls) -> Dropped:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DROP"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "DROP"


DROP: Dropped = Dropped()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class OperationStatistics:
    """Items an operation saw, passed on, dropped, and calls that raised."""

    name: str
    kind: str
    seen: int
    passed: int
    dropped: int
    failed: int
    stages: tuple[OperationStatistics, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RouterStatistics:
    """Items a router saw, how many took each route, and how many matched no route."""

    name: str
    seen: int
    routes: dict[str, int]
    unrouted: int
    failed: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Routed(Generic[X]):
    """An item tagged with the route a :class:`Router` chose for it."""

    route: str
    item: X


async def _put(sink: Sink, item: Any) -> None:
    if isinstance(sink, Channel):
        await sink.send(item)
    elif isinstance(sink, MessageQueue):
        await sink.publish(item)
    else:
        await call_maybe_async(sink, item)


def _close(sink: Sink) -> None:
    if isinstance(sink, (Channel, MessageQueue)):
        sink.close()


class Operation(Generic[In, Out]):
    """Base of the operations: subclasses implement :meth:`_apply`."""

    kind = "operation"

    def __init__(self, *, name: str | None = None) -> None:
        self._name = name or unique_name(self.kind)
        self._seen = 0
        self._passed = 0
        self._failed = 0

    @property
    def name(self) -> str:
        return self._name

    def _apply(self, item: In) -> Out | Dropped:
        raise NotImplementedError

    def apply(self, item: In) -> Out | Dropped:
        """The result for ``item``, or :data:`DROP`."""
        self._seen += 1
        try:
            result = self._apply(item)
        except Exception:
            self._failed += 1
            raise
        if result is not DROP:
            self._passed += 1
        return result

    __call__ = apply

    def __or__(self, other: Operation[Out, X]) -> Pipeline[In, X]:
        if not isinstance(other, Operation):
            return NotImplemented
        return Pipeline(self, other)

    def run(self, items: Iterable[In]) -> Iterator[Out]:
        """Lazily apply to every item of ``items``, leaving out dropped ones."""
        for item in items:
            result = self.apply(item)
            if not isinstance(result, Dropped):
                yield result

    async def stream(self, items: AsyncIterable[In]) -> AsyncIterator[Out]:
        """Apply to every item of an async iterable (a channel, a queue, ...)."""
        async for item in items:
            result = self.apply(item)
            if not isinstance(result, Dropped):
                yield result

    async def pump(self, source: AsyncIterable[In], sink: Sink, *, close_sink: bool = True) -> int:
        """Move every item from ``source`` through this operation into ``sink``.

        Returns how many items reached the sink; closes it at the end unless told not to.
        """
        count = 0
        try:
            async for item in self.stream(source):
                await _put(sink, item)
                count += 1
        finally:
            if close_sink:
                _close(sink)
        return count

    def statistics(self) -> OperationStatistics:
        return OperationStatistics(
            name=self._name,
            kind=self.kind,
            seen=self._seen,
            passed=self._passed,
            dropped=self._seen - self._passed - self._failed,
            failed=self._failed,
        )


class Filter(Operation[In, In]):
    """Keep the items for which ``predicate(item)`` is true."""

    kind = "filter"

    def __init__(self, predicate: Callable[[In], object], *, name: str | None = None) -> None:
        if not callable(predicate):
            raise ConfigurationError(f"Filter needs a callable, got {predicate!r}")
        super().__init__(name=name or getattr(predicate, "__name__", None))
        self.predicate = predicate

    def _apply(self, item: In) -> In | Dropped:
        return item if self.predicate(item) else DROP


class Transform(Operation[In, Out]):
    """Replace each item by ``function(item)`` (which may return :data:`DROP`)."""

    kind = "transform"

    def __init__(self, function: Callable[[In], Out | Dropped], *, name: str | None = None) -> None:
        if not callable(function):
            raise ConfigurationError(f"Transform needs a callable, got {function!r}")
        super().__init__(name=name or getattr(function, "__name__", None))
        self.function = function

    def _apply(self, item: In) -> Out | Dropped:
        return self.function(item)


class Pipeline(Operation[In, Out]):
    """Operations applied in order; an item dropped by one stage skips the rest."""

    kind = "pipeline"

    def __init__(self, *stages: Operation[Any, Any], name: str | None = None) -> None:
        flat: list[Operation[Any, Any]] = []
        for stage in stages:
            if not isinstance(stage, Operation):
                raise ConfigurationError(f"pipeline stages must be operations, got {stage!r}")
            flat.extend(stage.stages if isinstance(stage, Pipeline) else (stage,))
        if not flat:
            raise ConfigurationError("a pipeline needs at least one operation")
        super().__init__(name=name)
        self.stages: tuple[Operation[Any, Any], ...] = tuple(flat)

    def _apply(self, item: In) -> Out | Dropped:
        value: Any = item
        for stage in self.stages:
            value = stage.apply(value)
            if isinstance(value, Dropped):
                return value
        result: Out = value
        return result

    def statistics(self) -> OperationStatistics:
        base = Operation.statistics(self)
        return dataclasses.replace(
            base, stages=tuple(_as_operation_stats(s.statistics()) for s in self.stages)
        )


def _as_operation_stats(stats: OperationStatistics | RouterStatistics) -> OperationStatistics:
    if isinstance(stats, OperationStatistics):
        return stats
    passed = sum(stats.routes.values())
    return OperationStatistics(
        name=stats.name,
        kind="router",
        seen=stats.seen,
        passed=passed,
        dropped=stats.unrouted,
        failed=stats.failed,
    )


def pipeline(*stages: Operation[Any, Any], name: str | None = None) -> Pipeline[Any, Any]:
    """Compose ``stages`` in order (same as ``a | b | c``)."""
    return Pipeline(*stages, name=name)


class Router(Operation[In, Routed[In]]):
    """Tag each item with the first route whose predicate is true, else ``default``.

    ``rules`` maps route names to predicates (a mapping or ``(route, predicate)`` pairs;
    order matters). With ``default=None`` an unmatched item raises :class:`RoutingError`.
    """

    kind = "router"

    def __init__(
        self,
        rules: Mapping[str, Callable[[In], object]] | Iterable[tuple[str, Callable[[In], object]]],
        *,
        default: str | None = "default",
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        pairs = list(rules.items() if isinstance(rules, Mapping) else rules)
        for route, predicate in pairs:
            if not isinstance(route, str) or not callable(predicate):
                raise ConfigurationError(
                    "router rules must be (route name, predicate) pairs, "
                    f"got {(route, predicate)!r}"
                )
        self.rules: tuple[tuple[str, Callable[[In], object]], ...] = tuple(pairs)
        self.default = default
        self._routes: dict[str, int] = {route: 0 for route, _ in pairs}
        if default is not None:
            self._routes.setdefault(default, 0)
        self._unrouted = 0

    def route(self, item: In) -> str:
        """The route ``item`` takes (counted)."""
        self._seen += 1
        try:
            for route, predicate in self.rules:
                if predicate(item):
                    self._routes[route] += 1
                    return route
        except Exception:
            self._failed += 1
            raise
        if self.default is None:
            self._unrouted += 1
            raise RoutingError(
                f"router {self._name!r}: no rule matched {item!r} and there is no default",
                router=self._name,
            )
        self._routes[self.default] += 1
        return self.default

    def apply(self, item: In) -> Routed[In]:
        route = self.route(item)
        self._passed += 1
        return Routed(route=route, item=item)

    __call__ = apply

    def split(self, items: Iterable[In]) -> dict[str, list[In]]:
        """Group ``items`` by route (every route appears, possibly empty)."""
        groups: dict[str, list[In]] = {route: [] for route in self._routes}
        for item in items:
            groups[self.route(item)].append(item)
        return groups

    async def forward(
        self,
        source: AsyncIterable[In],
        targets: Mapping[str, Sink],
        *,
        close_targets: bool = True,
    ) -> dict[str, int]:
        """Send every item of ``source`` to the sink of its route; returns counts per route.

        Every route must have a target (checked before anything is read).
        """
        missing = sorted(set(self._routes) - set(targets))
        if missing:
            raise ConfigurationError(f"router {self._name!r} has no target for routes {missing}")
        counts = dict.fromkeys(self._routes, 0)
        try:
            async for item in source:
                route = self.route(item)
                await _put(targets[route], item)
                counts[route] += 1
        finally:
            if close_targets:
                for sink in targets.values():
                    _close(sink)
        return counts

    def statistics(self) -> RouterStatistics:  # type: ignore[override]
        return RouterStatistics(
            name=self._name,
            seen=self._seen,
            routes=dict(self._routes),
            unrouted=self._unrouted,
            failed=self._failed,
        )
