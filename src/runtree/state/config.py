"""``ExecutorConfig``: how a run executes (kept by the session, read by ``RTState``)."""

from __future__ import annotations

import dataclasses
import os

from runtree.errors import ConfigurationError

__all__ = ["DEFAULT_MAX_CALL_DEPTH", "DEFAULT_MODE", "ExecutorConfig", "default_execution_mode"]

DEFAULT_MODE = "async"
#: how deep calls may nest (a root call is depth 1): far below where Python's recursion
#: limit (1,000 frames; a nested call costs about five) would fail the run less clearly
DEFAULT_MAX_CALL_DEPTH = 100


def default_execution_mode() -> str:
    """``RT_EXECUTION_MODE`` if set (validated later against the session's modes), else async."""
    raw = os.environ.get("RT_EXECUTION_MODE", "").strip()
    return raw or DEFAULT_MODE


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorConfig:
    """``timeout``: seconds for the whole run (``None``: none). ``end_on_error``: the first
    failed request ends the run. ``execution_mode``: the default mode for calls whose node
    does not pin one. ``max_call_depth``: how deep calls may nest before a call raises
    :class:`~runtree.errors.CallDepthError`."""

    timeout: float | None = None
    end_on_error: bool = False
    execution_mode: str = DEFAULT_MODE
    max_call_depth: int = DEFAULT_MAX_CALL_DEPTH

    def __post_init__(self) -> None:
        if self.timeout is not None:
            if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)):
                raise ConfigurationError(
                    f"timeout must be a number of seconds, got {self.timeout!r}"
                )
            if self.timeout <= 0:
                raise ConfigurationError(f"timeout must be > 0 seconds, got {self.timeout!r}")
        if not isinstance(self.end_on_error, bool):
            raise ConfigurationError(f"end_on_error must be a bool, got {self.end_on_error!r}")
        depth = self.max_call_depth
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ConfigurationError(f"max_call_depth must be an int >= 1, got {depth!r}")
        if not isinstance(self.execution_mode, str) or not self.execution_mode:
            raise ConfigurationError(
                f"execution_mode must be a non-empty string, got {self.execution_mode!r}"
            )
