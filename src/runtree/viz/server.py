"""The viewer's web app (starlette): pages, a read-only JSON API, and server-sent events.

``create_app(path)`` builds the app; ``serve(path, port=...)`` runs it with uvicorn on
127.0.0.1. Every read opens the journal read-only (:mod:`runtree.viz.query`); a journal that
is missing, empty, locked, damaged or newer than this runtree gives a clear page or JSON
error, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from runtree.viz.document import graph_view, request_view
from runtree.viz.errors import JournalProblem
from runtree.viz.live import LiveFeed
from runtree.viz.page import asset, render_page
from runtree.viz.query import JournalReader, Query

__all__ = ["BackgroundViewer", "create_app", "serve"]

logger = logging.getLogger("runtree.viz")

T = TypeVar("T")
Endpoint = Callable[[Request], Awaitable[Response]]


class _BadRequest(Exception):
    """A query parameter the API cannot use (400)."""


class _NotFound(Exception):
    """No such run or request (404)."""


def _int(request: Request, name: str, default: int, *, low: int = 0) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise _BadRequest(f"{name} must be an integer, got {text!r}") from None
    if value < low:
        raise _BadRequest(f"{name} must be >= {low}, got {value}")
    return value


def _float(request: Request, name: str) -> float | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise _BadRequest(f"{name} must be a number, got {text!r}") from None


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": message, "kind": kind}, status_code=status)


class Viewer:
    """The app's state: the journal reader and the count of open live streams."""

    def __init__(self, reader: JournalReader, *, poll_interval: float, max_streams: int) -> None:
        self.reader = reader
        self.poll_interval = poll_interval
        self.max_streams = max_streams
        self.streams = 0

    async def read(self, work: Callable[[Query], T]) -> T:
        def run() -> T:
            with self.reader.open() as query:
                return work(query)

        return await run_in_threadpool(run)

    @staticmethod
    def resolve(query: Query, ref: str) -> str:
        run_id = query.resolve_run(ref)
        if run_id is None:
            raise _NotFound(f"no run {ref!r} in this journal")
        return run_id

    # -- API ---------------------------------------------------------------------------------

    def api(self, handler: Callable[[Request], Awaitable[Any]]) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                return JSONResponse(await handler(request))
            except JournalProblem as exc:
                return _error(exc.http_status, str(exc), exc.kind)
            except _BadRequest as exc:
                return _error(400, str(exc), "bad_request")
            except _NotFound as exc:
                return _error(404, str(exc), "not_found")
            except Exception as exc:  # never a traceback in the browser
                logger.exception("viewer: %s failed", request.url.path)
                return _error(500, f"the viewer failed: {type(exc).__name__}: {exc}", "internal")

        return endpoint

    async def journal(self, request: Request) -> Any:
        def work(query: Query) -> Any:
            return {"path": str(self.reader.path), "schema_version": query.version()}

        return await self.read(work)

    async def runs(self, request: Request) -> Any:
        text = request.query_params.get("q", "")
        status = request.query_params.get("status", "")
        limit, offset = _int(request, "limit", 50, low=1), _int(request, "offset", 0)
        return await self.read(
            lambda q: q.runs(text=text, status=status, limit=limit, offset=offset)
        )

    async def run(self, request: Request) -> Any:
        ref = request.path_params["run_id"]
        return await self.read(lambda q: q.run(self.resolve(q, ref)))

    async def children(self, request: Request) -> Any:
        ref = request.path_params["run_id"]
        parent = request.query_params.get("parent") or None
        limit, offset = _int(request, "limit", 200, low=1), _int(request, "offset", 0)
        return await self.read(
            lambda q: q.children(self.resolve(q, ref), parent, offset=offset, limit=limit)
        )

    async def search(self, request: Request) -> Any:
        ref = request.path_params["run_id"]
        text = request.query_params.get("q", "")
        status = request.query_params.get("status", "")
        limit, offset = _int(request, "limit", 200, low=1), _int(request, "offset", 0)
        return await self.read(
            lambda q: q.search(
                self.resolve(q, ref), text=text, status=status, offset=offset, limit=limit
            )
        )

    async def request(self, request: Request) -> Any:
        ref, request_id = request.path_params["run_id"], request.path_params["request_id"]

        def work(query: Query) -> Any:
            found = request_view(query, self.resolve(query, ref), request_id)
            if found is None:
                raise _NotFound(f"no request {request_id!r} in run {ref!r}")
            return found

        return await self.read(work)

    async def timeline(self, request: Request) -> Any:
        ref = request.path_params["run_id"]
        start, end = _float(request, "start"), _float(request, "end")
        limit = _int(request, "limit", 400, low=1)
        return await self.read(
            lambda q: q.timeline(self.resolve(q, ref), start=start, end=end, limit=limit)
        )

    async def events(self, request: Request) -> Any:
        ref = request.path_params["run_id"]
        after, limit = _int(request, "after", 0), _int(request, "limit", 200, low=1)
        return await self.read(lambda q: q.events(self.resolve(q, ref), after=after, limit=limit))

    async def graphs(self, request: Request) -> Any:
        ref = request.path_params["run_id"]
        return await self.read(lambda q: {"items": q.graph_runs(self.resolve(q, ref))})

    async def graph(self, request: Request) -> Any:
        ref, request_id = request.path_params["run_id"], request.path_params["request_id"]
        return await self.read(lambda q: graph_view(q, self.resolve(q, ref), request_id))

    # -- live updates ------------------------------------------------------------------------

    async def live(self, request: Request) -> Response:
        """``text/event-stream``: an ``update`` event per change, ``end`` when the run ends."""
        try:
            seq, event = _int(request, "seq", 0), _int(request, "event", 0)
        except _BadRequest as exc:
            return _error(400, str(exc), "bad_request")
        if self.streams >= self.max_streams:
            return _error(503, f"too many live views open (at most {self.max_streams})", "busy")
        ref = request.path_params["run_id"]

        def start() -> LiveFeed:
            query = self.reader.connect()
            try:
                return LiveFeed(query, self.resolve(query, ref), seq=seq, event=event)
            except BaseException:
                query.close()
                raise

        try:
            feed = await run_in_threadpool(start)
        except JournalProblem as exc:
            return _error(exc.http_status, str(exc), exc.kind)
        except _NotFound as exc:
            return _error(404, str(exc), "not_found")
        self.streams += 1
        return StreamingResponse(
            self._stream(feed),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _stream(self, feed: LiveFeed) -> AsyncIterator[str]:
        quiet = 0.0
        try:
            yield "retry: 3000\n\n"
            while True:
                try:
                    message = await run_in_threadpool(feed.poll)
                except JournalProblem as exc:
                    yield _sse("problem", exc.to_dict())
                    return
                if message is not None:
                    quiet = 0.0
                    yield _sse("update", message)
                if feed.finished:
                    yield _sse("end", {"seq": feed.seq})
                    return
                quiet += self.poll_interval
                if quiet >= 15.0:  # a comment keeps proxies and the browser connection alive
                    quiet = 0.0
                    yield ": still here\n\n"
                await asyncio.sleep(self.poll_interval)
        finally:
            self.streams -= 1
            feed.query.close()

    # -- pages -------------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        config: dict[str, Any] = {"mode": "server", "journal": str(self.reader.path)}
        ref = request.path_params.get("run_id")
        status, message, title = 200, None, "runtree"

        def check(query: Query) -> str | None:
            return query.resolve_run(ref) if ref is not None else ""

        try:
            found = await self.read(check)
            if found is None:
                status, message = 404, f"No run {ref!r} in this journal."
                config["not_found"] = message
            elif ref is not None:
                title = f"run {found[:12]} · runtree"
        except JournalProblem as exc:
            status = exc.http_status if exc.kind not in ("missing", "empty") else 200
            config["problem"] = exc.to_dict()
            message = str(exc) if exc.kind not in ("missing", "empty") else None
        return HTMLResponse(
            render_page(title=title, config=config, message=message), status_code=status
        )

    async def static(self, request: Request) -> Response:
        try:
            text, media_type = asset(request.path_params["name"])
        except KeyError:
            return _error(404, "no such file", "not_found")
        return Response(text, media_type=media_type, headers={"Cache-Control": "no-cache"})


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _not_found(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return _error(404, f"no API endpoint {request.url.path}", "not_found")
    page = render_page(
        title="not found · runtree",
        config={"mode": "server", "not_found": f"Nothing at {request.url.path}."},
        message=f"Nothing at {request.url.path}.",
    )
    return HTMLResponse(page, status_code=404)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return await _not_found(request, exc)
    return _error(status, str(getattr(exc, "detail", exc)), "http")


def create_app(
    path: str | os.PathLike[str], *, poll_interval: float = 0.5, max_streams: int = 32
) -> Starlette:
    """The viewer of the journal at ``path`` (read-only), as an ASGI app."""
    viewer = Viewer(JournalReader(path), poll_interval=poll_interval, max_streams=max_streams)
    api = viewer.api
    run = "/api/runs/{run_id}"
    routes = [
        Route("/", viewer.page),
        Route("/runs/{run_id}", viewer.page),
        Route("/runs/{run_id}/requests/{request_id}", viewer.page),
        Route("/static/{name}", viewer.static),
        Route("/api/journal", api(viewer.journal)),
        Route("/api/runs", api(viewer.runs)),
        Route(run, api(viewer.run)),
        Route(run + "/children", api(viewer.children)),
        Route(run + "/search", api(viewer.search)),
        Route(run + "/requests/{request_id}", api(viewer.request)),
        Route(run + "/timeline", api(viewer.timeline)),
        Route(run + "/events", api(viewer.events)),
        Route(run + "/graphs", api(viewer.graphs)),
        Route(run + "/graphs/{request_id}", api(viewer.graph)),
        Route(run + "/live", viewer.live),
    ]
    app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _http_error})
    app.state.viewer = viewer
    return app


