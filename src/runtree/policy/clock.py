"""``PolicyClock``: where a run's policies get the time, so tests need no real waiting."""

from __future__ import annotations

import asyncio
import dataclasses
import random as _random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from runtree.errors import ConfigurationError

__all__ = ["Clock", "PolicyClock", "Sleep"]

#: Seconds from an arbitrary start (``time.monotonic`` by default).
Clock = Callable[[], float]
#: ``await sleep(seconds)`` (``asyncio.sleep`` by default).
Sleep = Callable[[float], Awaitable[Any]]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PolicyClock:
    """The time sources of a run's policies.

    * ``monotonic``: rate-limit windows.
    * ``wall``: cache entry ages (wall time, so entries kept in a journal file expire across
      runs too).
    * ``sleep``: the wait between attempts, a rate limit's wait, and an attempt's timeout
      (the attempt times out when ``sleep(timeout)`` returns first).
    * ``random``: a number in ``[0, 1)`` for backoff jitter.
    """

    monotonic: Clock = time.monotonic
    wall: Clock = time.time
    sleep: Sleep = asyncio.sleep
    random: Callable[[], float] = _random.random

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if not callable(getattr(self, f.name)):
                raise ConfigurationError(
                    f"PolicyClock.{f.name} must be callable, got {getattr(self, f.name)!r}"
                )
