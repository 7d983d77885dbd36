"""Tool descriptions read from a function: its signature, type hints and docstring.

Used by ``function_node`` (a function node's ``tool_info()``) and ``Tool.from_function``.
Pure data work (``inspect``/``typing``); pydantic is never imported here: a parameter
annotated with a pydantic model is recognised only when pydantic is already loaded (a class
of the user's that subclasses ``BaseModel`` means it is).

The rules:

* ``str``, ``int``, ``float``, ``bool``, ``None``: the JSON types of the same meaning.
* ``list[X]``, ``tuple[X, ...]``, ``set[X]``: arrays whose ``items`` describe ``X``.
* ``dict`` / ``dict[str, X]``: an object with free-form properties.
* a pydantic model (or a list of them): an object whose ``properties`` are the model's
  fields, described by the same rules (nested models too); the model's field descriptions
  and defaults are kept. The arguments a model sends for it (JSON objects) are turned back
  into model instances before the function runs (:func:`arguments_from_json`).
* ``Optional[X]`` / ``X | None``: ``X``, not required when it has a default; other unions
  and ``Any`` or no annotation: a string; ``Literal[...]``: an enum.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from runtree.errors import NodeDefinitionError
from runtree.llm.tools import Parameter, Tool

__all__ = ["arguments_from_json", "pydantic_model", "tool_from_function", "underlying"]

_SIMPLE_TYPES: dict[Any, str] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    list: "list",
    tuple: "list",
    set: "list",
    frozenset: "list",
    dict: "dict",
    type(None): "null",
}
_EMPTY = inspect.Parameter.empty


def underlying(func: Callable[..., Any]) -> Callable[..., Any]:
    """The function inside ``functools.partial`` wrappers (``func`` itself otherwise)."""
    while isinstance(func, functools.partial):
        func = func.func
    return func


def pydantic_model(annotation: Any) -> Any:
    """``annotation`` if it is a pydantic model class, else ``None`` (never imports pydantic:
    a model class exists only if pydantic was imported)."""
    pydantic = sys.modules.get("pydantic")
    if pydantic is None or not isinstance(annotation, type):
        return None
    return annotation if issubclass(annotation, pydantic.BaseModel) else None


def _optional(required: bool, default: Any) -> Any:
    return None if required or default is _EMPTY else default


def _parameter_for(name: str, annotation: Any, description: str, default: Any) -> Parameter:
    required = default is _EMPTY
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _parameter_for(name, args[0], description, default)
    if origin in (typing.Union, types.UnionType):
        non_null = [a for a in args if a is not type(None)]
        if len(non_null) == 1:
            inner = _parameter_for(name, non_null[0], description, default)
            return Parameter(
                name,
                inner.type,
                description,
                required,
                default=_optional(required, default),
                items=inner.items,
                enum=inner.enum,
                properties=inner.properties,
            )
        return Parameter(name, "str", description, required, default=_optional(required, default))
    if origin is typing.Literal:
        kinds = {type(a) for a in args}
        kind = _SIMPLE_TYPES.get(kinds.pop(), "str") if len(kinds) == 1 else "str"
        return Parameter(
            name,
            kind,
            description,
            required,
            default=_optional(required, default),
            enum=tuple(args),
        )
    model = pydantic_model(annotation)
    if model is not None:
        return Parameter(
            name,
            "object",
            description or inspect.cleandoc(model.__doc__ or ""),
            required,
            default=_optional(required, default),
            properties=_model_fields(model),
        )
    base = origin or annotation
    if annotation is _EMPTY or annotation is Any:
        kind = "str"
    elif base in _SIMPLE_TYPES:
        kind = _SIMPLE_TYPES[base]
    else:
        raise NodeDefinitionError(
            f"parameter {name!r}: type {annotation!r} cannot be described as a tool parameter; "
            "use str, int, float, bool, list, dict, a pydantic model, Optional or Literal, "
            "or write tool_info()"
        )
    items = None
    if kind == "list" and args and args[0] is not Ellipsis:
        element = args[0]
        if element is not Any and (
            element in _SIMPLE_TYPES
            or pydantic_model(element) is not None
            or typing.get_origin(element) is not None
        ):
            items = _parameter_for("item", element, "", _EMPTY)
    return Parameter(
        name, kind, description, required, default=_optional(required, default), items=items
    )


def _model_fields(model: Any) -> tuple[Parameter, ...]:
    fields = []
    for field_name, info in model.model_fields.items():
        default = _EMPTY if info.is_required() else info.default
        fields.append(_parameter_for(field_name, info.annotation, info.description or "", default))
    return tuple(fields)


_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_PARAM = re.compile(r":param\s+(?:[\w\[\], ]+\s+)?(\w+)\s*:\s*(.*)")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    lines = inspect.cleandoc(doc).splitlines()
    summary_lines: list[str] = []
    for line in lines:
        if not line.strip() or line.strip().endswith(":") or line.lstrip().startswith(":"):
            break
        summary_lines.append(line.strip())
    descriptions: dict[str, str] = {}
    in_args = False
    current: str | None = None
    for line in lines:
        stripped = line.strip()
        sphinx = _SPHINX_PARAM.match(stripped)
        if sphinx:
            descriptions[sphinx.group(1)] = sphinx.group(2).strip()
            continue
        if stripped.lower() in ("args:", "arguments:", "parameters:", "params:"):
            in_args = True
            continue
        if in_args:
            if not stripped:
                current = None
                continue
            if stripped.endswith(":") and not line.startswith((" ", "\t")):
                in_args = False
                continue
            match = _ARG_LINE.match(stripped)
            if (match and line.startswith((" ", "\t"))) or (match and current is None):
                current = match.group(1).lstrip("*")
                descriptions[current] = match.group(2).strip()
            elif current is not None:
                descriptions[current] = f"{descriptions[current]} {stripped}".strip()
    return " ".join(summary_lines), descriptions


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(underlying(func), include_extras=True)
    except Exception:
        return {}


def tool_from_function(func: Callable[..., Any], *, name: str | None = None) -> Tool:
    """Describe ``func`` as a :class:`Tool` from its signature, hints and docstring."""
    signature = inspect.signature(func)  # a partial's: without the arguments it binds
    inner = underlying(func)
    hints = _hints(func)
    summary, descriptions = _parse_docstring(inner.__doc__ or "")
    parameters = []
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        parameters.append(
            _parameter_for(
                param.name,
                hints.get(param.name, param.annotation),
                descriptions.get(param.name, ""),
                param.default,
            )
        )
    tool_name: str = name or getattr(inner, "__name__", None) or type(inner).__name__
    return Tool(name=tool_name, description=summary or tool_name, parameters=parameters)


def arguments_from_json(func: Callable[..., Any], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """``arguments`` (decoded JSON, as a model's tool call sends them) with the values of
    pydantic-model parameters made into model instances (lists of models element by
    element, tuples from lists); other values are passed unchanged."""
    hints = _hints(func)
    converted = dict(arguments)
    for key, value in arguments.items():
        annotation = hints.get(key)
        if annotation is not None:
            converted[key] = _from_json(annotation, value)
    return converted


def _from_json(annotation: Any, value: Any) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _from_json(args[0], value)
    if origin in (typing.Union, types.UnionType):
        non_null = [a for a in args if a is not type(None)]
        return value if value is None or len(non_null) != 1 else _from_json(non_null[0], value)
    model = pydantic_model(annotation)
    if model is not None:
        return model.model_validate(value) if isinstance(value, Mapping) else value
    if origin in (list, tuple, set, frozenset) and isinstance(value, list):
        if origin is tuple and args and args[-1] is not Ellipsis:
            items = [_from_json(a, v) for a, v in zip(args, value, strict=False)]
            items += value[len(args) :]
        else:
            element = args[0] if args else Any
            items = [_from_json(element, v) for v in value]
        return origin(items)
    return value
