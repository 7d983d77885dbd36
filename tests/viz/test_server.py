"""The viewer's HTTP API on a real server (127.0.0.1): status codes, JSON shapes, SSE."""

from __future__ import annotations

import http.client
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from runtree.store.schema import SCHEMA_VERSION
from tests.viz.conftest import Demo
from tests.viz.journals import LiveRun

Serve = Callable[[Path], str]


def get(url: str, path: str) -> tuple[int, str, str]:
    """``(status, content type, body)`` of ``GET url + path``."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("content-type") or "", response.read().decode()
    finally:
        conn.close()


def get_json(url: str, path: str, status: int = 200) -> Any:
    code, kind, body = get(url, path)
    assert (code, kind) == (status, "application/json"), body
    return json.loads(body)


def test_the_api_answers_in_json(demo: Demo, serve: Serve) -> None:
    url = serve(demo.path)
    journal = get_json(url, "/api/journal")
    assert journal == {"path": str(demo.path), "schema_version": SCHEMA_VERSION}
    runs = get_json(url, "/api/runs?limit=1")
    assert (runs["total"], len(runs["runs"])) == (2, 1)
    assert set(runs["runs"][0]) >= {"run_id", "name", "status", "requests", "failed", "usage"}
    run = get_json(url, f"/api/runs/{demo.crawl[:10]}")
    assert run["run_id"] == demo.crawl and run["requests"] == 8
    roots = get_json(url, f"/api/runs/{demo.crawl}/children")
    (root,) = roots["items"]
    children = get_json(url, f"/api/runs/{demo.crawl}/children?parent={root['request_id']}")
    assert children["total"] == 7 and children["items"][0]["node_name"] == "fetch"
    found = get_json(url, f"/api/runs/{demo.crawl}/search?status=failed")
    assert [i["node_name"] for i in found["items"]] == ["parse"]
    detail = get_json(url, f"/api/runs/{demo.crawl}/requests/{found['items'][0]['request_id']}")
    assert detail["error"]["type"].endswith("ParseError") and "traceback" in detail["error"]
    timeline = get_json(url, f"/api/runs/{demo.crawl}/timeline?limit=3")
    assert timeline["total"] == 8 and len(timeline["items"]) == 3
    events = get_json(url, f"/api/runs/{demo.crawl}/events?after=1")
    assert [e["seq"] for e in events["items"]] == [2, 3]
    (graph,) = get_json(url, f"/api/runs/{demo.graph}/graphs")["items"]
    picture = get_json(url, f"/api/runs/{demo.graph}/graphs/{graph['request_id']}")
    assert {n["name"] for n in picture["nodes"]} == {"Check", "Wait", "Done", "Skip"}
    assert picture["declared"] and picture["start"] == "Check"


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/api/runs/nope", 404, "not_found"),
        ("/api/runs/{run}/requests/nope", 404, "not_found"),
        ("/api/runs/{run}/children?offset=abc", 400, "bad_request"),
        ("/api/runs?limit=0", 400, "bad_request"),
        ("/api/runs/{run}/timeline?start=soon", 400, "bad_request"),
        ("/api/nothing/here", 404, "not_found"),
        ("/api/runs/{run}/live?seq=x", 400, "bad_request"),
    ],
)
def test_bad_requests_get_clear_json_errors(
    demo: Demo, serve: Serve, path: str, status: int, kind: str
) -> None:
    body = get_json(serve(demo.path), path.format(run=demo.crawl), status=status)
    assert body["kind"] == kind and body["error"]


def test_pages_and_assets(demo: Demo, serve: Serve) -> None:
    url = serve(demo.path)
    status, kind, body = get(url, "/")
    assert (status, kind) == (200, "text/html; charset=utf-8")
    assert '<script src="/static/core.js">' in body and "http" not in body.split("<body>")[1]
    assert get(url, f"/runs/{demo.crawl}")[0] == 200
    assert get(url, f"/runs/{demo.crawl}/requests/x")[0] == 200  # the page says which
    status, _, body = get(url, "/runs/no-such-run")
    assert status == 404 and "No run &#x27;no-such-run&#x27; in this journal." in body
    assert get(url, "/some/where")[0] == 404
    status, kind, script = get(url, "/static/core.js")
    assert (status, kind) == (200, "text/javascript; charset=utf-8") and "RT.render" in script
    assert get(url, "/static/../server.py")[0] == 404
    assert get(url, "/static/nope.js")[0] == 404


@pytest.mark.parametrize(
    ("prepare", "status", "kind", "text"),
    [
        ("not sqlite", 503, "not_journal", "is not a runtree journal (not an SQLite file)"),
        ("damaged", 503, "corrupt", "is damaged (database disk image is malformed)"),
        ("newer", 503, "newer", "written by a newer runtree"),
        ("missing", 404, "missing", "no run journal at"),
        ("empty", 404, "empty", "is empty"),
    ],
)
def test_a_bad_journal_gives_a_clear_message_never_a_traceback(
    demo: Demo, tmp_path: Path, serve: Serve, prepare: str, status: int, kind: str, text: str
) -> None:
    path = tmp_path / "bad.db"
    if prepare == "not sqlite":
        path.write_bytes(b"\x00garbage" * 1000)
    elif prepare == "damaged":
        path = demo.path
        data = bytearray(path.read_bytes())
        data[4096:] = bytes(len(data) - 4096)  # every page but the first (sqlite_master)
        path.write_bytes(bytes(data))
    elif prepare == "empty":
        path.write_bytes(b"")
    elif prepare == "newer":
        path = demo.path
        conn = sqlite3.connect(path)
        conn.execute("UPDATE runtree_schema SET version = 99")
        conn.commit()
        conn.close()
    url = serve(path)
    body = get_json(url, "/api/runs", status=status)
    assert body["kind"] == kind and text in body["error"]
    page_status, _, page = get(url, "/")
    assert "Traceback" not in page
    if kind in ("not_journal", "corrupt", "newer"):
        assert page_status == 503 and text in page
    else:  # no journal yet: the page waits for runs
        assert page_status == 200


def sse_events(url: str, path: str) -> Iterator[tuple[str, Any]]:
    """``(event, data)`` pairs of a server-sent event stream, as they arrive."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    conn.request("GET", path, headers={"Accept": "text/event-stream"})
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("content-type", "").startswith("text/event-stream")
    event, data = "message", ""
    try:
        while True:
            line = response.readline().decode()
            if not line:
                return
            line = line.rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif not line and data:
                yield event, json.loads(data)
                event, data = "message", ""
    finally:
        conn.close()


