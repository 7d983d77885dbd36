"""``Session``: one run. Wires publisher, coordinator, state and observers together."""

from __future__ import annotations

from runtree.runtime.session import Session, SessionStatistics
from runtree.state.config import ExecutorConfig

__all__ = ["ExecutorConfig", "Session", "SessionStatistics"]
