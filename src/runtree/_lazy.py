"""Lazy package attributes (PEP 562): a package names what it exports and from which module;
a module is imported the first time one of its names is used, so importing the package
stays cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str,
    exports: Mapping[str, Iterable[str]],
    namespace: dict[str, Any],
    *,
    subpackages: Iterable[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``.

    ``exports`` maps a module (relative to ``package``, e.g. ``"channel"``) to the names it
    defines; ``subpackages`` are importable as attributes. A resolved name is stored in
    ``namespace`` (the package's globals) so it costs nothing the second time.
    """
    where = {name: module for module, names in exports.items() for name in names}
    children = frozenset(subpackages)

    def __getattr__(name: str) -> Any:
        if name in children:
            return importlib.import_module(f"{package}.{name}")
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where) | children)

    return __getattr__, __dir__
