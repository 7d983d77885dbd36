"""``ExecutionInfo``: the request forest of a run.

Every call becomes a :class:`RequestRecord` (parent, children, inputs, output or error,
status, timings, execution mode). Root requests are the calls made outside any node.
``answer`` is the output of the last root request that succeeded. ``to_dict()`` /
``to_json()`` export everything as JSON-safe data (see :func:`runtree._json.to_jsonable`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

from runtree._json import DEFAULT_MAX_CHARS, to_jsonable
from runtree.errors import RemoteError
from runtree.execution.coordinator import Job

__all__ = ["ExecutionInfo", "InfoStatistics", "RequestRecord", "STATUSES"]

_NO_CHILDREN: list[str] = []  # shared by leaves (most requests): never mutated

STATUSES = ("running", "succeeded", "failed", "cancelled")


class RequestRecord(Job):
    """One request: a coordinator :class:`~runtree.execution.coordinator.Job` plus its place in
    the tree (``parent_id``, ``children`` in call order), inputs and output or error.

    ``status`` goes ``running`` -> ``succeeded`` | ``failed`` | ``cancelled``; times are epoch
    seconds (``time.time()``).
    """

    __slots__ = ("args", "attributes", "children", "error", "kwargs", "output", "parent_id")

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
            error = {"type": type(self.error).__name__, "message": str(self.error)[:max_chars]}
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


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class InfoStatistics:
    requests: int
    running: int
    succeeded: int
    failed: int
    cancelled: int


class ExecutionInfo:
    """The request forest of one run (one session)."""

    def __init__(self, *, run_id: str = "", name: str | None = None) -> None:
        self.run_id = run_id
        self.name = name
        self.requests: dict[str, RequestRecord] = {}
        self.roots: list[str] = []
        self._answer: Any = None
        self._has_answer = False

    def add_request(self, record: RequestRecord) -> RequestRecord:
        """Insert ``record`` under its parent (or as a root). O(1)."""
        self.requests[record.request_id] = record
        parent = self.requests.get(record.parent_id) if record.parent_id is not None else None
        if parent is None:
            self.roots.append(record.request_id)
        else:
            if parent.children is _NO_CHILDREN:
                parent.children = [record.request_id]
            else:
                parent.children.append(record.request_id)
        return record

    def set_output(self, record: RequestRecord, output: Any) -> None:
        """Store the output of a request that succeeded (the answer, if it is a root)."""
        record.output = output
        if record.parent_id is None or record.parent_id not in self.requests:
            self._answer = output
            self._has_answer = True

    # -- queries -----------------------------------------------------------------------------

    @property
    def answer(self) -> Any:
        """Output of the last root request that succeeded (``None`` if none did)."""
        return self._answer

    @property
    def has_answer(self) -> bool:
        return self._has_answer

    def get(self, request_id: str) -> RequestRecord:
        return self.requests[request_id]

    def children(self, request_id: str) -> list[RequestRecord]:
        return [self.requests[child] for child in self.requests[request_id].children]

    def root_requests(self) -> list[RequestRecord]:
        return [self.requests[root] for root in self.roots]

    def walk(self) -> Iterator[tuple[int, RequestRecord]]:
        """Depth-first ``(depth, record)`` over the forest, in call order."""
        stack = [(0, root) for root in reversed(self.roots)]
        while stack:
            depth, request_id = stack.pop()
            record = self.requests[request_id]
            yield depth, record
            stack.extend((depth + 1, child) for child in reversed(record.children))

    def __len__(self) -> int:
        return len(self.requests)

    def statistics(self) -> InfoStatistics:
        counts = dict.fromkeys(STATUSES, 0)
        for record in self.requests.values():
            counts[record.status] += 1
        return InfoStatistics(requests=len(self.requests), **counts)

    # -- export ------------------------------------------------------------------------------

    def to_dict(self, *, max_chars: int = DEFAULT_MAX_CHARS) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "name": self.name,
            "answer": to_jsonable(self._answer, max_chars=max_chars),
            "roots": list(self.roots),
            "requests": [r.to_dict(max_chars=max_chars) for r in self.requests.values()],
        }

    def to_json(self, *, indent: int | None = 2, max_chars: int = DEFAULT_MAX_CHARS) -> str:
        return json.dumps(self.to_dict(max_chars=max_chars), indent=indent)

    def tree_text(self) -> str:
        """The forest as indented text: name, status, duration, id."""
        lines = []
        for depth, record in self.walk():
            duration = record.duration
            took = "…" if duration is None else f"{duration * 1000:.2f} ms"
            error = f" {type(record.error).__name__}: {record.error}" if record.error else ""
            lines.append(
                f"{'  ' * depth}{record.node_name} [{record.status}] {took} ({record.request_id})"
                f"{error}"
            )
        return "\n".join(lines)
