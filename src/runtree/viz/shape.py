"""The JSON shapes of journal rows: runs, request summaries, request details."""

from __future__ import annotations

import json
from typing import Any

from runtree.store.process import is_alive

__all__ = ["ATTR_NAMES", "decode", "detail", "duration", "run_row", "summary_row", "usage"]


def decode(text: Any) -> Any:
    """A stored JSON value decoded (text that is not JSON stays text)."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def duration(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else end - start


def detail(row: tuple[Any, ...]) -> dict[str, Any]:
    attributes = decode(row[12]) if row[12] is not None else {}
    error = decode(row[8])
    return {
        "request_id": row[0],
        "parent_id": row[1],
        "seq": row[2],
        "node_name": row[3],
        "mode": row[4],
        "status": row[5],
        "inputs": decode(row[6]),
        "output": decode(row[7]),
        "error": error,
        "error_type": error.get("type") if isinstance(error, dict) else None,
        "start_time": row[9],
        "end_time": row[10],
        "duration": duration(row[9], row[10]),
        "replayed": bool(row[11]),
        "attributes": attributes if isinstance(attributes, dict) else {},
    }


def usage(tokens_in: Any, tokens_out: Any, cost: Any) -> dict[str, Any]:
    return {"input_tokens": tokens_in, "output_tokens": tokens_out, "cost": cost}


def run_row(row: tuple[Any, ...]) -> dict[str, Any]:
    run_id, name, status, start, end, pid, host, marker, resumed_from = row[:9]
    durability, root_node, root_inputs, error = row[9:]
    effective = status
    if status == "running" and is_alive(pid, marker, host) is False:
        effective = "crashed"
    return {
        "run_id": run_id,
        "name": name,
        "status": effective,
        "stored_status": status,
        "start_time": start,
        "end_time": end,
        "duration": duration(start, end),
        "pid": pid,
        "host": host,
        "resumed_from": resumed_from,
        "durability": durability,
        "root_node": root_node,
        "root_inputs": decode(root_inputs),
        "error": error,
    }


ATTR_NAMES = (
    "runtree.kind",
    "runtree.attempt",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "runtree.usage.cost",
    "gen_ai.request.model",
    "runtree.cache",
)


def summary_row(row: tuple[Any, ...]) -> dict[str, Any]:
    (request_id, parent_id, seq, node_name, mode, status, start, end, replayed) = row[:9]
    error_type, error_message, preview, attrs = row[9:]
    summary: dict[str, Any] = {
        "request_id": request_id,
        "parent_id": parent_id,
        "seq": seq,
        "node_name": node_name,
        "mode": mode,
        "status": status,
        "start_time": start,
        "end_time": end,
        "duration": duration(start, end),
        "replayed": bool(replayed),
        "error_type": error_type,
        "error_message": error_message,
        "preview": preview if status == "succeeded" else None,
    }
    values = decode(attrs) if attrs is not None else None
    if isinstance(values, list):
        summary["attributes"] = {
            name: value
            for name, value in zip(ATTR_NAMES, values, strict=False)
            if value is not None
        }
    return summary
