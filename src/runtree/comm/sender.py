"""``ReliableSender``: at-least-once delivery with acknowledgement, retries and dead letters.

``deliver(message)`` (sync or async) hands a message to its receiver. The delivery is
*acknowledged* when it returns anything but ``False``; it is a failed attempt when it returns
``False`` (an explicit nack), raises, or takes longer than ``ack_timeout`` (a
``TimeoutError``). Failed attempts are retried after the :class:`~runtree.comm.retry.RetryPolicy`'s
backoff (an exception not in its ``retry_on`` is not retried; one with a ``retry_after`` hint
waits that long); after the last one the message becomes a
:class:`~runtree.comm.delivery_log.DeadLetter` in ``dead_letters``.

Every step is recorded in a :class:`~runtree.comm.delivery_log.DeliveryLog` (sent, each attempt
before it starts, acked or dead). ``recover()`` (run on ``async with`` entry) redelivers what
the log holds unsettled, e.g. after a crash when the log is durable. A receiver may therefore
see a message more than once: deduplicate by ``message.id``.

Time is injectable: ``sleep`` (the backoff wait), ``clock`` (dead-letter timestamps) and
``random`` (jitter), so tests never wait on the wall clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
import logging
import random as _random
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Literal, TypeVar

from runtree.comm._support import call_maybe_async, unique_name
from runtree.comm.delivery_log import DeadLetter, DeadLetterQueue, DeliveryLog, InMemoryDeliveryLog
from runtree.comm.errors import DeliveryFailedError
from runtree.comm.message import CommMessage, DataMessage, utc_now
from runtree.comm.registry import CommRegistry, notify, register
from runtree.comm.retry import RetryPolicy
from runtree.errors import ConfigurationError

__all__ = ["DeliveryReceipt", "ReliableSender", "ReliableSenderStatistics"]

logger = logging.getLogger("runtree.comm")
T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryReceipt:
    """How a delivery ended: ``"acked"`` after ``attempts`` attempts, or ``"dead"``."""

    message_id: str
    status: Literal["acked", "dead"]
    attempts: int
    dead_letter: DeadLetter | None = None

    @property
    def acked(self) -> bool:
        return self.status == "acked"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReliableSenderStatistics:
    """Counters of a :class:`ReliableSender` (``retries`` counts redeliveries)."""

    name: str
    sent: int
    attempts: int
    acked: int
    retries: int
    dead: int
    recovered: int
    in_flight: int
    dead_letters: int


class ReliableSender(Generic[T]):
    """Deliver messages at least once through ``deliver``; see the module docstring."""

    def __init__(
        self,
        deliver: Callable[[CommMessage], object | Awaitable[object]],
        *,
        retry: RetryPolicy | None = None,
        log: DeliveryLog | None = None,
        dead_letters: DeadLetterQueue | None = None,
        ack_timeout: float | None = None,
        name: str | None = None,
        source: str | None = None,
        recover_on_start: bool = True,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], _dt.datetime] = utc_now,
        random: Callable[[], float] = _random.random,
        registry: CommRegistry | None = None,
    ) -> None:
        if not callable(deliver):
            raise ConfigurationError(f"deliver must be callable, got {deliver!r}")
        if ack_timeout is not None and (isinstance(ack_timeout, bool) or ack_timeout <= 0):
            raise ConfigurationError(f"ack_timeout must be None or > 0, got {ack_timeout!r}")
        self._name = name or unique_name("sender")
        self.deliver = deliver
        self.retry = retry if retry is not None else RetryPolicy()
        self.log: DeliveryLog = log if log is not None else InMemoryDeliveryLog()
        self.dead_letters = (
            dead_letters
            if dead_letters is not None
            else DeadLetterQueue(name=f"{self._name}.dead-letters")
        )
        self.ack_timeout = ack_timeout
        self.source = source
        self.recover_on_start = recover_on_start
        self._sleep = sleep
        self._clock = clock
        self._random = random
        self._in_flight: set[str] = set()
        self._sent = 0
        self._attempts = 0
        self._acked = 0
        self._retries = 0
        self._dead = 0
        self._recovered = 0
        register(self, registry)

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<ReliableSender {self._name!r} acked={self._acked} dead={self._dead}>"

    def statistics(self) -> ReliableSenderStatistics:
        return ReliableSenderStatistics(
            name=self._name,
            sent=self._sent,
            attempts=self._attempts,
            acked=self._acked,
            retries=self._retries,
            dead=self._dead,
            recovered=self._recovered,
            in_flight=len(self._in_flight),
            dead_letters=len(self.dead_letters),
        )

    # -- sending -------------------------------------------------------------------------------

    async def send(self, payload: T | CommMessage, *, source: str | None = None) -> DeliveryReceipt:
        """Deliver ``payload`` (wrapped in a :class:`DataMessage` unless it is an envelope).

        Returns the receipt once acknowledged; raises :class:`DeliveryFailedError` (with the
        dead letter) once every attempt failed. Cancelling leaves the message unsettled in the
        log, to be redelivered by :meth:`recover`.
        """
        if isinstance(payload, CommMessage):
            message: CommMessage = payload
        else:
            message = DataMessage(payload=payload, source=source or self.source)
        self.log.record_sent(message)
        self._sent += 1
        receipt = await self._run(message, 0)
        if receipt.dead_letter is not None:
            letter = receipt.dead_letter
            raise DeliveryFailedError(
                f"message {message.id} from {self._name!r} dead-lettered after "
                f"{letter.attempts} attempt(s): {letter.reason}",
                dead_letter=letter,
            )
        return receipt

    async def recover(self) -> tuple[DeliveryReceipt, ...]:
        """Redeliver every message the log holds unsettled (not already in flight here).

        Attempts already made count toward ``max_attempts``. Returns one receipt per message;
        dead letters are reported in the receipts, not raised.
        """
        pending = [p for p in self.log.unacked() if p.message.id not in self._in_flight]
        if not pending:
            return ()
        self._recovered += len(pending)
        notify("sender.recovering", self._name, len(pending))
        return tuple(await asyncio.gather(*(self._run(p.message, p.attempts) for p in pending)))

    async def _run(self, message: CommMessage, done: int) -> DeliveryReceipt:
        message_id = message.id
        self._in_flight.add(message_id)
        try:
            attempt = done
            reason, error_type = "attempts exhausted before recovery", None
            wait: float | None = 0.0
            while attempt < self.retry.max_attempts and wait is not None:
                if attempt > done:
                    self._retries += 1
                    await self._sleep(wait)
                attempt += 1
                self.log.record_attempt(message_id, attempt)
                self._attempts += 1
                failure = await self._attempt(message)
                if failure is None:
                    self.log.record_acked(message_id)
                    self._acked += 1
                    return DeliveryReceipt(message_id=message_id, status="acked", attempts=attempt)
                reason, error_type, error = failure
                wait = self._wait(error, attempt)
                logger.info(
                    "delivery %s of %r failed (attempt %d/%d): %s",
                    message_id,
                    self._name,
                    attempt,
                    self.retry.max_attempts,
                    reason,
                )
            letter = DeadLetter(
                message=message,
                reason=reason,
                attempts=attempt,
                error_type=error_type,
                dead_at=self._clock(),
            )
            self.log.record_dead(letter)
            self.dead_letters.append(letter)
            self._dead += 1
            notify("sender.dead_letter", self._name, {"id": message_id, "reason": reason})
            return DeliveryReceipt(
                message_id=message_id, status="dead", attempts=attempt, dead_letter=letter
            )
        finally:
            self._in_flight.discard(message_id)

    def _wait(self, error: BaseException, attempt: int) -> float | None:
        """Seconds before the next attempt, or ``None``: no more (a nack is always worth
        another attempt; an exception only when the policy retries it)."""
        if isinstance(error, _Rejected):
            if attempt >= self.retry.max_attempts:
                return None
            return self.retry.delay(attempt, random=self._random)
        return self.retry.next_delay(error, attempt, random=self._random)

    async def _attempt(self, message: CommMessage) -> tuple[str, str | None, BaseException] | None:
        """``None`` when acknowledged, else ``(reason, error type name, the failure)`` (a
        nack is a :class:`_Rejected`, a missing acknowledgement a ``TimeoutError``)."""
        try:
            if self.ack_timeout is None:
                result: Any = await call_maybe_async(self.deliver, message)
            else:
                task = asyncio.ensure_future(call_maybe_async(self.deliver, message))
                try:
                    done, _ = await asyncio.wait({task}, timeout=self.ack_timeout)
                finally:
                    if not task.done():
                        task.cancel()
                if not done:
                    await asyncio.wait({task})  # let it finish cancelling
                    reason = f"no acknowledgement within {self.ack_timeout}s"
                    return (reason, "TimeoutError", TimeoutError(reason))
                result = task.result()
        except Exception as exc:
            return (f"{type(exc).__name__}: {exc}", type(exc).__qualname__, exc)
        if result is False:
            reason = "rejected by the receiver (returned False)"
            return (reason, None, _Rejected(reason))
        return None

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> ReliableSender[T]:
        if self.recover_on_start:
            await self.recover()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


class _Rejected(Exception):
    """A delivery the receiver refused (returned ``False``): always worth another attempt."""
