"""Ctrl-C (SIGINT) ends a run in order: requests recorded ``cancelled``, one line on how to
resume, ``KeyboardInterrupt`` semantics, no waiting for a node that cannot be interrupted."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from runtree.runtime.interrupt import InterruptGuard
from runtree.store import SqliteRunStore
from tests.support import default_sigint

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _interrupt(journal: Path, style: str, kind: str) -> subprocess.CompletedProcess[str]:
    """Run the child until its node has started, send SIGINT, collect how it ended."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.interrupt_child", str(journal), style, kind],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])},
        preexec_fn=default_sigint,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "STARTED\n"  # the node runs: interrupt it now
        proc.send_signal(signal.SIGINT)
        # the node sleeps 60 s: ending within the test's timeout means it was not waited for
        out, err = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["async", "sync", "thread"])
@pytest.mark.parametrize("style", ["sync", "thread", "mixed", "async"])
def test_ctrl_c_ends_the_run_and_says_how_to_resume(tmp_path: Path, style: str, kind: str) -> None:
    journal = tmp_path / "journal.db"
    result = _interrupt(journal, style, kind)
    assert result.returncode in (-signal.SIGINT, 130), result.stderr
    assert result.stderr.rstrip().endswith("KeyboardInterrupt"), result.stderr
    assert "Task was destroyed" not in result.stderr
    assert "Exception ignored" not in result.stderr
    with SqliteRunStore(journal) as store:
        (run,) = store.list_runs()
        requests = store.get_requests(run.run_id)
    hints = [line for line in result.stderr.splitlines() if "runtree resume" in line]
    short = run.run_id[:12]
    assert hints == [f"runtree: interrupted (run {short}); resume it: runtree resume {short}"]
    assert run.status == "failed" and "KeyboardInterrupt" in (run.error or "")
    assert [(r.node_name, r.status) for r in requests] == [
        ("Parent", "cancelled"),
        ("SleepsSync" if kind == "sync" else "SleepsAsync", "cancelled"),
    ]


def test_guard_runs_the_previous_handler_when_it_cannot_end_the_run_itself() -> None:
    calls: list[str] = []

    def previous(signum: int, frame: object) -> None:
        calls.append("previous")

    answers = iter([False, True])

    def on_interrupt(frame: object) -> bool:
        calls.append("session")
        return next(answers)

    old = signal.signal(signal.SIGINT, previous)
    loop = asyncio.new_event_loop()
    try:
        guard = InterruptGuard(on_interrupt).install(loop)
        assert signal.getsignal(signal.SIGINT) == guard._handle
        assert signal.set_wakeup_fd(-1) != -1  # a signal wakes the loop...
        assert guard._wakeup is not None
        signal.set_wakeup_fd(guard._wakeup[1].fileno())
        guard._handle(signal.SIGINT, None)  # the session is not waiting: previous handler
        assert calls == ["session", "previous"]
        guard.count = 0
        guard._handle(signal.SIGINT, None)  # handled by the session
        guard._handle(signal.SIGINT, None)  # a second Ctrl-C: previous handler
        assert calls == ["session", "previous", "session", "previous"]
        guard.uninstall()
        assert signal.getsignal(signal.SIGINT) is previous
        assert signal.set_wakeup_fd(-1) == -1  # ...while the guard is installed
    finally:
        signal.signal(signal.SIGINT, old)
        loop.close()


def test_guard_is_not_installed_outside_the_main_thread_or_over_sig_ign() -> None:
    loop = asyncio.new_event_loop()
    guards: list[InterruptGuard] = []
    thread = threading.Thread(
        target=lambda: guards.append(InterruptGuard(lambda frame: True).install(loop))
    )
    thread.start()
    thread.join()
    assert not guards[0]._installed
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        guard = InterruptGuard(lambda frame: True).install(loop)
        assert not guard._installed and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        guard.uninstall()
    finally:
        signal.signal(signal.SIGINT, old)
        loop.close()
