"""``OpenAILLM`` on the official ``openai`` SDK (extra ``openai``): OpenAI itself and every
server that speaks its chat-completions protocol (Ollama, vLLM, LM Studio, OpenRouter, the
local test server of :mod:`runtree.testing`). ``OllamaLLM`` is a preset of it.

The SDK is imported when the first request is sent, never by ``import runtree``. Retries are
runtree's (:class:`runtree.policy.RetryPolicy`), so the SDK's own are off.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from runtree.errors import ConfigurationError, ModelError
from runtree.llm.model import ModelBase

__all__ = ["OllamaLLM", "OpenAILLM", "chunk_dict", "message_dict", "retry_after_seconds"]

#: ``api_key`` sent to servers that need none (a base URL given, no key anywhere)
PLACEHOLDER_KEY = "not-needed"


def _import_openai() -> Any:
    try:
        import openai
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigurationError(
            "OpenAILLM needs the openai package: pip install 'runtree[openai]'"
        ) from None
    return openai


async def closed_with_loop(client: Any) -> AsyncGenerator[None, None]:
    """An async generator that closes ``client`` when the running loop shuts its async
    generators down (``asyncio.run`` and sessions do), so no connection outlives its loop.
    Keep a reference to it as long as the client."""

    async def guard() -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await client.close()

    generator = guard()
    await generator.__anext__()
    return generator


_closing: set[asyncio.Task[None]] = set()  # closes under way (tasks are weakly held)


def _close_clients(clients: weakref.WeakKeyDictionary[Any, Any]) -> None:
    """Close, on their own loops, the SDK clients of an :class:`OpenAILLM` that went away
    while their loops go on. Until then this callback's reference keeps them reachable, so
    their connections are closed, never collected open."""
    for loop, (client, guard) in list(clients.items()):
        if guard is None or loop.is_closed():
            continue  # the user's own http_client; or closed with its loop already
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(_start_closing, loop, client)


def _start_closing(loop: asyncio.AbstractEventLoop, client: Any) -> None:
    task = loop.create_task(client.close())  # (closing twice is harmless)
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def retry_after_seconds(headers: Any) -> float | None:
    """The delay a response asks for (``retry-after-ms`` or ``retry-after`` in seconds)."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return max(0.0, float(raw) * scale)
        except ValueError:
            continue  # an HTTP date: not worth parsing here, backoff applies
    return None


