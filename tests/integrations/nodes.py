"""Nodes for the OpenTelemetry tests (importable: the process strategy's workers load them)."""

from __future__ import annotations

from typing import Any

import runtree as rt

#: what a model-call node reports (contract 1)
CHAT_ATTRIBUTES: dict[str, Any] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "tiny-1",
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 3,
    "gen_ai.response.finish_reasons": ["stop"],
    "runtree.kind": "llm",
    "runtree.attempt": 2,
    "runtree.usage.cost": None,  # unknown: left out of the span
    "extra.mapping": {"not": "a scalar"},
}


async def leaf(x: int) -> int:
    return x + 1


async def broken(x: int) -> int:
    raise KeyError(f"no item {x}")


class Fan(rt.Node[list[int]]):
    """Calls ``leaf`` for each item in parallel."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    async def invoke(self) -> list[int]:
        return await rt.call_batch(leaf, list(range(self.n)))


class Nested(rt.Node[int]):
    """Calls Fan, then leaf: three levels."""

    def __init__(self) -> None:
        super().__init__()

    async def invoke(self) -> int:
        values = await rt.call(Fan, 2)
        return await rt.call(leaf, sum(values))


class Chat(rt.Node[str]):
    """Looks like a model call: reports the GenAI attributes, fails when told to."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail

    async def invoke(self) -> str:
        self.details["attributes"] = dict(CHAT_ATTRIBUTES)
        if self.fail:
            raise TimeoutError("the model did not answer")
        return "hello"
