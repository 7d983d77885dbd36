"""``Journal``: records one session's run in a :class:`~runtree.store.protocol.RunStore`.

The journal is the session's request observer (:class:`~runtree.state.observer.
RequestObserver`, given to ``RTState`` when it is built): it sees each request twice, by
reference, when it is created and when it has ended. The journal only queues
the reference; the store's writer thread turns it into a row (JSON of inputs and output)
and commits it with the others of its batch. So the hot path pays for two queue appends
and nothing else. In ``durability="sync"`` the caller also awaits the commit of its
completed request. When resuming, ``request_created`` computes the request's key and answers
it from the old run if that run completed it.

Broadcast items and fatal failures reach the journal as a subscriber of the session's
publisher. See ``docs/journal.md`` for why requests do not (the measured cost).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from runtree.errors import ConfigurationError, SessionStateError
from runtree.nodes.node import Node
from runtree.pubsub.messages import FatalFailure, Message, Streaming
from runtree.pubsub.publisher import RTPublisher, Subscription
from runtree.state.info import RequestRecord
from runtree.store.errors import ResumeError
from runtree.store.key import KeyTracker
from runtree.store.process import host_name, process_marker
from runtree.store.protocol import RunStore
from runtree.store.record import (
    DURABILITIES,
    EventRecorded,
    RequestEnded,
    RequestStarted,
    RunEnded,
    RunInfo,
    RunRootSet,
    RunStarted,
    StoredOutput,
    StoreStatistics,
)
from runtree.store.root import RootTargets
from runtree.store.sqlite import SqliteRunStore
from runtree.store.value import (
    decode_output,
    encode_error,
    encode_inputs,
    encode_output,
    encode_value,
    inputs_digest,
)

__all__ = [
    "DEFAULT_STORE",
    "Journal",
    "JournalStatistics",
    "StoreOption",
    "check_store_option",
    "default_store_path",
    "find_runtree_folder",
    "run_outcome",
]

logger = logging.getLogger("runtree.store")

#: messages a journal may buffer before dropping (bounded, counted by the publisher)
JOURNAL_BUFFER = 1_000_000
#: builds a named tuple from a tuple in C (its generated ``__new__`` is a Python function)
_new: Any = tuple.__new__


class _DefaultStore:
    """The default journal: ``$RT_HOME/runtree.db``, else the project's (see
    :func:`default_store_path`)."""

    def __repr__(self) -> str:
        return "DEFAULT_STORE"


DEFAULT_STORE = _DefaultStore()

StoreOption = RunStore | str | os.PathLike[str] | _DefaultStore | None


def default_store_path() -> Path:
    """``$RT_HOME/runtree.db`` if ``RT_HOME`` is set; else ``runtree.db`` in the project's
    ``.runtree`` folder (:func:`find_runtree_folder`)."""
    home = os.environ.get("RT_HOME", "").strip()
    base = Path(home).expanduser() if home else find_runtree_folder(Path.cwd())
    return base / "runtree.db"


def find_runtree_folder(start: Path) -> Path:
    """The nearest ``.runtree`` folder in ``start`` or a folder above it, as git finds
    ``.git``: the search stops below your home folder (its own ``.runtree`` counts only when
    ``start`` is the home folder) and at the filesystem root. ``start/.runtree`` when there is
    none (it is created when a run is journaled)."""
    try:
        boundary: Path | None = Path.home().resolve()
    except (RuntimeError, OSError):
        boundary = None
    for folder in (start, *start.parents):
        if folder == boundary and folder != start:
            break
        candidate = folder / ".runtree"
        if candidate.is_dir():
            return candidate
    return start / ".runtree"


def check_store_option(
    store: object, *, durability: str, resume: str | None
) -> RunStore | Path | None:
    """Validate the session's ``store=``/``durability=``/``resume=`` options (nothing opens)."""
    if durability not in DURABILITIES:
        raise ConfigurationError(f"durability must be one of {DURABILITIES}, got {durability!r}")
    if resume is not None and (not isinstance(resume, str) or not resume.strip()):
        raise ConfigurationError(f"resume must be a run id (str), got {resume!r}")
    chosen: RunStore | Path | None
    if store is None:
        chosen = None
    elif isinstance(store, _DefaultStore):
        chosen = default_store_path()
    elif isinstance(store, (str, os.PathLike)):
        chosen = Path(store)
    elif isinstance(store, RunStore):
        chosen = store
    else:
        raise ConfigurationError(
            f"store must be a RunStore, a path or None, got {type(store).__name__}"
        )
    if chosen is None and resume is not None:
        raise ConfigurationError("resume= needs a journal; do not pass store=None with it")
    return chosen


def run_outcome(
    exc: BaseException | None, *, timed_out: bool, ended_by: BaseException | None
) -> tuple[str, str | None]:
    """``(status, error)`` of a run from how its session exited."""
    if timed_out:
        return "timed_out", "SessionTimeoutError: the session exceeded its timeout"
    failure = ended_by if ended_by is not None else exc
    if failure is not None:
        return "failed", f"{type(failure).__name__}: {failure}"
    return "succeeded", None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class JournalStatistics:
    """``requests``: requests handed to the store; ``replayed``: answered from the resumed
    run; ``events``: broadcast items and fatal failures; ``store``: the store's figures."""

    run_id: str
    requests: int
    replayed: int
    events: int
    store: StoreStatistics


