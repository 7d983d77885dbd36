"""Fault injection: SIGKILL runs at many points, in every execution mode the harness is given
and both durabilities, then check what the journal promises (``docs/journal.md``):

* the file is never corrupt (``PRAGMA integrity_check``) and the run is always listed;
* ``durability="sync"``: every result a caller received is in the journal;
* ``durability="batch"``: every result received more than :data:`WINDOW` seconds before the
  run's last sign of life is in the journal, even when the event loop never yields;
* after a resume, every request the journal had as completed ran exactly once in all, and
  every request ran at least once.

Kill points come from the run's own progress: results the workload reports (node
checkpoints) or rows a reader sees in the journal. In process mode the nodes run in worker
processes that report every call back to the session as it happens; the kill takes the
workers with it. (Ray runs are killed and resumed in tests/integrations/ray.)
"""

from __future__ import annotations

import collections
import signal
import time
from pathlib import Path

import pytest

from runtree.store import SqliteRunStore
from tests.store.child import WAIT, Child, check_integrity, count_rows, label
from tests.store.fault_child import EXPECTED, LABELS
from tests.store.nodes import executions

#: the batch durability's documented bound (docs/journal.md)
WINDOW = 1.0
MODES = ["async", "thread", "process"]
DURABILITIES = ["sync", "batch"]
#: ("results", k): kill after the k-th result a caller got; ("rows", n): kill once a reader
#: sees n completed requests of the run in the journal; ("pause", label): kill while a node
#: body is paused at that checkpoint (before or after its side effect)
PROGRESS = [("results", 1), ("results", 7), ("results", 15), ("results", 25), ("rows", 9)]
PAUSES = [("pause", "Step 0"), ("pause", "after Step 0"), ("pause", "Sub 1"), ("pause", "Part 2")]
CASES = [
    (mode, durability, how, where)
    for mode in MODES
    for durability in DURABILITIES
    for how, where in PROGRESS
] + [
    (mode, durability, how, where)
    for mode, durability in (("async", "sync"), ("thread", "batch"), ("process", "sync"))
    for how, where in PAUSES
]

pytestmark = [
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL"),
    pytest.mark.timeout(180),
]


def _succeeded(db: Path, run_id: str) -> int:
    return count_rows(
        db, "SELECT count(*) FROM requests WHERE run_id = ? AND status = 'succeeded'", run_id
    )


def _wait_rows(db: Path, run_id: str, rows: int, child: Child) -> None:
    """Until a reader sees ``rows`` completed requests (a bounded wait for a condition)."""
    deadline = time.monotonic() + WAIT
    while _succeeded(db, run_id) < rows:
        assert child.proc.poll() is None, f"child ended early: {child.stderr()}"
        assert time.monotonic() < deadline, "the journal never showed the rows"
        time.sleep(0.002)


def _received(lines: list[str]) -> list[tuple[str, float]]:
    out = []
    for line in lines:
        if line.startswith("R "):
            *label, stamp = line[2:].split(" ")
            out.append((" ".join(label), float(stamp)))
    return out


