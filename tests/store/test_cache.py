"""JournalCacheBackend: outputs of CachePolicy(persist=True) nodes in the journal's file —
kept exactly (JSON, or a sealed pickle), refused when tampered with, dropped when expired,
and never able to fail a call when the file misbehaves."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

import runtree as rt
from runtree.policy import PolicyClock
from tests.state.policy_nodes import Kept, count


def rows(journal: Path) -> list[tuple[str, bytes | None, float | None]]:
    with sqlite3.connect(journal) as conn:
        found = conn.execute("SELECT output, replay, expires FROM cache_entries").fetchall()
    conn.close()
    return found


async def run_kept(journal: Path, counter: str, x: int, now: float = 1000.0) -> object:
    clock = PolicyClock(wall=lambda: now)
    async with rt.Session(store=journal, policy_clock=clock) as session:
        output = await rt.call(Kept, counter, x)
    backend = session.state.policies.cache_backend
    assert repr(backend).startswith("<JournalCacheBackend closed")  # closed with the run
    return output


async def test_an_entry_is_kept_with_its_expiry_and_an_exact_copy(tmp_path: Path) -> None:
    journal, counter = tmp_path / "j.db", str(tmp_path / "runs")
    assert await run_kept(journal, counter, 2) == {"double": 4, "pair": (2, 2)}
    ((output, replay, expires),) = rows(journal)
    assert json.loads(output) == {"double": 4, "pair": [2, 2]}  # readable as JSON
    assert replay is not None  # the tuple needs the (sealed) pickle
    assert expires == 1000.0 + 3600
    assert await run_kept(journal, counter, 2) == {"double": 4, "pair": (2, 2)}
    assert count(counter) == 1


async def test_a_tampered_entry_is_refused_and_the_node_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal, counter = tmp_path / "j.db", str(tmp_path / "runs")
    await run_kept(journal, counter, 3)
    with sqlite3.connect(journal) as conn:
        (replay,) = conn.execute("SELECT replay FROM cache_entries").fetchone()
        changed = bytes(replay[:-1]) + bytes([replay[-1] ^ 1])  # one bit of the pickle
        conn.execute("UPDATE cache_entries SET replay = ?", (changed,))
    conn.close()
    with caplog.at_level(logging.WARNING, logger="runtree.store"):
        assert await run_kept(journal, counter, 3) == {"double": 6, "pair": (3, 3)}
    assert count(counter) == 2
    assert "cannot be used" in caplog.text and "not sealed" in caplog.text


async def test_an_expired_entry_is_dropped_from_the_file(tmp_path: Path) -> None:
    journal, counter = tmp_path / "j.db", str(tmp_path / "runs")
    await run_kept(journal, counter, 1)
    await run_kept(journal, counter, 1, now=1000.0 + 3600)  # expired: runs, stored again
    ((_, _, expires),) = rows(journal)
    assert expires == 1000.0 + 7200 and count(counter) == 2


async def test_a_file_that_fails_leaves_the_cache_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal, counter = tmp_path / "j.db", str(tmp_path / "runs")
    async with rt.Session(store=journal) as session:
        with sqlite3.connect(journal) as conn:
            conn.execute("DROP TABLE cache_entries")  # (a file changed under the run)
        conn.close()
        with caplog.at_level(logging.WARNING, logger="runtree.store"):
            assert await rt.call(Kept, counter, 5) == {"double": 10, "pair": (5, 5)}
            assert await rt.call(Kept, counter, 5) == {"double": 10, "pair": (5, 5)}
        backend = session.state.policies.cache_backend
    assert count(counter) == 1  # the second call was a hit from memory
    assert "the cache goes on in memory" in caplog.text
    assert repr(backend).startswith("<JournalCacheBackend memory")
