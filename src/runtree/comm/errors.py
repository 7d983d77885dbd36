"""Errors raised by :mod:`runtree.comm`.

Every class derives from :class:`runtree.errors.RuntreeError` (through
:class:`CommunicationError`) and from the builtin a broad handler would expect, and every
instance pickles with its attributes (so it can cross a process or a Ray boundary)::

    RuntreeError
    └── CommunicationError
        ├── ChannelClosedError (RuntimeError)     send on a closed channel/queue/exchange, or
        │                                         receive after it closed and drained
        ├── ChannelTimeoutError (TimeoutError)    send/receive/publish/get did not finish in time
        ├── ChannelTypeError (TypeError)          an item does not match the channel's ``type_``
        ├── QueueFullError (RuntimeError)         a ``*_nowait`` put found no room, or
        │                                         ``overflow_policy="reject_new"`` refused it
        ├── QueueEmptyError (RuntimeError)        a ``*_nowait`` get found nothing
        ├── MessageFormatError (ValueError)       a malformed envelope (names the field)
        ├── RequestTimeoutError (TimeoutError)    a request got no response in time
        ├── RequestFailedError (RuntimeError)     the responder raised; carries its ErrorMessage
        ├── RoutingError (LookupError)            no route matched and the router has no default
        └── DeliveryFailedError (RuntimeError)    a reliable delivery was dead-lettered
"""

from __future__ import annotations

from typing import Any

from runtree.errors import RuntreeError

__all__ = [
    "ChannelClosedError",
    "ChannelTimeoutError",
    "ChannelTypeError",
    "CommunicationError",
    "DeliveryFailedError",
    "MessageFormatError",
    "QueueEmptyError",
    "QueueFullError",
    "RequestFailedError",
    "RequestTimeoutError",
    "RoutingError",
]


class CommunicationError(RuntreeError):
    """Root of the errors of :mod:`runtree.comm`.

    Subclasses declare their keyword attributes in ``_fields``; they are set on the instance
    and survive pickling.
    """

    _fields: tuple[str, ...] = ()

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        unknown = set(fields) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected fields {sorted(unknown)}")
        for name in self._fields:
            setattr(self, name, fields.get(name))


class ChannelClosedError(CommunicationError, RuntimeError):
    """The channel (or queue, exchange) is closed: nothing more can be sent, and it is drained.

    ``name`` is the name of the closed object.
    """

    _fields = ("name",)
    name: str | None


class ChannelTimeoutError(CommunicationError, TimeoutError):
    """A send, receive, publish or get did not complete within ``timeout`` seconds."""

    _fields = ("name", "operation", "timeout")
    name: str | None
    operation: str | None
    timeout: float | None


class ChannelTypeError(CommunicationError, TypeError):
    """An item sent on a typed channel is not an instance of its ``type_``."""

    _fields = ("name", "expected", "actual")
    name: str | None
    expected: str | None
    actual: str | None


class QueueFullError(CommunicationError, RuntimeError):
    """There was no room for an item and waiting was not allowed (or the policy rejects it)."""

    _fields = ("name", "max_size")
    name: str | None
    max_size: int | None


class QueueEmptyError(CommunicationError, RuntimeError):
    """A non-blocking receive found no item."""

    _fields = ("name",)
    name: str | None


class MessageFormatError(CommunicationError, ValueError):
    """A message envelope could not be built from a dict or JSON; ``field`` names the culprit."""

    _fields = ("field",)
    field: str | None


class RequestTimeoutError(CommunicationError, TimeoutError):
    """A request made through an :class:`~runtree.comm.Exchange` was not answered in time."""

    _fields = ("name", "correlation_id", "timeout")
    name: str | None
    correlation_id: str | None
    timeout: float | None


class RequestFailedError(CommunicationError, RuntimeError):
    """The responder of a request raised; ``error`` is the :class:`ErrorMessage` it produced."""

    _fields = ("correlation_id", "error")
    correlation_id: str | None
    error: Any


class RoutingError(CommunicationError, LookupError):
    """No routing rule matched an item and the router has no default route."""

    _fields = ("router",)
    router: str | None


class DeliveryFailedError(CommunicationError, RuntimeError):
    """A reliable delivery used every attempt and went to the dead-letter queue.

    ``dead_letter`` is the :class:`~runtree.comm.DeadLetter` describing why.
    """

    _fields = ("dead_letter",)
    dead_letter: Any
