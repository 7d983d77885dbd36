"""The live display of ``runtree run`` and ``runtree resume`` on a terminal: how many
requests are running and how many finished (an indeterminate bar: nobody knows how many
requests a run will make), with the items nodes ``broadcast`` printed above it."""

from __future__ import annotations

import threading
from typing import Any

from rich.console import Console
from rich.text import Text

__all__ = ["ProgressDisplay"]


class ProgressDisplay:
    """A subscriber of the session's publisher: request creations and completions update the
    counts, ``broadcast`` items are printed above the bar. Starts at the first message."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(),
            "{task.description}",
            BarColumn(),
            TimeElapsedColumn(),
            console=console if console is not None else Console(stderr=True),
            transient=True,
        )
        self._lock = threading.Lock()
        self._task: Any = None
        self._running = 0
        self._finished = 0
        self._failed = 0

    def description(self) -> str:
        text = f"requests: {self._running} running, {self._finished} finished"
        return text + (f" ({self._failed} failed)" if self._failed else "")

    def __call__(self, message: Any) -> None:
        from runtree.pubsub.messages import (
            RequestCompletionMessage,
            RequestCreation,
            RequestFailure,
            Streaming,
        )

        with self._lock:
            if isinstance(message, Streaming):
                self._start()
                item = message.item
                self._progress.update(self._task, description=self.description())
                self._progress.refresh()  # the bar drawn below the item shows today's counts
                self._progress.console.print(Text(item if isinstance(item, str) else repr(item)))
                return
            if isinstance(message, RequestCreation):
                self._running += 1
            elif isinstance(message, RequestCompletionMessage):
                self._running -= 1
                self._finished += 1
                if isinstance(message, RequestFailure):
                    self._failed += 1
            else:
                return
            self._start()
            self._progress.update(self._task, description=self.description())

    def _start(self) -> None:
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(self.description(), total=None)

    def stop(self) -> None:
        with self._lock:
            if self._task is not None:
                self._progress.stop()
