"""Typed records kept in ``node.details`` by :meth:`Node.tracked_invoke`."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["DebugDetails", "LatencyDetails", "details_from_dict", "details_to_dict"]


# Not frozen: one of these is built on every call, and frozen dataclasses cost 3x to build.
@dataclasses.dataclass(slots=True, kw_only=True)
class LatencyDetails:
    """``total_time``: seconds spent in ``invoke`` (float)."""

    total_time: float


@dataclasses.dataclass(slots=True, kw_only=True)
class DebugDetails:
    """What happened in the last ``tracked_invoke``.

    Always: ``node_name`` and, on failure, ``exception_type``. With ``RT_NODE_DEBUG=true``
    also ``params`` (the node's public attributes), ``output`` (a short repr) and, on
    failure, ``exception_message`` and ``traceback``.
    """

    node_name: str
    verbose: bool = False
    exception_type: str | None = None
    exception_message: str | None = None
    traceback: str | None = None
    params: dict[str, str] | None = None
    output: str | None = None


_TYPES: dict[str, type[LatencyDetails] | type[DebugDetails]] = {
    "latency": LatencyDetails,
    "debug": DebugDetails,
}


def details_to_dict(details: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready form of a ``details`` dict (typed records become plain dicts)."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out[key] = dataclasses.asdict(value)
        else:
            out[key] = value
    return out


def details_from_dict(data: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`details_to_dict` for the records runtree writes."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        record_type = _TYPES.get(key)
        out[key] = record_type(**value) if record_type and isinstance(value, dict) else value
    return out
