"""The run log: ``Session(logging_setting=..., log_file=...)`` shows what a run does.

It is a subscriber of the session's lifecycle messages (so it costs nothing when off and
never slows the run), writing through a handler of its own — standard error, or
``log_file`` — so sessions running side by side never mix their lines and the
application's own logging configuration is left alone.

Levels: ``DEBUG`` shows every request starting and ending; ``INFO`` failures, fatal
failures and the end of the run; ``WARNING`` and up only failures.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from runtree.pubsub.messages import (
    FatalFailure,
    Message,
    RequestCreation,
    RequestFailure,
    RequestSuccess,
)
from runtree.pubsub.publisher import RTPublisher

__all__ = ["RunLog"]

_FORMAT = "%(asctime)s %(levelname)-7s runtree[%(run)s] %(message)s"


class RunLog:
    """Writes one run's lifecycle to a stream or a file, from ``level`` up."""

    def __init__(
        self, *, run_id: str, name: str | None, level: int, log_file: str | os.PathLike[str] | None
    ) -> None:
        self.run_label = name or run_id[:8]
        self.level = level
        self._log_file = log_file
        self._handler: logging.Handler | None = None
        self._logger = logging.getLogger(f"runtree.run.{run_id}")
        self._started = time.monotonic()

    def open(self, publisher: RTPublisher) -> None:
        """Start writing (opens ``log_file`` for appending)."""
        if self._log_file is not None:
            handler: logging.Handler = logging.FileHandler(self._log_file, encoding="utf-8")
        else:
            handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler.setLevel(self.level)
        self._handler = handler
        topics: tuple[type[Message], ...] = (RequestFailure, FatalFailure)
        if self.level <= logging.DEBUG:
            topics = (RequestCreation, RequestSuccess, RequestFailure, FatalFailure)
        publisher.subscribe(self._on_message, topics=topics, name="run-log")
        self._emit(logging.INFO, "run started")

    def close(self, status: str, error: str | None) -> None:
        """Write how the run ended and release the handler."""
        took = time.monotonic() - self._started
        level = logging.INFO if status == "succeeded" else logging.WARNING
        detail = f": {error}" if error else ""
        self._emit(level, f"run {status} after {took:.3f} s{detail}")
        handler, self._handler = self._handler, None
        if handler is not None:
            handler.close()

    def _on_message(self, message: Message) -> None:
        if isinstance(message, RequestCreation):
            parent = f" under {message.parent_id}" if message.parent_id else ""
            self._emit(logging.DEBUG, f"{message.node_name} {message.request_id} started{parent}")
        elif isinstance(message, RequestSuccess):
            took = (message.end_time - message.start_time) * 1000.0
            self._emit(
                logging.DEBUG, f"{message.node_name} {message.request_id} done in {took:.2f} ms"
            )
        elif isinstance(message, RequestFailure):
            what = "cancelled" if message.cancelled else "failed"
            level = logging.DEBUG if message.cancelled else logging.WARNING
            self._emit(
                level,
                f"{message.node_name} {message.request_id} {what}: {_describe(message.error)}",
            )
        elif isinstance(message, FatalFailure):
            self._emit(logging.ERROR, f"the run ends: {_describe(message.error)}")

    def _emit(self, level: int, text: str) -> None:
        handler = self._handler
        if handler is None or level < self.level:
            return
        record = self._logger.makeRecord(
            self._logger.name, level, __file__, 0, text, (), None, extra={"run": self.run_label}
        )
        handler.handle(record)


def _describe(error: Any) -> str:
    try:
        return f"{type(error).__name__}: {error}"
    except Exception:
        return type(error).__name__
