"""Rich renderings of runs and request trees (colour only when a terminal is attached)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from runtree.store.record import RunInfo, StoredRequest

__all__ = [
    "call_text",
    "format_duration",
    "format_time",
    "request_detail",
    "request_tree",
    "run_header",
    "runs_table",
]

STYLES = {
    "succeeded": "green",
    "failed": "bold red",
    "timed_out": "red",
    "crashed": "bold magenta",
    "running": "yellow",
    "cancelled": "yellow",
}


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def format_time(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _status(status: str) -> Text:
    return Text(status, style=STYLES.get(status, ""))


def runs_table(runs: Sequence[RunInfo]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("run id", "name", "status", "started", "duration", "requests"):
        table.add_column(column, justify="right" if column == "requests" else "left")
    for run in runs:
        duration = run.duration
        if duration is None and run.status == "running":
            duration = time.time() - run.start_time
        table.add_row(
            run.run_id[:12],
            run.name or "",
            _status(run.status),
            format_time(run.start_time),
            format_duration(duration),
            str(run.request_count),
        )
    return table


def run_header(run: RunInfo, *, events: int) -> Group:
    lines = [
        Text.assemble(("run ", "bold"), (run.run_id, "bold cyan"), "  ", _status(run.status)),
        Text(
            f"name: {run.name or '-'}   started: {format_time(run.start_time)}   "
            f"duration: {format_duration(run.duration)}   requests: {run.request_count}   "
            f"events: {events}"
        ),
    ]
    if run.resumed_from:
        lines.append(Text(f"resumed from: {run.resumed_from}"))
    if run.error:
        lines.append(Text(f"error: {run.error}", style="red"))
    if run.status == "crashed":
        lines.append(Text(f"process {run.pid} on {run.host} is gone", style="magenta"))
    return Group(*lines)


def _summary(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(request: StoredRequest) -> Text:
    label = Text.assemble((request.node_name, "bold"), " ")
    label.append_text(_status(request.status))
    if request.replayed:
        label.append(" replayed", style="cyan")
    else:
        label.append(f" {format_duration(request.duration)}", style="dim")
    label.append(f"  ({request.request_id})", style="dim")
    if request.status == "succeeded" and request.output is not None:
        label.append(f" -> {_summary(request.output)}")
    if isinstance(request.error, dict):
        label.append(
            f"  {request.error.get('type', '?')}: {request.error.get('message', '')}",
            style="red",
        )
    return label


def request_tree(
    run: RunInfo, requests: Sequence[StoredRequest], *, max_requests: int = 500
) -> Tree:
    """The run's requests as a tree in call order (at most ``max_requests`` shown)."""
    tree = Tree(Text.assemble((run.name or run.run_id[:12], "bold"), " ", _status(run.status)))
    known = {r.request_id for r in requests}
    children: dict[str | None, list[StoredRequest]] = {}
    for request in requests:
        parent = request.parent_id if request.parent_id in known else None
        children.setdefault(parent, []).append(request)
    shown = 0
    stack: list[tuple[Tree, StoredRequest]] = [(tree, r) for r in reversed(children.get(None, []))]
    while stack and shown < max_requests:
        branch, request = stack.pop()
        node = branch.add(_label(request))
        shown += 1
        stack.extend((node, child) for child in reversed(children.get(request.request_id, [])))
    if len(requests) > shown:
        tree.add(Text(f"… {len(requests) - shown} more requests (--max-requests)", style="dim"))
    return tree


def call_text(node_name: str, inputs: Any, *, limit: int = 120) -> str:
    """The call as code would write it, ``Leaf(1, scale=2)``, cut to ``limit`` characters."""
    parts: list[str] = []
    if isinstance(inputs, dict) and isinstance(inputs.get("args"), list):
        parts = [json.dumps(a, ensure_ascii=False) for a in inputs["args"]]
        kwargs = inputs.get("kwargs")
        if isinstance(kwargs, dict):
            parts += [f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in kwargs.items()]
    elif inputs is not None:
        parts = [json.dumps(inputs, ensure_ascii=False)]
    text = f"{node_name}({', '.join(parts)})"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(title: str, value: Any) -> list[Text]:
    body = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    return [Text(f"{title}:", style="bold"), Text("  " + body.replace("\n", "\n  "))]


def request_detail(
    run: RunInfo, request: StoredRequest, requests: Sequence[StoredRequest]
) -> Group:
    """One request whole: where it sits, its inputs, output, attributes and error with the
    full traceback."""
    names = {r.request_id: r.node_name for r in requests}
    children = [r.request_id for r in requests if r.parent_id == request.request_id]
    title = Text.assemble(("request ", "bold"), (request.request_id, "bold cyan"), "  ")
    title.append(request.node_name, style="bold")
    title.append("  ")
    title.append_text(_status(request.status))
    if request.replayed:
        title.append(" replayed (answered from the journal on resume)", style="cyan")
    parent = "-"
    if request.parent_id is not None:
        parent = f"{request.parent_id} ({names.get(request.parent_id, '?')})"
    lines: list[Text] = [
        title,
        Text(f"run: {run.run_id}   parent: {parent}   mode: {request.mode or '-'}"),
        Text(
            f"started: {format_time(request.start_time)}   "
            f"duration: {format_duration(request.duration)}   children: {len(children)}"
        ),
    ]
    lines += _section("inputs", request.inputs)
    if request.status == "succeeded":
        lines += _section("output", request.output)
    if request.attributes:
        lines += _section("attributes", request.attributes)
    error = request.error
    if isinstance(error, dict):
        lines.append(
            Text(f"error: {error.get('type', '?')}: {error.get('message', '')}", style="red")
        )
        if error.get("traceback"):
            lines += _section("traceback", str(error["traceback"]).rstrip("\n"))
    elif error is not None:
        lines += _section("error", error)
    return Group(*lines)
