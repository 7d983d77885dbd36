"""JSON schema to runtree tool parameters, and MCP tool results to plain values.

Pure functions on plain data; nothing here imports ``mcp``.

An MCP tool describes its arguments with a JSON schema. :func:`parameters_from_schema`
turns it into :class:`~runtree.llm.tools.Parameter` objects: local ``$ref`` are resolved,
``anyOf``/``oneOf`` with ``null`` become the other branch (a union of several types keeps
the first and names the others in the description), and an argument whose name is not a
Python identifier gets one (``file-path`` -> ``file_path``) that is mapped back when the
tool is called.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from runtree.llm.tools import JSON_TYPES, Parameter

__all__ = [
    "RESULT_KEY",
    "WRAPPED_OUTPUT_SCHEMA",
    "is_wrapped_output",
    "one_line",
    "parameters_from_schema",
]

#: the key under which a non-object result travels in ``structuredContent``
RESULT_KEY = "result"
#: the output schema of a tool whose structured result is ``{"result": <any JSON value>}``
WRAPPED_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {RESULT_KEY: {}},
    "required": [RESULT_KEY],
}
_MAX_DEPTH = 8
_MAX_MESSAGE = 1000
_NOT_WORD = re.compile(r"\W")
_JSON_NAMES = frozenset(JSON_TYPES.values())


def one_line(text: str, *, limit: int = _MAX_MESSAGE) -> str:
    """``text`` with every run of whitespace (newlines too) made one space, cut at ``limit``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def is_wrapped_output(output_schema: Mapping[str, Any] | None) -> bool:
    """Whether a tool's structured result is ``{"result": value}`` around the real value.

    That is the MCP Python SDK's convention for tools that return something other than an
    object, and runtree's MCP servers follow it: an object schema whose only property, and
    only required one, is ``result``.
    """
    if not output_schema or output_schema.get("type") != "object":
        return False
    properties = output_schema.get("properties")
    return (
        isinstance(properties, Mapping)
        and list(properties) == [RESULT_KEY]
        and list(output_schema.get("required") or ()) == [RESULT_KEY]
    )


def python_name(name: str, taken: set[str]) -> str:
    """A Python identifier for the argument ``name`` that is not in ``taken``."""
    alias = name if name.isidentifier() else _NOT_WORD.sub("_", name) or "arg"
    if alias[0].isdigit():
        alias = f"_{alias}"
    candidate, n = alias, 2
    while candidate in taken:
        candidate, n = f"{alias}_{n}", n + 1
    return candidate


def parameters_from_schema(
    schema: Mapping[str, Any],
) -> tuple[tuple[Parameter, ...], dict[str, str]]:
    """``(parameters, names)`` for the arguments object described by ``schema``.

    ``names`` maps each parameter's name to the argument's name in the schema (they differ
    only for names that are not Python identifiers).
    """
    defs = _definitions(schema)
    root = _resolve(schema, defs, 0)
    properties = root.get("properties")
    if not isinstance(properties, Mapping):
        return (), {}
    required = set(root.get("required") or ())
    parameters: list[Parameter] = []
    names: dict[str, str] = {}
    for name, prop in properties.items():
        alias = python_name(str(name), set(names))
        names[alias] = str(name)
        parameters.append(_parameter(alias, prop, name in required, defs, 0))
    return tuple(parameters), names


def _definitions(schema: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        table = schema.get(key)
        if isinstance(table, Mapping):
            found.update({f"#/{key}/{name}": value for name, value in table.items()})
    return found


def _resolve(schema: Any, defs: Mapping[str, Any], depth: int) -> Mapping[str, Any]:
    """``schema`` with a local ``$ref`` (and a one-element ``allOf``) replaced by its target."""
    seen = 0
    while isinstance(schema, Mapping) and seen <= _MAX_DEPTH:
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref in defs:
            merged = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**defs[ref], **merged}
        elif isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            schema = {**schema["allOf"][0], **merged}
        else:
            return schema
        seen += 1
    return schema if isinstance(schema, Mapping) else {}


def _json_type(schema: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``(type, others)``: the JSON type to use and the other non-null types allowed."""
    declared = schema.get("type")
    kinds = [declared] if isinstance(declared, str) else list(declared or ())
    kinds = [k for k in kinds if isinstance(k, str) and k in _JSON_NAMES]
    non_null = [k for k in kinds if k != "null"]
    if non_null:
        return non_null[0], non_null[1:]
    if kinds:
        return "null", []
    if "properties" in schema:
        return "object", []
    if "items" in schema:
        return "array", []
    values = schema["enum"] if isinstance(schema.get("enum"), list) else None
    if "const" in schema:
        values = [schema["const"]]
    if values:
        first = values[0]
        kind = {bool: "boolean", int: "integer", float: "number", str: "string"}.get(type(first))
        if kind is not None:
            return kind, []
    return "string", []  # any JSON value: a string is always acceptable to say


def _parameter(
    name: str, schema: Any, required: bool, defs: Mapping[str, Any], depth: int
) -> Parameter:
    schema = _resolve(schema, defs, depth)
    description = str(schema.get("description") or "")
    branches = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(branches, list) and branches:
        options = [_resolve(b, defs, depth) for b in branches]
        non_null = [b for b in options if b.get("type") != "null"]
        chosen = non_null[0] if non_null else options[0]
        outer = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
        description = description or str(chosen.get("description") or "")
        alternatives = [_json_type(b)[0] for b in non_null[1:]]
        schema = {**chosen, **outer}
    else:
        alternatives = []
    kind, others = _json_type(schema)
    alternatives += others
    if alternatives:
        description = f"{description} (also accepts: {', '.join(alternatives)})".strip()
    enum = schema.get("enum")
    values: tuple[Any, ...] | None = tuple(enum) if isinstance(enum, list) else None
    if "const" in schema:
        values = (schema["const"],)
    items = None
    properties: tuple[Parameter, ...] = ()
    if depth < _MAX_DEPTH:
        if kind == "array" and isinstance(schema.get("items"), Mapping):
            items = _parameter("item", schema["items"], True, defs, depth + 1)
        if kind == "object" and isinstance(schema.get("properties"), Mapping):
            props = schema["properties"]
            if all(isinstance(p, str) and p.isidentifier() for p in props):
                needed = set(schema.get("required") or ())
                properties = tuple(
                    _parameter(p, s, p in needed, defs, depth + 1) for p, s in props.items()
                )
    return Parameter(
        name=name,
        type=kind,
        description=description,
        required=required,
        default=None if required else schema.get("default"),
        enum=values,
        items=items,
        properties=properties,
    )
