"""SIGKILL a worker at many points of a ``durability="sync"`` run, then resume it.

Each kill point is reached deterministically: the worker announces ``PAUSED <label>`` and
blocks there, or (free-running) the test kills it as soon as it has reported ``k`` results,
wherever it is by then. After each kill: the file passes ``PRAGMA integrity_check``, every
request whose result a caller had received is in the journal, and resuming finishes the run
with every request that had completed executed exactly once overall.
"""

from __future__ import annotations

import collections
import signal
from pathlib import Path

import pytest

from runtree.store import SqliteRunStore
from tests.store.child import Child, check_integrity
from tests.store.child import label as label_of
from tests.store.nodes import executions
from tests.store.worker import EXPECTED

pytestmark = [
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL"),
    pytest.mark.timeout(240),
]


def _worker(db: Path, executions_file: Path, *args: str, pause: str | None = None) -> Child:
    env = {"RT_TEST_PAUSE_AT": pause} if pause is not None else None
    return Child("tests.store.worker", str(db), *args, executions_file=executions_file, env=env)


KILL_POINTS = [
    ("pause", "Step 0"),
    ("pause", "after Step 0"),
    ("pause", "Sub 1"),
    ("pause", "Step 3"),
    ("pause", "after Step 4"),
    ("pause", "Part 0"),
    ("pause", "Part 2"),
    ("after", "1"),
    ("after", "4"),
    ("after", "7"),
    ("after", "11"),
]


@pytest.mark.parametrize(("how", "where"), KILL_POINTS, ids=[f"{h}-{w}" for h, w in KILL_POINTS])
def test_kill_then_resume_executes_each_completed_request_once(
    tmp_path: Path, how: str, where: str
) -> None:
    db = tmp_path / "runtree.db"
    done_file = tmp_path / "executions.txt"
    worker = _worker(db, done_file, pause=where if how == "pause" else None)
    try:
        run_id = worker.wait_for(lambda line: line.startswith("RUN ")).split()[1]
        if how == "pause":
            worker.wait_for(lambda line: line == f"PAUSED {where}")
        else:
            count = int(where)
            remaining = [count]

            def enough(line: str) -> bool:
                if line.startswith("DONE "):
                    remaining[0] -= 1
                return remaining[0] == 0

            worker.wait_for(enough)
        worker.kill()
        worker.rest()
    finally:
        worker.close()
    assert worker.proc.returncode == -signal.SIGKILL
    received = [line[5:] for line in worker.seen if line.startswith("DONE ")]

    check_integrity(db)
    with SqliteRunStore(db) as store:
        run = store.get_run(run_id)
        assert run.status == "crashed", run
        before = store.get_requests(run_id)
    completed = {label_of(r.node_name, r.inputs) for r in before if r.status == "succeeded"}
    for label in received:  # every result a caller got is in the journal
        if label == "batch":
            assert {f"Part {x}" for x in range(4)} <= completed
        else:
            assert label in completed, (label, completed)

    resumed = _worker(db, done_file, "--resume", run_id)
    try:
        lines = resumed.rest()
    finally:
        resumed.close()
    assert resumed.proc.returncode == 0, resumed.stderr()
    assert f"RESULT {EXPECTED}" in lines

    check_integrity(db)
    counts = collections.Counter(executions(done_file))
    for label in completed:
        assert counts[label] == 1, (label, counts)
    everything = {"Job"} | {f"{n} {i}" for n in ("Step", "Sub") for i in range(6)}
    everything |= {f"Part {x}" for x in range(4)}
    assert set(counts) == everything  # everything ran at least once
    with SqliteRunStore(db) as store:
        (new_run,) = [r for r in store.list_runs() if r.resumed_from == run_id]
        assert new_run.status == "succeeded"
        replayed = {
            label_of(r.node_name, r.inputs)
            for r in store.get_requests(new_run.run_id)
            if r.replayed
        }
    # what completed at the top of the tree was answered from the journal, not re-run
    assert replayed <= completed
    assert {label for label in completed if label.startswith("Step")} <= replayed
