"""``ExecutorConfig``: how a run executes, and ``set_config``: process-wide defaults for it.

A session's options come from, in order: the ``Session(...)`` arguments, the defaults set
with :func:`set_config`, then the built-in defaults below (and ``RT_EXECUTION_MODE`` /
``RUNTREE_EXECUTION_MODE`` for the execution mode).
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from runtree.errors import ConfigurationError

__all__ = [
    "DEFAULT_MAX_CALL_DEPTH",
    "DEFAULT_MODE",
    "LOG_LEVELS",
    "ExecutorConfig",
    "config_defaults",
    "default_execution_mode",
    "reset_config",
    "set_config",
]

DEFAULT_MODE = "async"
#: how deep calls may nest (a root call is depth 1): far below where Python's recursion
#: limit (1,000 frames; a nested call costs about five) would fail the run less clearly
DEFAULT_MAX_CALL_DEPTH = 100
#: the environment variables that choose the default execution mode (both are accepted)
MODE_VARIABLES = ("RT_EXECUTION_MODE", "RUNTREE_EXECUTION_MODE")
#: ``logging_setting`` values and the logging level each shows (``NONE``: nothing; the
#: last three are older spellings)
LOG_LEVELS: dict[str, int] = {
    "DEBUG": 10,
    "INFO": 20,
    "WARNING": 30,
    "ERROR": 40,
    "CRITICAL": 50,
    "NONE": 60,
    "VERBOSE": 10,
    "REGULAR": 20,
    "QUIET": 30,
}


def default_execution_mode(fallback: str | None = None) -> str:
    """``RT_EXECUTION_MODE`` or ``RUNTREE_EXECUTION_MODE`` if set (validated later against the
    session's modes), else ``fallback`` if given, else the mode given to :func:`set_config`,
    else ``"async"``."""
    chosen = {name: os.environ.get(name, "").strip() for name in MODE_VARIABLES}
    given = {name: value for name, value in chosen.items() if value}
    if len(set(given.values())) > 1:
        raise ConfigurationError(
            "RT_EXECUTION_MODE and RUNTREE_EXECUTION_MODE disagree "
            f"({given['RT_EXECUTION_MODE']!r} vs {given['RUNTREE_EXECUTION_MODE']!r}); "
            "set only one of them"
        )
    if given:
        return next(iter(given.values()))
    return _defaults.execution_mode if fallback is None else fallback


def mode_source(fallback: str = "set_config(execution_mode=...)") -> str:
    """Which setting chose :func:`default_execution_mode` (for error messages): an
    environment variable, else ``fallback``."""
    for name in MODE_VARIABLES:
        if os.environ.get(name, "").strip():
            return name
    return fallback


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorConfig:
    """How a run executes.

    * ``timeout``: seconds for the whole run (``None``: no limit).
    * ``end_on_error``: the first failed request ends the run.
    * ``execution_mode``: the default mode for calls whose node does not pin one.
    * ``logging_setting``: show the run's log lines from this level up (``"DEBUG"``: every
      request; ``"INFO"``: failures and the end of the run; ``"NONE"`` or ``None``: nothing),
      on standard error or in ``log_file``. A ``log_file`` without a ``logging_setting``
      gets every line (``"DEBUG"``), as railtracks' log file does.
    * ``broadcast_callback``: receives every ``rt.broadcast`` item.
    * ``prompt_injection``: agents fill ``{key}`` placeholders in their prompts from the run
      context.
    * ``save_state``: journal the run (``False`` is the same as ``Session(store=None)``).
    * ``max_call_depth``: how deep calls may nest before a call raises
      :class:`~runtree.errors.CallDepthError`.
    """

    timeout: float | None = None
    end_on_error: bool = False
    execution_mode: str = DEFAULT_MODE
    logging_setting: str | None = None
    log_file: str | os.PathLike[str] | None = None
    broadcast_callback: Callable[[Any], Any] | None = None
    prompt_injection: bool = True
    save_state: bool = True
    max_call_depth: int = DEFAULT_MAX_CALL_DEPTH

    def __post_init__(self) -> None:
        if self.timeout is not None:
            if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)):
                raise ConfigurationError(
                    f"timeout must be a number of seconds, got {self.timeout!r}"
                )
            if self.timeout <= 0:
                raise ConfigurationError(f"timeout must be > 0 seconds, got {self.timeout!r}")
        for flag in ("end_on_error", "prompt_injection", "save_state"):
            value = getattr(self, flag)
            if not isinstance(value, bool):
                raise ConfigurationError(f"{flag} must be a bool, got {value!r}")
        depth = self.max_call_depth
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ConfigurationError(f"max_call_depth must be an int >= 1, got {depth!r}")
        if not isinstance(self.execution_mode, str) or not self.execution_mode:
            raise ConfigurationError(
                f"execution_mode must be a non-empty string, got {self.execution_mode!r}"
            )
        setting = self.logging_setting
        if setting is not None and (
            not isinstance(setting, str) or setting.upper() not in LOG_LEVELS
        ):
            raise ConfigurationError(
                f"logging_setting must be one of {sorted(LOG_LEVELS)} or None, got {setting!r}"
            )
        if self.log_file is not None and not isinstance(self.log_file, (str, os.PathLike)):
            raise ConfigurationError(f"log_file must be a path, got {self.log_file!r}")
        callback = self.broadcast_callback
        if callback is not None and not callable(callback):
            raise ConfigurationError(f"broadcast_callback must be callable, got {callback!r}")

    @property
    def log_level(self) -> int | None:
        """The logging level ``logging_setting`` asks for (``None``: no run log); with only
        a ``log_file``, every line."""
        if self.logging_setting is None:
            return None if self.log_file is None else LOG_LEVELS["DEBUG"]
        level = LOG_LEVELS[self.logging_setting.upper()]
        return None if level > 50 else level

    @property
    def subscriber(self) -> Callable[[Any], Any] | None:
        """``broadcast_callback`` under the name older code reads."""
        return self.broadcast_callback


_lock = threading.Lock()
_defaults = ExecutorConfig()
_default_context: dict[str, Any] = {}
_UNSET: Any = object()


def set_config(
    config: ExecutorConfig | None = None,
    /,
    *,
    timeout: float | None = _UNSET,
    end_on_error: bool = _UNSET,
    execution_mode: str = _UNSET,
    logging_setting: str | None = _UNSET,
    log_file: str | os.PathLike[str] | None = _UNSET,
    broadcast_callback: Callable[[Any], Any] | None = _UNSET,
    prompt_injection: bool = _UNSET,
    save_state: bool = _UNSET,
    context: Mapping[str, Any] | None = _UNSET,
) -> None:
    """Set process-wide defaults for the sessions opened from now on (each option left out
    keeps its current default). ``Session(...)`` arguments still win. ``context`` gives
    values every new run's context starts with.

    ``config``, an :class:`ExecutorConfig`, replaces every default at once (the form older
    railtracks code uses: ``set_config(ExecutorConfig(end_on_error=True))``); options given
    beside it apply on top of it.
    """
    global _defaults, _default_context
    if config is not None and not isinstance(config, ExecutorConfig):
        raise ConfigurationError(
            f"set_config takes an ExecutorConfig or keyword options, got {config!r}"
        )
    given: dict[str, Any] = {
        name: value
        for name, value in (
            ("timeout", timeout),
            ("end_on_error", end_on_error),
            ("execution_mode", execution_mode),
            ("logging_setting", logging_setting),
            ("log_file", log_file),
            ("broadcast_callback", broadcast_callback),
            ("prompt_injection", prompt_injection),
            ("save_state", save_state),
        )
        if value is not _UNSET
    }
    if context is not _UNSET and context is not None and not isinstance(context, Mapping):
        raise ConfigurationError(f"context must be a mapping, got {type(context).__name__}")
    with _lock:
        base = _defaults if config is None else config
        updated = dataclasses.replace(base, **given)  # validates
        _defaults = updated
        if context is not _UNSET:
            _default_context = dict(context or {})


def config_defaults() -> tuple[ExecutorConfig, dict[str, Any]]:
    """The defaults set with :func:`set_config`: ``(config, context values)``."""
    return _defaults, dict(_default_context)


def reset_config() -> None:
    """Forget everything :func:`set_config` set (back to the built-in defaults)."""
    global _defaults, _default_context
    with _lock:
        _defaults = ExecutorConfig()
        _default_context = {}
