"""Where an MCP server is: a command to start (stdio) or a URL (streamable HTTP).

Plain data, importable without the ``mcp`` package. ``timeout`` is the time one tool call
(and opening the connection) may take, in seconds or as a ``timedelta``; ``None`` waits
forever.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Mapping, Sequence

from runtree.errors import ConfigurationError

__all__ = ["DEFAULT_TIMEOUT", "MCPHttpParams", "MCPStdioParams", "seconds"]

#: seconds a tool call may take unless the parameters say otherwise
DEFAULT_TIMEOUT = 30.0

Timeout = float | datetime.timedelta | None


def seconds(value: Timeout, *, what: str) -> float | None:
    """``value`` in seconds (``None`` stays ``None``); rejects what is not a positive number."""
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MCPStdioParams:
    """Start ``command args...`` and speak MCP over its standard input and output.

    The server gets only a few safe variables of this process's environment (``PATH``,
    ``HOME``, ...) plus ``env``, so secrets are not handed to a server by accident; pass
    what it needs in ``env``. Its standard error goes to this process's standard error.
    """

    command: str
    args: Sequence[str] = ()
    env: Mapping[str, str] | None = None
    cwd: str | os.PathLike[str] | None = None
    timeout: Timeout = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if not isinstance(self.command, str) or not self.command:
            raise ConfigurationError(
                f"MCPStdioParams.command must be a non-empty string, got {self.command!r}"
            )
        if isinstance(self.args, str) or not all(isinstance(a, str) for a in self.args):
            raise ConfigurationError(
                f"MCPStdioParams.args must be a list of strings, got {self.args!r}"
            )
        object.__setattr__(self, "args", tuple(self.args))
        if self.env is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.env.items()
        ):
            raise ConfigurationError("MCPStdioParams.env must map strings to strings")
        seconds(self.timeout, what="MCPStdioParams.timeout")

    def describe(self) -> str:
        """``command args...`` as one line, for messages."""
        return " ".join([self.command, *self.args])


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MCPHttpParams:
    """Speak MCP over streamable HTTP to ``url`` (e.g. ``http://127.0.0.1:8000/mcp``).

    ``headers`` go with every request (``Authorization``, ...). ``terminate_on_close``
    ends the server-side session when the connection closes.
    """

    url: str
    headers: Mapping[str, str] | None = None
    timeout: Timeout = DEFAULT_TIMEOUT
    terminate_on_close: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"MCPHttpParams.url must be an http:// or https:// URL, got {self.url!r}"
            )
        if self.headers is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.headers.items()
        ):
            raise ConfigurationError("MCPHttpParams.headers must map strings to strings")
        seconds(self.timeout, what="MCPHttpParams.timeout")

    def describe(self) -> str:
        """The URL, for messages."""
        return self.url
