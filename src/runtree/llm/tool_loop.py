"""Running the tool calls a model asks for.

Every tool call is a real ``rt.call`` of the tool's node, so it is a request of the run (named
after the tool, with the attributes ``gen_ai.operation.name="execute_tool"``,
``gen_ai.tool.name``, ``gen_ai.tool.call.id``, ``runtree.kind="tool"``); the calls of one
reply run concurrently. Bad model output never ends the run: an unknown tool, arguments that
are not JSON or do not fit the tool, and a tool that raises each become a tool message (cut to
``MAX_TOOL_RESULT_CHARS``) that the model reads on its next turn, so every tool call in the
history has its result.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
import json
import re
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from runtree.errors import (
    NodeDefinitionError,
    RunEndedError,
    SessionStateError,
    SessionTimeoutError,
    UsageLimitExceeded,
)
from runtree.interaction.call import call
from runtree.interaction.stream import broadcast, is_streaming
from runtree.llm.message import ToolCall, ToolMessage, ToolResponse
from runtree.llm.stream import ToolCallResult, request_path
from runtree.llm.tools import Tool
from runtree.nodes.builder import NodeBuilder
from runtree.nodes.function import function_node, tool_from_function
from runtree.nodes.node import Node, current_node_id

__all__ = ["MAX_TOOL_RESULT_CHARS", "ToolSet", "tool_result_text"]

#: the longest tool result (or error) a model is shown; longer text is cut and marked
MAX_TOOL_RESULT_CHARS = 16_000
#: errors that stop the agent instead of going back to the model
STOPPING_ERRORS: tuple[type[BaseException], ...] = (
    UsageLimitExceeded,
    RunEndedError,
    SessionTimeoutError,
    SessionStateError,
)
_TOOL_NAME = re.compile(r"[^a-zA-Z0-9_-]+")
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}

#: attributes the agent gives the tool request it is about to make
_pending: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "runtree_tool_attributes", default=None
)
_attributed: weakref.WeakKeyDictionary[type[Any], type[Node[Any]]] = weakref.WeakKeyDictionary()


def tool_name(name: str) -> str:
    """``name`` as a tool name providers accept (letters, digits, ``_``, ``-``; 64 at most)."""
    return _TOOL_NAME.sub("_", name).strip("_")[:64] or "tool"


def describe_tool(node_class: type[Node[Any]]) -> Tool:
    """The tool description of a node class: its ``tool_info()``, or else one made from its
    constructor's signature and the class docstring."""
    try:
        return node_class.tool_info()
    except NodeDefinitionError:
        pass
    init = node_class.__init__
    described = tool_from_function(init, name=node_class.name())
    parameters = [p for p in described.parameters if p.name != "self"]
    doc = inspect.getdoc(node_class) or ""
    summary = doc.split("\n\n")[0].replace("\n", " ").strip() or node_class.name()
    return Tool(name=node_class.name(), description=summary, parameters=parameters)


def _with_attributes(node_class: type[Node[Any]]) -> type[Node[Any]]:
    """A subclass of ``node_class`` (same name) that records the tool-call attributes."""
    cached = _attributed.get(node_class)
    if cached is not None:
        return cached
    built = (
        NodeBuilder(node_class, class_name=node_class.__name__)
        .override_attrs(
            invoke=_invoke_as_tool,
            _runtree_tool_of=node_class,
            __qualname__=node_class.__qualname__,
        )
        .build()
    )
    _attributed[node_class] = built
    return built


async def _invoke_as_tool(self: Any) -> Any:
    # module level (not a closure), so process workers can unpickle the class by reference
    attributes = _pending.get()
    if attributes is not None:
        _pending.set(None)  # this request's own calls are not tool calls of the agent
        self.details["attributes"] = {**self.details.get("attributes", {}), **attributes}
    return await type(self)._runtree_tool_of.invoke(self)


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    node_class: type[Node[Any]]
    tool: Tool
    checker: ArgumentChecker


class ToolSet:
    """The tools of an agent, by the name the model uses."""

    def __init__(self, tool_nodes: Iterable[Any], *, where: str) -> None:
        self._entries: dict[str, _Entry] = {}
        self._wire: list[dict[str, Any]] | None = None
        for target in tool_nodes:
            node_class = as_tool_node(target, where=where)
            described = describe_tool(node_class)
            name = tool_name(described.name)
            if name != described.name:
                described = dataclasses.replace(described, name=name)
            if name in self._entries:
                raise NodeDefinitionError(
                    f"{where}: two tools are named {name!r}; give one of them another name"
                )
            self._entries[name] = _Entry(
                _with_attributes(node_class), described, ArgumentChecker(described)
            )

    @property
    def tools(self) -> list[Tool]:
        return [entry.tool for entry in self._entries.values()]

    @property
    def wire(self) -> list[dict[str, Any]]:
        """The tools in the ``{"type": "function", ...}`` form, built once."""
        if self._wire is None:
            self._wire = [entry.tool.to_openai() for entry in self._entries.values()]
        return self._wire

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    async def run(self, calls: Sequence[ToolCall], *, agent: str) -> list[ToolMessage]:
        """Run ``calls`` concurrently; one tool message per call, in the calls' order."""
        results = await asyncio.gather(*(self._run_one(c, agent=agent) for c in calls))
        return [ToolMessage(response) for response in results]

    async def _run_one(self, tool_call: ToolCall, *, agent: str) -> ToolResponse:
        entry = self._entries.get(tool_call.name)
        failed = True
        if entry is None:
            known = ", ".join(sorted(self._entries)) or "none"
            text = f"Error: there is no tool named {tool_call.name!r}; the tools are: {known}."
        else:
            problem, arguments = entry.checker.check(tool_call.raw_arguments)
            if problem is not None:
                text = f"Error: the arguments of {tool_call.name!r} {problem}; nothing ran."
            else:
                token = _pending.set(
                    {
                        "gen_ai.operation.name": "execute_tool",
                        "gen_ai.tool.name": tool_call.name,
                        "gen_ai.tool.call.id": tool_call.identifier,
                        "runtree.kind": "tool",
                    }
                )
                try:
                    result = await call(entry.node_class, **arguments)
                except STOPPING_ERRORS:
                    raise
                except Exception as exc:
                    text = f"Error: the tool {tool_call.name!r} failed: {type(exc).__name__}: {exc}"
                else:
                    text = tool_result_text(result)
                    failed = False
                finally:
                    _pending.reset(token)
        text = _bounded(text)
        if is_streaming():
            await broadcast(
                ToolCallResult(
                    request_id=current_node_id.get(),
                    path=request_path(),
                    tool_call_id=tool_call.identifier,
                    name=tool_call.name,
                    result=text,
                    is_error=failed,
                )
            )
        return ToolResponse(tool_call.identifier, tool_call.name, text)


