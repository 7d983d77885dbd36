"""Lifecycle messages published while a run executes.

Every message is a frozen, slotted dataclass with ``log_message()`` giving a one-line,
human-readable summary. The request messages carry a ``request_id`` that matches
:class:`runtree.state.info.RequestRecord.request_id`; ``node.*`` messages carry the node's
``uuid``, which is the request id when the node runs inside a session.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "FatalFailure",
    "Message",
    "NodeFailed",
    "NodeFinished",
    "NodeStarted",
    "RequestCompletionMessage",
    "RequestCreation",
    "RequestFailure",
    "RequestSuccess",
    "Streaming",
    "summarise",
]

_SUMMARY_CHARS = 120


def summarise(value: object, limit: int = _SUMMARY_CHARS) -> str:
    """A short ``repr`` of ``value``, cut to ``limit`` characters with an ellipsis."""
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break a log line
        text = f"<{type(value).__name__}: repr failed with {type(exc).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """Base of every published message. ``topic`` names the kind of message."""

    topic: ClassVar[str] = "message"

    def log_message(self) -> str:
        """A one-line summary for logs and UIs."""
        return self.topic


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RequestCreation(Message):
    """A request was created: a node is about to run with these arguments."""

    topic: ClassVar[str] = "request.created"
    request_id: str
    parent_id: str | None
    node_name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    mode: str
    start_time: float = dataclasses.field(default_factory=time.time)

    def log_message(self) -> str:
        parent = f" under {self.parent_id}" if self.parent_id else ""
        return f"{self.node_name} [{self.request_id}] created{parent} ({self.mode})"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RequestCompletionMessage(Message):
    """Base of the messages that end a request."""

    topic: ClassVar[str] = "request.completed"
    request_id: str
    node_name: str
    start_time: float
    end_time: float

    @property
    def duration(self) -> float:
        """Seconds between start and end."""
        return self.end_time - self.start_time


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RequestSuccess(RequestCompletionMessage):
    """A request finished and returned ``result``. ``attributes`` are what the node reported
    about itself (``RequestRecord.attributes``: model, token usage...), or ``None``."""

    topic: ClassVar[str] = "request.succeeded"
    result: Any
    attributes: Mapping[str, Any] | None = None

    def log_message(self) -> str:
        return (
            f"{self.node_name} [{self.request_id}] DONE in {self.duration * 1000:.2f} ms"
            f" -> {summarise(self.result)}"
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RequestFailure(RequestCompletionMessage):
    """A request raised ``error`` (``cancelled`` is true when it was cancelled).
    ``attributes`` are what the node reported about itself before it failed, or ``None``."""

    topic: ClassVar[str] = "request.failed"
    error: BaseException
    cancelled: bool = False
    attributes: Mapping[str, Any] | None = None

    def log_message(self) -> str:
        what = "CANCELLED" if self.cancelled else "FAILED"
        return (
            f"{self.node_name} [{self.request_id}] {what} in {self.duration * 1000:.2f} ms: "
            f"{type(self.error).__name__}: {summarise(str(self.error))}"
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FatalFailure(Message):
    """The run must end: ``error`` could not be handled (``request_id`` names its origin)."""

    topic: ClassVar[str] = "run.fatal"
    error: BaseException
    request_id: str | None = None

    def log_message(self) -> str:
        origin = f" in [{self.request_id}]" if self.request_id else ""
        return f"FATAL{origin}: {type(self.error).__name__}: {summarise(str(self.error))}"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Streaming(Message):
    """An item sent with ``rt.broadcast`` by the request ``request_id`` (``None`` outside one)."""

    topic: ClassVar[str] = "stream"
    item: Any
    request_id: str | None = None

    def log_message(self) -> str:
        return f"stream [{self.request_id}]: {summarise(self.item)}"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NodeStarted(Message):
    """``node.started``: ``tracked_invoke`` began."""

    topic: ClassVar[str] = "node.started"
    uuid: str
    name: str
    params: dict[str, Any]

    def log_message(self) -> str:
        return f"{self.name} [{self.uuid}] started"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NodeFinished(Message):
    """``node.finished``: ``tracked_invoke`` returned."""

    topic: ClassVar[str] = "node.finished"
    uuid: str
    latency_ms: float
    output_summary: str

    def log_message(self) -> str:
        return f"[{self.uuid}] finished in {self.latency_ms:.2f} ms -> {self.output_summary}"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NodeFailed(Message):
    """``node.failed``: ``tracked_invoke`` raised."""

    topic: ClassVar[str] = "node.failed"
    uuid: str
    latency_ms: float
    exception_type: str

    def log_message(self) -> str:
        return f"[{self.uuid}] failed in {self.latency_ms:.2f} ms: {self.exception_type}"
