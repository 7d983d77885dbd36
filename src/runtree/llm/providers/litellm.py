"""``LiteLLM``: the providers the OpenAI protocol does not reach (Anthropic, Gemini, Bedrock,
...), through the ``litellm`` package (extra ``litellm``).

litellm is imported on the first request, with its offline settings put in the environment
first: it reads its cost table from the copy it ships (``LITELLM_LOCAL_MODEL_COST_MAP``)
instead of fetching it, and prints no banners.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections.abc import AsyncIterator
from typing import Any

from runtree.errors import ConfigurationError, ModelError
from runtree.llm.model import ModelBase
from runtree.llm.providers.openai import (
    chunk_dict,
    closed_with_loop,
    message_dict,
    retry_after_seconds,
)

__all__ = ["LiteLLM", "import_litellm"]


_guarded: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


class _CacheCloser:
    """Closes the HTTP clients litellm cached while a loop ran, when that loop shuts down
    (a client cannot be used on another loop, and left open it leaks its sockets)."""

    def __init__(self, litellm: Any) -> None:
        self.litellm = litellm

    async def close(self) -> None:
        await self._stop_logging_worker()
        cache = getattr(self.litellm, "in_memory_llm_clients_cache", None)
        if cache is None:
            return
        for client in list(getattr(cache, "cache_dict", {}).values()):
            closer = getattr(client, "aclose", None) or getattr(client, "close", None)
            if closer is None:
                continue
            with contextlib.suppress(Exception):
                result = closer()
                if asyncio.iscoroutine(result):
                    await result
        if hasattr(cache, "flush_cache"):
            cache.flush_cache()

    async def _stop_logging_worker(self) -> None:
        """litellm runs a logging task on each loop it is used on; stop it with the loop."""
        try:
            from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER
        except ImportError:  # another litellm version: nothing known to stop
            return
        with contextlib.suppress(Exception):
            await GLOBAL_LOGGING_WORKER.stop()


async def _clients_for_this_loop(litellm: Any) -> None:
    loop = asyncio.get_running_loop()
    if loop not in _guarded:
        _guarded[loop] = await closed_with_loop(_CacheCloser(litellm))


def import_litellm() -> Any:
    """``litellm``, imported offline (no cost-map download, no banners)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    try:
        import litellm
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigurationError(
            "LiteLLM needs the litellm package: pip install 'runtree[litellm]'"
        ) from None
    litellm.suppress_debug_info = True
    return litellm


class LiteLLM(ModelBase):
    """A model reached through litellm: ``LiteLLM("anthropic/claude-sonnet-4-5")``.

    ``api_base`` and ``api_key`` are passed to litellm (else it reads the provider's usual
    environment variables). The cost of a call comes from litellm's price table when it knows
    the model.
    """

    provider = "litellm"

    def __init__(
        self,
        model_name: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout: float | None = 60.0,
        **options: Any,
    ) -> None:
        super().__init__(model_name, **options)
        self.api_base = api_base
        self.api_key = api_key
        self.timeout = timeout

    def _arguments(self, request: dict[str, Any]) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "model": request["model"],
            "messages": request["messages"],
            "num_retries": 0,
            "max_retries": 0,
            "timeout": self.timeout,
        }
        for key in ("tools", "tool_choice", "response_format"):
            if key in request:
                arguments[key] = request[key]
        if self.api_base is not None:
            arguments["api_base"] = self.api_base
        if self.api_key is not None:
            arguments["api_key"] = self.api_key
        arguments.update(request.get("settings") or {})
        return arguments

    async def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        litellm = import_litellm()
        await _clients_for_this_loop(litellm)
        completion = await litellm.acompletion(**self._arguments(request))
        choice = completion.choices[0]
        data = message_dict(choice.message)
        usage = _usage(getattr(completion, "usage", None))
        cost = (getattr(completion, "_hidden_params", None) or {}).get("response_cost")
        if cost is not None:
            usage["cost"] = float(cost)
        return {
            "id": completion.id,
            "model": completion.model,
            "message": data,
            "finish_reason": choice.finish_reason,
            "usage": usage,
        }

    async def _stream_chunks(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        litellm = import_litellm()
        await _clients_for_this_loop(litellm)
        arguments = self._arguments(request)
        arguments["stream"] = True
        arguments["stream_options"] = {"include_usage": True}
        chunks = await litellm.acompletion(**arguments)
        async for chunk in chunks:
            yield chunk_dict(chunk, _usage)

    def _translate_error(self, error: Exception) -> ModelError | None:
        exceptions = import_litellm().exceptions
        known = tuple(
            getattr(exceptions, name)
            for name in ("APIError", "APIConnectionError", "Timeout", "RateLimitError")
            if hasattr(exceptions, name)
        )
        if not isinstance(error, known) and not hasattr(error, "status_code"):
            return None
        status = getattr(error, "status_code", None)
        response = getattr(error, "response", None)
        headers = getattr(response, "headers", None)
        return ModelError(
            f"{self.provider} {self.model_name()}: "
            + (f"HTTP {status}: " if status else "")
            + str(getattr(error, "message", None) or error),
            status_code=status if isinstance(status, int) else None,
            retryable=status is None or status in self.retry_statuses,
            retry_after=retry_after_seconds(headers),
            provider=self.provider,
        )


def _usage(usage: Any) -> dict[str, Any]:
    if usage is None:
        return {}
    return {
        "input_tokens": getattr(usage, "prompt_tokens", 0) or 0,
        "output_tokens": getattr(usage, "completion_tokens", 0) or 0,
    }
