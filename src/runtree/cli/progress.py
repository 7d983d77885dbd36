"""The progress bar of ``runtree run`` and ``runtree resume``."""

from __future__ import annotations

import threading
from typing import Any

from rich.console import Console

__all__ = ["ProgressBar"]


class ProgressBar:
    """A rich progress bar over the requests a run creates below its root call."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self._progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._lock = threading.Lock()
        self._task: Any = None
        self._roots: set[str] = set()
        self._created = 0
        self._finished = 0

    def __call__(self, message: Any) -> None:
        from runtree.pubsub.messages import RequestCompletionMessage, RequestCreation

        with self._lock:
            if isinstance(message, RequestCreation):
                if message.parent_id is None:
                    self._roots.add(message.request_id)
                    return
                self._created += 1
            elif isinstance(message, RequestCompletionMessage):
                if message.request_id in self._roots:
                    return
                self._finished += 1
            if self._task is None:
                self._progress.start()
                self._task = self._progress.add_task("requests", total=self._created)
            self._progress.update(self._task, total=self._created, completed=self._finished)

    def stop(self) -> None:
        with self._lock:
            if self._task is not None:
                self._progress.stop()
