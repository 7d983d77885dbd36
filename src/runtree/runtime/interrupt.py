"""Ctrl-C while a session is open: end the run in order, then raise ``KeyboardInterrupt``.

A session entered in the main thread installs an :class:`InterruptGuard` for SIGINT while it
is open. The first Ctrl-C asks the session to end the run (cancel its running calls, so
their requests are recorded ``cancelled`` and the journal sees them end); the session then
raises ``KeyboardInterrupt`` from the place the program was waiting, and prints how to
resume the run. If the session cannot end the run gracefully from where the program is (it
is not waiting for runtree), or on a second Ctrl-C, the previous handler runs (by default:
``KeyboardInterrupt`` at once).

Python runs a signal handler only when the main thread executes Python code. A signal that
comes just before the main thread blocks in the event loop's ``select`` would wait there
until something else wakes the loop, so while the guard is installed the signal also writes
a byte to a socket the loop watches (``signal.set_wakeup_fd``, as ``asyncio``'s own signal
handling does), which wakes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["INTERRUPTED", "InterruptGuard", "resume_hint"]

#: how an interrupted run ended, for the journal
INTERRUPTED = KeyboardInterrupt("interrupted (Ctrl-C)")


class InterruptGuard:
    """SIGINT handler for one open session (installed only in the main thread, and only
    over a Python-level handler such as the default one)."""

    def __init__(self, on_interrupt: Callable[[FrameType | None], bool]) -> None:
        #: called on the first Ctrl-C, in the main thread, with the frame it interrupted;
        #: ``True`` means "handled: the session raises KeyboardInterrupt itself once the run
        #: has ended"
        self._on_interrupt = on_interrupt
        self._previous: Any = None
        self._installed = False
        self._wakeup: tuple[socket.socket, socket.socket, asyncio.AbstractEventLoop] | None
        self._wakeup = None
        self.count = 0

    def install(self, loop: asyncio.AbstractEventLoop) -> InterruptGuard:
        """Handle SIGINT while the session is open; ``loop`` (the session's, run by this
        thread) is woken when the signal comes."""
        if threading.current_thread() is not threading.main_thread():
            return self
        previous = signal.getsignal(signal.SIGINT)
        if not callable(previous):  # SIG_IGN / SIG_DFL / set from C: leave it alone
            return self
        self._previous = previous
        signal.signal(signal.SIGINT, self._handle)
        self._installed = True
        self._watch(loop)
        return self

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        old = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        if old != -1:  # someone already wakes a loop on signals (asyncio's add_signal_handler)
            signal.set_wakeup_fd(old)
            reader.close()
            writer.close()
            return
        try:
            loop.add_reader(reader.fileno(), _drain, reader)
        except (NotImplementedError, RuntimeError):  # a loop without add_reader
            signal.set_wakeup_fd(-1)
            reader.close()
            writer.close()
            return
        self._wakeup = (reader, writer, loop)

    def uninstall(self) -> None:
        if not self._installed:
            return
        self._installed = False
        if signal.getsignal(signal.SIGINT) == self._handle:
            signal.signal(signal.SIGINT, self._previous)
        if self._wakeup is not None:
            reader, writer, loop = self._wakeup
            self._wakeup = None
            current = signal.set_wakeup_fd(-1)
            if current != writer.fileno():  # not ours any more: put it back
                signal.set_wakeup_fd(current)
            if not loop.is_closed():
                loop.remove_reader(reader.fileno())
            reader.close()
            writer.close()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count == 1 and self._on_interrupt(frame):
            return
        self._previous(signum, frame)


def resume_hint(run_id: str) -> None:
    """Print the one line that says how to resume an interrupted run (stderr; the same line
    as ``runtree run`` prints)."""
    short = run_id[:12]  # `runtree resume` takes any unambiguous prefix
    print(
        f"runtree: interrupted (run {short}); resume it: runtree resume {short}",
        file=sys.stderr,
        flush=True,
    )


def _drain(reader: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while reader.recv(4096):
            pass
