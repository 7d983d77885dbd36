"""``RayExecutionStrategy``: each task runs as a Ray task (the session's side).

The node travels pickled by runtree (:func:`~runtree.execution.remote.encode_task`, the
same by-value rules as process mode) as an opaque ``bytes`` argument of the Ray task
:func:`runtree.integrations.ray.task.execute`. What the node does there comes back over the
session's :class:`~runtree.integrations.ray.channel.DriverChannel` to a
:class:`~runtree.execution.bridge.TaskBridge`; a node that makes no calls and publishes
nothing sends nothing over it (its outcome is the Ray task's return value).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import itertools
import logging
import os
import pickle
import shutil
import sys
import tempfile
import threading
import weakref
from collections.abc import Awaitable, Mapping
from typing import Any

import ray

from runtree.errors import ConfigurationError, ExecutionError
from runtree.execution.bridge import TaskBridge
from runtree.execution.execution_strategy import ExecutionStrategy
from runtree.execution.remote import encode_task
from runtree.execution.task import Task
from runtree.execution.wire import unpack_done
from runtree.integrations.ray.channel import DriverChannel
from runtree.integrations.ray.task import GATE_OPTIONS, Gate, Route, execute, pack

__all__ = ["RayExecutionStrategy", "RayStatistics"]

logger = logging.getLogger("runtree.integrations.ray")

#: environment variables read when the strategy starts
ADDRESS_VAR = "RT_RAY_ADDRESS"
CALLBACK_HOST_VAR = "RT_RAY_CALLBACK_HOST"
CALLBACK_PORT_VAR = "RT_RAY_CALLBACK_PORT"
NUM_CPUS_VAR = "RT_RAY_NUM_CPUS"
#: Ray settings a local cluster starts with unless the environment says otherwise: no usage
#: statistics, and no swapping 127.0.0.1 for the machine's address
LOCAL_ENVIRONMENT = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RayStatistics:
    """``started``: connected to a cluster (``local``: one this strategy started);
    ``tasks`` submitted, ``running`` now, ``lost``: failed because their worker died or
    the cluster lost them; ``connections`` from workers, ``refused`` connections that did
    not know the session's key."""

    started: bool
    local: bool
    tasks: int
    running: int
    lost: int
    connections: int
    refused: int


@dataclasses.dataclass(slots=True, kw_only=True)
class _Cluster:
    channel: DriverChannel
    remote: Any
    #: the pickled :class:`Route` every task takes along
    route: bytes
    gate: Any
    owned: bool
    local: bool
    temp_dir: str | None