def as_tool_node(target: Any, *, where: str) -> type[Node[Any]]:
    """The node class behind a tool: a node class, a function, or a graph."""
    if isinstance(target, type) and issubclass(target, Node):
        return target
    if callable(target) and not isinstance(target, type):
        run = getattr(target, "run", None)
        if run is not None and hasattr(target, "validate") and hasattr(target, "start"):
            return _graph_tool(target)
        return function_node(target)
    if hasattr(target, "run") and hasattr(target, "start") and hasattr(target, "validate"):
        return _graph_tool(target)
    raise NodeDefinitionError(
        f"{where}: a tool must be a node class, a function or a graph, got {target!r}"
    )


def _graph_tool(graph: Any) -> type[Node[Any]]:
    """A graph as a tool: the model passes the initial shared store; the tool returns the
    last step's result and the shared store."""
    name = tool_name(str(getattr(graph, "name", "graph")))

    async def run_graph(inputs: dict[str, Any] | None = None) -> Any:
        outcome = await graph.run(dict(inputs or {}))
        return {"result": outcome.result, "shared": dict(outcome.shared)}

    run_graph.__doc__ = (
        f"Run the graph {getattr(graph, 'name', name)!r}.\n\n"
        "Args:\n    inputs: initial values of the graph's shared store"
    )
    return function_node(run_graph, name=name)


class ArgumentChecker:
    """Checks a tool call's arguments against a tool's JSON schema (top level: the object,
    required and unknown names, the JSON types of the values). Built once per tool."""

    __slots__ = ("closed", "properties", "required", "types")

    def __init__(self, tool: Tool) -> None:
        schema = tool.to_json_schema()
        self.properties: Mapping[str, Any] = schema.get("properties") or {}
        self.required = tuple(schema.get("required") or ())
        self.closed = schema.get("additionalProperties") is False
        self.types: dict[str, tuple[str, ...]] = {}
        for name, spec in self.properties.items():
            expected = (spec or {}).get("type")
            kinds = (expected,) if isinstance(expected, str) else tuple(expected or ())
            if kinds:
                self.types[name] = kinds

    def check(self, raw: str) -> tuple[str | None, dict[str, Any]]:
        """``(problem, arguments)``: the parsed arguments, or what is wrong with them."""
        try:
            arguments = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            return f"are not valid JSON ({exc}): {raw[:200]!r}", {}
        if not isinstance(arguments, dict):
            return f"must be a JSON object, got {type(arguments).__name__}", {}
        missing = [name for name in self.required if name not in arguments]
        if missing:
            return f"miss required {missing}", {}
        if self.closed:
            unknown = sorted(set(arguments) - set(self.properties))
            if unknown:
                return f"have unknown {unknown} (it takes {sorted(self.properties)})", {}
        for name, value in arguments.items():
            kinds = self.types.get(name)
            if kinds and not any(_is_type(value, kind) for kind in kinds):
                expected = kinds[0] if len(kinds) == 1 else list(kinds)
                return f"have {name}={value!r}, which is not of type {expected}", {}
        return None, arguments


def check_arguments(tool: Tool, raw: str) -> tuple[str | None, dict[str, Any]]:
    """``(problem, arguments)`` of a call of ``tool`` with the argument text ``raw``."""
    return ArgumentChecker(tool).check(raw)


def _is_type(value: Any, kind: str) -> bool:
    types = _JSON_TYPES.get(kind)
    if types is None:
        return True
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, types)


def tool_result_text(result: Any) -> str:
    """The text a model reads for a tool's result."""
    if isinstance(result, str):
        return result
    if type(result) in (int, float, bool) or result is None:
        return json.dumps(result)
    text = getattr(result, "text", None)  # an agent's response
    if isinstance(text, str) and hasattr(result, "message_history"):
        structured = getattr(result, "structured", None)
        return text if structured is None else _dump(structured)
    return _dump(result)


def _dump(value: Any) -> str:
    dump = getattr(value, "model_dump_json", None)  # pydantic
    if callable(dump):
        return str(dump())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _bounded(text: str) -> str:
    if len(text) <= MAX_TOOL_RESULT_CHARS:
        return text
    cut = len(text) - MAX_TOOL_RESULT_CHARS
    return f"{text[:MAX_TOOL_RESULT_CHARS]}... [{cut} more characters cut]"
