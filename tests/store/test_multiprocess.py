"""Several processes write to one journal file at the same time."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from runtree.store import SqliteRunStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(120)
def test_two_processes_write_one_file_concurrently(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RT_TEST_PAUSE_AT", None)
    many = ["--workload", "many", "--size", "300"]
    commands = [
        [sys.executable, "-m", "tests.store.fault_child", str(db), *many, *extra]
        for extra in (["--durability", "batch"], ["--durability", "sync"])
    ]
    procs = [
        subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for cmd in commands
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=100)
        assert proc.returncode == 0, err
        outputs.append(out.splitlines())
    run_ids = [line.split()[1] for out in outputs for line in out if line.startswith("RUN ")]
    assert len(run_ids) == 10
    expected = sum(x * 10 for x in range(300))
    assert all(
        line == f"RESULT {expected}"
        for out in outputs
        for line in out
        if line.startswith("RESULT ")
    )
    with SqliteRunStore(db) as store:
        runs = {r.run_id: r for r in store.list_runs()}
        assert set(runs) == set(run_ids)
        for run_id in run_ids:
            assert runs[run_id].status == "succeeded"
            assert runs[run_id].request_count == 301
            assert store.statistics().errors == 0
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


_OPENER = """
import os, sys
import runtree as rt
from tests.store.nodes import Leaf

path, gate = sys.argv[1], sys.argv[2]
open(f"{gate}.{os.getpid()}", "w").close()  # ready
while not os.path.exists(gate):  # every process opens the new journal at the same moment
    pass
with rt.Session(store=path, durability=sys.argv[3]) as session:
    for i in range(20):
        rt.call_sync(Leaf, i)
print(session.run_id)
"""


@pytest.mark.timeout(120)
def test_many_processes_create_and_write_one_new_journal_at_once(tmp_path: Path) -> None:
    """No "database is locked": a busy writer makes the others wait, never fail."""
    import time

    db = tmp_path / "new" / "shared.db"
    gate = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, str(db), str(gate), durability],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for durability in ["batch", "sync"] * 4
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("go.*"))) < len(procs):  # every interpreter is ready
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    gate.touch()
    run_ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=100)
        assert proc.returncode == 0, err
        run_ids.append(out.strip())
    with SqliteRunStore(db, readonly=True) as store:
        runs = {r.run_id: r for r in store.list_runs()}
        assert set(runs) == set(run_ids)
        assert {r.status for r in runs.values()} == {"succeeded"}
        assert {r.request_count for r in runs.values()} == {20}
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    leftovers = [p.name for p in db.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