class OpenAILLM(ModelBase):
    """A model served over the OpenAI chat-completions protocol.

    ``base_url`` (else ``OPENAI_BASE_URL``, else OpenAI) and ``api_key`` (else
    ``OPENAI_API_KEY``; a server at a custom ``base_url`` may need none) choose the server.
    ``timeout`` is seconds per request; ``trust_env=False`` ignores the proxy variables (for
    a server on loopback); ``http_client`` is an ``openai.DefaultAsyncHttpxClient`` of your
    own, which you then close yourself (runtree closes the clients it makes when their event
    loop shuts down). Other options are :class:`~runtree.llm.model.ModelBase`'s.
    """

    provider = "openai"

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = 60.0,
        http_client: Any = None,
        trust_env: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(model_name, **options)
        self.trust_env = trust_env
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self._api_key = api_key
        self.timeout = timeout
        self._http_client = http_client
        self._clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    async def _client(self) -> Any:
        """One SDK client per event loop (its connections belong to that loop), closed when
        the loop shuts down."""
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is None:
            openai = _import_openai()
            key = self._api_key or os.environ.get("OPENAI_API_KEY")
            if key is None:
                if self.base_url is None:
                    raise ConfigurationError(
                        f"{type(self).__name__}({self.model_name()!r}) has no API key: set "
                        "OPENAI_API_KEY, pass api_key=..., or pass base_url= of a server that "
                        "needs none"
                    )
                key = PLACEHOLDER_KEY
            http_client = self._http_client
            if http_client is None:
                http_client = openai.DefaultAsyncHttpxClient(trust_env=self.trust_env)
            client = openai.AsyncOpenAI(
                api_key=key,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=0,
                http_client=http_client,
            )
            guard = None if self._http_client is not None else await closed_with_loop(client)
            if guard is not None and not self._clients:  # the first client runtree made
                weakref.finalize(self, _close_clients, self._clients).atexit = False
            entry = self._clients[loop] = (client, guard)
        return entry[0]

    def _arguments(self, request: dict[str, Any]) -> dict[str, Any]:
        arguments: dict[str, Any] = {"model": request["model"], "messages": request["messages"]}
        for key in ("tools", "tool_choice", "response_format"):
            if key in request:
                arguments[key] = request[key]
        arguments.update(request.get("settings") or {})
        return arguments

    async def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        completion = await (await self._client()).chat.completions.create(
            **self._arguments(request)
        )
        if not completion.choices:
            raise ModelError(
                f"{self.model_name()}: the server answered with no choices",
                provider=self.provider,
            )
        choice = completion.choices[0]
        data = message_dict(choice.message)
        return {
            "id": completion.id,
            "model": completion.model,
            "message": data,
            "finish_reason": choice.finish_reason,
            "usage": _usage(completion.usage),
        }

    async def _stream_chunks(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        arguments = self._arguments(request)
        arguments["stream"] = True
        arguments["stream_options"] = {"include_usage": True}
        chunks = await (await self._client()).chat.completions.create(**arguments)
        async for chunk in chunks:
            yield chunk_dict(chunk, _usage)

    def _translate_error(self, error: Exception) -> ModelError | None:
        openai = _import_openai()
        where = f"{self.provider} {self.model_name()}"
        if isinstance(error, openai.APIStatusError):
            status = error.status_code
            body = error.body
            detail = body.get("message") if isinstance(body, dict) else None
            return ModelError(
                f"{where}: HTTP {status}: {detail or error.message}",
                status_code=status,
                retryable=status in self.retry_statuses,
                retry_after=retry_after_seconds(error.response.headers),
                provider=self.provider,
            )
        if isinstance(error, (openai.APITimeoutError, openai.APIConnectionError)):
            target = self.base_url or "api.openai.com"
            return ModelError(
                f"{where}: cannot reach {target}: {error}",
                retryable=True,
                provider=self.provider,
            )
        return None


def message_dict(message: Any) -> dict[str, Any]:
    """The chat-protocol dict of an SDK's assistant message (OpenAI's and look-alikes)."""
    data: dict[str, Any] = {"role": "assistant", "content": message.content}
    calls = getattr(message, "tool_calls", None)
    if calls:
        data["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {
                    "name": call.function.name,
                    "arguments": call.function.arguments or "",
                },
            }
            for call in calls
        ]
    return data


def chunk_dict(chunk: Any, usage_of: Any) -> dict[str, Any]:
    """The provider-neutral form of an SDK's streamed chunk (see ``ReplyAssembler``)."""
    out: dict[str, Any] = {"id": chunk.id, "model": chunk.model}
    usage = getattr(chunk, "usage", None)
    if usage is not None:
        out["usage"] = usage_of(usage)
    if chunk.choices:
        choice = chunk.choices[0]
        delta = choice.delta
        out["content"] = delta.content
        out["finish_reason"] = choice.finish_reason
        out["tool_calls"] = [
            {
                "index": part.index,
                "id": part.id,
                "name": part.function.name if part.function else None,
                "arguments": part.function.arguments if part.function else None,
            }
            for part in getattr(delta, "tool_calls", None) or ()
        ]
    return out


def _usage(usage: Any) -> dict[str, Any]:
    if usage is None:
        return {}
    out = {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens}
    cost = getattr(usage, "cost", None)  # OpenRouter and others report it
    if cost is None and getattr(usage, "model_extra", None):
        cost = usage.model_extra.get("cost")
    if isinstance(cost, (int, float)):
        out["cost"] = float(cost)
    return out


class OllamaLLM(OpenAILLM):
    """A model of a local Ollama server, through its OpenAI-compatible endpoint.

    ``base_url`` defaults to ``OLLAMA_BASE_URL``, else ``$OLLAMA_HOST/v1``, else
    ``http://localhost:11434/v1``.
    """

    provider = "ollama"

    def __init__(self, model_name: str, *, base_url: str | None = None, **options: Any) -> None:
        if base_url is None:
            base_url = os.environ.get("OLLAMA_BASE_URL")
        if base_url is None:
            host = os.environ.get("OLLAMA_HOST", "http://localhost:11434").rstrip("/")
            if not host.startswith(("http://", "https://")):
                host = f"http://{host}"
            base_url = f"{host}/v1"
        options.setdefault("api_key", PLACEHOLDER_KEY)
        super().__init__(model_name, base_url=base_url, **options)