class Journal:
    """Records one run: a :class:`~runtree.state.observer.RequestObserver` of the session's
    requests. Build it with the session (nothing is opened), :meth:`open` it when the run
    starts, :meth:`close` it when the run ends."""

    def __init__(
        self,
        option: RunStore | Path,
        *,
        run_id: str,
        name: str | None = None,
        durability: str = "batch",
        resume: str | None = None,
    ) -> None:
        self.run_id = run_id
        self.name = name
        self.durability = durability
        self.resume = resume
        self.resumed_from: str | None = None
        self._option = option
        self.store: RunStore | None = option if not isinstance(option, Path) else None
        self._owns_store = False
        self._replay: dict[str, StoredOutput] | None = None
        self._keys: KeyTracker | None = None
        self._seq = 0  # owned by the writer thread (or the loop thread when resuming)
        self._requests = 0
        self._event_seq = 0
        self._replayed = 0
        self._root_set = False
        self._root_targets = RootTargets(run_id)
        self._roots = 0
        self._max_chars = 0
        self._max_replay = 0
        self._subscription: Subscription | None = None
        self._status = "unopened"
        # bound once: the hot path only builds a two-item tuple per write
        self._started_row = self._build_started
        self._ended_row = self._build_ended

    @property
    def status(self) -> str:
        """``"unopened"``, ``"open"`` or ``"closed"``."""
        return self._status

    # -- opening -----------------------------------------------------------------------------

    def open(self, publisher: RTPublisher) -> Journal:
        """Open the store (if given a path), record the run as started and subscribe to the
        session's ``publisher`` for broadcast items and fatal failures."""
        if self._status != "unopened":
            raise SessionStateError(f"journal of run {self.run_id} is {self._status}")
        option = self._option
        if isinstance(option, Path):
            store: RunStore = SqliteRunStore(option.resolve()).open()
            self._owns_store = True
        else:
            store = option
            if store.status == "unopened":
                store.open()
                self._owns_store = True
        self.store = store
        try:
            old = self._resumable(store, self.resume) if self.resume is not None else None
            if old is not None:
                self._replay = store.completed_outputs(old.run_id)
                self._keys = KeyTracker()
                self.resumed_from = old.run_id
        except BaseException:
            if self._owns_store:
                store.close()
            raise
        self._max_chars = store.max_value_chars
        self._max_replay = store.max_replay_bytes
        started = RunStarted(
            run_id=self.run_id,
            name=self.name,
            status="running",
            start_time=time.time(),
            pid=os.getpid(),
            host=host_name(),
            process_marker=process_marker(),
            resumed_from=self.resumed_from,
            durability=self.durability,
            root_node=old.root_node if old is not None else None,
            root_inputs=old.root_inputs if old is not None else None,
            runtree_version=_version(),
        )
        if self.durability == "sync":  # a crash at any later point leaves a findable run
            store.write_durably(started).result()
        else:
            store.write(started)
        if old is not None and old.root_node is not None:
            self._root_set = True
        self._subscription = publisher.subscribe(
            self._on_message,
            topics=(Streaming, FatalFailure),
            name="runtree-journal",
            max_buffer=JOURNAL_BUFFER,
        )
        self._status = "open"
        return self

    @staticmethod
    def _resumable(store: RunStore, ref: str) -> RunInfo:
        old = store.get_run(ref)
        if old.status == "running":
            where = f"pid {old.pid} on {old.host}" if old.pid is not None else "another process"
            raise ResumeError(
                f"run {old.run_id} is still running ({where}); wait for it to end, or stop it, "
                "before resuming it"
            )
        if old.stored_status == "running":
            store.mark_crashed(old.run_id)
        return old

    # -- the observer interface (RTState calls these on the session's loop) -------------------

    def request_created(
        self, record: RequestRecord, node_class: type[Node[Any]] | None
    ) -> tuple[Any] | None:
        if self._status != "open":
            return None
        if node_class is None:  # made and ended in a process worker: reported afterwards
            self._requests += 1
            self._write((self._started_row, record))
            return None
        if self._replay is not None:
            return self._created_resuming(record, node_class)
        self._requests += 1
        self._write((self._started_row, record))
        if record.parent_id is None:
            self._record_root(record, node_class)
        return None

    def request_ended(self, record: RequestRecord) -> Awaitable[None] | None:
        if self._status != "open":
            return None
        store = self._open_store()
        if self.durability == "sync" and record.status != "cancelled":
            return asyncio.wrap_future(store.write_durably((self._ended_row, record)))
        store.write((self._ended_row, record))
        return None

    def _open_store(self) -> RunStore:
        store = self.store
        assert store is not None, "journal used before open()"
        return store

    def _write(self, op: Any) -> None:
        self._open_store().write(op)

    def _record_root(self, record: RequestRecord, node_class: type[Node[Any]]) -> None:
        """Remember how to make a root call again (``runtree resume`` makes every one): the
        node's ``module:qualname`` and file, once per node class (the request row has the
        rest); the run's first root call is also shown with the run."""
        target = self._root_targets.row(node_class, record.node_name, record.request_id)
        self._roots += 1
        if target is None:
            return
        if not self._root_set:
            self._root_set = True
            inputs = encode_inputs(record.args, record.kwargs, max_chars=self._max_chars)
            self._write(RunRootSet(target.target, inputs, self.run_id))
        if self._roots == 1 and self.durability == "sync":
            # once per run: after a crash, `runtree resume` needs the first root call
            self._open_store().write_durably(target).result()
        else:
            self._write(target)

    # -- rows, built on the writer thread ----------------------------------------------------

    def _build_started(self, record: RequestRecord) -> RequestStarted:
        # only what never changes after creation: the request may have ended meanwhile
        self._seq += 1
        row: RequestStarted = _new(
            RequestStarted,
            (
                self.run_id,
                record.request_id,
                self._seq,
                record.parent_id,
                record.node_name,
                record.mode,
                encode_inputs(record.args, record.kwargs, max_chars=self._max_chars),
                record.start_time,
            ),
        )
        return row

    def _build_ended(self, record: RequestRecord) -> RequestEnded:
        status = record.status
        if status == "succeeded":
            output, replay, replayable = encode_output(
                record.output, max_chars=self._max_chars, max_replay_bytes=self._max_replay
            )
            error = None
        else:
            output, replay, replayable = None, None, 0
            error = None if record.error is None else encode_error(record.error)
        end = record.end_time
        attributes = record.attributes
        row: RequestEnded = _new(
            RequestEnded,
            (
                status,
                output,
                replay,
                replayable,
                error,
                time.time() if end is None else end,
                0,
                None if attributes is None else encode_value(attributes, max_chars=self._max_chars),
                self.run_id,
                record.request_id,
            ),
        )
        return row

    # -- resuming: answer what the old run completed -----------------------------------------

    def _created_resuming(
        self, record: RequestRecord, node_class: type[Node[Any]]
    ) -> tuple[Any] | None:
        self._requests += 1
        inputs = encode_inputs(record.args, record.kwargs, max_chars=self._max_chars)
        assert self._keys is not None
        assert self._replay is not None
        key = self._keys.assign(
            record.request_id, record.parent_id, record.node_name, inputs_digest(inputs)
        )
        self._seq += 1
        started = RequestStarted(
            self.run_id,
            record.request_id,
            self._seq,
            record.parent_id,
            record.node_name,
            record.mode,
            inputs,
            record.start_time,
        )
        self._write(started)
        if record.parent_id is None:
            self._record_root(record, node_class)
        hit = self._replay.pop(key, None)
        if hit is None:
            return None
        try:
            value = decode_output(hit.output, hit.replay)
        except Exception as exc:
            logger.warning(
                "journal: cannot replay %s (%s) from run %s, running it again: %s",
                record.node_name,
                hit.request_id,
                self.resumed_from,
                exc,
            )
            return None
        now = time.time()
        self._replayed += 1
        self._write(
            RequestEnded(
                "succeeded",
                hit.output,
                hit.replay,
                1,
                None,
                now,
                1,
                None,
                self.run_id,
                record.request_id,
            )
        )
        return (value,)

    # -- messages (the subscriber's thread) --------------------------------------------------

    def _on_message(self, message: Message) -> None:
        if isinstance(message, Streaming):
            self._event("stream", message.request_id, encode_value(message.item))
        elif isinstance(message, FatalFailure):
            self._event("fatal", message.request_id, encode_error(message.error))

    def _event(self, kind: str, request_id: str | None, payload: str) -> None:
        self._event_seq += 1
        self._write(
            EventRecorded(self.run_id, self._event_seq, request_id, kind, payload, time.time())
        )

    # -- ending ------------------------------------------------------------------------------

    def close(self, status: str, error: str | None = None) -> None:
        """Record how the run ended and write everything (closing the store if it opened it).

        Call it after the publisher closed, so every message has reached the journal.
        """
        if self._status != "open":
            self._status = "closed"
            return
        self._status = "closed"
        store = self._open_store()
        store.write(RunEnded(status, time.time(), error, self.run_id))
        if self._owns_store:
            store.close()
        else:
            store.flush()

    def statistics(self) -> JournalStatistics:
        return JournalStatistics(
            run_id=self.run_id,
            requests=self._requests,
            replayed=self._replayed,
            events=self._event_seq,
            store=self._open_store().statistics(),
        )

    def __repr__(self) -> str:
        return f"<Journal run {self.run_id} in {self.store!r}>"


def _version() -> str:
    # the parent package is imported by now; no import here keeps the layers clean
    return str(getattr(sys.modules.get("runtree"), "__version__", "?"))
