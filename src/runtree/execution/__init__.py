"""Execution: tasks, strategies (asyncio, thread, process) and the coordinator."""

from __future__ import annotations

from runtree.execution.coordinator import Coordinator, CoordinatorState, CoordinatorStatistics, Job
from runtree.execution.execution_strategy import (
    AsyncioExecutionStrategy,
    ExecutionStrategy,
    ProcessExecutionStrategy,
    ThreadExecutionStrategy,
)
from runtree.execution.task import Task

__all__ = [
    "AsyncioExecutionStrategy",
    "Coordinator",
    "CoordinatorState",
    "CoordinatorStatistics",
    "ExecutionStrategy",
    "Job",
    "ProcessExecutionStrategy",
    "Task",
    "ThreadExecutionStrategy",
]
