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
    commands = [
        [sys.executable, "-m", "tests.store.worker", str(db), "--many", "300", *extra]
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
