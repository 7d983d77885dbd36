"""Turn arbitrary Python values into JSON-safe data without losing track of what was there.

Values JSON can hold pass through. Anything else becomes a marker
``{"__runtree__": "unserialisable", "type": "module.Qualname", "repr": "..."}``; a string or
a repr longer than ``max_chars`` is cut and marked ``{"__runtree__": "truncated", ...}``.
Nothing is dropped silently: every marker names the type and the original size.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEFAULT_MAX_CHARS",
    "MARKER_KEY",
    "describe_error",
    "safe_str",
    "to_jsonable",
    "type_name",
]

MARKER_KEY = "__runtree__"
DEFAULT_MAX_CHARS = 65_536
_MAX_DEPTH = 32


def type_name(value: object) -> str:
    """``module.Qualname`` of ``value``'s type (builtins without the module)."""
    cls = type(value)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def safe_str(value: object) -> str:
    """``str(value)``, or a description naming the type when ``__str__`` itself fails."""
    try:
        return str(value)
    except Exception as exc:
        return f"<str() of {type(value).__name__} failed: {type(exc).__name__}>"


def describe_error(error: BaseException) -> str:
    """``"Type: message"`` of an exception, whatever its ``__str__`` does."""
    return f"{type(error).__name__}: {safe_str(error)}"


def _truncated(text: str, max_chars: int, kind: str, value: object) -> dict[str, Any]:
    return {
        MARKER_KEY: "truncated",
        "kind": kind,
        "type": type_name(value),
        "length": len(text),
        "limit": max_chars,
        "head": text[:max_chars],
    }


def _unserialisable(value: object, max_chars: int) -> dict[str, Any]:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break the export
        text = f"<repr failed: {type(exc).__name__}>"
    if len(text) > max_chars:
        return _truncated(text, max_chars, "repr", value)
    return {MARKER_KEY: "unserialisable", "type": type_name(value), "repr": text}


def to_jsonable(value: Any, *, max_chars: int = DEFAULT_MAX_CHARS, _depth: int = 0) -> Any:
    """Return a JSON-safe version of ``value`` (see the module docstring for the markers)."""
    if value is None or value is True or value is False:
        return value
    cls = type(value)
    if cls is int:
        return value
    if cls is float:
        return value if math.isfinite(value) else _unserialisable(value, max_chars)
    if cls is str:
        return value if len(value) <= max_chars else _truncated(value, max_chars, "str", value)
    if _depth >= _MAX_DEPTH:
        return _unserialisable(value, max_chars)
    depth = _depth + 1
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, max_chars=max_chars, _depth=depth)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item, max_chars=max_chars, _depth=depth) for item in value]
    if isinstance(value, Mapping) and all(type(key) is str for key in value):
        return {
            key: to_jsonable(item, max_chars=max_chars, _depth=depth) for key, item in value.items()
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {
            MARKER_KEY: "dataclass",
            "type": type_name(value),
            "fields": to_jsonable(fields, max_chars=max_chars, _depth=depth),
        }
    if isinstance(value, BaseException):
        return {
            MARKER_KEY: "exception",
            "type": type_name(value),
            "message": safe_str(value)[:max_chars],
        }
    if isinstance(value, (int, float, str)):  # subclasses such as bool-like enums or str subclasses
        return to_jsonable(cls.__mro__[-2](value), max_chars=max_chars, _depth=depth)
    return _unserialisable(value, max_chars)
