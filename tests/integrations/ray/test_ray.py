"""The Ray strategy on a real local cluster (one per test session, loopback only): what
travels, fan-out over the cluster, dead workers, cancellation, resume after a driver crash,
scripts that run unchanged with ``RT_EXECUTION_MODE=ray``, and the session's channel."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import runtree as rt
from runtree.nodes import NodeBuilder
from runtree.runtime.strategies import PluginStrategy, check_available
from tests.execution.nodes import CheckJournal, Die, LockedError, PairError, Raise, Takes
from tests.integrations.ray.nodes import DiesMidCall, FanOut, PidThenWait, Printer
from tests.ray_cluster import ray_environment, ray_mark
from tests.support import Adder, Parent, descendants, process_gone

pytestmark = ray_mark

ROOT = Path(__file__).resolve().parents[3]
#: seconds a test waits for a condition it watches from outside (a process, a file)
WAIT = 60.0


def _session(**options: Any) -> rt.Session:
    options.setdefault("store", None)
    options.setdefault("execution_mode", "ray")
    return rt.Session(**options)


def _wait_for(condition: Any, what: str) -> None:
    """A bounded wait for something this test watches from outside."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _child_env(ray_cluster: Any, **extra: str) -> dict[str, str]:
    env = {**os.environ, **ray_environment(ray_cluster), **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


# -- the cluster -----------------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and uses ss")
async def test_the_local_cluster_listens_on_loopback_only(ray_cluster: Any) -> None:
    async with _session():
        assert await rt.call(Parent, 1) == [2, 3]  # workers and the channel are up
    ours = descendants(os.getpid()) | {os.getpid()}
    listing = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True)  # noqa: ASYNC221
    listeners = []
    for line in listing.stdout.splitlines():
        fields = line.split()
        pids = {int(part[4:]) for part in line.replace(")", ",").split(",") if part[:4] == "pid="}
        if pids & ours:
            listeners.append(fields[3])
    assert len(listeners) >= 4, listing.stdout  # GCS, raylet, object manager, channel...
    hosts = {address.rsplit(":", 1)[0] for address in listeners}
    assert hosts <= {"127.0.0.1", "[::ffff:127.0.0.1]"}, listeners
    statistics = ray_cluster.statistics()
    assert statistics.started and statistics.local and statistics.connections >= 1


