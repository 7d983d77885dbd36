"""The live feed of one run: what changed in the journal since the last look.

A :class:`LiveFeed` keeps one read-only connection and, on each :meth:`LiveFeed.poll`, asks
SQLite whether anyone committed since (``PRAGMA data_version``, no table read). Only then
does it read: requests created after the last sequence number it sent (at most
``MAX_PAGE``), the requests it saw running (primary-key lookups, at most ``MAX_CHECKED``,
round-robin), new events, and the run row. The run's totals (a scan of its requests) are
re-read at most every ``totals_every`` seconds. Each poll is thus bounded, and an idle
journal costs one pragma.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from runtree.viz.query import MAX_CHECKED, MAX_PAGE, Query

__all__ = ["LiveFeed"]


class LiveFeed:
    """Changes of run ``run_id`` after request ``seq`` and event ``event``."""

    def __init__(
        self,
        query: Query,
        run_id: str,
        *,
        seq: int = 0,
        event: int = 0,
        totals_every: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.query = query
        self.run_id = run_id
        self.seq = seq
        self.event = event
        self.finished = False
        self._version: int | None = None
        self._more = True  # read on the first poll whatever the version says
        self._running: dict[str, None] = dict.fromkeys(query.running_ids(run_id))
        self._totals_every = totals_every
        self._clock = clock
        self._totals_at: float | None = None

    def poll(self) -> dict[str, Any] | None:
        """The changes since the last poll (``None`` if nothing was committed)."""
        query = self.query
        version = query.data_version()
        if version == self._version and not self._more:
            return None
        self._version = version
        new = query.new_requests(self.run_id, self.seq)
        if new:
            self.seq = new[-1]["seq"] or self.seq
        running = self._running
        for item in new:
            if item["status"] == "running":
                running[item["request_id"]] = None
        checked = list(running)[:MAX_CHECKED]
        ended = [
            item
            for item in query.requests_by_id(self.run_id, checked)
            if item["status"] != "running" and item["request_id"] in running
        ]
        for item in ended:
            del running[item["request_id"]]
        for request_id in checked[: len(checked) - len(ended)]:  # round-robin the rest
            if request_id in running:
                running[request_id] = running.pop(request_id)
        events = query.events(self.run_id, after=self.event, limit=MAX_PAGE)["items"]
        if events:
            self.event = events[-1]["seq"]
        self._more = len(new) >= MAX_PAGE or len(events) >= MAX_PAGE
        run = query.run_status(self.run_id)
        if run is None:  # the run disappeared (another file copied over this one)
            self.finished = True
            return {"run": None, "requests": [], "events": [], "seq": self.seq}
        done = run["status"] != "running" and not self._more
        changed = bool(new or ended or events)
        message: dict[str, Any] = {
            "run": run,
            "requests": [*new, *(item for item in ended if item["seq"] <= self.seq)],
            "events": events,
            "seq": self.seq,
            "event": self.event,
        }
        now = self._clock()
        if done or (
            changed and (self._totals_at is None or now - self._totals_at >= self._totals_every)
        ):
            message["totals"] = query.run(self.run_id)
            self._totals_at = now
        self.finished = done
        return message if changed or done or "totals" in message else None
