"""Which model the examples use: a real one when the environment names one, else the local
test server answering from the example's script."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from typing import Any

import runtree as rt
from runtree.testing import LocalOpenAIServer, Reply


@dataclasses.dataclass(frozen=True)
class ExampleModel:
    llm: Any  # an OpenAILLM (an OllamaLLM is one too)
    where: str
    server: LocalOpenAIServer | None = None


@contextlib.contextmanager
def example_model(script: Callable[[Any], Reply]) -> Iterator[ExampleModel]:
    """The model an example uses: OpenAI (or a compatible server) when OPENAI_API_KEY or
    OPENAI_BASE_URL is set, Ollama when OLLAMA_BASE_URL or OLLAMA_HOST is set, else the
    bundled local server answering with ``script``. RUNTREE_MODEL names the model."""
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        name = os.environ.get("RUNTREE_MODEL", "gpt-4o-mini")
        model = rt.llm.OpenAILLM(name)
        yield ExampleModel(model, f"the model {name} at {model.base_url or 'api.openai.com'}")
        return
    if os.environ.get("OLLAMA_BASE_URL") or os.environ.get("OLLAMA_HOST"):
        name = os.environ.get("RUNTREE_MODEL", "llama3.2")
        ollama = rt.llm.OllamaLLM(name)
        yield ExampleModel(ollama, f"the Ollama model {name} at {ollama.base_url}")
        return
    with LocalOpenAIServer(script) as server:
        where = (
            f"runtree's local test server at {server.base_url} (a scripted model; set "
            "OPENAI_API_KEY or OPENAI_BASE_URL to use a real one)"
        )
        yield ExampleModel(server.llm(), where, server)


def tool_results(request: Any) -> list[str]:
    """The tool results of a chat-completions request, oldest first."""
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


def last_user_text(request: Any) -> str:
    return next(m["content"] for m in reversed(request["messages"]) if m["role"] == "user")
