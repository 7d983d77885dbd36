"""A process worker: ``python -m runtree.execution.worker IN_FD OUT_FD PARENT_PID``.

Started by :class:`~runtree.execution.process.ProcessExecutionStrategy`. It never imports the
user's ``__main__``: nodes arrive pickled by value when they must. It reads frames from
``IN_FD`` and writes frames to ``OUT_FD`` (stdout and stderr stay the user's), runs each
task it is given on its event loop, and exits

* when its parent dies: ``PR_SET_PDEATHSIG`` (Linux) kills it with the parent, a watchdog
  thread ends it when the pipe from the parent hangs up, and it checks the parent's pid at
  start (the parent may have died before the death signal was set);
* on ``SIGTERM`` (default action) and when the pipe from the parent is closed (the pool
  shutting down). ``SIGINT`` is ignored: Ctrl-C reaches the session, which stops its workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import select
import signal
import sys
import threading
from typing import Any

from runtree.execution.link import MessageLink, run_remote_task
from runtree.execution.remote import DONE, REPLY, RUN, TaskContext, WorkerScope
from runtree.execution.wire import HEADER, FrameBuffer, frame

__all__ = ["main"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl here
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(0)


def _watch_hangup(fd: int) -> None:
    """End the process when the pipe from the parent hangs up (the parent is gone), even
    while the event loop is busy with a node."""
    poller = select.poll()
    poller.register(fd, 0)  # hang-ups and errors are always reported
    while True:
        try:
            events = poller.poll()
        except InterruptedError:  # pragma: no cover - retried by Python anyway
            continue
        if any(mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, mask in events):
            os._exit(0)


def _read_exactly(fd: int, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = os.read(fd, size - len(chunks))
        if not chunk:
            raise EOFError("the session closed the pipe")
        chunks += chunk
    return bytes(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _flush() -> None:
    """What the node printed reaches the terminal before its outcome reaches the session."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()


class _Connection:
    """The worker's end of the pipes: runs tasks as ``RUN`` frames arrive."""

    def __init__(self, in_fd: int, out_fd: int, scope: WorkerScope | None) -> None:
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.scope = scope
        self.loop = asyncio.get_running_loop()
        self.frames = FrameBuffer()
        self.links: dict[int, MessageLink] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.closed: asyncio.Future[None] = self.loop.create_future()
        self.write_lock = threading.Lock()
        os.set_blocking(in_fd, False)
        self.loop.add_reader(in_fd, self._readable)

    def send(self, kind: int, task_id: int, msg_id: int, body: bytes) -> None:
        data = frame(kind, task_id, msg_id, body)
        with self.write_lock:  # nodes on other threads (thread mode) publish too
            try:
                _write_all(self.out_fd, data)
            except OSError:  # the session is gone
                os._exit(0)

    def _readable(self) -> None:
        try:
            data = os.read(self.in_fd, 1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.loop.remove_reader(self.in_fd)
            if not self.closed.done():
                self.closed.set_result(None)
            return
        for kind, task_id, msg_id, body in self.frames.feed(data):
            if kind == RUN:
                running = self.loop.create_task(self._run(task_id, body))
                self.tasks.add(running)
                running.add_done_callback(self.tasks.discard)
            elif kind == REPLY:
                link = self.links.get(task_id)
                if link is not None:
                    link.receive_reply(msg_id, body)

    async def _run(self, task_id: int, body: bytes) -> None:
        context: TaskContext = pickle.loads(body)

        def send(kind: int, msg_id: int, message: bytes) -> None:
            self.send(kind, task_id, msg_id, message)

        link = MessageLink(send, context, self.loop)
        self.links[task_id] = link
        try:
            done = await run_remote_task(context, link, self.scope)
        finally:
            del self.links[task_id]
        _flush()
        self.send(DONE, task_id, 0, done)


async def _serve(in_fd: int, out_fd: int, scope: WorkerScope | None) -> None:
    connection = _Connection(in_fd, out_fd, scope)
    await connection.closed
    for running in list(connection.tasks):
        running.cancel()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    in_fd, out_fd, parent_pid = (int(value) for value in args[:3])
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Thread(
        target=_watch_hangup, args=(in_fd,), name="runtree-worker-watchdog", daemon=True
    ).start()
    try:
        length = HEADER.unpack(_read_exactly(in_fd, HEADER.size))[0]
        init: dict[str, Any] = pickle.loads(_read_exactly(in_fd, length))
    except EOFError:
        os._exit(0)
    sys.path[:] = init["path"]
    raw_scope = init["scope"]
    scope: WorkerScope | None = None if raw_scope is None else pickle.loads(raw_scope)
    asyncio.run(_serve(in_fd, out_fd, scope))
    _flush()
    os._exit(0)  # do not wait for threads a node left behind


if __name__ == "__main__":
    # run the copy imported under the module's own name, not this ``__main__`` one
    from runtree.execution import worker as _worker

    _worker.main()
