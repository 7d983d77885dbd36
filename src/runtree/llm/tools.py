"""Tool descriptions: what an LLM sees of a node it may call.

:class:`Tool` and :class:`Parameter` are plain data. ``Tool.to_json_schema()`` gives the JSON
schema of the parameters object and ``Tool.to_openai()`` the ``{"type": "function", ...}``
form used by OpenAI-compatible APIs. A tool whose arguments are described by a JSON schema
of its own (an MCP tool, a pydantic model) passes it as ``json_schema`` instead of
``parameters``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from runtree.errors import ToolDefinitionError

__all__ = ["JSON_TYPES", "Parameter", "Tool"]

#: Accepted spellings of a parameter type and the JSON-schema type each one means.
JSON_TYPES: dict[str, str] = {
    "str": "string",
    "string": "string",
    "int": "integer",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "list": "array",
    "array": "array",
    "dict": "object",
    "object": "object",
    "null": "null",
    "None": "null",
}


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Parameter:
    """One argument of a tool.

    ``type`` is a Python or JSON-schema type name (see :data:`JSON_TYPES`); ``param_type=``
    is accepted for it too (railtracks' spelling). ``name``, ``type``, ``description`` and
    ``required`` may be positional. ``items`` describes list elements, ``properties`` the
    fields of an object, ``enum`` the allowed values.
    """

    name: str
    type: str
    description: str
    required: bool
    default: Any
    enum: tuple[Any, ...] | None
    items: Parameter | None
    properties: tuple[Parameter, ...]

    def __init__(
        self,
        name: str,
        type: str | None = None,
        description: str = "",
        required: bool = True,
        *,
        param_type: str | None = None,
        default: Any = None,
        enum: Sequence[Any] | None = None,
        items: Parameter | None = None,
        properties: Sequence[Parameter] = (),
    ) -> None:
        if type is not None and param_type is not None:
            raise ToolDefinitionError(f"Parameter {name!r}: give type or param_type, not both")
        chosen = type if type is not None else param_type
        if chosen is None:
            raise ToolDefinitionError(f"Parameter {name!r} needs a type")
        fields = {
            "name": name,
            "type": getattr(chosen, "value", chosen),  # railtracks' ParameterType enum too
            "description": description,
            "required": required,
            "default": default,
            "enum": None if enum is None else tuple(enum),
            "items": items,
            "properties": tuple(properties),
        }
        for field, value in fields.items():
            object.__setattr__(self, field, value)
        self.__post_init__()

    @property
    def param_type(self) -> str:
        """``type``, under railtracks' name."""
        return self.type

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ToolDefinitionError(
                f"Parameter name must be a Python identifier, got {self.name!r}"
            )
        if self.type not in JSON_TYPES:
            raise ToolDefinitionError(
                f"Parameter {self.name!r} has unknown type {self.type!r}; "
                f"use one of {sorted(set(JSON_TYPES))}"
            )

    @property
    def json_type(self) -> str:
        """The JSON-schema type name."""
        return JSON_TYPES[self.type]

    def to_json_schema(self) -> dict[str, Any]:
        """The JSON schema of this parameter's value."""
        schema: dict[str, Any] = {"type": self.json_type}
        if self.description:
            schema["description"] = self.description
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.items is not None:
            schema["items"] = self.items.to_json_schema()
        if self.properties:
            schema["properties"] = {p.name: p.to_json_schema() for p in self.properties}
            schema["required"] = [p.name for p in self.properties if p.required]
        if not self.required and self.default is not None:
            schema["default"] = self.default
        return schema


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Tool:
    """A callable tool: its name, what it does, and its parameters (or, instead, the JSON
    schema of its arguments object in ``json_schema``)."""

    name: str
    description: str
    parameters: Sequence[Parameter] = ()
    json_schema: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ToolDefinitionError(f"Tool name must be a non-empty string, got {self.name!r}")
        params = tuple(self.parameters)
        for param in params:
            if not isinstance(param, Parameter):
                raise ToolDefinitionError(
                    f"Tool {self.name!r}: parameters must be Parameter objects, got {param!r}"
                )
        names = [p.name for p in params]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ToolDefinitionError(f"Tool {self.name!r}: duplicate parameters {duplicates}")
        object.__setattr__(self, "parameters", params)
        if self.json_schema is not None:
            if params:
                raise ToolDefinitionError(
                    f"Tool {self.name!r}: give parameters or json_schema, not both"
                )
            if not isinstance(self.json_schema, Mapping):
                raise ToolDefinitionError(
                    f"Tool {self.name!r}: json_schema must be a dict, got "
                    f"{type(self.json_schema).__name__}"
                )

    def to_json_schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments object."""
        if self.json_schema is not None:
            return dict(self.json_schema)
        return {
            "type": "object",
            "properties": {p.name: p.to_json_schema() for p in self.parameters},
            "required": [p.name for p in self.parameters if p.required],
            "additionalProperties": False,
        }

    def to_openai(self) -> dict[str, Any]:
        """The ``{"type": "function", "function": {...}}`` form of OpenAI-compatible APIs."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.to_json_schema(),
            },
        }

    @property
    def detail(self) -> str:
        """``description``, under railtracks' name."""
        return self.description

    @classmethod
    def from_function(
        cls,
        func: Callable[..., Any],
        /,
        *,
        name: str | None = None,
        details: str | None = None,
        params: Sequence[Parameter] | None = None,
    ) -> Tool:
        """Describe ``func`` from its signature, type hints and docstring (the rules of
        ``function_node``); ``name``, ``details`` (the description) and ``params`` replace
        what would be read from it."""
        from runtree._signature import tool_from_function

        tool = tool_from_function(func, name=name)
        changes: dict[str, Any] = {}
        if details is not None:
            changes["description"] = details
        if params is not None:
            changes["parameters"] = tuple(params)
        return dataclasses.replace(tool, **changes) if changes else tool
