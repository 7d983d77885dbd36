"""``EventBus``: named events delivered to sync or async handlers, with wildcards.

``on("data_ready", handler)`` subscribes to one event type; ``on("*", handler)`` to every
event; ``on("data.*", handler)`` to a glob pattern (``fnmatch`` rules, case-sensitive).
``await emit("data_ready", data)`` builds an :class:`~runtree.comm.message.EventMessage` and
hands it to every matching handler in subscription order; handlers receive the
``EventMessage`` (its ``event_name`` tells wildcard handlers what happened, ``data`` carries
the payload).

A handler that raises does not stop the others. Its exception becomes an
:class:`~runtree.comm.message.ErrorMessage` that is returned in the :class:`EmitResult`, kept in
``recent_errors()``, and emitted as an ``"error"`` event (whose ``data`` is the
``ErrorMessage``). A handler failing on an ``"error"`` event is counted and collected but not
re-emitted, so failures cannot loop.

Handlers are matched once per distinct event type and cached: emitting does not scan every
subscription.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import fnmatch
import logging
from collections.abc import Callable
from typing import Any

from runtree.comm._support import unique_name
from runtree.comm.errors import ChannelClosedError
from runtree.comm.listener import Callback, Listener, ListenerStatistics, callback_name
from runtree.comm.message import ErrorMessage, EventMessage
from runtree.comm.registry import CommRegistry, notify, register
from runtree.errors import ConfigurationError, ContextError

__all__ = ["ERROR_EVENT", "EmitResult", "EventBus", "EventBusStatistics", "is_pattern"]

logger = logging.getLogger("runtree.comm")

#: The event type under which handler failures are reported.
ERROR_EVENT = "error"
_RECENT_ERRORS = 100
_MAX_ROUTES = 4096


def is_pattern(event_type: str) -> bool:
    """Whether ``event_type`` is a wildcard/glob pattern rather than one event name."""
    return "*" in event_type or "?" in event_type or "[" in event_type  # no generator: hot


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EmitResult:
    """What one ``emit`` did: the event, how many handlers succeeded, and their failures."""

    event: EventMessage
    delivered: int
    errors: tuple[ErrorMessage, ...]

    @property
    def ok(self) -> bool:
        """True when no handler raised."""
        return not self.errors

    @property
    def handled(self) -> bool:
        """True when at least one handler matched the event."""
        return bool(self.event.subscribers)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EventBusStatistics:
    """Counters of an :class:`EventBus`; ``unhandled`` counts events no handler matched."""

    name: str
    emitted: int
    delivered: int
    failed: int
    unhandled: int
    pending: int
    closed: bool
    handlers: tuple[ListenerStatistics, ...]


class EventBus:
    """Publish/subscribe of named events inside one event loop; see the module docstring."""

    def __init__(
        self,
        *,
        name: str | None = None,
        source: str | None = None,
        on_error: Callable[[ErrorMessage], object] | None = None,
        registry: CommRegistry | None = None,
    ) -> None:
        self._name = name or unique_name("bus")
        self.source = source
        self.on_error = on_error
        self._listeners: list[Listener] = []
        self._routes: dict[str, tuple[Listener, ...]] = {}
        self._pending: set[asyncio.Task[EmitResult]] = set()
        self._recent_errors: collections.deque[ErrorMessage] = collections.deque(
            maxlen=_RECENT_ERRORS
        )
        self._emitted = 0
        self._unhandled = 0
        self._closed = False
        register(self, registry)

    @property
    def name(self) -> str:
        return self._name

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"<EventBus {self._name!r} handlers={len(self._listeners)} emitted={self._emitted}>"

    def statistics(self) -> EventBusStatistics:
        handlers = tuple(listener.statistics() for listener in self._listeners)
        return EventBusStatistics(
            name=self._name,
            emitted=self._emitted,
            delivered=sum(h.delivered for h in handlers),
            failed=sum(h.failed for h in handlers),
            unhandled=self._unhandled,
            pending=len(self._pending),
            closed=self._closed,
            handlers=handlers,
        )

    def recent_errors(self) -> tuple[ErrorMessage, ...]:
        """The last handler failures (at most 100), oldest first."""
        return tuple(self._recent_errors)

    # -- subscribing ---------------------------------------------------------------------------

    def on(self, event_type: str, handler: Callback, *, name: str | None = None) -> Listener:
        """Call ``handler(event)`` for every event matching ``event_type`` (name or pattern)."""
        if not isinstance(event_type, str) or not event_type:
            raise ConfigurationError(f"event_type must be a non-empty string, got {event_type!r}")
        if not callable(handler):
            raise ConfigurationError(f"handler must be callable, got {handler!r}")
        listener = Listener(
            handler, name=name or callback_name(handler, "handler"), pattern=event_type
        )
        self._listeners.append(listener)
        self._routes.clear()
        return listener

    def off(self, event_type: str | Listener, handler: Callback | None = None) -> int:
        """Unsubscribe: ``off(listener)`` or ``off(event_type, handler)``.

        Returns how many subscriptions were removed; raises ``ConfigurationError`` if none.
        """
        if isinstance(event_type, Listener):
            gone = [event_type] if event_type in self._listeners else []
        else:
            gone = [
                listener
                for listener in self._listeners
                if listener.pattern == event_type
                and (handler is None or listener.callback == handler)
            ]
        if not gone:
            raise ConfigurationError(f"no such subscription on bus {self._name!r}: {event_type!r}")
        for listener in gone:
            self._listeners.remove(listener)
            listener.active = False
        self._routes.clear()
        return len(gone)

    def handlers_for(self, event_type: str) -> tuple[Listener, ...]:
        """The listeners an event of this type goes to, in subscription order."""
        route = self._routes.get(event_type)
        if route is None:
            route = tuple(
                listener
                for listener in self._listeners
                if listener.pattern == event_type
                or (
                    is_pattern(listener.pattern or "")
                    and fnmatch.fnmatchcase(event_type, listener.pattern or "")
                )
            )
            if len(self._routes) >= _MAX_ROUTES:
                self._routes.clear()
            self._routes[event_type] = route
        return route

    # -- emitting ------------------------------------------------------------------------------

    async def emit(
        self, event_type: str, data: Any = None, *, source: str | None = None
    ) -> EmitResult:
        """Deliver an event to every matching handler and report what happened."""
        self._check_emit(event_type)
        return await self._deliver(event_type, data, source)

    def _check_emit(self, event_type: str) -> None:
        if self._closed:
            raise ChannelClosedError(f"event bus {self._name!r} is closed", name=self._name)
        if not isinstance(event_type, str) or not event_type or is_pattern(event_type):
            raise ConfigurationError(
                f"emit needs a concrete event name (no wildcards), got {event_type!r}"
            )

    async def _deliver(self, event_type: str, data: Any, source: str | None) -> EmitResult:
        listeners = self.handlers_for(event_type)
        event = EventMessage(
            event_name=event_type,
            data=data,
            subscribers=tuple(listener.name for listener in listeners),
            source=source if source is not None else self.source,
        )
        self._emitted += 1
        if not listeners:
            self._unhandled += 1
            return EmitResult(event=event, delivered=0, errors=())
        delivered = 0
        errors: list[ErrorMessage] = []
        for listener in listeners:
            exc = await listener.invoke(event)
            if exc is None:
                delivered += 1
                continue
            report = ErrorMessage.from_exception(
                exc,
                source=f"{self._name}:{listener.name}",
                error_code="handler_failed",
                correlation_id=event.id,
            )
            errors.append(report)
            self._handle_failure(listener, exc, report)
        if errors and event_type != ERROR_EVENT:
            for report in errors:
                await self._deliver(ERROR_EVENT, report, self._name)
        return EmitResult(event=event, delivered=delivered, errors=tuple(errors))

    def _handle_failure(self, listener: Listener, exc: Exception, report: ErrorMessage) -> None:
        self._recent_errors.append(report)
        logger.warning("handler %r of bus %r failed: %r", listener.name, self._name, exc)
        notify("bus.handler_failed", self._name, report.message)
        if self.on_error is not None:
            try:
                self.on_error(report)
            except Exception:
                logger.warning("on_error of bus %r failed", self._name, exc_info=True)

    def emit_nowait(
        self, event_type: str, data: Any = None, *, source: str | None = None
    ) -> asyncio.Task[EmitResult]:
        """Schedule :meth:`emit` in a task and return it (needs a running loop).

        ``await bus.wait_idle()`` or ``await bus.aclose()`` waits for every scheduled emit.
        """
        self._check_emit(event_type)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise ContextError("emit_nowait() needs a running event loop") from None
        task = loop.create_task(self._deliver(event_type, data, source))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    async def wait_idle(self) -> None:
        """Wait until every event scheduled with :meth:`emit_nowait` was delivered."""
        while self._pending:
            await asyncio.wait(set(self._pending))

    async def aclose(self) -> None:
        """Refuse new events and wait for the scheduled ones."""
        self._closed = True
        await self.wait_idle()

    async def __aenter__(self) -> EventBus:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
