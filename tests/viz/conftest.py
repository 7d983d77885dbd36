"""Fixtures of the viewer's tests: journals, a viewer served on 127.0.0.1, headless Chromium.

The browser is Debian's ``chromium`` driven by Playwright's async API, one browser for the
whole test session. Without chromium (or playwright) the browser tests are skipped with the
reason, except where ``RT_REQUIRE_BROWSER`` is set (CI sets it): there they fail.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.cli.conftest import cli, cli_env  # noqa: F401  (the `runtree` command's fixtures)
from tests.viz.journals import build_demo, run_graph

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("RT_CHROMIUM", "/usr/bin/chromium"))
#: screenshots of every page the browser tests visit (gitignored)
ARTIFACTS = Path(os.environ.get("RT_ARTIFACTS", ROOT / "test-artifacts")) / "viz"
#: keep Chromium offline: no name resolves but 127.0.0.1, and every proxy is a dead port
LAUNCH: dict[str, Any] = {
    "headless": True,
    "args": ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"],
    "proxy": {"server": "http://127.0.0.1:9", "bypass": "127.0.0.1"},
}


@dataclasses.dataclass
class Demo:
    path: Path
    crawl: str
    graph: str


@pytest.fixture
def demo(tmp_path: Path) -> Demo:
    """A journal with two finished runs: ``crawl`` (a failure, events, a model-like call)
    and ``graph-demo`` (a graph run)."""
    path = tmp_path / "journal.db"
    crawl = build_demo(path)
    graph = run_graph(path)
    return Demo(path=path, crawl=crawl, graph=graph)


@pytest.fixture
def serve() -> Iterator[Callable[[Path], str]]:
    """``serve(path)`` starts a viewer of ``path`` on 127.0.0.1 and returns its URL."""
    pytest.importorskip("uvicorn", reason="the viewer needs the viz extra (starlette, uvicorn)")
    from runtree.viz.server import BackgroundViewer

    viewers: list[BackgroundViewer] = []

    def start(path: Path) -> str:
        viewer = BackgroundViewer(path, poll_interval=0.05).start()
        viewers.append(viewer)
        return viewer.url.rstrip("/")

    yield start
    for viewer in viewers:
        viewer.close()


def _unavailable() -> str | None:
    if not CHROMIUM.exists():
        return f"Debian chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("RT_REQUIRE_BROWSER"):
            pytest.fail(f"RT_REQUIRE_BROWSER is set but {reason}")
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), **LAUNCH)
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Any) -> AsyncIterator[Any]:
    """A fresh page; a JavaScript error on it fails the test."""
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(15_000)
    yield page
    await context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


async def screenshot(page: Any, name: str) -> Path:
    """Save what the page shows as ``test-artifacts/viz/<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
