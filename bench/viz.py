"""The viewer opens a run of 100,000 requests in under 2 s (issue 11).

Measured over HTTP against a real viewer on 127.0.0.1: the API calls the run page makes
before the tree shows (the run's totals, the root requests, the graph runs) plus opening
the root's first page of calls, timed as a browser makes them (the first three side by
side). The journal is synthetic but written through the real store (``build_large``).
With ``chromium`` and playwright installed, the time until the page shows its first tree
row in headless Chromium is reported too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.viz.journals import build_large

TARGET_SECONDS = 2.0
RUN = "large"


def _fetch(url: str) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=60) as response:
        body: bytes = response.read()
        return body


def _api_open(base: str) -> float:
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        paths = (f"api/runs/{RUN}", f"api/runs/{RUN}/children", f"api/runs/{RUN}/graphs")
        list(pool.map(lambda path: _fetch(base + path), paths))
    _fetch(base + f"api/runs/{RUN}/children?parent=root")
    return time.perf_counter() - started


async def _browser_open(base: str) -> float | None:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        return None
    from tests.viz.conftest import LAUNCH

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", **LAUNCH)
        page = await browser.new_page()
        await page.goto(base)  # warm: the assets are cached as a returning user has them
        started = time.perf_counter()
        await page.goto(base + f"runs/{RUN}")
        await page.wait_for_selector("#tree .row", timeout=60_000)
        elapsed = time.perf_counter() - started
        await browser.close()
        return elapsed


def run() -> tuple[list[tuple[str, float, str]], dict[str, Any]]:
    from runtree.viz.server import BackgroundViewer

    details: dict[str, Any] = {"target_s": TARGET_SECONDS}
    with tempfile.TemporaryDirectory(prefix="runtree-bench-viz-") as folder:
        path = Path(folder) / "large.db"
        build_large(path, requests=100_000, fanout=1000)
        with BackgroundViewer(path) as viewer:
            api = min(_api_open(viewer.url) for _ in range(3))
            browser = None
            if Path("/usr/bin/chromium").exists():
                browser = asyncio.run(_browser_open(viewer.url))
    details["api_open_s"] = api
    rows = [("viz: open a 100k-request run (API)", api, "s")]
    if browser is not None:
        details["browser_open_s"] = browser
        rows.append(("viz: open a 100k-request run (Chromium)", browser, "s"))
    return rows, {"viz": details}


if __name__ == "__main__":
    table, _ = run()
    for name, value, unit in table:
        print(f"{name:44s} {value:10.2f} {unit:3s} (target <= {TARGET_SECONDS} s)")
