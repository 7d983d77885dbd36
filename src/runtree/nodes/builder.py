"""``NodeBuilder``: make a node subclass at run time."""

from __future__ import annotations

import inspect
import types
from typing import Any, Generic, TypeVar

from runtree.errors import NodeDefinitionError
from runtree.nodes.node import Node

__all__ = ["NodeBuilder"]

N = TypeVar("N", bound=Node[Any])


class NodeBuilder(Generic[N]):
    """Builds a subclass of ``base`` named ``class_name`` with overridden attributes.

    A plain function given for an attribute that is a classmethod on the base (``name``,
    ``tool_info``, ``prepare_tool``, ...) becomes a classmethod. The new class is validated
    like any node class when :meth:`build` runs.
    """

    def __init__(self, base: type[N], *, class_name: str | None = None) -> None:
        if not (isinstance(base, type) and issubclass(base, Node)):
            raise NodeDefinitionError(f"NodeBuilder needs a Node subclass, got {base!r}")
        name = class_name or f"Custom{base.__name__}"
        if not name.isidentifier():
            raise NodeDefinitionError(
                f"NodeBuilder: class_name must be an identifier, got {name!r}"
            )
        self._base = base
        self._class_name = name
        self._attrs: dict[str, Any] = {}

    def override_attrs(self, **attrs: Any) -> NodeBuilder[N]:
        """Set class attributes of the new class; returns the builder for chaining."""
        for key, value in attrs.items():
            base_attr = inspect.getattr_static(self._base, key, None)
            if isinstance(base_attr, classmethod) and isinstance(value, types.FunctionType):
                value = classmethod(value)
            elif isinstance(base_attr, staticmethod) and isinstance(value, types.FunctionType):
                value = staticmethod(value)
            self._attrs[key] = value
        return self

    def build(self) -> type[N]:
        """Create and validate the class."""
        namespace = dict(self._attrs)
        namespace.setdefault("__module__", self._base.__module__)
        namespace["__qualname__"] = self._class_name
        built = type(self._class_name, (self._base,), namespace)
        return built
