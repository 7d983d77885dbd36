"""Environment variables read by the node layer.

``RT_NODE_DEBUG`` (``true``/``false``, default ``false``): verbose debug details.
``RT_NODE_SERIALISATION_FMT`` (``json``/``pickle``, default ``json``): ``NodeState`` wire format.
"""

from __future__ import annotations

import os

from runtree.errors import ConfigurationError

__all__ = ["SERIALISATION_FORMATS", "node_debug_enabled", "reload", "serialisation_format"]

SERIALISATION_FORMATS = ("json", "pickle")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


_debug: bool | None = None


def reload() -> None:
    """Re-read the environment. Every ``Session`` does this when it opens; call it yourself
    after changing ``RT_NODE_DEBUG`` for nodes invoked outside a session."""
    global _debug
    _debug = _read_debug()


def node_debug_enabled() -> bool:
    """Whether ``RT_NODE_DEBUG`` asks for verbose debug details (read once, see :func:`reload`)."""
    if _debug is None:
        reload()
    return bool(_debug)


def _read_debug() -> bool:
    raw = os.environ.get("RT_NODE_DEBUG")
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"RT_NODE_DEBUG must be true or false, got {raw!r}")


def serialisation_format() -> str:
    """The ``NodeState`` wire format chosen by ``RT_NODE_SERIALISATION_FMT``."""
    raw = os.environ.get("RT_NODE_SERIALISATION_FMT", "json")
    value = raw.strip().lower()
    if value not in SERIALISATION_FORMATS:
        raise ConfigurationError(
            f"RT_NODE_SERIALISATION_FMT must be one of {SERIALISATION_FORMATS}, got {raw!r}"
        )
    return value
