"""The coordinator: picks a strategy for each task, tracks jobs, reports outcomes.

``submit`` returns :class:`~runtree.pubsub.messages.RequestSuccess` or
:class:`~runtree.pubsub.messages.RequestFailure` (also published on the publisher given to
:meth:`Coordinator.start`); ``run`` returns the result or raises, which is what the session
uses. Cancellation is recorded (job status ``"cancelled"``, a ``RequestFailure`` with
``cancelled=True`` is published) and re-raised.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Iterator, Mapping
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
    The session's request records (:class:`runtree.state.info.RequestRecord`) are jobs too,
    so a call is recorded once.
    """

    __slots__ = ("end_time", "mode", "node_name", "request_id", "start_time", "status")

    def __init__(self, request_id: str, node_name: str, mode: str, start_time: float) -> None:
        self.request_id = request_id
        self.node_name = node_name
        self.mode = mode
        self.start_time = start_time
        self.end_time: float | None = None
        self.status = "running"

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or ``None`` while running."""
        return None if self.end_time is None else self.end_time - self.start_time

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in Job.__slots__}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.request_id!r}, {self.node_name!r}, {self.mode!r}, "
            f"{self.status!r})"
        )


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

    def start_job(self, job: Job) -> None:
        self.jobs[job.request_id] = job
        self._running += 1

    def end_job(self, job: Job, status: str, end_time: float) -> None:
        job.status = status
        job.end_time = end_time
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
                f"unknown execution mode {mode!r}; "
                f"this coordinator has {sorted(self.execution_modes)}"
            ) from None

    async def submit(self, task: Task[Any], mode: str = "async") -> RequestSuccess | RequestFailure:
        """Run ``task`` in ``mode`` and return the outcome message (also published)."""
        try:
            result = await self.run(task, mode)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            job = self.state.jobs[task.request_id]
            return RequestFailure(
                request_id=task.request_id,
                node_name=job.node_name,
                start_time=job.start_time,
                end_time=job.end_time or job.start_time,
                error=exc,
                attributes=getattr(job, "attributes", None),
            )
        job = self.state.jobs[task.request_id]
        return RequestSuccess(
            request_id=task.request_id,
            node_name=job.node_name,
            start_time=job.start_time,
            end_time=job.end_time or job.start_time,
            result=result,
            attributes=getattr(job, "attributes", None),
        )

    async def run(self, task: Task[Any], mode: str = "async", *, job: Job | None = None) -> Any:
        """Run ``task`` in ``mode``: return its result or raise its exception.

        The job (``job`` if given, else a new one) is recorded and ``RequestSuccess`` /
        ``RequestFailure`` published (built only when a subscriber wants them).
        Cancellation is recorded and re-raised.
        """
        if job is None:
            job = Job(task.request_id, task.node.name(), mode, time.time())
        running = self.begin(task, job)
        try:
            result = await running
        except BaseException as exc:
            self.fail(job, exc)
            raise
        self.succeed(job, result)
        return result

    def begin(self, task: Task[Any], job: Job) -> Awaitable[Any]:
        """Record ``job`` as running and return the awaitable that runs ``task`` on the
        strategy of ``job.mode``. The caller awaits it, then reports with :meth:`succeed` or
        :meth:`fail`. (:meth:`run` does all three; the session's hot path does them itself,
        which saves a coroutine per call.)"""
        if self.publisher is None:
            raise SessionStateError("Coordinator used before Coordinator.start(publisher)")
        strategy = self.execution_modes.get(job.mode)
        if strategy is None:
            strategy = self.strategy(job.mode)
        self.state.start_job(job)
        return strategy.execute(task)

    def succeed(self, job: Job, result: Any) -> None:
        """Close ``job`` as succeeded and publish ``RequestSuccess`` if anyone listens (with
        the job's ``attributes``: a session's request records have them, a plain job not)."""
        end = time.time()
        self.state.end_job(job, "succeeded", end)
        publisher = self.publisher
        if publisher is not None and publisher.listening and publisher.wants(RequestSuccess):
            publisher.publish(
                RequestSuccess(
                    request_id=job.request_id,
                    node_name=job.node_name,
                    start_time=job.start_time,
                    end_time=end,
                    result=result,
                    attributes=getattr(job, "attributes", None),
                )
            )

    def fail(self, job: Job, error: BaseException) -> None:
        """Close ``job`` as failed (or cancelled) and publish ``RequestFailure`` (with the
        job's ``attributes``, as :meth:`succeed`)."""
        end = time.time()
        cancelled = isinstance(error, asyncio.CancelledError)
        self.state.end_job(job, "cancelled" if cancelled else "failed", end)
        publisher = self.publisher
        if publisher is not None and publisher.wants(RequestFailure):
            publisher.publish(
                RequestFailure(
                    request_id=job.request_id,
                    node_name=job.node_name,
                    start_time=job.start_time,
                    end_time=end,
                    error=error,
                    cancelled=cancelled,
                    attributes=getattr(job, "attributes", None),
                )
            )

    def shutdown(self) -> None:
        """Shut down every strategy this coordinator was given."""
        for strategy in self.execution_modes.values():
            strategy.shutdown()
