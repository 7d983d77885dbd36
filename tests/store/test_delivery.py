"""SqliteDeliveryLog: a reliable sender's messages survive the death of its process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import runtree as rt
from runtree.comm import (
    DataMessage,
    DeliveryFailedError,
    DeliveryLog,
    MessageFormatError,
    ReliableSender,
    RetryPolicy,
)
from runtree.store import SqliteDeliveryLog

ROOT = Path(__file__).resolve().parents[2]


async def _no_wait(_: float) -> None:
    return None


def test_is_a_delivery_log_and_records_each_step(tmp_path: Path) -> None:
    with SqliteDeliveryLog(tmp_path / "j.db", name="a") as log:
        assert isinstance(log, DeliveryLog)
        message = DataMessage(payload={"x": 1}, source="test")
        log.record_sent(message)
        log.record_attempt(message.id, 1)
        (pending,) = log.unacked()
        assert pending.message == message
        assert pending.attempts == 1
        log.record_acked(message.id)
        assert log.unacked() == []
        stats = log.statistics()
        assert (stats.sent, stats.acked, stats.dead, stats.unacked) == (1, 1, 0, 0)


def test_logs_with_other_names_do_not_mix(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with SqliteDeliveryLog(path, name="a") as first, SqliteDeliveryLog(path, name="b") as other:
        first.record_sent(DataMessage(payload=1))
        assert other.unacked() == []
        assert len(first.unacked()) == 1


def test_sigkilled_sender_is_redelivered_by_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store.delivery_child", str(path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # bounded by the test timeout
        assert line.startswith("attempting ")
        message_id = line.split()[1]
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()

    delivered: list[DataMessage] = []

    async def receive(message: DataMessage) -> None:
        delivered.append(message)

    async def resend() -> None:
        with SqliteDeliveryLog(path, name="orders") as log:
            (pending,) = log.unacked()
            assert pending.message.id == message_id
            assert pending.attempts == 1  # the attempt the dead process had started
            async with ReliableSender(receive, log=log):  # recover() on entry
                pass
            assert log.unacked() == []
            assert log.statistics().acked == 1

    asyncio.run(resend())
    assert [m.id for m in delivered] == [message_id]
    assert delivered[0].payload == {"order": 42}


async def test_dead_letters_are_kept(tmp_path: Path) -> None:
    async def refuse(message: DataMessage) -> bool:
        return False

    with SqliteDeliveryLog(tmp_path / "j.db", name="orders") as log:
        sender: ReliableSender[str] = ReliableSender(
            refuse, log=log, retry=RetryPolicy(max_attempts=2, base_delay=0.0), sleep=_no_wait
        )
        with pytest.raises(DeliveryFailedError):
            await sender.send("doomed")
        (letter,) = log.dead_letters()
        assert letter.message.payload == "doomed"
        assert letter.attempts == 2
        assert log.unacked() == []
        assert log.statistics().dead == 1


def test_bad_use_is_explained(tmp_path: Path) -> None:
    log = SqliteDeliveryLog(tmp_path / "j.db")
    with pytest.raises(rt.SessionStateError, match="open it first"):
        log.unacked()
    with log, pytest.raises(MessageFormatError, match="JSON-serialisable"):
        log.record_sent(DataMessage(payload=object()))
    with pytest.raises(rt.ConfigurationError, match="name"):
        SqliteDeliveryLog(tmp_path / "j.db", name="")


def test_default_file_is_the_run_journal() -> None:
    from runtree.store import default_store_path

    assert SqliteDeliveryLog().path == default_store_path()
