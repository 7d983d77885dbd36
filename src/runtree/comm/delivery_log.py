"""What a reliable sender remembers: the ``DeliveryLog`` protocol and dead letters.

A :class:`DeliveryLog` records each message when it is sent, each attempt *before* it is made,
and the end of the message: acknowledged or dead. ``unacked()`` returns what was sent but
never settled, so a new :class:`~runtree.comm.sender.ReliableSender` on the same log redelivers
it (at-least-once). :class:`InMemoryDeliveryLog` keeps this in memory; a journal-backed
implementation (SQLite) makes it survive a crash of the process.

Every method is synchronous and must be quick: it is called on the sender's event loop.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as _dt
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from runtree.comm.message import CommMessage
from runtree.comm.registry import notify
from runtree.errors import ConfigurationError

__all__ = [
    "DeadLetter",
    "DeadLetterQueue",
    "DeadLetterQueueStatistics",
    "DeliveryLog",
    "DeliveryLogStatistics",
    "InMemoryDeliveryLog",
    "PendingDelivery",
]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PendingDelivery:
    """A message sent but neither acknowledged nor dead, with the attempts already started."""

    message: CommMessage
    attempts: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """A message that used every attempt: why (``reason``), how often, and when."""

    message: CommMessage
    reason: str
    attempts: int
    error_type: str | None
    dead_at: _dt.datetime

    def to_dict(self) -> dict[str, object]:
        return {
            "message": self.message.to_dict(),
            "reason": self.reason,
            "attempts": self.attempts,
            "error_type": self.error_type,
            "dead_at": self.dead_at.isoformat(),
        }


@runtime_checkable
class DeliveryLog(Protocol):
    """Where a :class:`~runtree.comm.sender.ReliableSender` records its deliveries."""

    def record_sent(self, message: CommMessage) -> None:
        """``message`` is about to be delivered for the first time."""

    def record_attempt(self, message_id: str, attempt: int) -> None:
        """Attempt number ``attempt`` (1-based) of ``message_id`` is starting."""

    def record_acked(self, message_id: str) -> None:
        """``message_id`` was acknowledged: it is settled."""

    def record_dead(self, letter: DeadLetter) -> None:
        """``letter.message`` used every attempt: it is settled, as a dead letter."""

    def unacked(self) -> list[PendingDelivery]:
        """Messages sent but not settled, oldest first."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryLogStatistics:
    """Counters of a delivery log: messages sent, acknowledged, dead, and still unsettled."""

    sent: int
    acked: int
    dead: int
    unacked: int


class _Entry:
    __slots__ = ("attempts", "message")

    def __init__(self, message: CommMessage) -> None:
        self.message = message
        self.attempts = 0


class InMemoryDeliveryLog:
    """A :class:`DeliveryLog` in memory: survives a sender, not the process.

    Settled messages are forgotten (only counted); dead letters are kept in ``dead_letters``.
    """

    def __init__(self) -> None:
        self._open: dict[str, _Entry] = {}
        self.dead_letters: list[DeadLetter] = []
        self._sent = 0
        self._acked = 0

    def record_sent(self, message: CommMessage) -> None:
        if message.id not in self._open:
            self._sent += 1
            self._open[message.id] = _Entry(message)

    def record_attempt(self, message_id: str, attempt: int) -> None:
        entry = self._open.get(message_id)
        if entry is not None:
            entry.attempts = attempt

    def record_acked(self, message_id: str) -> None:
        if self._open.pop(message_id, None) is not None:
            self._acked += 1

    def record_dead(self, letter: DeadLetter) -> None:
        self._open.pop(letter.message.id, None)
        self.dead_letters.append(letter)

    def unacked(self) -> list[PendingDelivery]:
        return [
            PendingDelivery(message=entry.message, attempts=entry.attempts)
            for entry in self._open.values()
        ]

    def statistics(self) -> DeliveryLogStatistics:
        return DeliveryLogStatistics(
            sent=self._sent, acked=self._acked, dead=len(self.dead_letters), unacked=len(self._open)
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetterQueueStatistics:
    """Size of a :class:`DeadLetterQueue`; ``dropped`` counts letters evicted when full."""

    name: str
    size: int
    max_size: int
    total: int
    dropped: int


class DeadLetterQueue:
    """A bounded, inspectable list of :class:`DeadLetter` (oldest evicted and counted)."""

    def __init__(self, *, name: str = "dead-letters", max_size: int = 10_000) -> None:
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ConfigurationError(f"max_size must be an int >= 1, got {max_size!r}")
        self.name = name
        self.max_size = max_size
        self._letters: collections.deque[DeadLetter] = collections.deque()
        self._total = 0
        self._dropped = 0

    def append(self, letter: DeadLetter) -> None:
        if len(self._letters) >= self.max_size:
            self._letters.popleft()
            self._dropped += 1
            notify("dead_letters.dropped", self.name, self._dropped)
        self._letters.append(letter)
        self._total += 1

    def __len__(self) -> int:
        return len(self._letters)

    def __iter__(self) -> Iterator[DeadLetter]:
        return iter(tuple(self._letters))

    def __bool__(self) -> bool:
        return bool(self._letters)

    def letters(self) -> tuple[DeadLetter, ...]:
        """Every letter held, oldest first."""
        return tuple(self._letters)

    def drain(self) -> list[DeadLetter]:
        """Remove and return every letter held, oldest first."""
        letters = list(self._letters)
        self._letters.clear()
        return letters

    def statistics(self) -> DeadLetterQueueStatistics:
        return DeadLetterQueueStatistics(
            name=self.name,
            size=len(self._letters),
            max_size=self.max_size,
            total=self._total,
            dropped=self._dropped,
        )
