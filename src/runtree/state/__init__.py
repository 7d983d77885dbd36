"""Run state: the request forest (``ExecutionInfo``) and the request lifecycle (``RTState``)."""

from __future__ import annotations

from runtree.state.config import ExecutorConfig
from runtree.state.info import ExecutionInfo, InfoStatistics, RequestRecord
from runtree.state.observer import RequestObserver
from runtree.state.state import RTState

__all__ = [
    "ExecutionInfo",
    "ExecutorConfig",
    "InfoStatistics",
    "RTState",
    "RequestObserver",
    "RequestRecord",
]
