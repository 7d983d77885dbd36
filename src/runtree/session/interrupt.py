"""Ctrl-C while a session is open: end the run in order, then raise ``KeyboardInterrupt``.

A session entered in the main thread installs an :class:`InterruptGuard` for SIGINT while it
is open. The first Ctrl-C asks the session to end the run (cancel its running calls, so
their requests are recorded ``cancelled`` and the journal sees them end); the session then
raises ``KeyboardInterrupt`` from the place the program was waiting, and prints how to
resume the run. If the session cannot end the run gracefully from where the program is (it
is not waiting for runtree), or on a second Ctrl-C, the previous handler runs (by default:
``KeyboardInterrupt`` at once).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["InterruptGuard", "resume_hint"]


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
        self.count = 0

    def install(self) -> InterruptGuard:
        if threading.current_thread() is not threading.main_thread():
            return self
        previous = signal.getsignal(signal.SIGINT)
        if not callable(previous):  # SIG_IGN / SIG_DFL / set from C: leave it alone
            return self
        self._previous = previous
        signal.signal(signal.SIGINT, self._handle)
        self._installed = True
        return self

    def uninstall(self) -> None:
        if not self._installed:
            return
        self._installed = False
        if signal.getsignal(signal.SIGINT) == self._handle:
            signal.signal(signal.SIGINT, self._previous)

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
