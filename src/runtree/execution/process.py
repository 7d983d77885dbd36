"""The process strategy: each task runs in a worker process of a pool of our own.

Workers are ``python -m runtree.execution.worker`` subprocesses (see that module) talking
over two pipes with length-prefixed frames; they never import the user's ``__main__``, and
they die with their parent. A task's worker reports, while the node runs, the calls the
node makes (see :mod:`runtree.execution.remote`): calls in ``async`` or ``thread`` mode run
in the worker and are recorded by the session as they begin and end; calls in any other mode
(``process`` included) are handed back to the session, which runs them on their own
strategy. A worker waiting for such a call does not count against ``max_workers``, so
nesting never deadlocks the pool.

A worker runs one task at a time. One that dies fails only its own request (with an
:class:`~runtree.errors.ExecutionError` saying how it died); a cancelled request stops its
worker at once (``SIGKILL``), so a request recorded ``cancelled`` never goes on running.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import contextvars
import dataclasses
import functools
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtree.errors import ConfigurationError, ExecutionError
from runtree.execution.bridge import TaskBridge
from runtree.execution.execution_strategy import ExecutionStrategy
from runtree.execution.remote import REPLY, RUN, CallHost, WorkerScope, encode_task
from runtree.execution.task import Task
from runtree.execution.wire import FrameBuffer, dumps, frame

__all__ = ["ProcessExecutionStrategy", "ProcessStatistics"]

_RUNTREE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding `runtree/`
_START_ATTEMPTS = 3  # a worker found dead before it got its task: try a fresh one
_EXIT_GRACE = 2.0  # seconds a worker gets to exit after its pipe closes


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ProcessStatistics:
    """``workers`` alive (``busy`` running a task, ``parked`` of those waiting for a call they
    handed back, ``idle``), ``started`` in all, ``restarted``: workers lost (died, or
    stopped because their request was cancelled) and replaced on demand; ``tasks`` run,
    ``queued``: tasks waiting for a free worker."""

    workers: int
    busy: int
    parked: int
    idle: int
    started: int
    restarted: int
    tasks: int
    queued: int


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class _Worker:
    """One worker process, seen from the session side. Attached to the event loop of the
    task it runs (a pool serves sessions on any loop, one task at a time per worker)."""

    def __init__(self, pool: _Pool, proc: subprocess.Popen[bytes], to_fd: int, from_fd: int):
        self.pool = pool
        self.proc = proc
        self.pid = proc.pid
        self._to = to_fd
        self._from = from_fd
        self._frames = FrameBuffer()
        self._out = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bridge: TaskBridge | None = None
        self._task_id = 0
        self._node_name = ""
        self.broken = False
        self.parked = False
        #: no longer one of the pool's workers
        self.gone = False

    # -- a task --------------------------------------------------------------------------

    def start(self, bridge: TaskBridge, node_name: str, body: bytes) -> bool:
        """Attach to the bridge's loop and send the task; false if the worker is gone."""
        self._task_id = self._task_id % 0xFFFF_FFFF + 1
        self._bridge = bridge
        self._node_name = node_name
        self._loop = bridge.loop
        self._loop.add_reader(self._from, self._readable)
        if not self._write(frame(RUN, self._task_id, 0, body)):
            self.detach()
            return False
        return True

    def reply(self, msg_id: int, body: bytes) -> None:
        self._write(frame(REPLY, self._task_id, msg_id, body))

    def detach(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed() and self._from >= 0:  # (not closed)
            loop.remove_reader(self._from)
            if self._out:
                loop.remove_writer(self._to)
        if self._out:  # a frame half written: this worker's pipe is unusable
            self.broken = True
            self._out.clear()
        self._loop = None
        self._bridge = None

    # -- pipes ---------------------------------------------------------------------------

    def _write(self, data: bytes) -> bool:
        if self.broken:
            return False
        if self._out:
            self._out += data
            return True
        try:
            written = os.write(self._to, data)
        except BlockingIOError:
            written = 0
        except OSError:
            self.broken = True
            return False
        if written < len(data):
            self._out += memoryview(data)[written:]
            assert self._loop is not None
            self._loop.add_writer(self._to, self._flush)
        return True

    def _flush(self) -> None:
        try:
            written = os.write(self._to, self._out)
        except BlockingIOError:
            return
        except OSError:
            written = len(self._out)
            self.broken = True
        del self._out[:written]
        if not self._out and self._loop is not None:
            self._loop.remove_writer(self._to)

    def _readable(self) -> None:
        try:
            data = os.read(self._from, 1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._died()
            return
        self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        for kind, task_id, msg_id, body in self._frames.feed(data):
            bridge = self._bridge
            if bridge is not None and task_id == self._task_id:
                bridge.receive(kind, msg_id, body)

    def stop(self) -> None:
        """Kill the worker now; what it reported before it died (requests it finished) is
        still delivered, so that they are recorded as what they were."""
        self.reap(kill=True)
        while self._bridge is not None:
            try:
                data = os.read(self._from, 1 << 20)
            except OSError:  # nothing more (or a writer left behind by the node)
                break
            if not data:
                break
            self._deliver(data)
        self.detach()

    def _died(self) -> None:
        how = _describe_exit(self.reap(kill=False))
        bridge = self._bridge
        self.detach()
        self.pool.lost(self)
        if bridge is not None:
            bridge.abandon(
                ExecutionError(
                    f"the worker process (pid {self.pid}) running node {self._node_name!r} "
                    f"died ({how}); the request failed and the pool will start a new worker"
                )
            )

    # -- the process ---------------------------------------------------------------------

    def alive(self) -> bool:
        return not self.broken and self.proc.poll() is None

    def reap(self, *, kill: bool) -> int | None:
        """Wait for the process to end (killing it first with ``kill``); its exit code."""
        self.broken = True
        if kill and self.proc.poll() is None:
            self.proc.kill()
        try:
            return self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:  # alive without its pipe: it cannot serve
            self.proc.kill()
            return self.proc.wait()

    def close(self) -> None:
        """Close our pipe ends (the worker exits when it reads the end of its input)."""
        for fd in (self._to, self._from):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._to = self._from = -1


class _Helper:
    """A long-lived thread that starts workers (``PR_SET_PDEATHSIG`` fires when the
    *thread* that started a process ends, so no short-lived thread may start one) and waits
    for retired ones to exit."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[
            tuple[Callable[[], Any], concurrent.futures.Future[Any]] | None
        ]
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="runtree-workers", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._jobs.put((job, future))
        return future

    def _serve(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as exc:
                future.set_exception(exc)

    def stop(self) -> None:
        self._jobs.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)


class _Pool:
    """Workers, and ``size`` slots: a task holds a slot while its worker computes."""

    def __init__(self, size: int, scope: WorkerScope | None) -> None:
        self.size = size
        self._scope = None if scope is None else dumps(scope)
        self._lock = threading.Lock()
        self._free = size
        self._waiters: collections.deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = (
            collections.deque()
        )
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._helper = _Helper()
        self._closed = False
        self.started = 0
        self.restarted = 0
        self.tasks = 0

    # -- slots ---------------------------------------------------------------------------

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            with self._lock:
                try:
                    self._waiters.remove((loop, waiter))
                    granted = False
                except ValueError:
                    granted = True
            if granted and waiter.done() and not waiter.cancelled():
                self.release()
            raise

    def release(self) -> None:
        with self._lock:
            while self._waiters:
                loop, waiter = self._waiters.popleft()
                if not loop.is_closed():
                    break
            else:
                self._free += 1
                return
        loop.call_soon_threadsafe(self._grant, waiter)

    def _grant(self, waiter: asyncio.Future[None]) -> None:
        if waiter.cancelled():
            self.release()  # its task gave up meanwhile: pass the slot on
        else:
            waiter.set_result(None)

    def park(self, worker: _Worker, calls: int) -> None:
        """A worker waits for ``calls`` calls it handed back (parked while more than 0)."""
        waiting = calls > 0
        if waiting == worker.parked:
            return
        worker.parked = waiting
        if waiting:
            self.release()
        else:
            with self._lock:
                self._free -= 1  # it goes on at once, even if that briefly exceeds the size

    # -- workers -------------------------------------------------------------------------

    async def checkout(self) -> _Worker:
        """An idle worker, or a new one."""
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                self._forget(worker, lost=True)
        starting = self._helper.submit(self._spawn)
        try:
            return await asyncio.wrap_future(starting)
        except asyncio.CancelledError:  # keep the worker that was being started
            starting.add_done_callback(self._keep_started)
            raise

    def _keep_started(self, starting: concurrent.futures.Future[_Worker]) -> None:
        if not starting.cancelled() and starting.exception() is None:
            self._checkin(starting.result())

    def done(self, worker: _Worker) -> None:
        """The task ``worker`` ran has ended: free its slot; keep the worker if it is sound."""
        parked, worker.parked = worker.parked, False
        if not parked:  # a parked worker's slot is free already
            self.release()
        worker.detach()
        if worker.gone:
            return
        if worker.broken:  # its pipe failed: it cannot serve again
            worker.reap(kill=True)
            self.lost(worker)
            return
        with self._lock:
            self.tasks += 1
        self._checkin(worker)

    def _checkin(self, worker: _Worker) -> None:
        with self._lock:  # (a worker that died idle is found out at checkout)
            if not self._closed and not worker.broken and len(self._idle) < self.size:
                self._idle.append(worker)
                return
            self._forget(worker, lost=False)
        self._helper.submit(lambda: _retire(worker))

    def lost(self, worker: _Worker) -> None:
        """A worker died or was stopped (reaped already)."""
        if worker.gone:
            return
        with self._lock:
            self.tasks += 1
            self._forget(worker, lost=True)
        worker.close()

    def _forget(self, worker: _Worker, *, lost: bool) -> None:
        worker.gone = True
        if worker in self._workers:
            self._workers.discard(worker)
            self.restarted += lost

    def _spawn(self) -> _Worker:
        """On the helper thread: start a worker and give it its start-up frame."""
        to_read, to_write = os.pipe()
        from_read, from_write = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [_RUNTREE_ROOT, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        )
        try:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "runtree.execution.worker",
                    str(to_read),
                    str(from_write),
                    str(os.getpid()),
                ],
                pass_fds=(to_read, from_write),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        except BaseException:
            for fd in (to_write, from_read):
                os.close(fd)
            raise
        finally:
            os.close(to_read)
            os.close(from_write)
        worker = _Worker(self, proc, to_write, from_read)
        init = pickle.dumps({"path": list(sys.path), "scope": self._scope})
        try:
            os.write(to_write, frame(0, 0, 0, init))  # small: fits the pipe
        except OSError:
            worker.broken = True
        os.set_blocking(to_write, False)
        os.set_blocking(from_read, False)
        with self._lock:
            self._workers.add(worker)
            self.started += 1
        return worker

    def statistics(self) -> ProcessStatistics:
        with self._lock:
            workers = len(self._workers)
            idle = len(self._idle)
            parked = sum(1 for worker in self._workers if worker.parked)
            return ProcessStatistics(
                workers=workers,
                busy=workers - idle,
                parked=parked,
                idle=idle,
                started=self.started,
                restarted=self.restarted,
                tasks=self.tasks,
                queued=len(self._waiters),
            )

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
            self._idle.clear()
        for worker in workers:
            worker.close()
        for worker in workers:
            _wait_exit(worker)
        self._helper.stop()


def _wait_exit(worker: _Worker) -> None:
    try:
        worker.proc.wait(timeout=_EXIT_GRACE)
    except subprocess.TimeoutExpired:
        worker.proc.kill()
        worker.proc.wait()


def _retire(worker: _Worker) -> None:
    worker.close()
    _wait_exit(worker)


class ProcessExecutionStrategy(ExecutionStrategy):
    """Runs each task in a worker process of its own pool (see the module docstring).

    ``max_workers`` (default: the number of CPUs) bounds how many workers compute at once.
    ``worker_scope`` (see :data:`~runtree.execution.remote.WorkerScope`) opens the context a
    node runs in inside its worker; the session layer gives one that routes the node's calls
    back to the run (without it, calls a node makes run in temporary sessions of its worker).
    """

    mode = "process"

    def __init__(
        self, *, max_workers: int | None = None, worker_scope: WorkerScope | None = None
    ) -> None:
        if max_workers is not None and (
            isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
        ):
            raise ConfigurationError(f"max_workers must be a positive int, got {max_workers!r}")
        self._max_workers = max_workers or os.cpu_count() or 1
        self._worker_scope = worker_scope
        self._pool: _Pool | None = None
        self._lock = threading.Lock()

    def _current_pool(self) -> _Pool:
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = _Pool(self._max_workers, self._worker_scope)
                pool = self._pool
        return pool

    def statistics(self) -> ProcessStatistics:
        pool = self._pool
        if pool is None:
            return ProcessStatistics(
                workers=0, busy=0, parked=0, idle=0, started=0, restarted=0, tasks=0, queued=0
            )
        return pool.statistics()

    async def execute(self, task: Task[Any]) -> Any:
        node = task.node
        name = node.name()
        host = task.host if self._worker_scope is not None else None
        body = encode_task(task.request_id, node, host)
        pool = self._current_pool()
        await pool.acquire()
        worker: _Worker | None = None
        try:
            worker, bridge = await self._start(pool, host, name, body)
            try:
                value, error, details = await bridge.outcome
            except asyncio.CancelledError:
                worker.stop()  # the node stops now, before it is recorded cancelled
                pool.lost(worker)
                bridge.abandon(asyncio.CancelledError())
                raise
            await bridge.finish()
        finally:
            if worker is None:
                pool.release()
            else:
                pool.done(worker)
        if details:
            node.details = details
        if error is not None:
            raise error
        return value

    @staticmethod
    async def _start(
        pool: _Pool, host: CallHost | None, name: str, body: bytes
    ) -> tuple[_Worker, TaskBridge]:
        for _ in range(_START_ATTEMPTS):
            worker = await pool.checkout()
            bridge = TaskBridge(
                host,
                node_name=name,
                reply=worker.reply,
                on_calls=functools.partial(pool.park, worker),
                context=contextvars.copy_context(),
            )
            if worker.start(bridge, name, body):
                return worker, bridge
            worker.reap(kill=True)  # it died while idle: the task never started there
            pool.lost(worker)
        raise ExecutionError(f"no worker process could be started for node {name!r}")

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()
