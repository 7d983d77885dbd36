"""runtree.viz.query: read-only reads of a journal, and the documents built on them."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

import runtree as rt
import runtree.graph as rg
from runtree.store.schema import SCHEMA_VERSION
from runtree.viz.document import graph_view, parse_mermaid, report_document, request_view
from runtree.viz.errors import JournalProblem
from runtree.viz.live import LiveFeed
from runtree.viz.query import JournalReader
from tests.viz.conftest import Demo
from tests.viz.journals import LiveRun, add_attributes, as_schema_v3, build_large, make_graph


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_runs_newest_first_with_counts(demo: Demo) -> None:
    with JournalReader(demo.path).open() as query:
        page = query.runs()
        assert [r["name"] for r in page["runs"]] == ["graph-demo", "crawl"]
        crawl = page["runs"][1]
        assert (crawl["requests"], crawl["failed"], crawl["status"]) == (8, 1, "succeeded")
        assert crawl["usage"] == {"input_tokens": None, "output_tokens": None, "cost": None}
        assert [r["name"] for r in query.runs(text="cra")["runs"]] == ["crawl"]
        assert query.runs(status="failed")["runs"] == []
        assert query.runs(text="100%_")["runs"] == []  # LIKE wildcards are literal


def test_a_run_its_tree_and_a_failed_request(demo: Demo) -> None:
    with JournalReader(demo.path).open() as query:
        assert query.resolve_run(demo.crawl[:6]) == demo.crawl
        assert query.resolve_run("latest") == demo.graph
        assert query.resolve_run("zzz") is None
        run = query.run(demo.crawl)
        assert run is not None
        assert (run["requests"], run["failed"], run["events"], run["last_seq"]) == (8, 1, 3, 8)
        roots = query.children(demo.crawl, None)
        assert [(r["node_name"], r["children"]) for r in roots["items"]] == [("Crawl", 7)]
        root = roots["items"][0]["request_id"]
        page = query.children(demo.crawl, root, offset=2, limit=3)
        assert page["total"] == 7
        assert [r["node_name"] for r in page["items"]] == ["fetch", "parse", "fetch"]
        failed = query.search(demo.crawl, status="failed")["items"]
        assert [(r["node_name"], r["error_type"]) for r in failed] == [
            ("parse", "tests.viz.journals.ParseError")
        ]
        detail = request_view(query, demo.crawl, failed[0]["request_id"])
        assert detail is not None
        assert detail["error"]["traceback"].startswith("Traceback (most recent call last)")
        assert detail["inputs"] == {
            "args": [{"url": "broken.example", "bytes": 1400}],
            "kwargs": {},
        }
        assert [p["node_name"] for p in detail["path"]] == ["Crawl"]
        assert detail["attributes"] == {} and detail["llm"] is None
        assert request_view(query, demo.crawl, "nope") is None
        assert query.run("nope") is None


def test_a_model_call_reads_its_messages_and_attributes(demo: Demo) -> None:
    chat = f"{demo.crawl[:8]}-8"
    add_attributes(
        demo.path,
        {chat: {"runtree.kind": "llm", "gen_ai.usage.input_tokens": 7, "runtree.usage.cost": 0.5}},
    )
    with JournalReader(demo.path).open() as query:
        detail = request_view(query, demo.crawl, chat)
        assert detail is not None and detail["llm"] is not None
        assert [m["role"] for m in detail["llm"]["messages"]] == ["system", "user"]
        assert detail["llm"]["response"]["role"] == "assistant"
        assert detail["llm"]["usage"] == {"input_tokens": 7, "cost": 0.5}
        run = query.run(demo.crawl)
        assert run is not None and run["usage"]["input_tokens"] == 7
        listed = {r["run_id"]: r for r in query.runs()["runs"]}
        assert listed[demo.crawl]["usage"]["cost"] == 0.5
        (item,) = [r for r in query.search(demo.crawl, text="chat")["items"]]
        assert item["attributes"] == {"runtree.kind": "llm", "gen_ai.usage.input_tokens": 7,
                                      "runtree.usage.cost": 0.5}  # fmt: skip


def test_events_and_timeline(demo: Demo) -> None:
    with JournalReader(demo.path).open() as query:
        events = query.events(demo.crawl)
        assert [e["payload"] for e in events["items"]] == [
            "fetched a.example",
            "fetched broken.example",
            "fetched c.example",
        ]
        assert query.events(demo.crawl, after=2)["items"][0]["seq"] == 3
        timeline = query.timeline(demo.crawl, limit=5)
        assert (timeline["total"], len(timeline["items"]), timeline["truncated"]) == (8, 5, True)
        assert sum(count for count, _ in timeline["histogram"]) == 8
        assert sum(failed for _, failed in timeline["histogram"]) == 1
        assert query.timeline("nope")["items"] == []


def test_a_graph_run_as_a_picture(demo: Demo) -> None:
    with JournalReader(demo.path).open() as query:
        (graph,) = query.graph_runs(demo.graph)
        assert graph["node_name"] == "retry-loop" and graph["status"] == "succeeded"
        # the graph's request recorded its picture when it ran (runtree.graph.mermaid)
        declared = query.attributes(demo.graph, graph["request_id"])[rg.MERMAID_ATTRIBUTE]
        assert declared == make_graph().to_mermaid()
        view = graph_view(query, demo.graph, graph["request_id"])
    assert view["declared"] and view["start"] == "Check"
    assert [step["node"] for step in view["path"]] == ["Check", "Wait", "Check", "Done"]
    assert [step["action"] for step in view["path"]] == ["again", None, "ok", None]
    visits = {n["name"]: (n["visits"], n["declared"], n["shape"]) for n in view["nodes"]}
    assert visits == {"Check": (2, True, "node"), "Wait": (1, True, "node"),
                      "Done": (1, True, "node"), "Skip": (0, True, "node")}  # fmt: skip
    edges = {(e["from"], e["to"], e["action"]): e["count"] for e in view["edges"]}
    assert edges == {("Check", "Wait", "again"): 1, ("Wait", "Check", "default"): 1,
                     ("Check", "Done", "ok"): 1, ("Check", "Skip", "skip"): 0}  # fmt: skip


def test_a_graph_run_without_its_picture_is_drawn_from_its_steps(demo: Demo) -> None:
    as_schema_v3(demo.path)  # no attributes: only the steps say what the graph is
    with JournalReader(demo.path).open() as query:
        (graph,) = query.graph_runs(demo.graph)
        view = graph_view(query, demo.graph, graph["request_id"])
    assert not view["declared"] and view["start"] == "Check"
    assert {n["name"]: n["visits"] for n in view["nodes"]} == {"Check": 2, "Wait": 1, "Done": 1}
    edges = {(e["from"], e["to"], e["action"]): e["count"] for e in view["edges"]}
    assert edges == {("Check", "Wait", "again"): 1, ("Wait", "Check", "default"): 1,
                     ("Check", "Done", "ok"): 1}  # fmt: skip


class Pick(rg.Node):
    def post(self, shared: Any, prep_res: Any, exec_res: Any) -> str:
        return "left" if self.params["n"] % 2 else "right"


class Side(rg.Node):
    pass


class Boom(rg.Node):
    def exec(self, prep_res: Any) -> None:
        raise OSError("disk full")


class Pairs(rg.BatchGraph):
    def prep(self, shared: Any) -> list[dict[str, Any]]:
        return [{"n": 1}, {"n": 2}, {"n": 3}]


def run_in_journal(path: Path, graph: rg.BaseNode) -> str:
    async def main() -> str:
        async with rt.Session(store=path, name="graphs") as session:
            with contextlib.suppress(OSError):
                await graph.run({})
        return session.run_id

    return asyncio.run(main())


def test_a_batch_graph_is_one_picture_of_all_its_runs(tmp_path: Path) -> None:
    pick = Pick()
    pick - "left" >> Side(name="L")
    pick - "right" >> Side(name="R")
    run_id = run_in_journal(tmp_path / "j.db", Pairs(pick, name="pairs"))
    with JournalReader(tmp_path / "j.db").open() as query:
        (graph,) = query.graph_runs(run_id)  # the batch graph, not each of its runs
        assert graph["node_name"] == "pairs"
        view = graph_view(query, run_id, graph["request_id"])
    assert [s["node"] for s in view["path"]] == ["Pick", "L", "Pick", "R", "Pick", "L"]
    assert {n["name"]: n["visits"] for n in view["nodes"]} == {"Pick": 3, "L": 2, "R": 1}
    edges = {(e["from"], e["to"], e["action"]): e["count"] for e in view["edges"]}
    # each run's transitions on their own: no arrow from one run's end to the next's start
    assert edges == {("Pick", "L", "left"): 2, ("Pick", "R", "right"): 1}


def test_parallel_branches_and_a_failed_step(tmp_path: Path) -> None:
    first = Side(name="first")
    first >> [Side(name="b1"), Side(name="b2")] >> Boom()
    run_id = run_in_journal(tmp_path / "j.db", rg.Graph(first, name="fan"))
    with JournalReader(tmp_path / "j.db").open() as query:
        (graph,) = query.graph_runs(run_id)  # the failed graph; not its parallel step
        assert (graph["node_name"], graph["status"]) == ("fan", "failed")
        view = graph_view(query, run_id, graph["request_id"])
    assert view["declared"]
    assert [(s["node"], s["status"]) for s in view["path"]] == [
        ("first", "succeeded"), ("Parallel(b1, b2)", "succeeded"), ("Boom", "failed")
    ]  # fmt: skip
    nodes = {n["name"]: (n["visits"], n["failed"], n["shape"]) for n in view["nodes"]}
    assert nodes == {
        "first": (1, 0, "node"),
        "Parallel(b1, b2)": (1, 0, "parallel"),
        "b1": (1, 0, "node"),
        "b2": (1, 0, "node"),
        "Boom": (1, 1, "node"),
    }
    branches = {(e["from"], e["to"]): e["count"] for e in view["edges"] if e["kind"] == "branch"}
    assert branches == {("Parallel(b1, b2)", "b1"): 1, ("Parallel(b1, b2)", "b2"): 1}


def test_a_graph_still_running_is_found_by_its_steps(tmp_path: Path) -> None:
    first = Side(name="first")
    first >> [Side(name="b1"), Side(name="b2")] >> Side(name="last")
    path = tmp_path / "j.db"
    run_id = run_in_journal(path, rg.Graph(first, name="fan"))
    # the rows as the journal holds them while the graph and its parallel step still run:
    # started, with no output and no attributes yet
    conn = sqlite3.connect(path)
    conn.execute(
        "UPDATE requests SET status = 'running', output = NULL, attributes = NULL, "
        "end_time = NULL WHERE node_name IN ('fan', 'Parallel(b1, b2)')"
    )
    conn.commit()
    conn.close()
    with JournalReader(path).open() as query:
        (graph,) = query.graph_runs(run_id)
        assert (graph["node_name"], graph["status"]) == ("fan", "running")
        view = graph_view(query, run_id, graph["request_id"])
    assert [s["node"] for s in view["path"]] == ["first", "Parallel(b1, b2)", "last"]


def test_parse_mermaid_reads_what_to_mermaid_writes() -> None:
    text = (
        'flowchart TD\n    n0["a #quot;b#quot; #35;1"]\n    n1[["sub"]]\n    n0 -->|x#124;y| n1\n'
    )
    parsed = parse_mermaid(text)
    assert parsed["start"] is None  # no `class ... start` line
    assert parsed["nodes"] == [
        {"name": 'a "b" #1', "shape": "node"},
        {"name": "sub", "shape": "graph"},
    ]
    assert parsed["edges"] == [{"from": 'a "b" #1', "to": "sub", "action": "x|y", "kind": "action"}]


def test_the_report_document_holds_every_request(demo: Demo) -> None:
    with JournalReader(demo.path).open() as query:
        document = report_document(query, demo.crawl)
    assert len(document["requests"]) == 8 and not document["truncated"]
    assert document["requests"][0]["children"] == 7
    assert len(document["events"]) == 3


def test_reading_never_changes_the_file(demo: Demo) -> None:
    before = digest(demo.path)
    with JournalReader(demo.path).open() as query:
        query.runs()
        query.run(demo.crawl)
        with pytest.raises(JournalProblem, match="readonly|read-only|cannot read"):
            query._rows("DELETE FROM runs")
    assert digest(demo.path) == before


def test_an_older_journal_without_attributes_reads(demo: Demo) -> None:
    as_schema_v3(demo.path)
    before = digest(demo.path)
    with JournalReader(demo.path).open() as query:
        assert query.version() == SCHEMA_VERSION  # upgraded in memory, not in the file
        run = query.run(demo.crawl)
        assert run is not None and run["requests"] == 8
        assert run["usage"] == {"input_tokens": None, "output_tokens": None, "cost": None}
        (root,) = query.children(demo.crawl, None)["items"]
        assert "attributes" not in root and root["children"] == 7
        (failed,) = query.search(demo.crawl, status="failed")["items"]
        detail = request_view(query, demo.crawl, failed["request_id"])
        assert detail is not None and detail["attributes"] == {}
        assert query.attributes(demo.crawl, failed["request_id"]) == {}
        assert query.timeline(demo.crawl)["total"] == 8
        assert len(report_document(query, demo.crawl)["requests"]) == 8
    assert digest(demo.path) == before
    conn = sqlite3.connect(demo.path)
    try:
        assert conn.execute("SELECT version FROM runtree_schema").fetchone() == (3,)
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("content", "kind", "message"),
    [
        (None, "missing", "no run journal at"),
        (b"", "empty", "is empty"),
        (b"garbage" * 500, "not_journal", "is not a runtree journal"),
    ],
)
def test_bad_files_give_clear_problems(
    tmp_path: Path, content: bytes | None, kind: str, message: str
) -> None:
    path = tmp_path / "journal.db"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(JournalProblem, match=message) as caught:
        JournalReader(path).connect()
    assert caught.value.kind == kind


def test_a_sqlite_file_that_is_not_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.close()
    with pytest.raises(JournalProblem, match="not a runtree journal") as caught:
        JournalReader(path).connect()
    assert caught.value.kind == "not_journal"


def test_a_newer_schema_is_refused(demo: Demo) -> None:
    conn = sqlite3.connect(demo.path)
    conn.execute("UPDATE runtree_schema SET version = ?", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(JournalProblem, match="written by a newer runtree") as caught:
        JournalReader(demo.path).connect()
    assert caught.value.kind == "newer"


def test_a_locked_journal(demo: Demo) -> None:
    holder = sqlite3.connect(demo.path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE runs SET name = name")
    try:
        with pytest.raises(JournalProblem, match="locked") as caught:
            JournalReader(demo.path, busy_timeout=0.05).connect()
        assert caught.value.kind == "locked"
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# -- the live feed ---------------------------------------------------------------------------


def test_the_live_feed_sends_what_changed_and_ends_with_the_run(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    live = LiveRun(path).start()
    try:
        ticks = iter(range(1000))
        query = JournalReader(path).connect()
        feed = LiveFeed(query, live.run_id, totals_every=5, clock=lambda: float(next(ticks)))
        first = feed.poll()
        assert first is not None
        assert [r["node_name"] for r in first["requests"]][:1] == ["step"]
        assert feed.poll() is None  # nothing committed since: one pragma, no reads
        seen = {item["request_id"]: item["status"] for item in first["requests"]}
        live.advance()
        while len(seen) < 5 or any(s == "running" for s in seen.values()):
            change = feed.poll()
            if change is None:
                time.sleep(
                    0.01
                )  # waiting for the run's thread to write (the test timeout bounds it)
            for item in (change or {}).get("requests", []):
                seen[item["request_id"]] = item["status"]
        assert sorted(seen.values()) == ["succeeded"] * 5
        live.advance()
        live.join()
        final = feed.poll()
        assert final is not None and feed.finished
        assert final["run"]["status"] == "succeeded"
        assert final["totals"]["requests"] == 5
        query.close()
    finally:
        live.join()


def test_live_batches_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "large.db"
    run_id = build_large(path, requests=2500, fanout=100)
    query = JournalReader(path).connect()
    try:
        feed = LiveFeed(query, run_id)
        first = feed.poll()
        assert first is not None and len(first["requests"]) == 2000
        second = feed.poll()  # more was waiting: read at once, whatever the version says
        assert second is not None and len(second["requests"]) == 500
        assert feed.finished
    finally:
        query.close()


def test_every_asset_the_page_names_ships_in_the_package() -> None:
    from runtree.viz.page import ASSETS, STATIC, asset, render_page

    assert sorted(p.name for p in STATIC.iterdir()) == sorted(ASSETS)
    for name in ASSETS:
        text, media_type = asset(name)
        assert text and media_type
    page = render_page(title="t", config={"mode": "report"}, data={"x": "</script>"}, inline=True)
    assert '</script>"' not in page and "\\u003c/script\\u003e" in page