def test_live_updates_stream_as_server_sent_events(tmp_path: Path, serve: Serve) -> None:
    path = tmp_path / "live.db"
    live = LiveRun(path).start()
    try:
        url = serve(path)
        names: list[str] = []
        ended = False
        stages = {"slow seen": False, "all ended": False}
        for event, data in sse_events(url, f"/api/runs/{live.run_id}/live?seq=0&event=0"):
            if event == "update":
                names += [r["node_name"] for r in data["requests"] if r["status"] != "running"]
                running = [r["node_name"] for r in data["requests"] if r["status"] == "running"]
                if "slow" in running and not stages["slow seen"]:
                    stages["slow seen"] = True
                    live.advance()  # the viewer saw slow running: let the run go on
                if len(names) == 5 and not stages["all ended"]:
                    stages["all ended"] = True
                    live.advance()  # everything seen ended: end the run
            elif event == "end":
                ended = True
                break
        assert ended
        assert sorted(names) == ["slow", "step", "step", "step", "step"]
    finally:
        live.join()


def test_live_on_a_finished_run_ends_at_once(demo: Demo, serve: Serve) -> None:
    events = list(sse_events(serve(demo.path), f"/api/runs/{demo.crawl}/live?seq=8&event=3"))
    assert [e for e, _ in events] == ["update", "end"]
    assert events[0][1]["totals"]["requests"] == 8