@pytest.mark.parametrize(
    ("mode", "durability", "how", "where"), CASES, ids=["-".join(map(str, c)) for c in CASES]
)
def test_kill_then_resume(
    tmp_path: Path, mode: str, durability: str, how: str, where: int | str
) -> None:
    db = tmp_path / "runtree.db"
    done_file = tmp_path / "executions.txt"
    args = (str(db), "--mode", mode, "--durability", durability)
    pause = {"RT_TEST_PAUSE_AT": str(where)} if how == "pause" else None
    with Child("tests.store.fault_child", *args, executions_file=done_file, env=pause) as child:
        run_id = child.run_id()
        if how == "pause":
            paused = f"PAUSED {where}"
            child.wait_for(lambda line: line == paused)
        elif how == "results":
            seen = [0]

            def enough(line: str) -> bool:
                seen[0] += line.startswith("R ")
                return seen[0] == where

            child.wait_for(enough)
        else:
            assert isinstance(where, int)
            _wait_rows(db, run_id, where, child)
        child.kill()
        child.rest()
    assert child.proc.returncode == -signal.SIGKILL
    received = _received(child.seen)

    check_integrity(db)
    with SqliteRunStore(db, readonly=True) as store:
        run = store.get_run(run_id)  # listed, whenever it was killed
        assert run.status == "crashed", run
        before = store.get_requests(run_id)
    completed = {label(r.node_name, r.inputs) for r in before if r.status == "succeeded"}
    if durability == "sync":
        missing = [label for label, _ in received if label not in completed]
    else:
        last = received[-1][1] if received else 0.0
        missing = [
            label for label, at in received if at <= last - WINDOW and label not in completed
        ]
    assert missing == [], (missing, sorted(completed))

    with Child(
        "tests.store.fault_child", *args, "--resume", run_id, executions_file=done_file
    ) as resumed:
        lines = resumed.rest()
        resumed.proc.wait(WAIT)
        assert resumed.proc.returncode == 0, resumed.stderr()
    assert f"RESULT {EXPECTED}" in lines

    check_integrity(db)
    counts = collections.Counter(executions(done_file))
    assert {label: counts[label] for label in completed} == dict.fromkeys(completed, 1)
    assert set(counts) == LABELS  # everything ran at least once
    with SqliteRunStore(db, readonly=True) as store:
        (new_run,) = [r for r in store.list_runs() if r.resumed_from == run_id]
        assert new_run.status == "succeeded"
        replayed = {
            label(r.node_name, r.inputs) for r in store.get_requests(new_run.run_id) if r.replayed
        }
    # what completed at the top of the tree was answered from the journal, not run again
    assert replayed <= completed
    assert {name for name in completed if name.startswith("Step")} <= replayed


BUSY = [("busy", "async"), ("busy", "thread"), ("spin", "async")]


@pytest.mark.parametrize(("workload", "mode"), BUSY, ids=[f"{w}-{m}" for w, m in BUSY])
def test_batch_loses_at_most_the_window_even_when_the_loop_never_yields(
    tmp_path: Path, workload: str, mode: str
) -> None:
    """``await rt.call(trivial)`` in a loop never yields to the event loop (``spin`` also
    computes for 0.3 s at a time without calling anything)."""
    db = tmp_path / "runtree.db"
    args = (str(db), "--mode", mode, "--durability", "batch", "--workload", workload)
    with Child("tests.store.fault_child", *args, executions_file=tmp_path / "x.txt") as child:
        run_id = child.run_id()
        assert count_rows(db, "SELECT count(*) FROM runs WHERE run_id = ?", run_id) == 1
        first = float(child.wait_for(lambda line: line.startswith("P ")).split()[2])
        child.wait_for(lambda line: line.startswith("P ") and float(line.split()[2]) > first + 2.5)
        child.kill()
        child.rest()
    progress = [
        (int(c), float(t))
        for _, c, t in (line.split() for line in child.seen[1:] if line.startswith("P "))
    ]
    last = progress[-1][1]  # the run's last sign of life
    check_integrity(db)
    on_disk = _succeeded(db, run_id)
    owed = max(calls for calls, at in progress if at <= last - WINDOW)
    assert on_disk >= owed, (on_disk, owed, progress[-5:])
    with SqliteRunStore(db, readonly=True) as store:
        assert store.get_run(run_id).status == "crashed"


def test_sync_loses_nothing_in_a_busy_loop(tmp_path: Path) -> None:
    db = tmp_path / "runtree.db"
    args = (str(db), "--durability", "sync", "--workload", "busy")
    with Child("tests.store.fault_child", *args, executions_file=tmp_path / "x.txt") as child:
        run_id = child.run_id()
        child.wait_for(lambda line: line.startswith("P ") and int(line.split()[1]) >= 1500)
        child.kill()
        child.rest()
    progress = [int(line.split()[1]) for line in child.seen if line.startswith("P ")]
    check_integrity(db)
    assert _succeeded(db, run_id) >= progress[-1]
