"""Every SQL statement the viewer runs, over a read-only connection to a journal file.

The viewer never writes: the file is opened with :func:`runtree.store.open_readonly` (``mode=ro``:
no migration, no change of journal mode, no ``-wal`` checkpoint), the same opening as the
``runtree`` commands'. A file from an older runtree is read through a copy upgraded in memory
(its requests have no attributes); a file that cannot be read (missing, empty, damaged,
locked, newer, not a journal) is a :class:`~runtree.viz.errors.JournalProblem` in the store's
one-line words. A schema change of the journal touches this module only.

Every function returns plain JSON-ready data (dicts, lists, numbers, strings): the same
documents the HTTP API serves and the HTML report embeds.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runtree.graph import MERMAID_ATTRIBUTE
from runtree.store.errors import JournalFileError, SchemaVersionError, StoreError
from runtree.store.file import open_readonly, sqlite_problem
from runtree.viz.errors import JournalProblem
from runtree.viz.shape import decode, detail, run_row, summary_row, usage

__all__ = ["MAX_CHECKED", "MAX_PAGE", "JournalReader", "Query"]

#: most rows one call returns (pages of the tree, search results, timeline, live batches)
MAX_PAGE = 2000
#: request ids whose end one live poll checks (the rest wait for the next poll)
MAX_CHECKED = 2000

# What the tree, search and timeline show of a request: no values, a short preview.
_ATTRS = (
    "CASE WHEN json_valid(attributes) THEN json_extract(attributes, "
    "'$.\"runtree.kind\"', '$.\"runtree.attempt\"', '$.\"gen_ai.usage.input_tokens\"', "
    "'$.\"gen_ai.usage.output_tokens\"', '$.\"runtree.usage.cost\"', "
    "'$.\"gen_ai.request.model\"', '$.\"runtree.cache\"') END"
)
_SUMMARY = (
    "request_id, parent_id, seq, node_name, mode, status, start_time, end_time, replayed, "
    "CASE WHEN json_valid(error) THEN json_extract(error, '$.type') END, "
    "CASE WHEN json_valid(error) THEN substr(json_extract(error, '$.message'), 1, 200) END, "
    "substr(output, 1, 120), " + _ATTRS
)
_USAGE = (
    "sum(CASE WHEN json_valid(attributes) THEN "
    "json_extract(attributes, '$.\"gen_ai.usage.input_tokens\"') END), "
    "sum(CASE WHEN json_valid(attributes) THEN "
    "json_extract(attributes, '$.\"gen_ai.usage.output_tokens\"') END), "
    "sum(CASE WHEN json_valid(attributes) THEN "
    "json_extract(attributes, '$.\"runtree.usage.cost\"') END)"
)
# graph steps (runtree.graph._tracking): their argument is a StepWork whose repr is the label
_STEP_WORK = "inputs LIKE '%runtree.graph._tracking.StepWork%'"
_LABEL = "CASE WHEN json_valid(inputs) THEN json_extract(inputs, '$.args[0].repr') END"
_RUN_COLUMNS = (
    "run_id, name, status, start_time, end_time, pid, host, process_marker, resumed_from, "
    "durability, root_node, root_inputs, error"
)


def _problem(exc: StoreError) -> JournalProblem:
    """The viewer's kind (and HTTP status) of a journal that cannot be read."""
    if isinstance(exc, SchemaVersionError):
        return JournalProblem(str(exc), kind="newer")
    problem = exc.problem if isinstance(exc, JournalFileError) else ""
    if problem in ("missing", "empty"):
        return JournalProblem(str(exc), kind=problem, http_status=404)
    kind = {"locked": "locked", "folder": "not_journal", "not_journal": "not_journal"}
    return JournalProblem(str(exc), kind=kind.get(problem, "corrupt"))


