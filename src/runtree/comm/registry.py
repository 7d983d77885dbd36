"""Collecting the statistics of communication objects, and reporting notable events.

A :class:`CommRegistry` holds weak references to channels, queues, buses, exchanges, senders
and routers and returns all their ``statistics()`` at once. Objects register themselves in the
registry passed as ``registry=``, or else in :data:`current_registry` (a ContextVar a session
sets), or nowhere.

When a runtree publisher is active (:data:`runtree.pubsub.publisher.current_publisher`),
notable events (a channel closing, a dropped or rejected message, a failed handler, a dead
letter, a timeout) are published as :class:`CommEvent` messages. Per-message traffic is not
published: it is counted in the statistics, which :meth:`CommRegistry.publish_statistics`
publishes as one :class:`CommStatistics` message on demand.
"""

from __future__ import annotations

import contextvars
import dataclasses
import itertools
import logging
import weakref
from typing import Any, ClassVar, Protocol

from runtree.pubsub.messages import Message, summarise
from runtree.pubsub.publisher import RTPublisher, current_publisher

__all__ = [
    "CommEvent",
    "CommRegistry",
    "CommStatistics",
    "Observable",
    "current_registry",
    "register",
]

logger = logging.getLogger("runtree.comm")
_counter = itertools.count(1)


class Observable(Protocol):
    """Anything with a ``name`` and a ``statistics()`` snapshot."""

    @property
    def name(self) -> str: ...

    def statistics(self) -> Any: ...


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CommEvent(Message):
    """A notable event of a communication object (``kind`` e.g. ``"queue.dropped"``)."""

    topic: ClassVar[str] = "comm.notice"
    kind: str
    name: str
    detail: Any = None

    def log_message(self) -> str:
        detail = "" if self.detail is None else f": {summarise(self.detail)}"
        return f"{self.kind} [{self.name}]{detail}"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CommStatistics(Message):
    """A snapshot of every registered object's statistics, keyed by object name."""

    topic: ClassVar[str] = "comm.statistics"
    objects: dict[str, Any]

    def log_message(self) -> str:
        return f"comm statistics of {len(self.objects)} object(s)"


class CommRegistry:
    """Weakly holds communication objects so their statistics can be collected together."""

    def __init__(self) -> None:
        self._objects: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()

    def register(self, obj: Observable) -> str:
        """Add ``obj``; returns the key it is stored under (its name, made unique)."""
        key = obj.name
        existing = self._objects.get(key)
        if existing is not None and existing is not obj:
            key = f"{key}#{next(_counter)}"
        self._objects[key] = obj
        return key

    def unregister(self, obj: Observable) -> None:
        """Remove ``obj`` (no error if it was not registered)."""
        for key, value in list(self._objects.items()):
            if value is obj:
                del self._objects[key]

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, obj: object) -> bool:
        return any(value is obj for value in self._objects.values())

    def statistics(self) -> dict[str, Any]:
        """``{key: obj.statistics()}`` for every live registered object, sorted by key."""
        items = sorted(self._objects.items())
        return {key: obj.statistics() for key, obj in items}

    def publish_statistics(self, publisher: RTPublisher | None = None) -> CommStatistics:
        """Publish (and return) a :class:`CommStatistics` snapshot on ``publisher``.

        ``publisher`` defaults to the active one; without any, the snapshot is only returned.
        """
        snapshot = CommStatistics(objects=self.statistics())
        target = publisher if publisher is not None else current_publisher.get()
        if target is not None:
            target.publish(snapshot)
        return snapshot


#: Where objects that are parts of other objects (a queue's channel) register: nobody reads it.
PRIVATE_REGISTRY = CommRegistry()

#: The registry new communication objects join when none is passed (a session sets it).
current_registry: contextvars.ContextVar[CommRegistry | None] = contextvars.ContextVar(
    "runtree_comm_registry", default=None
)


def register(obj: Observable, registry: CommRegistry | None) -> None:
    """Register ``obj`` in ``registry`` or, if ``None``, in the current registry (if any)."""
    target = registry if registry is not None else current_registry.get()
    if target is not None:
        target.register(obj)


def notify(kind: str, name: str, detail: Any = None) -> None:
    """Publish a :class:`CommEvent` if a publisher is active and wants it. Never raises."""
    publisher = current_publisher.get()
    if publisher is None:
        return
    try:
        if publisher.wants(CommEvent):
            publisher.publish(CommEvent(kind=kind, name=name, detail=detail))
    except Exception:  # an observer must never break communication
        logger.warning("could not publish %s for %r", kind, name, exc_info=True)
