"""Message envelopes: the four message types of the communication seed.

Every envelope is a frozen, slotted dataclass with an ``id`` (32 hex characters), a ``source`` (the
sending node, or ``None``), a timezone-aware UTC ``timestamp`` and an optional
``correlation_id`` (set on requests and their responses). They subclass
:class:`runtree.pubsub.messages.Message`, so they can be published on a session's publisher
as they are.

``to_dict()`` gives the seed's shape (``{"type": "data", "payload": ..., "timestamp":
"2024-01-15T10:30:00Z", "source": "node_id", "id": ...}``); ``from_dict()`` reads it back and
names the field when something is wrong. The seed's examples omit ``id`` and ``timestamp`` on
some types: a missing ``id`` gets a fresh one and a missing ``timestamp`` is "now".
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import itertools
import json
import os
import traceback
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, TypeVar, cast

from runtree._json import to_jsonable
from runtree.comm.errors import MessageFormatError
from runtree.pubsub.messages import Message, summarise

__all__ = [
    "COMMANDS",
    "CommMessage",
    "ControlMessage",
    "DataMessage",
    "ErrorMessage",
    "EventMessage",
    "format_timestamp",
    "message_from_dict",
    "message_from_json",
    "new_id",
    "parse_timestamp",
    "utc_now",
]

Command = Literal["pause", "resume", "stop"]
#: The commands a :class:`ControlMessage` can carry.
COMMANDS: tuple[str, ...] = ("pause", "resume", "stop")

_UTC = _dt.timezone.utc
_ZERO = _dt.timedelta(0)
_COMMON = ("type", "id", "source", "timestamp", "correlation_id")

M = TypeVar("M", bound="CommMessage")


_id_prefix = os.urandom(8).hex()
_id_counter = itertools.count()


def _reseed_ids() -> None:  # a forked child must not repeat its parent's ids
    global _id_prefix, _id_counter
    _id_prefix = os.urandom(8).hex()
    _id_counter = itertools.count()


os.register_at_fork(after_in_child=_reseed_ids)


def new_id() -> str:
    """A fresh message id: 32 hex characters, a random per-process prefix and a counter.

    Unique like a uuid4 (64 random bits per process) at a fraction of the cost: no system
    call per message.
    """
    return f"{_id_prefix}{next(_id_counter):016x}"


def utc_now() -> _dt.datetime:
    """The current time as a timezone-aware UTC datetime."""
    return _dt.datetime.now(_UTC)


def format_timestamp(value: _dt.datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` suffix (``2024-01-15T10:30:00Z``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise MessageFormatError("timestamp must be timezone-aware", field="timestamp")
    text = value.astimezone(_UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_timestamp(text: object, *, field: str = "timestamp") -> _dt.datetime:
    """Read an ISO-8601 timestamp with an offset or ``Z``; the result is in UTC."""
    if not isinstance(text, str):
        raise MessageFormatError(
            f"{field} must be an ISO-8601 string, got {type(text).__name__}", field=field
        )
    raw = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        value = _dt.datetime.fromisoformat(raw)
    except ValueError:
        raise MessageFormatError(f"{field} is not ISO-8601: {text!r}", field=field) from None
    if value.tzinfo is None:
        raise MessageFormatError(
            f"{field} has no timezone (use 'Z' for UTC): {text!r}", field=field
        )
    return value.astimezone(_UTC)


def _require_str(data: Mapping[str, Any], key: str, *, optional: bool = False) -> Any:
    if key not in data:
        if optional:
            return None
        raise MessageFormatError(f"missing field {key!r}", field=key)
    value = data[key]
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise MessageFormatError(
            f"field {key!r} must be a string, got {type(value).__name__}", field=key
        )
    return value


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CommMessage(Message):
    """Base of the envelopes. Use a concrete type: Data/Control/Event/ErrorMessage."""

    topic: ClassVar[str] = "comm.message"
    #: The ``"type"`` value in the dict form.
    kind: ClassVar[str] = ""
    _body_fields: ClassVar[tuple[str, ...]] = ()

    id: str = dataclasses.field(default_factory=new_id)
    source: str | None = None
    timestamp: _dt.datetime = dataclasses.field(default_factory=utc_now)
    correlation_id: str | None = None

    def __post_init__(self) -> None:
        ts = self.timestamp
        if not isinstance(ts, _dt.datetime):
            raise MessageFormatError(
                f"timestamp must be a datetime, got {type(ts).__name__}", field="timestamp"
            )
        offset = ts.utcoffset()
        if offset is None:
            raise MessageFormatError(
                "timestamp must be timezone-aware (e.g. datetime.now(timezone.utc))",
                field="timestamp",
            )
        if offset != _ZERO or ts.tzinfo is not _UTC:
            object.__setattr__(self, "timestamp", ts.astimezone(_UTC))

    # -- dict / JSON ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The seed's dict shape; ``correlation_id`` appears only when set."""
        data: dict[str, Any] = {"type": self.kind}
        for name in self._body_fields:
            value = getattr(self, name)
            data[name] = list(value) if isinstance(value, tuple) else value
        data["id"] = self.id
        data["source"] = self.source
        data["timestamp"] = format_timestamp(self.timestamp)
        if self.correlation_id is not None:
            data["correlation_id"] = self.correlation_id
        return data

    def to_json(self, *, lossy: bool = False) -> str:
        """JSON text of :meth:`to_dict`.

        A payload JSON cannot hold raises :class:`MessageFormatError` naming the field, unless
        ``lossy=True``: then it is replaced by a ``{"__runtree__": ...}`` marker naming its type.
        """
        data = self.to_dict()
        if lossy:
            return json.dumps(to_jsonable(data), allow_nan=False)
        try:
            return json.dumps(data, allow_nan=False)
        except (TypeError, ValueError) as exc:
            for key, value in data.items():
                try:
                    json.dumps(value, allow_nan=False)
                except (TypeError, ValueError):
                    raise MessageFormatError(
                        f"field {key!r} of a {self.kind} message is not JSON-serialisable "
                        f"({exc}); pass lossy=True to replace it by a marker",
                        field=key,
                    ) from exc
            raise MessageFormatError(str(exc), field=None) from exc  # pragma: no cover

    @classmethod
    def from_dict(cls: type[M], data: Mapping[str, Any]) -> M:
        """Build an envelope from its dict form; on :class:`CommMessage` any type is accepted."""
        if not isinstance(data, Mapping):
            raise MessageFormatError(
                f"a message must be a mapping, got {type(data).__name__}", field=None
            )
        kind = _require_str(data, "type")
        target = _TYPES.get(kind)
        if target is None:
            raise MessageFormatError(
                f"unknown message type {kind!r}; expected one of {sorted(_TYPES)}", field="type"
            )
        if cls is not CommMessage and target is not cls:
            raise MessageFormatError(
                f"expected a {cls.kind!r} message, got type {kind!r}", field="type"
            )
        allowed = set(_COMMON) | set(target._body_fields)
        unknown = sorted(str(key) for key in data if key not in allowed)
        if unknown:
            raise MessageFormatError(
                f"unknown field {unknown[0]!r} in a {kind!r} message", field=unknown[0]
            )
        common: dict[str, Any] = {}
        message_id = _require_str(data, "id", optional=True)
        if message_id is not None:
            common["id"] = message_id
        common["source"] = _require_str(data, "source", optional=True)
        common["correlation_id"] = _require_str(data, "correlation_id", optional=True)
        if data.get("timestamp") is not None:
            common["timestamp"] = parse_timestamp(data["timestamp"])
        return cast(M, target._from_body(data, common))

    @classmethod
    def from_json(cls: type[M], text: str | bytes) -> M:
        """Build an envelope from JSON text (see :meth:`from_dict`)."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise MessageFormatError(f"not valid JSON: {exc}", field=None) from None
        return cls.from_dict(data)

    @classmethod
    def _from_body(cls, data: Mapping[str, Any], common: dict[str, Any]) -> CommMessage:
        raise NotImplementedError  # pragma: no cover


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DataMessage(CommMessage):
    """A piece of data (``payload``) sent from ``source``."""

    topic: ClassVar[str] = "comm.data"
    kind: ClassVar[str] = "data"
    _body_fields: ClassVar[tuple[str, ...]] = ("payload",)
    payload: Any

    def log_message(self) -> str:
        return f"data [{self.id}] from {self.source}: {summarise(self.payload)}"

    @classmethod
    def _from_body(cls, data: Mapping[str, Any], common: dict[str, Any]) -> DataMessage:
        if "payload" not in data:
            raise MessageFormatError("missing field 'payload'", field="payload")
        return cls(payload=data["payload"], **common)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ControlMessage(CommMessage):
    """A command (``"pause"``, ``"resume"`` or ``"stop"``) for ``target`` (``None``: everyone)."""

    topic: ClassVar[str] = "comm.control"
    kind: ClassVar[str] = "control"
    _body_fields: ClassVar[tuple[str, ...]] = ("command", "target")
    command: Command
    target: str | None = None

    def __post_init__(self) -> None:
        CommMessage.__post_init__(self)
        if self.command not in COMMANDS:
            raise MessageFormatError(
                f"command must be one of {'|'.join(COMMANDS)}, got {self.command!r}",
                field="command",
            )

    def log_message(self) -> str:
        return f"control [{self.id}] {self.command} -> {self.target or '*'}"

    @classmethod
    def _from_body(cls, data: Mapping[str, Any], common: dict[str, Any]) -> ControlMessage:
        command = _require_str(data, "command")
        target = _require_str(data, "target", optional=True)
        return cls(command=command, target=target, **common)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EventMessage(CommMessage):
    """An event named ``event_name`` with ``data``, delivered to ``subscribers`` (names)."""

    topic: ClassVar[str] = "comm.event"
    kind: ClassVar[str] = "event"
    _body_fields: ClassVar[tuple[str, ...]] = ("event_name", "data", "subscribers")
    event_name: str
    data: Any = None
    subscribers: tuple[str, ...] = ()

    def log_message(self) -> str:
        return (
            f"event [{self.id}] {self.event_name} -> {len(self.subscribers)} subscriber(s): "
            f"{summarise(self.data)}"
        )

    @classmethod
    def _from_body(cls, data: Mapping[str, Any], common: dict[str, Any]) -> EventMessage:
        name = _require_str(data, "event_name")
        subscribers = data.get("subscribers", [])
        if subscribers is None:
            subscribers = []
        if not isinstance(subscribers, (list, tuple)) or not all(
            isinstance(item, str) for item in subscribers
        ):
            raise MessageFormatError(
                "field 'subscribers' must be a list of strings", field="subscribers"
            )
        return cls(event_name=name, data=data.get("data"), subscribers=tuple(subscribers), **common)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ErrorMessage(CommMessage):
    """A failure: ``error_code`` (e.g. ``"E001"`` or an exception type), text and stack trace."""

    topic: ClassVar[str] = "comm.error"
    kind: ClassVar[str] = "error"
    _body_fields: ClassVar[tuple[str, ...]] = ("error_code", "message", "stacktrace")
    error_code: str
    message: str
    stacktrace: str = ""

    def log_message(self) -> str:
        return f"error [{self.id}] {self.error_code} from {self.source}: {summarise(self.message)}"

    @classmethod
    def from_exception(
        cls,
        exc: BaseException,
        *,
        source: str | None = None,
        error_code: str | None = None,
        correlation_id: str | None = None,
    ) -> ErrorMessage:
        """Describe ``exc``: its type name is the code unless ``error_code`` is given."""
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(
            error_code=error_code or type(exc).__qualname__,
            message=str(exc) or type(exc).__qualname__,
            stacktrace=stack,
            source=source,
            correlation_id=correlation_id,
        )

    @classmethod
    def _from_body(cls, data: Mapping[str, Any], common: dict[str, Any]) -> ErrorMessage:
        return cls(
            error_code=_require_str(data, "error_code"),
            message=_require_str(data, "message"),
            stacktrace=_require_str(data, "stacktrace", optional=True) or "",
            **common,
        )


_TYPES: dict[str, type[CommMessage]] = {
    cls.kind: cls for cls in (DataMessage, ControlMessage, EventMessage, ErrorMessage)
}


def message_from_dict(data: Mapping[str, Any]) -> CommMessage:
    """Build whichever envelope ``data["type"]`` names."""
    return CommMessage.from_dict(data)


def message_from_json(text: str | bytes) -> CommMessage:
    """Build whichever envelope the JSON's ``"type"`` names."""
    return CommMessage.from_json(text)