class JournalReader:
    """Opens read-only connections to the journal at ``path`` (one per :meth:`open`), with
    :func:`runtree.store.open_readonly`."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 2.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout

    @contextmanager
    def open(self) -> Iterator[Query]:
        """A :class:`Query` over a fresh read-only connection, closed on exit."""
        query = self.connect()
        try:
            yield query
        finally:
            query.close()

    def connect(self) -> Query:
        """A :class:`Query` the caller closes (the live feed keeps one per stream)."""
        try:
            conn = open_readonly(self.path, self.busy_timeout)
        except StoreError as exc:
            raise _problem(exc) from None
        return Query(conn, self.path)


class Query:
    """Reads of one open journal (at the current schema). Not thread-safe: one caller at a
    time."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    def close(self) -> None:
        self.conn.close()

    # -- plumbing ----------------------------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise _problem(sqlite_problem(self.path, exc)) from None

    def version(self) -> int:
        """The schema version read (an older file is read upgraded, in memory)."""
        return int(self._rows("SELECT version FROM runtree_schema")[0][0])

    def data_version(self) -> int:
        """Changes whenever another connection commits to the file (cheap: no table read)."""
        return int(self._rows("PRAGMA data_version")[0][0])

    # -- runs --------------------------------------------------------------------------------

    def runs(
        self, *, text: str = "", status: str = "", limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        """A page of runs, newest first, with their request counts, errors and usage."""
        where, params = ["1"], []
        if text:
            where.append("(name LIKE ? ESCAPE '\\' OR run_id LIKE ? ESCAPE '\\')")
            pattern = _like(text)
            params += [pattern, _like(text, anywhere=False)]
        rows = self._rows(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE {' AND '.join(where)} "
            "ORDER BY start_time DESC, rowid DESC",
            params,
        )
        runs = [run_row(row) for row in rows]
        if status:
            runs = [run for run in runs if run["status"] == status]
        total = len(runs)
        page = runs[offset : offset + _clamp(limit)]
        self._add_counts(page)
        return {"runs": page, "total": total, "offset": offset}

    def _add_counts(self, runs: list[dict[str, Any]]) -> None:
        if not runs:
            return
        by_id = {run["run_id"]: run for run in runs}
        marks = ", ".join("?" * len(by_id))
        rows = self._rows(
            "SELECT run_id, count(*), sum(status = 'failed'), sum(status = 'running'), "
            f"{_USAGE} FROM requests WHERE run_id IN ({marks}) GROUP BY run_id",
            list(by_id),
        )
        for run in runs:
            run.update(requests=0, failed=0, running=0, usage=usage(None, None, None))
        for run_id, count, failed, running, tokens_in, tokens_out, cost in rows:
            by_id[run_id].update(
                requests=count,
                failed=failed or 0,
                running=running or 0,
                usage=usage(tokens_in, tokens_out, cost),
            )

    def resolve_run(self, ref: str) -> str | None:
        """The full id of the run ``ref`` names (an id, a unique prefix, ``latest``)."""
        ref = ref.strip()
        if not ref:
            return None
        if ref in ("latest", "last"):
            rows = self._rows(
                "SELECT run_id FROM runs ORDER BY start_time DESC, rowid DESC LIMIT 1"
            )
        else:
            rows = self._rows("SELECT run_id FROM runs WHERE run_id = ?", (ref,))
            if not rows:
                rows = self._rows(
                    "SELECT run_id FROM runs WHERE substr(run_id, 1, ?) = ? LIMIT 2",
                    (len(ref), ref),
                )
        return str(rows[0][0]) if len(rows) == 1 else None

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run with its totals (one scan of its requests, no sort)."""
        rows = self._rows(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            return None
        run = run_row(rows[0])
        (total, failed, running, cancelled, replayed, first, last, last_seq, *use) = self._rows(
            "SELECT count(*), sum(status = 'failed'), sum(status = 'running'), "
            "sum(status = 'cancelled'), sum(replayed), min(start_time), "
            f"max(coalesce(end_time, start_time)), max(seq), {_USAGE} "
            "FROM requests WHERE run_id = ?",
            (run_id,),
        )[0]
        events = self._rows(
            "SELECT count(*), coalesce(max(seq), 0) FROM events WHERE run_id = ?", (run_id,)
        )[0]
        failed, running, cancelled = failed or 0, running or 0, cancelled or 0
        run.update(
            requests=total,
            failed=failed,
            running=running,
            replayed=replayed or 0,
            statuses={
                "succeeded": total - failed - running - cancelled,
                "failed": failed,
                "running": running,
                "cancelled": cancelled,
            },
            first_start=first,
            last_end=last,
            last_seq=last_seq or 0,
            events=events[0],
            last_event=events[1],
            usage=usage(*use),
        )
        return run

    def run_status(self, run_id: str) -> dict[str, Any] | None:
        """The run row alone (no scan of its requests): what the live feed re-reads."""
        rows = self._rows(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
        return run_row(rows[0]) if rows else None

    # -- requests ----------------------------------------------------------------------------

    def _summaries(self, sql_tail: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        rows = self._rows(f"SELECT {_SUMMARY} FROM requests {sql_tail}", params)
        return [summary_row(row) for row in rows]

    def _with_child_counts(self, run_id: str, items: list[dict[str, Any]]) -> None:
        for item in items:
            item["children"] = 0
        ids = [item["request_id"] for item in items]
        counts: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._rows(
                "SELECT parent_id, count(*) FROM requests WHERE run_id = ? "
                f"AND parent_id IN ({marks}) GROUP BY parent_id",
                [run_id, *chunk],
            )
            counts.update({parent: count for parent, count in rows})
        for item in items:
            item["children"] = counts.get(item["request_id"], 0)

    def children(
        self, run_id: str, parent: str | None, *, offset: int = 0, limit: int = 200
    ) -> dict[str, Any]:
        """A page of the requests ``parent`` made (the roots for ``None``), in call order."""
        where = "parent_id IS NULL" if parent is None else "parent_id = ?"
        params: list[Any] = [run_id] if parent is None else [run_id, parent]
        total = self._rows(f"SELECT count(*) FROM requests WHERE run_id = ? AND {where}", params)
        items = self._summaries(
            f"WHERE run_id = ? AND {where} ORDER BY seq LIMIT ? OFFSET ?",
            [*params, _clamp(limit), max(0, offset)],
        )
        self._with_child_counts(run_id, items)
        return {"parent": parent, "items": items, "total": total[0][0], "offset": offset}

    def search(
        self, run_id: str, *, text: str = "", status: str = "", offset: int = 0, limit: int = 200
    ) -> dict[str, Any]:
        """Requests whose node name contains ``text`` and/or whose status is ``status``."""
        where, params = ["run_id = ?"], [run_id]
        if text:
            where.append("(node_name LIKE ? ESCAPE '\\' OR request_id = ?)")
            params += [_like(text), text]
        if status:
            where.append("status = ?")
            params.append(status)
        clause = " AND ".join(where)
        total = self._rows(f"SELECT count(*) FROM requests WHERE {clause}", params)[0][0]
        items = self._summaries(
            f"WHERE {clause} ORDER BY seq LIMIT ? OFFSET ?", [*params, _clamp(limit), offset]
        )
        self._with_child_counts(run_id, items)
        return {"items": items, "total": total, "offset": offset}

    def request(self, run_id: str, request_id: str) -> dict[str, Any] | None:
        """Everything about one request: values, error and traceback, attributes, its path."""
        rows = self._rows(
            "SELECT request_id, parent_id, seq, node_name, mode, status, inputs, output, error, "
            "start_time, end_time, replayed, attributes FROM requests "
            "WHERE run_id = ? AND request_id = ?",
            (run_id, request_id),
        )
        if not rows:
            return None
        row = rows[0]
        found = detail(row)
        found["children"] = self._rows(
            "SELECT count(*) FROM requests WHERE run_id = ? AND parent_id = ?",
            (run_id, request_id),
        )[0][0]
        found["path"] = self._ancestors(run_id, row[1])
        found["events"] = self._rows(
            "SELECT count(*) FROM events WHERE run_id = ? AND request_id = ?",
            (run_id, request_id),
        )[0][0]
        return found

    def full_requests(
        self, run_id: str, *, offset: int = 0, limit: int = MAX_PAGE
    ) -> list[dict[str, Any]]:
        """A page of the run's requests with their values, in call order (for reports)."""
        rows = self._rows(
            "SELECT request_id, parent_id, seq, node_name, mode, status, inputs, output, error, "
            "start_time, end_time, replayed, attributes FROM requests "
            "WHERE run_id = ? ORDER BY seq LIMIT ? OFFSET ?",
            (run_id, _clamp(limit), offset),
        )
        return [detail(row) for row in rows]

    def _ancestors(self, run_id: str, parent: str | None) -> list[dict[str, Any]]:
        path: list[dict[str, Any]] = []
        seen: set[str] = set()
        while parent is not None and parent not in seen and len(path) < 200:
            seen.add(parent)
            rows = self._rows(
                "SELECT request_id, parent_id, node_name, status FROM requests "
                "WHERE run_id = ? AND request_id = ?",
                (run_id, parent),
            )
            if not rows:
                break
            request_id, parent, node_name, status = rows[0]
            path.append({"request_id": request_id, "node_name": node_name, "status": status})
        path.reverse()
        return path

    def step_outcomes(self, run_id: str, parent: str, *, limit: int = MAX_PAGE) -> list[Any]:
        """The requests of the graph run ``parent``, in call order: ``[request_id, node name,
        status, action, label, parent_id]``. The steps are its children labelled
        ``step ...``; for a batch graph, the children of its runs (``run i of ...``)."""
        rows = self._rows(
            f"SELECT request_id, node_name, status, CASE WHEN json_valid(output) THEN "
            f"json_extract(output, '$.action') END, {_LABEL}, parent_id FROM requests "
            "WHERE run_id = ? AND (parent_id = ? OR parent_id IN (SELECT request_id FROM "
            f"requests WHERE run_id = ? AND parent_id = ? AND {_STEP_WORK} AND {_LABEL} "
            "LIKE 'run %')) ORDER BY seq LIMIT ?",
            (run_id, parent, run_id, parent, limit),
        )
        return [list(row) for row in rows]

    def branch_steps(self, run_id: str, parents: Sequence[str]) -> list[Any]:
        """The branches the parallel steps ``parents`` ran: ``[request_id, node name,
        status, parent_id]`` (at most ``MAX_PAGE``)."""
        found: list[Any] = []
        parents = list(parents)
        for start in range(0, len(parents), 500):
            chunk = parents[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            found += self._rows(
                "SELECT request_id, node_name, status, parent_id FROM requests WHERE run_id = ? "
                f"AND parent_id IN ({marks}) AND {_STEP_WORK} AND {_LABEL} LIKE 'step %' "
                "ORDER BY seq LIMIT ?",
                [run_id, *chunk, MAX_PAGE - len(found)],
            )
            if len(found) >= MAX_PAGE:
                break
        return [list(row) for row in found]

    def graph_runs(self, run_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """The requests that ran a graph (``runtree.graph``): their id, name and status.

        A graph's request records its picture (the attribute ``runtree.graph.mermaid``); a
        finished one returns its ``path``. One still running (or from a file without
        attributes that did not succeed) is known by its steps: a step request whose own
        children are steps or batch runs (a parallel step's branches are steps too: a
        ``Parallel(...)`` is told apart by its name)."""
        recorded = (
            "CASE WHEN json_valid(attributes) THEN "
            f"json_extract(attributes, '$.\"{MERMAID_ATTRIBUTE}\"') END IS NOT NULL OR "
        )
        # a step journaled without attributes (by an older runtree) may have failed
        unfinished = "(status = 'running' OR (attributes IS NULL AND status != 'succeeded'))"
        child_label = _LABEL.replace("inputs", "c.inputs")
        rows = self._rows(
            f"SELECT {_SUMMARY} FROM requests AS r WHERE run_id = ? AND {_STEP_WORK} "
            f"AND {_LABEL} LIKE 'step %' AND ({recorded}"
            "CASE WHEN json_valid(output) THEN json_type(output, '$.path') END = 'array' "
            f"OR ({unfinished} AND node_name NOT LIKE 'Parallel(%' AND EXISTS (SELECT 1 "
            "FROM requests AS c WHERE c.run_id = r.run_id AND c.parent_id = r.request_id "
            f"AND c.{_STEP_WORK} AND ({child_label} LIKE 'step %' OR {child_label} LIKE "
            "'run %')))) ORDER BY seq LIMIT ?",
            (run_id, limit),
        )
        return [summary_row(row) for row in rows]

    def attributes(self, run_id: str, request_id: str) -> dict[str, Any]:
        rows = self._rows(
            "SELECT attributes FROM requests WHERE run_id = ? AND request_id = ?",
            (run_id, request_id),
        )
        value = decode(rows[0][0]) if rows and rows[0][0] is not None else {}
        return value if isinstance(value, dict) else {}

    # -- timeline ----------------------------------------------------------------------------

    def timeline(
        self,
        run_id: str,
        *,
        start: float | None = None,
        end: float | None = None,
        limit: int = 400,
        buckets: int = 120,
    ) -> dict[str, Any]:
        """Requests running in ``[start, end]`` (epoch seconds; the whole run by default),
        at most ``limit`` in call order, and the run's activity in ``buckets`` intervals."""
        bounds = self._rows(
            "SELECT min(start_time), max(coalesce(end_time, start_time)), "
            "sum(end_time IS NULL) FROM requests WHERE run_id = ?",
            (run_id,),
        )[0]
        lo, hi = bounds[0], bounds[1]
        if lo is None:
            return {"items": [], "total": 0, "truncated": False, "histogram": [], "start": None}
        if bounds[2]:
            hi = max(hi, time.time())
        hi = max(hi, lo + 1e-6)
        start = lo if start is None else start
        end = hi if end is None else end
        clause = "run_id = ? AND start_time <= ? AND coalesce(end_time, ?) >= ?"
        params = [run_id, end, hi, start]
        total = self._rows(f"SELECT count(*) FROM requests WHERE {clause}", params)[0][0]
        items = self._summaries(f"WHERE {clause} ORDER BY seq LIMIT ?", [*params, _clamp(limit)])
        width = (hi - lo) / max(1, buckets)
        histogram = [[0, 0] for _ in range(max(1, buckets))]
        for bucket, count, failed in self._rows(
            "SELECT min(CAST((start_time - ?) / ? AS INTEGER), ?), count(*), "
            "sum(status = 'failed') FROM requests WHERE run_id = ? GROUP BY 1",
            (lo, width, len(histogram) - 1, run_id),
        ):
            if bucket is not None and 0 <= bucket < len(histogram):
                histogram[bucket] = [count, failed or 0]
        return {
            "items": items,
            "total": total,
            "truncated": total > len(items),
            "run_start": lo,
            "run_end": hi,
            "start": start,
            "end": end,
            "histogram": histogram,
        }

    # -- events and live updates -------------------------------------------------------------

    def events(self, run_id: str, *, after: int = 0, limit: int = 200) -> dict[str, Any]:
        """Broadcast items and fatal failures after sequence number ``after``."""
        rows = self._rows(
            "SELECT seq, request_id, kind, payload, time FROM events WHERE run_id = ? "
            "AND seq > ? ORDER BY seq LIMIT ?",
            (run_id, after, _clamp(limit)),
        )
        total = self._rows("SELECT count(*) FROM events WHERE run_id = ?", (run_id,))[0][0]
        items = [
            {"seq": s, "request_id": r, "kind": k, "payload": decode(p), "time": t}
            for s, r, k, p, t in rows
        ]
        return {"items": items, "total": total, "after": after}

    def running_ids(self, run_id: str, *, limit: int = 10_000) -> list[str]:
        rows = self._rows(
            "SELECT request_id FROM requests WHERE run_id = ? AND status = 'running' LIMIT ?",
            (run_id, limit),
        )
        return [row[0] for row in rows]

    def new_requests(self, run_id: str, after_seq: int) -> list[dict[str, Any]]:
        """Requests created after ``after_seq``, in call order (at most ``MAX_PAGE``)."""
        return self._summaries(
            "WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?", [run_id, after_seq, MAX_PAGE]
        )

    def requests_by_id(self, run_id: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Summaries of the given requests (primary-key lookups, at most ``MAX_CHECKED``)."""
        found: list[dict[str, Any]] = []
        ids = list(ids)[:MAX_CHECKED]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            found += self._summaries(
                f"WHERE run_id = ? AND request_id IN ({marks})", [run_id, *chunk]
            )
        return found


# -- row shapes -----------------------------------------------------------------------------


def _clamp(limit: int) -> int:
    return max(1, min(int(limit), MAX_PAGE))


def _like(text: str, *, anywhere: bool = True) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%" if anywhere else f"{escaped}%"