def _uvicorn_server(
    path: str | os.PathLike[str],
    *,
    port: int,
    poll_interval: float,
    on_ready: Callable[[str], None] | None,
) -> Any:
    import uvicorn

    class _Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started and on_ready is not None:
                bound = [s.getsockname()[1] for srv in self.servers for s in srv.sockets]
                on_ready(f"http://127.0.0.1:{bound[0] if bound else port}/")

    app = create_app(path, poll_interval=poll_interval)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,  # open live views must not hold up Ctrl+C
    )
    return _Server(config)


def serve(
    path: str | os.PathLike[str],
    *,
    port: int = 8700,
    poll_interval: float = 0.5,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the viewer on ``http://127.0.0.1:port`` until interrupted (``port=0``: any
    free port). ``on_ready(url)`` is called once the server listens."""
    _uvicorn_server(path, port=port, poll_interval=poll_interval, on_ready=on_ready).run()


class BackgroundViewer:
    """The viewer served from a background thread (tests, notebooks)::

    with BackgroundViewer("runtree.db") as viewer:
        print(viewer.url)
    """

    def __init__(
        self, path: str | os.PathLike[str], *, port: int = 0, poll_interval: float = 0.5
    ) -> None:
        self.url = ""
        self._ready = threading.Event()
        self._server = _uvicorn_server(
            path, port=port, poll_interval=poll_interval, on_ready=self._on_ready
        )
        self._thread = threading.Thread(target=self._run, name="runtree-viz", daemon=True)

    def _on_ready(self, url: str) -> None:
        self.url = url
        self._ready.set()

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve())
        finally:
            self._ready.set()

    def start(self, timeout: float = 30.0) -> BackgroundViewer:
        self._thread.start()
        if not self._ready.wait(timeout) or not self.url:
            raise RuntimeError("the viewer did not start")
        return self

    def close(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> BackgroundViewer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
