"""The documents the viewer shows, built from :mod:`runtree.viz.query` reads.

The HTTP API serves them one by one; the HTML report embeds all of a run's at once. Each is
plain JSON-ready data.
"""

from __future__ import annotations

import re
from typing import Any

from runtree.graph import DEFAULT_ACTION, MERMAID_ATTRIBUTE
from runtree.viz.query import MAX_PAGE, Query

__all__ = ["graph_view", "llm_view", "parse_mermaid", "report_document", "request_view"]

#: most requests a report embeds (a bigger run is cut, and the report says so)
REPORT_LIMIT = 200_000


def request_view(query: Query, run_id: str, request_id: str) -> dict[str, Any] | None:
    """One request's detail plus, for a model call, its messages and response."""
    detail = query.request(run_id, request_id)
    if detail is None:
        return None
    detail["llm"] = llm_view(detail)
    return detail


def _messages(value: Any) -> list[dict[str, Any]] | None:
    if (
        isinstance(value, list)
        and value
        and all(isinstance(item, dict) and "role" in item for item in value)
    ):
        return value
    if isinstance(value, dict):
        for key in ("messages", "history", "message_history"):
            found = _messages(value.get(key))
            if found is not None:
                return found
    return None


def llm_view(detail: dict[str, Any]) -> dict[str, Any] | None:
    """``{"messages": [...], "response": ...}`` for a model call (``runtree.kind`` = ``llm``
    or messages with roles among its arguments), else ``None``."""
    attributes = detail.get("attributes") or {}
    inputs = detail.get("inputs")
    messages = None
    if isinstance(inputs, dict):
        for value in [*(inputs.get("args") or []), *(inputs.get("kwargs") or {}).values()]:
            messages = _messages(value)
            if messages is not None:
                break
    is_llm = attributes.get("runtree.kind") == "llm" or attributes.get("gen_ai.operation.name") in (
        "chat",
        "text_completion",
        "generate_content",
    )
    if messages is None and not is_llm:
        return None
    output = detail.get("output")
    response = output
    if isinstance(output, dict):
        if isinstance(output.get("message"), dict):
            response = output["message"]
        elif isinstance(output.get("choices"), list) and output["choices"]:
            first = output["choices"][0]
            if isinstance(first, dict) and isinstance(first.get("message"), dict):
                response = first["message"]
    usage = {
        key: attributes[name]
        for key, name in (
            ("model", "gen_ai.response.model"),
            ("input_tokens", "gen_ai.usage.input_tokens"),
            ("output_tokens", "gen_ai.usage.output_tokens"),
            ("cost", "runtree.usage.cost"),
            ("finish_reasons", "gen_ai.response.finish_reasons"),
        )
        if name in attributes
    }
    if "model" not in usage and "gen_ai.request.model" in attributes:
        usage["model"] = attributes["gen_ai.request.model"]
    return {"messages": messages or [], "response": response, "usage": usage}


# -- graph pictures ---------------------------------------------------------------------------

_NODE = re.compile(r'^\s*(\w+)(?:\["(.*)"\]|\[\["(.*)"\]\]|\{\{"(.*)"\}\})\s*$')
_EDGE = re.compile(r"^\s*(\w+)\s*(-->|-\.->)\s*(?:\|([^|]*)\|\s*)?(\w+)\s*$")
_START = re.compile(r"^\s*class\s+(\w+)\s+start\s*$")


def _unquote(text: str) -> str:
    return text.replace("#quot;", '"').replace("#124;", "|").replace("#35;", "#")


def parse_mermaid(text: str) -> dict[str, Any]:
    """The nodes, edges and start node of a flowchart written by ``Graph.to_mermaid()``."""
    names: dict[str, str] = {}
    shapes: dict[str, str] = {}
    edges: list[dict[str, Any]] = []
    start: str | None = None
    for line in text.splitlines():
        marked = _START.match(line)
        if marked is not None:
            start = marked.group(1)
            continue
        edge = _EDGE.match(line)
        if edge is not None:
            source, arrow, label, target = edge.groups()
            kind = "branch" if arrow == "-.->" else "action"
            action = _unquote(label) if label else ("" if kind == "branch" else "default")
            edges.append({"from": source, "to": target, "action": action, "kind": kind})
            continue
        node = _NODE.match(line)
        if node is not None:
            key, plain, graph, parallel = node.groups()
            names[key] = _unquote(plain or graph or parallel or key)
            shapes[key] = "graph" if graph else "parallel" if parallel else "node"
    return {
        "start": None if start is None else names.get(start),
        "nodes": [{"name": names[k], "shape": shapes[k]} for k in names],
        "edges": [
            {**e, "from": names.get(e["from"], e["from"]), "to": names.get(e["to"], e["to"])}
            for e in edges
        ],
    }


