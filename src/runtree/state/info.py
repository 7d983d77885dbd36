"""``ExecutionInfo``: the request forest of a run.

Every call becomes a :class:`RequestRecord` (parent, children, inputs, output or error,
status, timings, execution mode). Root requests are the calls made outside any node.
``answer`` is the output of the last root request that succeeded, ``answers`` the output of
each root request in call order. ``all_stamps`` lists when each request started and ended,
in time order; ``get_info(request_id)`` is one request's subtree as an ``ExecutionInfo`` of
its own. ``to_dict()`` / ``to_json()`` export everything as JSON-safe data (see
:func:`runtree._json.to_jsonable`).

Memory is bounded by what is running, not by what finished: the records of running
requests and of the last ``max_finished`` finished ones (10,000 by default) are kept as
they are; older finished ones leave memory (first finished, first out). With a run journal
(the session's default) they are read back from it when asked for (their values as the
journal stored them: JSON, errors as :class:`~runtree.errors.RemoteError` with the original
type name); without one (``store=None``) they are gone, and only counted
(``statistics().evicted``). Counts (``len``, ``statistics()``) always cover every request.
"""

from __future__ import annotations

import collections
import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

from runtree._json import DEFAULT_MAX_CHARS, safe_str, to_jsonable
from runtree.errors import RemoteError
from runtree.execution.coordinator import Job

__all__ = [
    "DEFAULT_MAX_FINISHED",
    "ExecutionInfo",
    "InfoStatistics",
    "RequestArchive",
    "RequestRecord",
    "STATUSES",
    "Stamp",
    "error_type_name",
]

#: finished request records an :class:`ExecutionInfo` keeps in memory by default
DEFAULT_MAX_FINISHED = 10_000

_NO_CHILDREN: list[str] = []  # shared by leaves (most requests): never mutated

STATUSES = ("running", "succeeded", "failed", "cancelled")


class RequestRecord(Job):
    """One request: a coordinator :class:`~runtree.execution.coordinator.Job` plus its place in
    the tree (``parent_id``, ``children`` in call order), inputs and output or error.

    ``status`` goes ``running`` -> ``succeeded`` | ``failed`` | ``cancelled``; times are epoch
    seconds (``time.time()``).
    """

    __slots__ = (
        "args",
        "attributes",
        "children",
        "error",
        "finished",
        "kwargs",
        "output",
        "parent_id",
        "root",
    )

    def __init__(
        self,
        request_id: str,
        parent_id: str | None,
        node_name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        mode: str,
        start_time: float,
    ) -> None:
        self.request_id = request_id
        self.node_name = node_name
        self.mode = mode
        self.start_time = start_time
        self.end_time: float | None = None
        self.status = "running"
        self.parent_id = parent_id
        self.args = args
        self.kwargs = kwargs
        self.output: Any = None
        self.error: BaseException | None = None
        self.children: list[str] = _NO_CHILDREN  # replaced by a list of its own on first child
        #: what the node reported about itself in ``details["attributes"]`` (model, token
        #: usage, tool name...: flat, JSON-safe, OpenTelemetry-style names), or ``None``
        self.attributes: dict[str, Any] | None = None
        #: set by :class:`ExecutionInfo`: a root of its run; its end was counted
        self.root = False
        self.finished = False

    # railtracks' names for the same fields
    @property
    def identifier(self) -> str:
        """``request_id``."""
        return self.request_id

    @property
    def source_id(self) -> str | None:
        """``parent_id``: the request that made this call (``None`` for a root call)."""
        return self.parent_id

    @property
    def sink_id(self) -> str:
        """The node that ran: in runtree a node has its request's id (``request_id``)."""
        return self.request_id

    @property
    def input(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``(args, kwargs)``."""
        return self.args, self.kwargs

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestRecord:
        """A record from :meth:`to_dict` output (values stay in their JSON-safe form; an error
        becomes a :class:`~runtree.errors.RemoteError` with the original type name)."""
        record = cls(
            data["request_id"],
            data["parent_id"],
            data["node_name"],
            tuple(data["args"]),
            data["kwargs"],
            data["mode"],
            data["start_time"],
        )
        record.status = data["status"]
        record.end_time = data["end_time"]
        record.output = data["output"]
        record.attributes = data.get("attributes")
        error = data.get("error")
        if error is not None:
            record.error = RemoteError(error["message"], type_name=error["type"])
        return record

    def to_dict(self, *, max_chars: int = DEFAULT_MAX_CHARS) -> dict[str, Any]:
        error = None
        if self.error is not None:
            error = {
                "type": error_type_name(self.error),
                "message": safe_str(self.error)[:max_chars],
            }
        return {
            "request_id": self.request_id,
            "parent_id": self.parent_id,
            "node_name": self.node_name,
            "args": to_jsonable(self.args, max_chars=max_chars),
            "kwargs": to_jsonable(self.kwargs, max_chars=max_chars),
            "mode": self.mode,
            "status": self.status,
            "output": to_jsonable(self.output, max_chars=max_chars),
            "error": error,
            "attributes": to_jsonable(self.attributes, max_chars=max_chars),
            "start_time": self.start_time,
            "end_time": self.end_time,
            "children": list(self.children),
        }


def error_type_name(error: BaseException) -> str:
    """The name of an error's type (for an error from elsewhere, the original type's)."""
    if isinstance(error, RemoteError) and error.type_name:
        return error.type_name.rsplit(".", 1)[-1]
    return type(error).__name__


def _detached(record: RequestRecord) -> RequestRecord:
    """A copy of ``record`` with no place in any tree yet (no children, not a root)."""
    copy = RequestRecord(
        record.request_id,
        record.parent_id,
        record.node_name,
        record.args,
        record.kwargs,
        record.mode,
        record.start_time,
    )
    copy.status = record.status
    copy.end_time = record.end_time
    copy.output = record.output
    copy.error = record.error
    copy.attributes = record.attributes
    return copy


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Stamp:
    """A moment of a run: request ``identifier`` (its request id) started or ended.

    ``step`` is the stamp's place in the run's time order (0, 1, 2...); ``event`` is
    ``"start"`` or ``"end"``.
    """

    time: float
    step: int
    identifier: str
    event: str
    node_name: str


@runtime_checkable
class RequestArchive(Protocol):
    """Where a run's finished requests can be read back once they left memory (the run
    journal is one). Records come back with their values as stored."""

    def archived_requests(self) -> Iterator[RequestRecord]:
        """Every request of the run, in creation order."""

    def archived_request(self, request_id: str) -> RequestRecord | None:
        """One request of the run, or ``None``."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class InfoStatistics:
    """Counts over every request of the run (``evicted``: finished records that left
    memory; ``kept``: records in memory now)."""

    requests: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    evicted: int = 0
    kept: int = 0


