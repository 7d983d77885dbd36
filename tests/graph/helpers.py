"""Small helpers for the graph tests."""

from __future__ import annotations

from typing import Any

import runtree as rt


def names(session: rt.Session) -> list[str]:
    """Request names of the run tree, depth-first."""
    return [record.node_name for _, record in session.info.walk()]


def tree(session: rt.Session) -> list[tuple[int, str, str]]:
    """(depth, name, status) of every request, depth-first."""
    return [(depth, r.node_name, r.status) for depth, r in session.info.walk()]


class SleepRecorder:
    """An injectable sleep that records the delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> Any:
        self.delays.append(seconds)