def _visit(nodes: dict[str, dict[str, Any]], name: str, status: str) -> None:
    """Count a step of the node ``name`` (and whether it failed or is running)."""
    node = nodes.setdefault(
        name, {"name": name, "visits": 0, "failed": 0, "running": 0, "declared": False}
    )
    node["visits"] += 1
    node["failed"] += status == "failed"
    node["running"] += status == "running"


def graph_view(query: Query, run_id: str, request_id: str) -> dict[str, Any]:
    """A graph run as a picture: its steps (visits, status) and the transitions taken, on
    the graph's declared structure when the request recorded it (``runtree.graph.mermaid``).

    Each step's output is its record (``{"node", "action", "result", ...}``, see
    ``runtree.graph.StepOutcome``); the transition after a step is its action. The runs of
    a batch graph are drawn together, each run's transitions counted on their own."""
    steps = query.step_outcomes(run_id, request_id)
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str, str], dict[str, Any]] = {}
    path: list[dict[str, Any]] = []
    previous: dict[str, tuple[str, str | None]] = {}  # the last step of each run
    for step_id, name, status, action, label, parent in steps:
        if not isinstance(label, str) or not label.startswith("step "):
            continue  # a batch graph's run, the UnmatchedAction record: not steps
        _visit(nodes, name, status)
        path.append({"request_id": step_id, "node": name, "status": status, "action": action})
        before = previous.get(parent)
        if before is not None:
            key = (before[0], name, before[1] or DEFAULT_ACTION)
            edge = edges.setdefault(
                key,
                {"from": key[0], "to": name, "action": key[2], "count": 0, "kind": "action"},
            )
            edge["count"] += 1
        previous[parent] = (name, action if isinstance(action, str) else None)
    declared = query.attributes(run_id, request_id).get(MERMAID_ATTRIBUTE)
    start = path[0]["node"] if path else None
    if isinstance(declared, str):
        structure = parse_mermaid(declared)
        start = structure["start"] or start
        for item in structure["nodes"]:
            node = nodes.setdefault(
                item["name"],
                {"name": item["name"], "visits": 0, "failed": 0, "running": 0},
            )
            node["declared"] = True
            node["shape"] = item["shape"]
        for item in structure["edges"]:
            key = (item["from"], item["to"], item["action"])
            edges.setdefault(key, {**item, "count": 0})
        _count_branches(query, run_id, nodes, edges, path)
    return {
        "request_id": request_id,
        "declared": isinstance(declared, str),
        "start": start,
        "nodes": list(nodes.values()),
        "edges": list(edges.values()),
        "path": path[:MAX_PAGE],
        "truncated": len(steps) >= MAX_PAGE,
    }


def _count_branches(
    query: Query,
    run_id: str,
    nodes: dict[str, dict[str, Any]],
    edges: dict[tuple[str, str, str], dict[str, Any]],
    path: list[dict[str, Any]],
) -> None:
    """Count the branches that the parallel steps on ``path`` ran (children of the step,
    drawn hanging from it by the declared dotted arrows)."""
    parallel = {step["request_id"]: step["node"] for step in path
                if nodes[step["node"]].get("shape") == "parallel"}  # fmt: skip
    if not parallel:
        return
    for _, name, status, parent in query.branch_steps(run_id, list(parallel)):
        _visit(nodes, name, status)
        key = (parallel[parent], name, "")
        edge = edges.setdefault(
            key, {"from": key[0], "to": name, "action": "", "count": 0, "kind": "branch"}
        )
        edge["count"] += 1


# -- the HTML report's data -------------------------------------------------------------------


def report_document(query: Query, run_id: str) -> dict[str, Any]:
    """Everything the report of one run shows: the run, every request (with values),
    every event, the graph pictures."""
    run = query.run(run_id)
    if run is None:
        raise LookupError(run_id)
    requests: list[dict[str, Any]] = []
    while len(requests) < REPORT_LIMIT:
        page = query.full_requests(run_id, offset=len(requests), limit=MAX_PAGE)
        if not page:
            break
        requests += page
    children: dict[str, int] = {}
    for detail in requests:
        detail["llm"] = llm_view(detail)
        if detail["parent_id"] is not None:
            children[detail["parent_id"]] = children.get(detail["parent_id"], 0) + 1
    for detail in requests:
        detail["children"] = children.get(detail["request_id"], 0)
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        batch = query.events(run_id, after=after, limit=MAX_PAGE)["items"]
        if not batch:
            break
        events += batch
        after = batch[-1]["seq"]
    graphs = [graph_view(query, run_id, g["request_id"]) for g in query.graph_runs(run_id)]
    return {
        "run": run,
        "requests": requests,
        "truncated": run["requests"] > len(requests),
        "events": events,
        "graphs": graphs,
        "graph_runs": query.graph_runs(run_id),
    }