class _Requests(Mapping[str, RequestRecord]):
    """``ExecutionInfo.requests``: every request of the run by id, in creation order."""

    __slots__ = ("_info",)

    def __init__(self, info: ExecutionInfo) -> None:
        self._info = info

    def __getitem__(self, request_id: str) -> RequestRecord:
        return self._info.get(request_id)

    def __iter__(self) -> Iterator[str]:
        return (record.request_id for record in self._info._all())

    def __len__(self) -> int:
        info = self._info
        return len(info._records) if info._partial() else info._total

    def values(self) -> Iterator[RequestRecord]:  # type: ignore[override]
        return self._info._all()

    def __repr__(self) -> str:
        return f"<requests of run {self._info.run_id!r}: {len(self)}>"


def _moment_order(moment: tuple[float, int, int, RequestRecord]) -> tuple[float, int, int]:
    return moment[0], moment[1], moment[2]


class ExecutionInfo:
    """The request forest of one run (one session); see the module for what stays in
    memory. ``archive`` reads back what left it (the session passes its journal)."""

    def __init__(
        self,
        *,
        run_id: str = "",
        name: str | None = None,
        max_finished: int = DEFAULT_MAX_FINISHED,
        archive: RequestArchive | None = None,
    ) -> None:
        if isinstance(max_finished, bool) or not isinstance(max_finished, int) or max_finished < 0:
            from runtree.errors import ConfigurationError

            raise ConfigurationError(f"max_finished must be an int >= 0, got {max_finished!r}")
        self.run_id = run_id
        self.name = name
        self.max_finished = max_finished
        self.archive = archive
        self._records: dict[str, RequestRecord] = {}
        self._roots: list[str] = []
        self._finished: collections.deque[str] = collections.deque()
        self._total = 0
        self._evicted = 0
        self._counts = dict.fromkeys(STATUSES, 0)
        self._answer: Any = None
        self._has_answer = False
        #: every request of the run by id (read back from the archive once evicted)
        self.requests: Mapping[str, RequestRecord] = _Requests(self)

    # -- recording (RTState, on the session's loop) ------------------------------------------

    def add_request(self, record: RequestRecord) -> RequestRecord:
        """Insert ``record`` under its parent (or as a root). O(1)."""
        records = self._records
        records[record.request_id] = record
        self._total += 1
        self._counts["running"] += 1
        parent = records.get(record.parent_id) if record.parent_id is not None else None
        if parent is None:
            record.root = True
            self._roots.append(record.request_id)
        elif parent.children is _NO_CHILDREN:
            parent.children = [record.request_id]
        else:
            parent.children.append(record.request_id)
        if record.status != "running":  # reported after it ended elsewhere (a worker)
            self.finish(record)
        return record

    def set_output(self, record: RequestRecord, output: Any) -> None:
        """Store the output of a request that succeeded (the answer, if it is a root)."""
        record.output = output
        if record.root:
            self._answer = output
            self._has_answer = True
        self.finish(record)

    def finish(self, record: RequestRecord) -> None:
        """Count ``record``'s end (its status is final); the oldest finished records beyond
        ``max_finished`` leave memory. O(1) amortised; a second call has no effect."""
        if record.finished:
            return
        record.finished = True
        counts = self._counts
        counts["running"] -= 1
        counts[record.status] += 1
        finished = self._finished
        finished.append(record.request_id)
        if len(finished) > self.max_finished:
            self._evict(finished.popleft())

    def _evict(self, request_id: str) -> None:
        record = self._records.pop(request_id, None)
        if record is None:
            return
        self._evicted += 1
        # the id stays in its parent's list until that list is mostly stale: then compact
        limit = 2 * (self.max_finished + self._counts["running"]) + 16
        parent = self._records.get(record.parent_id) if record.parent_id is not None else None
        siblings = self._roots if parent is None else parent.children
        if len(siblings) > limit:
            kept = [child for child in siblings if child in self._records]
            if parent is None:
                self._roots = kept
            else:
                parent.children = kept

    # -- queries -----------------------------------------------------------------------------

    def _partial(self) -> bool:
        """Some records left memory and cannot be read back (no archive)."""
        return bool(self._evicted) and self.archive is None

    def _archived(self) -> bool:
        return bool(self._evicted) and self.archive is not None

    def _all(self) -> Iterator[RequestRecord]:
        """Every record in creation order (from the archive once some were evicted)."""
        if not self._archived():
            yield from list(self._records.values())
            return
        assert self.archive is not None
        live = self._records
        for stored in self.archive.archived_requests():
            yield live.get(stored.request_id, stored)

    def _forest(self) -> tuple[list[RequestRecord], dict[str, list[RequestRecord]]]:
        """``(roots, children by parent id)`` over the whole run."""
        if not self._archived():
            records = self._records
            kept = {
                rid: [records[c] for c in rec.children if c in records]
                for rid, rec in records.items()
                if rec.children
            }
            return [records[r] for r in self._roots if r in records], kept
        every = list(self._all())
        ids = {record.request_id for record in every}
        roots: list[RequestRecord] = []
        children: dict[str, list[RequestRecord]] = {}
        for record in every:
            if record.parent_id is None or record.parent_id not in ids:
                roots.append(record)
            else:
                children.setdefault(record.parent_id, []).append(record)
        live = self._records
        for record in every:  # records read back learn their children too
            found = children.get(record.request_id)
            if found and record.request_id not in live:
                record.children = [kid.request_id for kid in found]
        return roots, children

    def _root_records(self) -> list[RequestRecord]:
        """The root requests in call order (without building the whole forest when every
        record is in memory)."""
        if self._archived():
            return self._forest()[0]
        records = self._records
        return [records[r] for r in self._roots if r in records]

    @property
    def session_id(self) -> str:
        """``run_id``: the id of the session this is the tree of (railtracks' name)."""
        return self.run_id

    @property
    def roots(self) -> list[str]:
        """The ids of the root requests, in call order."""
        return [record.request_id for record in self._root_records()]

    @property
    def answer(self) -> Any:
        """Output of the last root request that succeeded (``None`` if none did)."""
        return self._answer

    @property
    def has_answer(self) -> bool:
        return self._has_answer

    @property
    def answers(self) -> list[Any]:
        """The output of each root request, in call order (``None`` for one that failed, was
        cancelled or is still running)."""
        return [
            record.output if record.status == "succeeded" else None
            for record in self._root_records()
        ]

    @property
    def insertion_requests(self) -> list[RequestRecord]:
        """The root requests, in call order (railtracks' name for :meth:`root_requests`)."""
        return self._root_records()

    @property
    def all_stamps(self) -> list[Stamp]:
        """When each request started, and ended if it did, in time order: two stamps per
        finished request, one per running one; ``step`` numbers them from 0."""
        moments: list[tuple[float, int, int, RequestRecord]] = []
        for index, record in enumerate(self._all()):
            moments.append((record.start_time, index, 0, record))
            if record.end_time is not None:
                moments.append((record.end_time, index, 1, record))
        moments.sort(key=_moment_order)
        return [
            Stamp(
                time=moment,
                step=step,
                identifier=record.request_id,
                event="end" if ended else "start",
                node_name=record.node_name,
            )
            for step, (moment, _, ended, record) in enumerate(moments)
        ]

    def get_info(self, request_id: str) -> ExecutionInfo:
        """Request ``request_id`` and every request under it, as an :class:`ExecutionInfo`
        of its own (a snapshot: copies of the records, with that request as the only root
        and its output as the answer). ``KeyError`` if the run has no such request."""
        top = self.get(request_id)
        children = self._forest()[1]
        ordered: list[RequestRecord] = []
        stack = [top]
        while stack:
            record = stack.pop()
            ordered.append(record)
            stack.extend(reversed(children.get(record.request_id, ())))
        sub = ExecutionInfo(run_id=self.run_id, name=self.name, max_finished=len(ordered))
        for record in ordered:
            sub.add_request(_detached(record))
        if top.status == "succeeded":
            sub._answer = top.output
            sub._has_answer = True
        return sub

    def get(self, request_id: str) -> RequestRecord:
        """The request ``request_id`` (``KeyError`` if the run has none, or it left memory
        and there is no journal to read it back from)."""
        record = self._records.get(request_id)
        if record is not None:
            return record
        if self._archived():
            assert self.archive is not None
            found = self.archive.archived_request(request_id)
            if found is not None:
                return found
        raise KeyError(request_id)

    def children(self, request_id: str) -> list[RequestRecord]:
        self.get(request_id)
        if not self._archived():
            record = self._records[request_id]
            return [self._records[c] for c in record.children if c in self._records]
        return self._forest()[1].get(request_id, [])

    def root_requests(self) -> list[RequestRecord]:
        """The root requests (the calls made outside any node), in call order."""
        return self._root_records()

    def walk(self) -> Iterator[tuple[int, RequestRecord]]:
        """Depth-first ``(depth, record)`` over the forest, in call order."""
        roots, children = self._forest()
        stack = [(0, root) for root in reversed(roots)]
        while stack:
            depth, record = stack.pop()
            yield depth, record
            stack.extend(
                (depth + 1, child) for child in reversed(children.get(record.request_id, ()))
            )

    def __len__(self) -> int:
        """The number of requests of the run (all of them, in memory or not)."""
        return self._total

    def statistics(self) -> InfoStatistics:
        return InfoStatistics(
            requests=self._total,
            evicted=self._evicted,
            kept=len(self._records),
            **self._counts,
        )

    # -- export ------------------------------------------------------------------------------

    def to_dict(self, *, max_chars: int = DEFAULT_MAX_CHARS) -> dict[str, Any]:
        roots, children = self._forest()
        requests = []
        for record in self._all():
            data = record.to_dict(max_chars=max_chars)
            data["children"] = [child.request_id for child in children.get(record.request_id, ())]
            requests.append(data)
        return {
            "run_id": self.run_id,
            "name": self.name,
            "answer": to_jsonable(self._answer, max_chars=max_chars),
            "roots": [root.request_id for root in roots],
            "requests": requests,
        }

    def to_json(self, *, indent: int | None = 2, max_chars: int = DEFAULT_MAX_CHARS) -> str:
        return json.dumps(self.to_dict(max_chars=max_chars), indent=indent)

    def tree_text(self) -> str:
        """The forest as indented text: name, status, duration, id."""
        lines = []
        for depth, record in self.walk():
            duration = record.duration
            took = "…" if duration is None else f"{duration * 1000:.2f} ms"
            error = record.error
            problem = f" {error_type_name(error)}: {safe_str(error)}" if error is not None else ""
            lines.append(
                f"{'  ' * depth}{record.node_name} [{record.status}] {took} ({record.request_id})"
                f"{problem}"
            )
        return "\n".join(lines)
