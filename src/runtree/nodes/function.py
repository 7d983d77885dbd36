"""``function_node``: a plain sync or async function as a node class.

The node's name is the function's name; its tool description comes from the signature,
the type hints and the docstring (Google ``Args:`` sections and ``:param x:`` lines are
understood). Calls are checked against the signature before anything runs. ``policy=``
(or ``@rt.policy(...)`` on the function) gives the node a :class:`runtree.Policy`.
"""

from __future__ import annotations

import contextlib
import inspect
import typing
import weakref
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, ParamSpec, TypeVar, overload

from runtree._async import is_async_callable, maybe_await
from runtree._signature import arguments_from_json, tool_from_function
from runtree._signature import underlying as _underlying
from runtree.errors import NodeDefinitionError, NodeInvocationError
from runtree.llm.tools import Tool
from runtree.nodes.node import Node
from runtree.policy.policy import Policy

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "FUNCTION_POLICY",
    "FunctionNode",
    "function_node",
    "make_argument_checker",
    "tool_from_function",
]

#: the attribute ``@rt.policy(...)`` sets on a function it decorates
FUNCTION_POLICY = "__runtree_policy__"

P = ParamSpec("P")
T = TypeVar("T")

_cache: weakref.WeakKeyDictionary[Callable[..., Any], type[FunctionNode[..., Any]]] = (
    weakref.WeakKeyDictionary()
)


class FunctionNode(Node[T], Generic[P, T]):
    """Base of the classes made by :func:`function_node`; ``args``/``kwargs`` are its inputs.

    Generic in the function's parameters ``P`` and result ``T``, so type checkers check
    ``rt.call(node, ...)`` against the function's signature and know what it returns.
    """

    function: ClassVar[Callable[..., Any]]
    _check_arguments: ClassVar[Callable[..., None]]
    _tool: ClassVar[Tool | None] = None

    def __init__(self, *args: P.args, **kwargs: P.kwargs) -> None:
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

    @classmethod
    def prepare_tool(cls, params: Mapping[str, Any]) -> Self:
        """The node for a model's tool call: JSON objects sent for pydantic-model parameters
        become model instances (see :func:`runtree._signature.arguments_from_json`)."""
        if isinstance(params, Mapping):
            params = arguments_from_json(cls.function, params)
        return super().prepare_tool(params)

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


@overload
def function_node(
    func: Callable[P, Coroutine[Any, Any, T]],
    *,
    name: str | None = None,
    policy: Policy | None = None,
) -> type[FunctionNode[P, T]]: ...
@overload
def function_node(
    func: Callable[P, T], *, name: str | None = None, policy: Policy | None = None
) -> type[FunctionNode[P, T]]: ...


def function_node(
    func: Callable[..., Any], *, name: str | None = None, policy: Policy | None = None
) -> type[FunctionNode[..., Any]]:
    """Turn ``func`` (sync or async) into a node class. Usable as a decorator.

    ``policy`` is the node's :class:`runtree.Policy` (over the one ``@rt.policy(...)``
    attached to ``func``, option by option). The class is typed
    ``type[FunctionNode[P, T]]`` (``P``: the function's parameters, ``T``: what it returns,
    awaited for an async function)."""
    if isinstance(func, type) and issubclass(func, Node):
        raise NodeDefinitionError(f"{func.__qualname__} is already a node class")
    if not callable(func):
        raise NodeDefinitionError(f"function_node needs a function, got {func!r}")
    if policy is not None and not isinstance(policy, Policy):
        raise NodeDefinitionError(
            f"function_node: policy must be a runtree.Policy (e.g. rt.Policy(retry=3)), "
            f"got {policy!r}"
        )
    attached: Policy | None = getattr(func, FUNCTION_POLICY, None)
    if attached is not None and policy is not None:
        policy = attached.merged(policy)
    elif attached is not None:
        policy = attached
    if name is None and policy is attached:
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

        async def invoke(self: FunctionNode[..., Any]) -> Any:
            return await type(self).function(*self.args, **self.kwargs)

    else:

        def invoke(self: FunctionNode[..., Any]) -> Any:  # type: ignore[misc]
            return type(self).function(*self.args, **self.kwargs)

    namespace: dict[str, Any] = {
        "function": staticmethod(func),
        "_check_arguments": staticmethod(checker),
        "invoke": invoke,
        "name": classmethod(lambda cls: node_name),
        "__module__": getattr(inner, "__module__", None) or __name__,
        "__qualname__": getattr(inner, "__qualname__", node_name),
        "__doc__": getattr(inner, "__doc__", None),
        "policy": policy,
    }
    class_name = node_name if node_name.isidentifier() else "FunctionNode"
    node_cls = typing.cast(
        type[FunctionNode[..., Any]], type(class_name, (FunctionNode,), namespace)
    )
    if name is None and policy is attached:
        with contextlib.suppress(TypeError):  # not weak-referenceable: just do not cache
            _cache[func] = node_cls
    return node_cls