class RayExecutionStrategy(ExecutionStrategy):
    """Runs each task as a Ray task; the calls its node makes belong to the caller's run
    (see ``docs/ray.md``).

    * ``address``: the cluster to connect to (else ``RT_RAY_ADDRESS``; else the Ray this
      process is already connected to, else a new local cluster bound to 127.0.0.1).
    * ``num_cpus``: CPUs of a local cluster (else ``RT_RAY_NUM_CPUS``, else this
      machine's).
    * ``callback_host`` / ``callback_port``: where the session listens for its tasks (else
      ``RT_RAY_CALLBACK_HOST`` / ``RT_RAY_CALLBACK_PORT``; default: the address Ray knows
      this machine by, 127.0.0.1 for a local cluster, and a free port).
    * ``options``: Ray task options for every task (``num_cpus``, ``resources``,
      ``runtime_env``...); Ray's own retries stay off (a request runs once per attempt).
    * ``init_options``: more keyword arguments for ``ray.init``.

    Ray starts (or connects) on first use; :meth:`shutdown` (called at interpreter exit
    for the shared strategy) disconnects and stops a local cluster it started.
    """

    mode = "ray"

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        callback_host: str | None = None,
        callback_port: int | None = None,
        options: Mapping[str, Any] | None = None,
        init_options: Mapping[str, Any] | None = None,
    ) -> None:
        if address is not None and (not isinstance(address, str) or not address):
            raise ConfigurationError(f"address must be a non-empty string, got {address!r}")
        if num_cpus is not None and (
            isinstance(num_cpus, bool) or not isinstance(num_cpus, int) or num_cpus < 1
        ):
            raise ConfigurationError(f"num_cpus must be a positive int, got {num_cpus!r}")
        if callback_host is not None and (not isinstance(callback_host, str) or not callback_host):
            raise ConfigurationError(
                f"callback_host must be a non-empty string, got {callback_host!r}"
            )
        if callback_port is not None:
            _check_port(callback_port, "callback_port")
        task_options = dict(options or {})
        if "max_retries" in task_options or "retry_exceptions" in task_options:
            raise ConfigurationError(
                "options: Ray's task retries stay off under runtree (a retried node would run "
                "its recorded calls again); retry with a runtree policy instead"
            )
        task_options.setdefault("num_cpus", 1)
        self._address = address
        self._num_cpus = num_cpus
        self._callback_host = callback_host
        self._callback_port = callback_port
        self._options = task_options
        self._init_options = dict(init_options or {})
        self._cluster: _Cluster | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._tasks = 0
        self._running = 0
        self._lost = 0

    # -- the cluster ---------------------------------------------------------------------

    def start(self) -> None:
        """Connect to the cluster (or start a local one) now, if not done yet. Blocks for
        as long as Ray takes (seconds for a local cluster)."""
        with self._lock:
            if self._cluster is None:
                self._cluster = self._connect()

    def _connect(self) -> _Cluster:
        address = self._address or os.environ.get(ADDRESS_VAR) or None
        owned = local = False
        temp_dir = None
        if ray.is_initialized():
            if address is not None:
                logger.info("Ray is connected already; runtree uses that connection")
        elif address is not None:
            ray.init(address=address, **self._init_options)
            owned = True
        else:
            _loopback_only()
            temp_dir = tempfile.mkdtemp(prefix="rt-ray-")
            options: dict[str, Any] = {
                "num_cpus": self._num_cpus or _env_cpus() or os.cpu_count() or 1,
                "include_dashboard": False,
                "_node_ip_address": "127.0.0.1",
                "_temp_dir": temp_dir,
                **self._init_options,
            }
            try:
                ray.init(address="local", **options)
            except BaseException:
                shutil.rmtree(temp_dir, ignore_errors=True)
                raise
            owned = local = True
        try:
            return self._open(owned=owned, local=local, temp_dir=temp_dir)
        except BaseException:
            if owned:
                ray.shutdown()
            if temp_dir is not None:
                shutil.rmtree(temp_dir, ignore_errors=True)
            raise

    def _open(self, *, owned: bool, local: bool, temp_dir: str | None) -> _Cluster:
        host = self._callback_host or os.environ.get(CALLBACK_HOST_VAR) or None
        if host is None:
            host = "127.0.0.1" if local else _node_ip_address()
        port = self._callback_port
        if port is None:
            raw = os.environ.get(CALLBACK_PORT_VAR)
            port = 0 if not raw else _check_port(_parse_port(raw), CALLBACK_PORT_VAR)
        channel = DriverChannel(host, port)
        try:
            name = f"runtree-gate-{os.getpid()}-{os.urandom(4).hex()}"
            gate = Gate.options(name=name, **GATE_OPTIONS).remote()
            # paths only mean something to workers on this machine
            paths = tuple(p for p in sys.path if p) if local else ()
            route = pickle.dumps(tuple(Route(channel.host, channel.port, channel.key, name, paths)))
            remote = ray.remote(execute).options(max_retries=0, **self._options)
        except BaseException:
            channel.close()
            raise
        return _Cluster(
            channel=channel,
            remote=remote,
            route=route,
            gate=gate,
            owned=owned,
            local=local,
            temp_dir=temp_dir,
        )

    def shutdown(self) -> None:
        """Close the session's listener, and disconnect from Ray when this strategy
        connected (stopping the local cluster it started). Safe to call more than once."""
        with self._lock:
            cluster, self._cluster = self._cluster, None
        if cluster is None:
            return
        cluster.channel.close()
        if cluster.owned:
            ray.shutdown()
        else:
            with contextlib.suppress(Exception):
                ray.kill(cluster.gate)
        if cluster.temp_dir is not None:
            shutil.rmtree(cluster.temp_dir, ignore_errors=True)

    def statistics(self) -> RayStatistics:
        cluster = self._cluster
        return RayStatistics(
            started=cluster is not None,
            local=cluster is not None and cluster.local,
            tasks=self._tasks,
            running=self._running,
            lost=self._lost,
            connections=0 if cluster is None else cluster.channel.connections,
            refused=0 if cluster is None else cluster.channel.refused,
        )

    # -- tasks ---------------------------------------------------------------------------

    async def execute(self, task: Task[Any]) -> Any:
        cluster = self._cluster
        if cluster is None:
            await asyncio.get_running_loop().run_in_executor(None, self.start)
            cluster = self._cluster
            if cluster is None:  # shut down meanwhile
                raise ExecutionError("the Ray strategy was shut down while it started")
        node = task.node
        name = node.name()
        body = encode_task(task.request_id, node, task.host)
        task_id = next(self._ids) % 0xFFFF_FFFF + 1
        channel = cluster.channel
        bridge = TaskBridge(
            task.host,
            node_name=name,
            reply=functools.partial(channel.reply, task_id),
            context=contextvars.copy_context(),
        )
        channel.register(task_id, bridge)
        self._tasks += 1
        self._running += 1
        try:
            ref = cluster.remote.remote(pack(cluster.route, task_id, body))
            try:
                done = await _completion(ref)
                if isinstance(done, BaseException):
                    self._lost += 1
                    bridge.abandon(_lost(name, done))
                    done = None
                if done is None:  # it reported over its connection, its outcome too
                    value, error, details = await bridge.outcome
                else:
                    value, error, details = unpack_done(done, node_name=name)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)  # the node stops now (its worker ends)
                bridge.abandon(asyncio.CancelledError())
                raise
            await bridge.finish()
        finally:
            self._running -= 1
            channel.unregister(task_id)
        if details:
            node.details = details
        if error is not None:
            raise error
        return value


