"""``ScriptedLLM``: a model that answers from a script, in process (no HTTP).

For unit tests of agents and tools: scripted replies, tool calls (malformed ones too),
streamed pieces, failures and rate limits (``Reply.failure(429, ..., retry_after=0)``),
through the same request, retry, usage and streaming path as every other model.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable
from typing import Any

from runtree.errors import ModelError
from runtree.llm.model import ModelBase
from runtree.testing.script import Reply, ReplyFunction, Script

__all__ = ["ScriptedLLM"]


class ScriptedLLM(ModelBase):
    """Answers each request with the next reply of ``script`` (a list of :class:`Reply` or
    text) or with ``script(request)``. ``requests`` lists the request dicts it received."""

    provider = "scripted"

    def __init__(
        self,
        script: Iterable[Reply | str] | ReplyFunction | Script = (),
        *,
        model_name: str = "scripted-model",
        **options: Any,
    ) -> None:
        super().__init__(model_name, **options)
        self.script = script if isinstance(script, Script) else Script(script)
        self._ids = itertools.count(1)

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.script.requests

    def _reply(self, request: dict[str, Any]) -> Reply:
        reply = self.script.reply_to(request)
        if reply.failed:
            raise ModelError(
                f"{self.provider} {self.model_name()}: HTTP {reply.status}: {reply.error}",
                status_code=reply.status,
                retryable=reply.status in self.retry_statuses,
                retry_after=reply.retry_after,
                provider=self.provider,
            )
        return reply

    async def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        reply = self._reply(request)
        body = reply.completion(request, self.model_name(), f"scripted-{next(self._ids)}")
        choice = body["choices"][0]
        usage = body["usage"]
        return {
            "id": body["id"],
            "model": body["model"],
            "message": choice["message"],
            "finish_reason": choice["finish_reason"],
            "usage": {
                "input_tokens": usage["prompt_tokens"],
                "output_tokens": usage["completion_tokens"],
                "cost": usage.get("cost"),
            },
        }

    async def _stream_chunks(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        reply = self._reply(request)
        response_id = f"scripted-{next(self._ids)}"
        for delta in reply.stream_deltas(request):
            parts = [
                {
                    "index": part["index"],
                    "id": part.get("id"),
                    "name": part.get("function", {}).get("name"),
                    "arguments": part.get("function", {}).get("arguments"),
                }
                for part in delta.get("tool_calls") or ()
            ]
            yield {
                "id": response_id,
                "model": self.model_name(),
                "content": delta.get("content"),
                "tool_calls": parts,
            }
        input_tokens, output_tokens = reply.token_usage(request)
        yield {
            "finish_reason": reply.stop_reason(),
            "usage": {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cost": reply.cost,
            },
        }