async def test_rt_execution_mode_ray_and_the_statistics(
    ray_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RT_EXECUTION_MODE", "ray")
    before = ray_cluster.statistics().tasks
    async with rt.Session(store=None) as session:
        assert await rt.call(Adder, 20, 22) == 42
    (record,) = session.info.requests.values()
    assert record.mode == "ray"
    statistics = ray_cluster.statistics()
    assert statistics.tasks == before + 1 and statistics.running == 0


# -- what travels ----------------------------------------------------------------------------


async def test_classes_made_at_run_time_travel_by_value(ray_cluster: Any) -> None:
    class Local(rt.Node[str]):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

        async def invoke(self) -> str:
            return f"{self.text} from {os.getpid()}"

    Built = NodeBuilder(Adder, class_name="Built").override_attrs(name=lambda cls: "Built").build()

    def shout(text: str) -> str:
        return text.upper()

    async with _session():
        local = await rt.call(Local, "hi")
        assert local.startswith("hi from ") and local != f"hi from {os.getpid()}"
        assert await rt.call(Built, 1, 2) == 3
        assert await rt.call(shout, "hey") == "HEY"


async def test_exceptions_keep_type_message_and_remote_traceback(
    ray_cluster: Any, tmp_path: Path
) -> None:
    (tmp_path / "worker_only_module.py").write_text("class WorkerOnly(Exception):\n    pass\n")
    async with _session() as session:
        with pytest.raises(PairError) as pair:
            await rt.call(Raise, "pair")
        with pytest.raises(LockedError, match="holds a lock"):
            await rt.call(Raise, "locked")
        with pytest.raises(rt.RemoteError) as remote:
            await rt.call(Raise, "worker-only", str(tmp_path))
        with pytest.raises(rt.ExecutionError, match=r"'Takes'.*attribute 'thing'"):
            await rt.call(Takes, threading.Lock())
    assert (pair.value.code, pair.value.reason) == (7, "seven is not allowed")
    error = remote.value
    assert type(error).__name__ == "WorkerOnly" and str(error) == "made in the worker"
    assert error.type_name == "worker_only_module.WorkerOnly"
    assert "WorkerOnly: made in the worker" in error.remote_traceback
    assert type(pickle.loads(pickle.dumps(error))).__name__ == "WorkerOnly"
    statuses = [r.status for r in session.info.requests.values()]
    assert statuses == ["failed"] * 4


async def test_what_a_node_prints_reaches_the_driver(ray_cluster: Any) -> None:
    async with _session():
        assert await rt.call(Printer, "printed on ray") == "printed on ray"


# -- calls made on Ray -----------------------------------------------------------------------


async def test_nested_requests_are_journaled_as_they_finish(
    ray_cluster: Any, tmp_path: Path
) -> None:
    db = tmp_path / "journal.db"
    async with _session(store=db, durability="sync", execution_mode="async") as session:
        with rt.execution_mode("ray"):
            seen = await rt.call(CheckJournal, str(db))
    # read by the node on Ray, right after its nested call (in its worker) returned
    assert seen == [("Adder", "succeeded"), ("CheckJournal", "running")]
    root = session.info.root_requests()[0]
    (child,) = session.info.children(root.request_id)
    assert (root.mode, child.mode, child.parent_id) == ("ray", "async", root.request_id)


async def test_a_fan_out_from_a_ray_node_spreads_over_the_cluster(
    ray_cluster: Any, tmp_path: Path
) -> None:
    """The two children must run at once in two processes while their parent waits: on
    a two-CPU cluster that needs the parent to lend its CPU."""
    fifo = tmp_path / "meet"
    os.mkfifo(fifo)
    async with _session(execution_mode="async") as session:
        parent, children = await rt.call(FanOut, str(fifo))
    assert len(set(children)) == 2 and parent not in children
    root = session.info.root_requests()[0]
    kids = session.info.children(root.request_id)
    assert [(k.node_name, k.mode, k.status) for k in kids] == [("Meet", "ray", "succeeded")] * 2


# -- failures ----------------------------------------------------------------------------------


async def test_a_killed_worker_fails_its_request_and_the_session_goes_on(
    ray_cluster: Any,
) -> None:
    lost = ray_cluster.statistics().lost
    async with _session() as session:
        results = await asyncio.gather(
            rt.call(Adder, 1, 1), rt.call(Die, "SIGKILL"), return_exceptions=True
        )
        assert results[0] == 2
        error = results[1]
        assert isinstance(error, rt.ExecutionError)
        assert "'Die'" in str(error) and "lost" in str(error)
        assert await rt.call(Adder, 3, 3) == 6
    statuses = sorted((r.node_name, r.status) for r in session.info.requests.values())
    assert statuses == [("Adder", "succeeded"), ("Adder", "succeeded"), ("Die", "failed")]
    assert ray_cluster.statistics().lost == lost + 1


async def test_a_worker_killed_inside_a_nested_call_closes_what_it_left_open(
    ray_cluster: Any,
) -> None:
    async with _session(execution_mode="async") as session:
        with rt.execution_mode("ray"), pytest.raises(rt.ExecutionError, match="'DiesMidCall'"):
            await rt.call(DiesMidCall)
        assert await rt.call(Adder, 2, 2) == 4
    records = [(r.node_name, r.mode, r.status) for r in session.info.requests.values()]
    assert records == [
        ("DiesMidCall", "ray", "failed"),
        ("Adder", "async", "succeeded"),
        ("Die", "async", "failed"),
        ("Adder", "async", "succeeded"),
    ]
    (die,) = [r for r in session.info.requests.values() if r.node_name == "Die"]
    assert isinstance(die.error, rt.ExecutionError)


async def test_cancelling_a_request_stops_its_ray_task(ray_cluster: Any) -> None:
    announced: asyncio.Queue[int] = asyncio.Queue()
    async with _session(broadcast_callback=announced.put) as session:
        running = asyncio.ensure_future(rt.call(PidThenWait))
        pid = await announced.get()
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert await rt.call(Adder, 1, 1) == 2
    (cancelled, _) = session.info.requests.values()
    assert cancelled.status == "cancelled"
    _wait_for(lambda: process_gone(pid), f"Ray to stop the worker {pid}")


async def test_a_session_timeout_cancels_the_ray_task(ray_cluster: Any) -> None:
    announced: asyncio.Queue[int] = asyncio.Queue()
    session = _session(timeout=3600, broadcast_callback=announced.put)
    with pytest.raises(rt.SessionTimeoutError):
        async with session:
            running = asyncio.ensure_future(rt.call(PidThenWait))
            pid = await announced.get()
            session._expire()  # what the session's timer does when the timeout passes
            await running
    (record,) = session.info.requests.values()
    assert record.status == "cancelled"
    _wait_for(lambda: process_gone(pid), f"Ray to stop the worker {pid}")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
async def test_resume_after_the_driver_was_killed(ray_cluster: Any, tmp_path: Path) -> None:
    db, log, block = tmp_path / "journal.db", tmp_path / "steps.txt", tmp_path / "block"
    block.touch()  # Step 3 waits while it exists: the driver dies with steps 0-2 journaled
    env = _child_env(ray_cluster, RT_EXECUTION_MODE="ray")
    with subprocess.Popen(  # noqa: ASYNC220 - the test waits for nothing else meanwhile
        [sys.executable, "-m", "tests.integrations.ray.driver", str(db), str(log), str(block)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as driver:
        assert driver.stdout is not None
        run_id = driver.stdout.readline().strip()
        assert len(run_id) == 32, driver.stderr.read() if driver.stderr else ""

        def step_3_waits() -> bool:
            assert driver.poll() is None, driver.stderr.read() if driver.stderr else ""
            return pid_file.exists() and pid_file.stat().st_size > 0

        pid_file = Path(f"{block}.pid")
        try:
            _wait_for(step_3_waits, "step 3 to start")
        finally:
            driver.send_signal(signal.SIGKILL)  # the crash (or the end of a failed test)
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        rows = connection.execute("SELECT node_name, status FROM requests").fetchall()
    assert rows.count(("Step", "succeeded")) == 3
    # the cluster stops the tasks of a driver that died
    step_3 = int(pid_file.read_text())  # noqa: ASYNC240
    _wait_for(lambda: process_gone(step_3), "Ray to stop the dead driver's task")
    block.unlink()
    from tests.integrations.ray.nodes import Chain

    async with _session(store=db, resume=run_id, execution_mode="ray") as resumed:
        assert await rt.call(Chain, str(log), 6, str(block)) == 15
    # the steps journaled before the crash were answered, not run again
    assert log.read_text().splitlines() == [f"step {i}" for i in range(6)]
    assert resumed.journal is not None and resumed.journal.statistics().replayed == 3


def test_a_script_runs_unchanged_with_rt_execution_mode_ray(
    ray_cluster: Any, tmp_path: Path
) -> None:
    """Seed 002's streaming example, its nodes defined in the script (``__main__``)."""
    script = tmp_path / "streaming.py"
    script.write_text(
        textwrap.dedent(
            """
            import os
            import runtree as rt


            class ChatNode(rt.Node[str]):
                def __init__(self, text: str):
                    super().__init__()
                    self.text = text

                async def invoke(self) -> str:
                    await rt.broadcast(f"thinking about {self.text!r}")
                    return f"Hello from {'elsewhere' if os.getpid() != MAIN else 'here'}!"


            MAIN = os.getpid()


            def ui_handler(text: str) -> None:
                print(text)


            with rt.Session(broadcast_callback=ui_handler) as run:
                result = rt.call_sync(ChatNode, "Hi!")
            print(result, [r.mode for r in run.info.requests.values()])
            """
        )
    )
    env = _child_env(ray_cluster, RT_EXECUTION_MODE="ray", RT_HOME=str(tmp_path / "home"))
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "thinking about 'Hi!'",
        "Hello from elsewhere! ['ray']",
    ]


# -- the extra and the channel -------------------------------------------------------------


def test_without_the_extra_the_mode_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [
        m for m in sys.modules if m == "ray" or m.startswith(("ray.", "runtree.integrations.ray"))
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without ray gives
    plugin = PluginStrategy("ray", "runtree.integrations.ray", "ray")
    with pytest.raises(
        rt.ConfigurationError, match=r"RT_EXECUTION_MODE is 'ray': .*runtree\[ray\]"
    ):
        check_available(plugin, "RT_EXECUTION_MODE")


def test_the_channel_refuses_a_connection_without_the_key(ray_cluster: Any) -> None:
    from runtree.integrations.ray.channel import DIGEST, MAGIC, NONCE, DriverChannel

    channel = DriverChannel("127.0.0.1")
    try:
        with socket.create_connection((channel.host, channel.port), timeout=WAIT) as sock:
            sock.sendall(MAGIC + os.urandom(NONCE))
            answer = sock.recv(NONCE + DIGEST)
            assert len(answer) == NONCE + DIGEST
            sock.sendall(os.urandom(DIGEST))  # a guess at the proof
            assert sock.recv(1) == b""  # closed
        with socket.create_connection((channel.host, channel.port), timeout=WAIT) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\n")
            assert sock.recv(1) == b""
        _wait_for(lambda: channel.refused == 2, "both refusals")
        assert channel.connections == 0
    finally:
        channel.close()


def test_options_are_checked(ray_cluster: Any) -> None:
    from runtree.integrations.ray import RayExecutionStrategy

    with pytest.raises(rt.ConfigurationError, match="num_cpus must be a positive int"):
        RayExecutionStrategy(num_cpus=0)
    with pytest.raises(rt.ConfigurationError, match="callback_port must be a port number"):
        RayExecutionStrategy(callback_port=70000)
    with pytest.raises(rt.ConfigurationError, match="retry with a runtree policy"):
        RayExecutionStrategy(options={"max_retries": 3})
