"""How a :class:`~runtree.runtime.session.Session`'s options are chosen.

In order: the ``Session(...)`` keywords; then either an :class:`ExecutorConfig` given as the
first argument (the form older railtracks code uses: ``Session(ExecutorConfig(...))``) or the
defaults set with :func:`~runtree.state.config.set_config`; then the built-in defaults. The
execution mode also listens to ``RT_EXECUTION_MODE`` / ``RUNTREE_EXECUTION_MODE`` (see
:func:`~runtree.state.config.default_execution_mode`), which win over a config's mode but not
over ``execution_mode=``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from runtree.errors import ConfigurationError
from runtree.state.config import (
    ExecutorConfig,
    config_defaults,
    default_execution_mode,
    mode_source,
)

__all__ = ["SessionOptions", "session_options"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionOptions:
    """The options a session runs with, and where its execution mode came from (for error
    messages)."""

    config: ExecutorConfig
    #: the values the run context starts with (``set_config(context=...)``, then ``context``)
    context: dict[str, Any]
    mode_source: str


def session_options(
    context: Mapping[str, Any] | ExecutorConfig | None,
    *,
    explicit: dict[str, Any],
    execution_mode: str | None,
    max_call_depth: int | None,
    stream_callback: Callable[[Any], Any] | None,
) -> SessionOptions:
    """Resolve a session's options. ``explicit`` holds the keywords that default to ``None``
    (``None`` = not given); ``stream_callback`` is ``broadcast_callback``'s newer name."""
    defaults, values = config_defaults()
    base_source = "set_config(execution_mode=...)"
    if isinstance(context, ExecutorConfig):  # older railtracks: Session(ExecutorConfig(...))
        defaults, context = context, None
        base_source = "the ExecutorConfig's execution_mode"
    if stream_callback is not None:
        if explicit.get("broadcast_callback") is not None:
            raise ConfigurationError(
                "pass broadcast_callback or stream_callback (its newer name), not both"
            )
        explicit = {**explicit, "broadcast_callback": stream_callback}
    if execution_mode is not None:
        mode, source = execution_mode, "execution_mode"
    else:
        mode = default_execution_mode(defaults.execution_mode)
        source = mode_source(base_source)
    chosen = {key: value for key, value in explicit.items() if value is not None}
    if max_call_depth is not None:
        chosen["max_call_depth"] = max_call_depth
    config = dataclasses.replace(defaults, execution_mode=mode, **chosen)  # validates
    if context is not None:
        if not isinstance(context, Mapping):
            raise ConfigurationError(
                "context must be a mapping of str keys to values (or an ExecutorConfig), "
                f"got {type(context).__name__}"
            )
        values.update(context)
    return SessionOptions(config=config, context=values, mode_source=source)
