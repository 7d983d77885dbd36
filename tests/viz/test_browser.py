"""The viewer in real headless Chromium: what a person sees and clicks.

Each test saves screenshots under ``test-artifacts/viz/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtree.viz.report import export_html
from tests.viz.conftest import Demo, screenshot
from tests.viz.journals import LiveRun, add_attributes, build_large

pytestmark = pytest.mark.asyncio(loop_scope="session")

Serve = Callable[[Path], str]


async def test_run_list_then_a_run_then_a_failed_request(
    page: Any, demo: Demo, serve: Serve
) -> None:
    url = serve(demo.path)
    await page.goto(url + "/")
    await page.wait_for_selector("#runs tbody tr")
    assert await page.locator("#runs tbody tr").count() == 2
    await screenshot(page, "01-runs")
    await page.fill("#run-filter", "crawl")
    await page.wait_for_function("document.querySelectorAll('#runs tbody tr').length === 1")
    await page.click("#runs tbody tr >> text=crawl")
    await page.wait_for_url(f"{url}/runs/{demo.crawl}")
    await page.wait_for_selector('#tree .row >> text="Crawl"')
    head = await page.inner_text("#run-head")
    assert "crawl" in head and "8" in head  # 8 requests
    await page.click("#tree .caret")
    await page.wait_for_selector('#tree .row.st-failed >> text="parse"')
    rows = await page.locator("#tree .row .name").all_inner_texts()
    assert rows == ["Crawl", "fetch", "parse", "fetch", "parse", "fetch", "parse", "chat"]
    await screenshot(page, "02-run-tree")
    await page.click('#tree .row:has-text("fetch") >> nth=0')
    await page.wait_for_selector("#detail .output")
    assert "bytes" in await page.inner_text("#detail .output")
    await page.click("#tree .row.st-failed")
    await page.wait_for_selector("#detail .traceback")
    error = await page.inner_text("#detail .error")
    assert "ParseError" in error and "unexpected end of document" in error
    traceback = await page.inner_text("#detail .traceback")
    assert traceback.startswith("Traceback (most recent call last)")
    assert "raise ParseError" in traceback
    assert "/requests/" in page.url  # a link to this request
    await screenshot(page, "03-failed-request")
    await page.reload()  # the link opens the same request, its place in the tree revealed
    await page.wait_for_selector("#detail .traceback")
    await page.wait_for_selector("#tree .row.selected.st-failed")


async def test_search_timeline_events_and_graph(page: Any, demo: Demo, serve: Serve) -> None:
    url = serve(demo.path)
    await page.goto(f"{url}/runs/{demo.crawl[:8]}")
    await page.wait_for_selector('#tree .row >> text="Crawl"')
    await page.select_option("#request-status", "failed")
    await page.wait_for_selector("#results .row")
    assert await page.locator("#results .row .name").all_inner_texts() == ["parse"]
    await page.select_option("#request-status", "")
    await page.fill("#request-filter", "fetch")
    await page.wait_for_function(
        "document.querySelectorAll('#results .row').length === 3"
        " && !document.querySelector('#results .row.st-failed')"
    )
    await page.click('[data-tab="timeline"]')
    await page.wait_for_selector("svg.timeline .bar")
    assert await page.locator("svg.timeline .bar").count() == 8
    assert await page.locator("svg.timeline .bar.st-failed").count() == 1
    await screenshot(page, "04-timeline")
    await page.click('[data-tab="events"]')
    await page.wait_for_selector("#events tbody tr")
    assert "fetched a.example" in await page.inner_text("#events")
    await page.goto(f"{url}/runs/{demo.graph}")
    await page.click('[data-tab="graph"]')
    await page.wait_for_selector("svg.graph .gnode")
    nodes = await page.locator("svg.graph .gnode .gname").all_text_contents()
    assert sorted(nodes) == ["Check", "Done", "Skip", "Wait"]  # as declared, Skip untaken
    assert "2 steps" in (await page.text_content('svg.graph [data-node="Check"]') or "")
    assert "not run" in (
        await page.text_content('svg.graph .gnode.unvisited[data-node="Skip"]') or ""
    )
    assert await page.locator("svg.graph .edge.taken").count() == 3
    assert await page.locator("svg.graph .edge:not(.taken)").count() == 1
    await screenshot(page, "05-graph")


async def test_a_model_call_shows_its_messages_and_usage(
    page: Any, demo: Demo, serve: Serve
) -> None:
    chat_id = f"{demo.crawl[:8]}-8"
    add_attributes(
        demo.path,
        {
            chat_id: {
                "runtree.kind": "llm",
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "tiny-1",
                "gen_ai.usage.input_tokens": 1200,
                "gen_ai.usage.output_tokens": 80,
                "runtree.usage.cost": 0.0042,
            }
        },
    )
    url = serve(demo.path)
    await page.goto(url + "/")
    await page.wait_for_selector(f'#runs tr[data-run="{demo.crawl}"] .chip')
    usage = await page.inner_text(f'#runs tr[data-run="{demo.crawl}"]')
    assert "1,200" in usage and "$0.0042" in usage
    await page.goto(f"{url}/runs/{demo.crawl}/requests/{chat_id}")
    await page.wait_for_selector("#detail .llm .msg")
    roles = await page.locator("#detail .llm .msg-role").all_inner_texts()
    assert [r.strip().lower() for r in roles] == ["system", "user", "assistant"]
    assert "1,200" in await page.inner_text("#detail .llm .chips")
    assert "2 messages read by tiny-1" in await page.inner_text("#detail .llm .response")
    await screenshot(page, "06-model-call")


async def test_a_run_of_10000_requests_opens_page_by_page(
    page: Any, tmp_path: Path, serve: Serve
) -> None:
    path = tmp_path / "large.db"
    build_large(path, requests=10_000, fanout=500)
    url = serve(path)
    started = time.perf_counter()
    await page.goto(f"{url}/runs/large")
    await page.wait_for_selector('#tree .row >> text="Pipeline"')
    opened = time.perf_counter() - started
    await page.wait_for_selector("#run-head")
    assert "10,000" in await page.inner_text("#run-head")
    await page.click("#tree .caret")
    await page.wait_for_selector('#tree .row >> text="Batch"')
    await page.click('#tree .row:has-text("Batch") .caret >> nth=0')
    await page.wait_for_selector('#tree .row >> text="Item"')
    # the tree shows one page of a node's calls, and offers the rest
    items = "Array.from(document.querySelectorAll('#tree .row .name'))"
    items += ".filter(n => n.textContent === 'Item').length"
    assert await page.evaluate(items) == 200
    more = page.locator("#tree li.more button").first
    assert await more.inner_text() == "show 200 more of 326"
    await more.click()
    await page.wait_for_function(f"{items} === 400")
    await page.click('[data-tab="timeline"]')
    await page.wait_for_selector("svg.timeline .bar")
    assert await page.locator("svg.timeline .bar").count() == 400
    await screenshot(page, "07-large-run-timeline")
    await page.click('[data-tab="tree"]')
    await screenshot(page, "08-large-run")
    print(f"10,000-request run: first tree row after {opened:.2f} s")


async def test_a_live_run_updates_the_page_without_a_reload(
    page: Any, tmp_path: Path, serve: Serve
) -> None:
    path = tmp_path / "live.db"
    live = LiveRun(path).start()
    try:
        url = serve(path)
        await page.goto(f"{url}/runs/{live.run_id}")
        await page.wait_for_selector("#live:not([hidden])")
        await page.wait_for_selector('#tree .row.st-running >> text="slow"')
        await page.evaluate("window.sameDocument = true")
        await screenshot(page, "09-live-running")
        live.advance()  # slow ends, step(1..3) run
        await page.wait_for_function("document.querySelectorAll('#tree .row').length === 5")
        await page.wait_for_selector('#tree .row.st-succeeded >> text="slow"')
        live.advance()  # the run ends
        await page.wait_for_selector("#run-head .pill.s-succeeded")
        await page.wait_for_selector("#live[hidden]", state="attached")
        assert await page.evaluate("window.sameDocument") is True  # never reloaded
        await screenshot(page, "10-live-done")
    finally:
        live.join()


async def test_unknown_run_and_bad_journals_give_clear_pages(
    page: Any, demo: Demo, tmp_path: Path, serve: Serve
) -> None:
    url = serve(demo.path)
    response = await page.goto(f"{url}/runs/no-such-run")
    assert response.status == 404
    await page.wait_for_selector("#not-found")
    assert "No run 'no-such-run'" in await page.inner_text("#not-found")
    await screenshot(page, "11-not-found")
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database at all" * 100)
    await page.goto(serve(corrupt) + "/")
    await page.wait_for_selector("#problem")
    assert "is not a runtree journal" in await page.inner_text("#problem")
    await screenshot(page, "12-corrupt-journal")
    missing = serve(tmp_path / "nothing-here.db")
    await page.goto(missing + "/")
    await page.wait_for_selector(".empty-state")
    assert "No runs yet" in await page.inner_text(".empty-state")
    await screenshot(page, "13-no-journal-yet")


async def test_the_html_report_works_offline_from_disk(
    page: Any, demo: Demo, tmp_path: Path
) -> None:
    report = export_html(demo.path, demo.crawl, tmp_path / "report.html")
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    await page.goto(report.as_uri())
    await page.wait_for_selector('#tree .row >> text="Crawl"')
    await page.click("#tree .caret")
    await page.click("#tree .row.st-failed")
    await page.wait_for_selector("#detail .traceback")
    assert "ParseError" in await page.inner_text("#detail .error")
    await screenshot(page, "14-report")
    await page.click('[data-tab="timeline"]')
    await page.wait_for_selector("svg.timeline .bar")
    assert await page.locator("svg.timeline .bar").count() == 8
    assert all(url.startswith(("file:", "data:")) for url in fetched), fetched
