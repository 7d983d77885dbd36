"""The coordinator: picks a strategy for each task, tracks jobs, reports outcomes.

``submit`` returns :class:`~runtree.pubsub.messages.RequestSuccess` or
:class:`~runtree.pubsub.messages.RequestFailure` (also published on the publisher given to
:meth:`Coordinator.start`). Cancellation is recorded (job status ``"cancelled"``, a
``RequestFailure`` with ``cancelled=True`` is published) and re-raised.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator, Mapping
from typing import Any

from runtree.errors import ConfigurationError, SessionStateError
from runtree.execution.execution_strategy import AsyncioExecutionStrategy, ExecutionStrategy
from runtree.execution.task import Task
from runtree.pubsub.messages import RequestFailure, RequestSuccess
from runtree.pubsub.publisher import RTPublisher

__all__ = ["Coordinator", "CoordinatorState", "CoordinatorStatistics", "Job"]


class Job:
    """The coordinator's record of one task: mode, status and start/end times (epoch seconds).

    ``status`` is ``"running"``, then ``"succeeded"``, ``"failed"`` or ``"cancelled"``.
    """

    __slots__ = ("end_time", "mode", "node_name", "request_id", "start_time", "status")

    def __init__(self, request_id: str, node_name: str, mode: str, start_time: float) -> None:
        self.request_id = request_id
        self.node_name = node_name
        self.mode = mode
        self.start_time = start_time
        self.end_time: float | None = None
        self.status = "running"

    def end(self, status: str, end_time: float) -> None:
        self.status = status
        self.end_time = end_time

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        return f"Job({self.request_id!r}, {self.node_name!r}, {self.mode!r}, {self.status!r})"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CoordinatorStatistics:
    submitted: int
    running: int
    succeeded: int
    failed: int
    cancelled: int


class CoordinatorState:
    """Append-only job records, by request id."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self._running = 0
        self._counts = {"succeeded": 0, "failed": 0, "cancelled": 0}

    def start_job(self, request_id: str, node_name: str, mode: str) -> Job:
        job = Job(request_id, node_name, mode, time.time())
        self.jobs[request_id] = job
        self._running += 1
        return job

    def end_job(self, job: Job, status: str, end_time: float) -> None:
        job.end(status, end_time)
        self._running -= 1
        self._counts[status] += 1

    def __iter__(self) -> Iterator[Job]:
        return iter(self.jobs.values())

    def __len__(self) -> int:
        return len(self.jobs)

    def statistics(self) -> CoordinatorStatistics:
        return CoordinatorStatistics(
            submitted=len(self.jobs), running=self._running, **self._counts
        )

    def to_dict(self) -> dict[str, Any]:
        return {"jobs": [job.to_dict() for job in self.jobs.values()]}


class Coordinator:
    """Runs tasks on named execution strategies (``"async"`` is always available)."""

    def __init__(self, execution_modes: Mapping[str, ExecutionStrategy] | None = None) -> None:
        modes: dict[str, ExecutionStrategy] = {"async": AsyncioExecutionStrategy()}
        for name, strategy in (execution_modes or {}).items():
            if not isinstance(strategy, ExecutionStrategy):
                raise ConfigurationError(
                    f"execution mode {name!r} must map to an ExecutionStrategy, got {strategy!r}"
                )
            modes[name] = strategy
        self.execution_modes: dict[str, ExecutionStrategy] = modes
        self.state = CoordinatorState()
        self.publisher: RTPublisher | None = None

    def start(self, publisher: RTPublisher) -> None:
        """Attach the publisher that receives ``RequestSuccess``/``RequestFailure``."""
        if not isinstance(publisher, RTPublisher):
            raise ConfigurationError(f"Coordinator.start needs an RTPublisher, got {publisher!r}")
        self.publisher = publisher

    def strategy(self, mode: str) -> ExecutionStrategy:
        try:
            return self.execution_modes[mode]
        except KeyError:
            raise ConfigurationError(
                f"unknown execution mode {mode!r}; this coordinator has {sorted(self.execution_modes)}"
            ) from None

    async def submit(self, task: Task[Any], mode: str = "async") -> RequestSuccess | RequestFailure:
        """Run ``task`` in ``mode`` and return the outcome message."""
        publisher = self.publisher
        if publisher is None:
            raise SessionStateError("Coordinator.submit before Coordinator.start(publisher)")
        strategy = self.strategy(mode)
        name = task.node.name()
        job = self.state.start_job(task.request_id, name, mode)
        try:
            result = await strategy.execute(task)
        except asyncio.CancelledError as exc:
            end = time.time()
            self.state.end_job(job, "cancelled", end)
            publisher.publish(
                RequestFailure(request_id=task.request_id, node_name=name, started_at=job.start_time,
                               ended_at=end, error=exc, cancelled=True)
            )
            raise
        except Exception as exc:
            end = time.time()
            self.state.end_job(job, "failed", end)
            failure = RequestFailure(request_id=task.request_id, node_name=name,
                                     started_at=job.start_time, ended_at=end, error=exc)
            publisher.publish(failure)
            return failure
        end = time.time()
        self.state.end_job(job, "succeeded", end)
        success = RequestSuccess(request_id=task.request_id, node_name=name,
                                 started_at=job.start_time, ended_at=end, result=result)
        publisher.publish(success)
        return success

    def shutdown(self) -> None:
        """Shut down every strategy this coordinator was given."""
        for strategy in self.execution_modes.values():
            strategy.shutdown()
