from __future__ import annotations

import asyncio
import datetime as dt
import pickle

import pytest

import runtree.comm as comm
from runtree.errors import ConfigurationError

NOW = dt.datetime(2024, 1, 15, tzinfo=dt.timezone.utc)


class FakeTime:
    """Records the backoff waits instead of sleeping."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def clock(self) -> dt.datetime:
        return NOW


class Receiver:
    """Fails the first `failures` deliveries of each message, then acknowledges."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: dict[str, int] = {}
        self.accepted: list[object] = []

    def __call__(self, message: comm.CommMessage) -> None:
        n = self.calls[message.id] = self.calls.get(message.id, 0) + 1
        if n <= self.failures:
            raise ConnectionError(f"attempt {n} lost")
        assert isinstance(message, comm.DataMessage)
        self.accepted.append(message.payload)


def sender_for(deliver: object, time: FakeTime, **kwargs: object) -> comm.ReliableSender[object]:
    return comm.ReliableSender(
        deliver,  # type: ignore[arg-type]
        sleep=time.sleep,
        clock=time.clock,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_delivery_is_retried_until_acknowledged() -> None:
    time = FakeTime()
    receiver = Receiver(failures=2)
    retry = comm.RetryPolicy(max_attempts=3, backoff="exponential", base_delay=1.0)
    sender = sender_for(receiver, time, retry=retry, name="s")
    receipt = await sender.send({"n": 1})
    assert receipt.acked and receipt.attempts == 3
    assert receiver.accepted == [{"n": 1}]
    assert time.sleeps == [1.0, 2.0]
    stats = sender.statistics()
    assert (stats.sent, stats.attempts, stats.acked, stats.retries, stats.dead) == (1, 3, 1, 2, 0)


async def test_a_failing_delivery_is_retried_then_dead_lettered() -> None:
    time = FakeTime()
    log = comm.InMemoryDeliveryLog()
    retry = comm.RetryPolicy(max_attempts=3, backoff="linear", base_delay=0.5)
    sender = sender_for(Receiver(failures=99), time, retry=retry, log=log)
    with pytest.raises(comm.DeliveryFailedError) as info:
        await sender.send("payload")
    letter = info.value.dead_letter
    assert letter.attempts == 3
    assert letter.reason == "ConnectionError: attempt 3 lost"
    assert letter.error_type == "ConnectionError"
    assert letter.dead_at == NOW
    assert isinstance(letter.message, comm.DataMessage) and letter.message.payload == "payload"
    assert time.sleeps == [0.5, 1.0]
    assert sender.dead_letters.letters() == (letter,)
    assert log.dead_letters == [letter]
    assert log.unacked() == []
    assert sender.statistics().dead == 1
    assert letter.to_dict()["attempts"] == 3
    assert pickle.loads(pickle.dumps(info.value)).dead_letter == letter


async def test_returning_false_is_a_nack() -> None:
    time = FakeTime()
    answers = iter([False, True])
    sender = sender_for(lambda m: next(answers), time, retry=comm.RetryPolicy(base_delay=0))
    receipt = await sender.send(1)
    assert receipt.attempts == 2


async def test_retry_on_and_retry_after_hints_apply_to_deliveries() -> None:
    time = FakeTime()
    only_timeouts = comm.RetryPolicy(max_attempts=5, base_delay=1.0, retry_on=TimeoutError)
    sender = sender_for(Receiver(failures=9), time, retry=only_timeouts)
    with pytest.raises(comm.DeliveryFailedError) as info:
        await sender.send("x")
    assert info.value.dead_letter.attempts == 1 and time.sleeps == []  # not a TimeoutError

    class SlowDown(Exception):
        retry_after = 7.0

    failures = iter([SlowDown(), None])

    def throttled(message: comm.CommMessage) -> None:
        failure = next(failures)
        if failure is not None:
            raise failure

    receipt = await sender_for(throttled, time, retry=comm.RetryPolicy(max_delay=30)).send("y")
    assert receipt.attempts == 2 and time.sleeps == [7.0]
    answers = iter([False, True])  # a nack is retried whatever retry_on says
    receipt = await sender_for(lambda m: next(answers), time, retry=only_timeouts).send("z")
    assert receipt.attempts == 2 and time.sleeps == [7.0, 1.0]


async def test_ack_timeout_counts_as_a_failed_attempt() -> None:
    time = FakeTime()
    never = asyncio.Event()

    async def hangs(message: comm.CommMessage) -> None:
        await never.wait()

    sender = sender_for(
        hangs, time, retry=comm.RetryPolicy(max_attempts=2, base_delay=0), ack_timeout=0.01
    )
    with pytest.raises(comm.DeliveryFailedError) as info:
        await sender.send(1)
    assert "no acknowledgement within 0.01s" in info.value.dead_letter.reason


async def test_unacked_messages_are_redelivered_after_a_crash() -> None:
    time = FakeTime()
    log = comm.InMemoryDeliveryLog()
    started = asyncio.Event()
    never = asyncio.Event()

    async def stuck(message: comm.CommMessage) -> None:
        started.set()
        await never.wait()

    first = sender_for(stuck, time, log=log)
    crashed = asyncio.ensure_future(first.send("important"))
    await started.wait()
    crashed.cancel()  # the process "dies" mid-delivery
    with pytest.raises(asyncio.CancelledError):
        await crashed
    (pending,) = log.unacked()
    assert pending.attempts == 1

    receiver = Receiver(failures=0)
    async with sender_for(receiver, time, log=log) as second:
        pass
    assert receiver.accepted == ["important"]
    assert log.unacked() == []
    stats = second.statistics()
    assert (stats.recovered, stats.acked) == (1, 1)
    assert log.statistics().acked == 1


async def test_recovery_counts_earlier_attempts() -> None:
    time = FakeTime()
    log = comm.InMemoryDeliveryLog()
    message = comm.DataMessage(payload="x")
    log.record_sent(message)
    log.record_attempt(message.id, 3)  # every attempt used before the crash
    sender = sender_for(Receiver(failures=0), time, log=log, retry=comm.RetryPolicy(max_attempts=3))
    (receipt,) = await sender.recover()
    assert receipt.status == "dead"
    assert receipt.dead_letter is not None
    assert receipt.dead_letter.reason == "attempts exhausted before recovery"


def test_retry_policy_delays() -> None:
    assert comm.RetryPolicy(max_attempts=4, base_delay=1).delays() == (1.0, 2.0, 4.0)
    assert comm.RetryPolicy(max_attempts=4, backoff="linear", base_delay=1).delays() == (
        1.0,
        2.0,
        3.0,
    )
    assert comm.RetryPolicy(max_attempts=3, backoff="fixed", base_delay=2).delays() == (2.0, 2.0)
    capped = comm.RetryPolicy(max_attempts=10, base_delay=1, max_delay=5)
    assert max(capped.delays()) == 5
    jittered = comm.RetryPolicy(base_delay=10, jitter=0.5)
    assert jittered.delay(1, random=lambda: 0.0) == 5.0
    assert jittered.delay(1, random=lambda: 1.0) == 15.0
    with pytest.raises(ValueError):
        jittered.delay(0)


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"max_attempts": 0}, "retry.max_attempts"),
        ({"max_attempts": 1.5}, "retry.max_attempts"),
        ({"backoff": "random"}, "retry.backoff"),
        ({"base_delay": -1}, "retry.base_delay"),
        ({"jitter": 2}, "retry.jitter"),
    ],
)
def test_retry_policy_validation(kwargs: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigurationError, match=path):
        comm.RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_dead_letter_queue_is_bounded_and_counts_evictions() -> None:
    dlq = comm.DeadLetterQueue(max_size=2)
    letters = [
        comm.DeadLetter(
            message=comm.DataMessage(payload=i),
            reason="r",
            attempts=1,
            error_type=None,
            dead_at=NOW,
        )
        for i in range(3)
    ]
    for letter in letters:
        dlq.append(letter)
    assert list(dlq) == letters[1:]
    stats = dlq.statistics()
    assert (stats.size, stats.total, stats.dropped) == (2, 3, 1)
    assert dlq.drain() == letters[1:] and not dlq


def test_in_memory_log_is_a_delivery_log() -> None:
    assert isinstance(comm.InMemoryDeliveryLog(), comm.DeliveryLog)
