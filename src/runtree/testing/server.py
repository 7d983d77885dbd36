"""``LocalOpenAIServer``: a real HTTP server speaking the OpenAI chat-completions protocol,
answering from a script, on 127.0.0.1. Standard library only.

It serves ``POST /v1/chat/completions`` (plain and ``stream=true`` server-sent events with
text pieces, streamed tool-call arguments and, with ``stream_options.include_usage``, a
usage chunk), ``GET /v1/models``, and scripted failures (any status, with ``Retry-After``).
``requests`` keeps every request body it received, in order.

::

    with LocalOpenAIServer(["Hello!"]) as server:
        model = server.llm()        # an OpenAILLM pointed at it
        ...
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from runtree.errors import SessionStateError
from runtree.testing.script import Reply, ReplyFunction, Script, ScriptExhausted

__all__ = ["LocalOpenAIServer"]


class LocalOpenAIServer:
    """An OpenAI-protocol server on ``127.0.0.1`` (``port=0``: a free port) answering from
    ``script`` (see :mod:`runtree.testing.script`).

    ``supports_json_schema`` / ``supports_tools`` set to ``False`` make it refuse
    ``response_format={"type": "json_schema"}`` / ``tools`` with HTTP 400, like servers that
    lack them. Use it as a context manager, or :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        script: Iterable[Reply | str] | ReplyFunction | Script = (),
        *,
        model: str = "runtree-test-model",
        supports_json_schema: bool = True,
        supports_tools: bool = True,
        port: int = 0,
    ) -> None:
        self.script = script if isinstance(script, Script) else Script(script)
        self.model = model
        self.supports_json_schema = supports_json_schema
        self.supports_tools = supports_tools
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        #: every chat-completions request body received, in order
        self.requests: list[dict[str, Any]] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LocalOpenAIServer:
        if self._server is not None:
            raise SessionStateError("the server is already running")
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _Handler)
        server.daemon_threads = True
        server.owner = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="runtree-openai-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> LocalOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise SessionStateError("the server is not running: start() it first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``: what an OpenAI client takes as ``base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def llm(self, **options: Any) -> Any:
        """An :class:`~runtree.llm.OpenAILLM` for this server (needs the ``openai`` extra);
        proxy variables are ignored, since the server is on loopback."""
        from runtree.llm.providers.openai import OpenAILLM

        options.setdefault("trust_env", False)
        options.setdefault("api_key", "test-key")
        return OpenAILLM(self.model, base_url=self.base_url, **options)

    # -- answering ---------------------------------------------------------------------------

    def _answer(self, body: Mapping[str, Any]) -> tuple[int, dict[str, str], Any]:
        """``(status, headers, payload)``; payload is a dict, or a list of SSE chunks."""
        with self._lock:
            self.requests.append(dict(body))
        if not isinstance(body.get("messages"), list) or not body.get("model"):
            return _error(400, "a chat completion needs 'model' and a list of 'messages'")
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema" and not self.supports_json_schema:
            return _error(400, "response_format of type 'json_schema' is not supported")
        if body.get("tools") and not self.supports_tools:
            return _error(400, "this model does not support tools")
        try:
            reply = self.script.reply_to(body)
        except ScriptExhausted as exc:
            return _error(400, f"runtree test server: {exc}")
        except Exception as exc:  # a script function that fails: say so, like a server would
            return _error(500, f"runtree test server: the script failed: {exc!r}")
        if reply.failed:
            headers = {}
            if reply.retry_after is not None:
                headers["Retry-After"] = f"{reply.retry_after:g}"
            return _error(reply.status, reply.error or HTTPStatus(reply.status).phrase, headers)
        response_id = f"chatcmpl-{next(self._ids)}"
        if body.get("stream"):
            return 200, {}, self._chunks(body, reply, response_id)
        return 200, {}, reply.completion(body, self.model, response_id)

    def _chunks(self, body: Mapping[str, Any], reply: Reply, response_id: str) -> list[Any]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": response_id,
                "object": "chat.completion.chunk",
                "created": 0,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        chunks: list[Any] = [chunk(delta) for delta in reply.stream_deltas(body)]
        chunks.append(chunk({}, reply.stop_reason()))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = reply.completion(body, self.model, response_id)["usage"]
            chunks.append(
                {
                    "id": response_id,
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": self.model,
                    "choices": [],
                    "usage": usage,
                }
            )
        chunks.append("[DONE]")
        return chunks

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "stopped"
        return f"<LocalOpenAIServer {where}, {len(self.requests)} requests>"


def _error(
    status: int, message: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    kind = "rate_limit_error" if status == 429 else "invalid_request_error"
    return status, headers or {}, {"error": {"message": message, "type": kind, "code": status}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "runtree-test-server"

    def setup(self) -> None:
        super().setup()
        # small writes (event by event) must not wait for Nagle's algorithm, and a client
        # that sends its headers and body in two writes must not wait for a delayed ACK
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._quick_ack()

    def _quick_ack(self) -> None:
        quickack = getattr(socket, "TCP_QUICKACK", None)  # Linux only; reset by the kernel
        if quickack is not None:
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.IPPROTO_TCP, quickack, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read `requests` instead

    def do_GET(self) -> None:
        owner: LocalOpenAIServer = self.server.owner  # type: ignore[attr-defined]
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._json(200, {"object": "list", "data": [{"id": owner.model, "object": "model"}]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "code": 404}})

    def do_POST(self) -> None:
        owner: LocalOpenAIServer = self.server.owner  # type: ignore[attr-defined]
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._json(404, {"error": {"message": f"no route {self.path}", "code": 404}})
            return
        self._quick_ack()
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError as exc:
            self._json(400, {"error": {"message": f"invalid JSON body: {exc}", "code": 400}})
            return
        if not isinstance(body, dict):
            self._json(400, {"error": {"message": "the body must be a JSON object", "code": 400}})
            return
        status, headers, payload = owner._answer(body)
        if isinstance(payload, list):
            self._events(payload)
        else:
            self._json(status, payload, headers)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _events(self, chunks: list[Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for item in chunks:
            text = item if isinstance(item, str) else json.dumps(item)
            data = f"data: {text}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
