"""What the journal writes and what it reads back.

Writes are small named tuples (cheap to build on a busy thread, immutable, and in the
column order of their SQL statement). Reads are frozen dataclasses.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = [
    "DURABILITIES",
    "RUN_STATUSES",
    "Deferred",
    "EventRecorded",
    "RequestEnded",
    "RequestStarted",
    "RunEnded",
    "RunInfo",
    "RunRootSet",
    "RunStarted",
    "RootTarget",
    "StoreStatistics",
    "StoredEvent",
    "StoredOutput",
    "StoredRequest",
    "StoredRoot",
    "WriteOp",
]

#: ``running`` until the session exits; ``crashed`` is reported for a ``running`` run whose
#: process is gone (and written when such a run is resumed).
RUN_STATUSES = ("running", "succeeded", "failed", "timed_out", "crashed")
#: ``batch``: written by a background thread within ~100 ms; ``sync``: a completed request is
#: on disk before its caller gets the result.
DURABILITIES = ("batch", "sync")


# -- writes ------------------------------------------------------------------------------------


class RunStarted(NamedTuple):
    """A run began (``status`` is ``running``)."""

    run_id: str
    name: str | None
    status: str
    start_time: float
    pid: int
    host: str
    process_marker: str | None
    resumed_from: str | None
    durability: str
    root_node: str | None
    root_inputs: str | None
    runtree_version: str


class RunRootSet(NamedTuple):
    """The run's first root call (``module:qualname`` and inputs JSON), shown with the run.
    Every root call is known from its request and :class:`RootTarget`."""

    root_node: str
    root_inputs: str
    run_id: str


class RunEnded(NamedTuple):
    """A run finished with ``status`` (``error`` is ``"Type: message"`` or ``None``)."""

    status: str
    end_time: float
    error: str | None
    run_id: str


class RequestStarted(NamedTuple):
    """A request was created. ``inputs`` is ``{"args": [...], "kwargs": {...}}`` as JSON;
    ``seq`` numbers the run's requests in creation order."""

    run_id: str
    request_id: str
    seq: int
    parent_id: str | None
    node_name: str
    mode: str
    inputs: str
    start_time: float


class RequestEnded(NamedTuple):
    """A request ended. ``output`` is JSON; ``replay`` a pickle of the output when the JSON is
    not an exact copy of it (``None`` if the JSON is exact or the value cannot be pickled)."""

    status: str
    output: str | None
    replay: bytes | None
    replayable: int
    error: str | None
    end_time: float
    replayed: int
    #: the request's attributes (``RequestRecord.attributes``) as JSON, or ``None``
    attributes: str | None
    run_id: str
    request_id: str


class EventRecorded(NamedTuple):
    """A ``broadcast`` item (``kind="stream"``) or a ``FatalFailure`` (``kind="fatal"``)."""

    run_id: str
    seq: int
    request_id: str | None
    kind: str
    payload: str
    time: float


class RootTarget(NamedTuple):
    """How to call a run's root calls of ``node_name`` again: ``target`` is the node's
    ``module:qualname`` (``__main__:Name`` for a script's), ``file`` the absolute path of its
    module's file (``None`` when it has none). ``request_id`` is ``""`` for every root call of
    that name, or one request's id when another node class of the same name was called first.
    """

    run_id: str
    node_name: str
    request_id: str
    target: str
    file: str | None


WriteOp = (
    RunStarted | RunRootSet | RunEnded | RequestStarted | RequestEnded | EventRecorded | RootTarget
)


#: A write whose row is built by the store's writer thread: a plain ``(convert, payload)``
#: tuple; the writer calls ``convert(payload)``. The hot path hands over a reference (O(1))
#: and leaves the JSON work to the writer; ``convert`` must only read what ``payload`` will
#: not change any more.
Deferred = tuple[Callable[[Any], WriteOp], Any]


# -- reads -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """One run as stored. ``status`` is what the journal says, except that a ``running`` run
    whose process is gone reads as ``crashed`` (``stored_status`` keeps the raw value)."""

    run_id: str
    name: str | None
    status: str
    stored_status: str
    start_time: float
    end_time: float | None
    pid: int | None
    host: str | None
    resumed_from: str | None
    durability: str | None
    root_node: str | None
    root_inputs: str | None
    error: str | None
    request_count: int

    @property
    def duration(self) -> float | None:
        return None if self.end_time is None else self.end_time - self.start_time

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["root_inputs"] = _loads(self.root_inputs)
        data["duration"] = self.duration
        return data


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StoredRequest:
    """One request as stored; ``inputs``/``output``/``error`` are decoded JSON."""

    request_id: str
    parent_id: str | None
    seq: int
    node_name: str
    mode: str | None
    status: str
    inputs: Any
    output: Any
    error: Any
    start_time: float | None
    end_time: float | None
    replayed: bool
    #: what the node reported about itself (model, token usage, tool name...), or ``None``
    attributes: dict[str, Any] | None = None

    @property
    def duration(self) -> float | None:
        if self.end_time is None or self.start_time is None:
            return None
        return self.end_time - self.start_time

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["duration"] = self.duration
        return data


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StoredRoot:
    """A root call of a run (a call made outside any node), as needed to make it again.

    ``run_id`` is the run that made it (for a resumed run, roots it had not reached yet come
    from the run it resumed); ``target`` and ``file`` are those of :class:`RootTarget`
    (``target`` is ``None`` if the journal does not know it: a run of an older runtree);
    ``inputs`` is ``{"args": [...], "kwargs": {...}}``; ``status`` the request's status.
    """

    run_id: str
    request_id: str
    node_name: str
    target: str | None
    file: str | None
    mode: str | None
    inputs: Any
    status: str

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StoredEvent:
    """A stream item or fatal failure, in the order it was published."""

    seq: int
    request_id: str | None
    kind: str
    payload: Any
    time: float

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StoredOutput:
    """The output of a request that succeeded, as needed to answer it again on resume."""

    request_id: str
    node_name: str
    output: str | None
    replay: bytes | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StoreStatistics:
    """``rows_written``: rows committed; ``pending``: operations waiting for the writer;
    ``flushes``: transactions committed; ``errors``: failed transactions (their rows are
    counted in ``rows_dropped``); ``durable_waits``: writes a caller waited for (``sync``)."""

    rows_written: int
    pending: int
    flushes: int
    errors: int
    rows_dropped: int
    durable_waits: int


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
