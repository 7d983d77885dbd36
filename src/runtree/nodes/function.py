"""``function_node``: a plain sync or async function as a node class.

The node's name is the function's name; its tool description comes from the signature,
the type hints and the docstring (Google ``Args:`` sections and ``:param x:`` lines are
understood). Calls are checked against the signature before anything runs.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import types
import typing
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from runtree._async import is_async_callable, maybe_await
from runtree.errors import NodeDefinitionError, NodeInvocationError
from runtree.llm.tools import Parameter, Tool
from runtree.nodes.node import Node

__all__ = ["FunctionNode", "function_node", "make_argument_checker", "tool_from_function"]

_cache: weakref.WeakKeyDictionary[Callable[..., Any], type[FunctionNode]] = (
    weakref.WeakKeyDictionary()
)


class FunctionNode(Node[Any]):
    """Base of the classes made by :func:`function_node`; ``args``/``kwargs`` are its inputs."""

    function: ClassVar[Callable[..., Any]]
    _check_arguments: ClassVar[Callable[..., None]]
    _tool: ClassVar[Tool | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            type(self)._check_arguments(*args, **kwargs)
        except TypeError as exc:
            raise NodeInvocationError(f"node {self.name()!r}: {exc}") from None
        super().__init__()
        self.args = args
        self.kwargs = kwargs

    @classmethod
    def tool_info(cls) -> Tool:
        if cls._tool is None:
            cls._tool = tool_from_function(cls.function, name=cls.name())
        return cls._tool

    async def invoke(self) -> Any:
        """Run the function (each class :func:`function_node` makes has its own, sync or
        async; defining one here keeps the base concrete, so instances are made at C speed)."""
        return await maybe_await(type(self).function(*self.args, **self.kwargs))


def make_argument_checker(func: Callable[..., Any]) -> Callable[..., None]:
    """A no-op function with ``func``'s parameters: calling it raises ``TypeError`` exactly
    when calling ``func`` with the same arguments would fail to bind (C-speed check)."""
    signature = inspect.signature(func)
    parts: list[str] = []
    namespace: dict[str, Any] = {}
    star_done = False
    previous_kind = None
    for index, param in enumerate(signature.parameters.values()):
        kind = param.kind
        if previous_kind is kind.POSITIONAL_ONLY and kind is not kind.POSITIONAL_ONLY:
            parts.append("/")
        text = param.name
        if kind is kind.VAR_POSITIONAL:
            text = "*" + text
            star_done = True
        elif kind is kind.VAR_KEYWORD:
            text = "**" + text
        else:
            if kind is kind.KEYWORD_ONLY and not star_done:
                parts.append("*")
                star_done = True
            if param.default is not inspect.Parameter.empty:
                namespace[f"__default_{index}"] = param.default
                text += f"=__default_{index}"
        parts.append(text)
        previous_kind = kind
    if previous_kind is inspect.Parameter.POSITIONAL_ONLY:
        parts.append("/")
    label = getattr(_underlying(func), "__name__", "")
    name = label if label.isidentifier() else "function"
    source = f"def {name}({', '.join(parts)}):\n    return None\n"
    exec(source, namespace)
    checker: Callable[..., None] = namespace[name]
    return checker


def _underlying(func: Callable[..., Any]) -> Callable[..., Any]:
    """The function inside ``functools.partial`` wrappers (``func`` itself otherwise)."""
    while isinstance(func, functools.partial):
        func = func.func
    return func


def function_node(func: Callable[..., Any], *, name: str | None = None) -> type[FunctionNode]:
    """Turn ``func`` (sync or async) into a node class. Usable as a decorator."""
    if isinstance(func, type) and issubclass(func, Node):
        raise NodeDefinitionError(f"{func.__qualname__} is already a node class")
    if not callable(func):
        raise NodeDefinitionError(f"function_node needs a function, got {func!r}")
    if name is None:
        cached = _cache.get(func)
        if cached is not None:
            return cached
    inner = _underlying(func)  # a functools.partial is named after its function
    node_name = name or getattr(inner, "__name__", None) or type(inner).__name__
    try:
        checker = make_argument_checker(func)
    except (TypeError, ValueError) as exc:
        raise NodeDefinitionError(
            f"function_node: cannot read the signature of {func!r}: {exc}"
        ) from exc
    if is_async_callable(func):

        async def invoke(self: FunctionNode) -> Any:
            return await type(self).function(*self.args, **self.kwargs)

    else:

        def invoke(self: FunctionNode) -> Any:  # type: ignore[misc]
            return type(self).function(*self.args, **self.kwargs)

    namespace: dict[str, Any] = {
        "function": staticmethod(func),
        "_check_arguments": staticmethod(checker),
        "invoke": invoke,
        "name": classmethod(lambda cls: node_name),
        "__module__": getattr(inner, "__module__", None) or __name__,
        "__qualname__": getattr(inner, "__qualname__", node_name),
        "__doc__": getattr(inner, "__doc__", None),
    }
    class_name = node_name if node_name.isidentifier() else "FunctionNode"
    node_cls = typing.cast(type[FunctionNode], type(class_name, (FunctionNode,), namespace))
    if name is None:
        with contextlib.suppress(TypeError):  # not weak-referenceable: just do not cache
            _cache[func] = node_cls
    return node_cls


# -- tool descriptions from functions ---------------------------------------------------------

_SIMPLE_TYPES: dict[Any, str] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    list: "list",
    tuple: "list",
    set: "list",
    dict: "dict",
    type(None): "null",
}


def _parameter_for(name: str, annotation: Any, description: str, default: Any) -> Parameter:
    required = default is inspect.Parameter.empty
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        non_null = [a for a in args if a is not type(None)]
        if len(non_null) == 1:
            inner = _parameter_for(name, non_null[0], description, default)
            return Parameter(
                name=name,
                type=inner.type,
                description=description,
                required=required,
                default=None if required else default,
                items=inner.items,
                enum=inner.enum,
            )
        return Parameter(
            name=name,
            type="str",
            description=description,
            required=required,
            default=None if required else default,
        )
    if origin is typing.Literal:
        kinds = {type(a) for a in args}
        kind = _SIMPLE_TYPES.get(kinds.pop(), "str") if len(kinds) == 1 else "str"
        return Parameter(
            name=name,
            type=kind,
            description=description,
            required=required,
            default=None if required else default,
            enum=tuple(args),
        )
    base = origin or annotation
    if annotation is inspect.Parameter.empty or annotation is Any:
        kind = "str"
    elif base in _SIMPLE_TYPES:
        kind = _SIMPLE_TYPES[base]
    else:
        raise NodeDefinitionError(
            f"parameter {name!r}: type {annotation!r} cannot be described as a tool parameter; "
            "use str, int, float, bool, list, dict, Optional or Literal, or write tool_info()"
        )
    items = None
    if kind == "list" and args and args[0] in _SIMPLE_TYPES:
        items = Parameter(name="item", type=_SIMPLE_TYPES[args[0]])
    return Parameter(
        name=name,
        type=kind,
        description=description,
        required=required,
        default=None if required else default,
        items=items,
    )


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


def tool_from_function(func: Callable[..., Any], *, name: str | None = None) -> Tool:
    """Describe ``func`` as a :class:`Tool` from its signature, hints and docstring."""
    signature = inspect.signature(func)  # a partial's: without the arguments it binds
    inner = _underlying(func)
    try:
        hints = typing.get_type_hints(inner)
    except Exception:
        hints = {}
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
