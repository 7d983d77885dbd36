"""The documents the viewer shows, built from :mod:`runtree.viz.query` reads.

The HTTP API serves them one by one; the HTML report embeds all of a run's at once. Each is
plain JSON-ready data.
"""

from __future__ import annotations

import re
from typing import Any

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

_NODE = re.compile(r'^\s*(\w+)(?:\["(.*)"\]|\[\["(.*)"\]\]|\{\{"(.*)"\}\}|\(\["(.*)"\]\))\s*$')
_EDGE = re.compile(r"^\s*(\w+)\s*(-->|-\.->)\s*(?:\|([^|]*)\|\s*)?(\w+)\s*$")


def _unquote(text: str) -> str:
    return text.replace("#quot;", '"').replace("#124;", "|").replace("#35;", "#")


def parse_mermaid(text: str) -> dict[str, Any]:
    """The nodes and edges of a flowchart written by ``Graph.to_mermaid()``."""
    names: dict[str, str] = {}
    shapes: dict[str, str] = {}
    edges: list[dict[str, Any]] = []
    for line in text.splitlines():
        edge = _EDGE.match(line)
        if edge is not None:
            source, arrow, label, target = edge.groups()
            kind = "branch" if arrow == "-.->" else "action"
            action = _unquote(label) if label else ("" if kind == "branch" else "default")
            edges.append({"from": source, "to": target, "action": action, "kind": kind})
            continue
        node = _NODE.match(line)
        if node is not None:
            key, plain, graph, parallel, terminal = node.groups()
            names[key] = _unquote(plain or graph or parallel or terminal or key)
            shapes[key] = (
                "graph" if graph else "parallel" if parallel else "start" if terminal else "node"
            )
    return {
        "nodes": [{"name": names[k], "shape": shapes[k]} for k in names],
        "edges": [
            {**e, "from": names.get(e["from"], e["from"]), "to": names.get(e["to"], e["to"])}
            for e in edges
        ],
    }


def graph_view(query: Query, run_id: str, request_id: str) -> dict[str, Any]:
    """A graph run as a picture: its steps (visits, status) and the transitions taken, on
    the graph's declared structure when the request recorded it (``runtree.graph.mermaid``)."""
    steps = query.step_outcomes(run_id, request_id)
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str, str], dict[str, Any]] = {}
    path: list[dict[str, Any]] = []
    previous: tuple[str, str | None] | None = None
    for step_id, name, status, action, _kind, label in steps:
        if not isinstance(label, str) or not label.startswith("step "):
            continue  # the UnmatchedAction record or another request, not a step
        node = nodes.setdefault(
            name, {"name": name, "visits": 0, "failed": 0, "running": 0, "declared": False}
        )
        node["visits"] += 1
        node["failed"] += status == "failed"
        node["running"] += status == "running"
        path.append({"request_id": step_id, "node": name, "status": status, "action": action})
        if previous is not None:
            key = (previous[0], name, previous[1] or "default")
            edge = edges.setdefault(
                key,
                {"from": key[0], "to": name, "action": key[2], "count": 0, "kind": "action"},
            )
            edge["count"] += 1
        previous = (name, action)
    declared = query.attributes(run_id, request_id).get("runtree.graph.mermaid")
    if isinstance(declared, str):
        structure = parse_mermaid(declared)
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
    return {
        "request_id": request_id,
        "declared": isinstance(declared, str),
        "nodes": list(nodes.values()),
        "edges": list(edges.values()),
        "path": path[:MAX_PAGE],
        "truncated": len(steps) >= MAX_PAGE,
    }


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
