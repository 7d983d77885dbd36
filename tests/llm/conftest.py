"""Fixtures of the LLM tests: the local OpenAI-protocol server, loopback without proxies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from runtree.testing import LocalOpenAIServer


@pytest.fixture(autouse=True)
def _loopback_without_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1,::1")
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1,::1")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OLLAMA_BASE_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def serve() -> Iterator[Callable[..., LocalOpenAIServer]]:
    """``serve(script, **options)`` starts a LocalOpenAIServer, stopped after the test."""
    started: list[LocalOpenAIServer] = []

    def start(script: Any = (), **options: Any) -> LocalOpenAIServer:
        server = LocalOpenAIServer(script, **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class Sleeps:
    """An injected sleep: records the delays asked for, returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