class _Completions:
    """Hands finished Ray tasks to the coroutines awaiting them on one event loop: Ray's
    thread queues each result as it arrives (fetched and loaded there, so a large one never
    blocks the loop), and one wake-up of the loop delivers all that arrived meanwhile (a
    wake-up per task costs more than the task itself when many finish at once)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)  # (the loop's entry in _completions must not keep it)
        self._arrived: list[tuple[asyncio.Future[Any], Any]] = []
        self._lock = threading.Lock()
        self._scheduled = False

    def watch(self, ref: Any, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
        waiter: asyncio.Future[Any] = loop.create_future()
        ref._on_completed(functools.partial(self._arrive, waiter))
        return waiter

    def _arrive(self, waiter: asyncio.Future[Any], result: Any) -> None:  # (Ray's thread)
        with self._lock:
            self._arrived.append((waiter, result))
            if self._scheduled:
                return
            self._scheduled = True
        loop = self._loop()
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # (the loop is closed: nobody waits)
                loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            arrived, self._arrived = self._arrived, []
            self._scheduled = False
        for waiter, result in arrived:
            if not waiter.done():
                waiter.set_result(result)


_completions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Completions] = (
    weakref.WeakKeyDictionary()
)


def _completion(ref: Any) -> Awaitable[Any]:
    """What the task of ``ref`` returned, or the Ray error that ended it (not raised)."""
    if not hasattr(ref, "_on_completed"):  # pragma: no cover - a Ray without it
        return _result_or_error(ref)
    loop = asyncio.get_running_loop()
    completions = _completions.get(loop)
    if completions is None:
        completions = _completions[loop] = _Completions(loop)
    return completions.watch(ref, loop)


async def _result_or_error(ref: Any) -> Any:
    try:
        return await asyncio.wrap_future(ref.future())
    except ray.exceptions.RayError as exc:
        return exc


def _loopback_only() -> None:
    """Make a local cluster keep to 127.0.0.1: its processes inherit
    :data:`LOCAL_ENVIRONMENT` (unless the environment says otherwise), and this process,
    which read ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` when it imported Ray, is told too
    (without it Ray swaps 127.0.0.1 for the machine's address and its processes listen on
    every interface)."""
    for name, value in LOCAL_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    if os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0":
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False


def _lost(name: str, exc: BaseException) -> BaseException:
    """The error a request gets when Ray could not run its task to the end. (A retry
    policy whose ``retry_on`` includes ``ExecutionError`` runs such a request again.)"""
    cause = getattr(exc, "cause", None)
    if isinstance(exc, ray.exceptions.RayTaskError) and isinstance(cause, ExecutionError):
        return cause  # runtree's task itself failed (e.g. it could not reach the session)
    first = (str(exc).strip().splitlines() or [""])[0]
    return ExecutionError(
        f"the Ray task running node {name!r} was lost ({type(exc).__name__}: {first}); "
        "the request failed"
    )


def _node_ip_address() -> str:
    """The address Ray knows this machine by (untyped in Ray)."""
    util: Any = ray.util
    return str(util.get_node_ip_address())


def _env_cpus() -> int | None:
    raw = os.environ.get(NUM_CPUS_VAR)
    if not raw:
        return None
    try:
        cpus = int(raw)
    except ValueError:
        cpus = 0
    if cpus < 1:
        raise ConfigurationError(f"{NUM_CPUS_VAR} must be a positive int, got {raw!r}")
    return cpus


def _parse_port(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(
            f"{CALLBACK_PORT_VAR} must be a port number, got {raw!r}"
        ) from None


def _check_port(port: Any, what: str) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigurationError(f"{what} must be a port number (0-65535), got {port!r}")
    return port
