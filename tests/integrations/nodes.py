"""Nodes for the OpenTelemetry tests (importable: the process strategy's workers load them)."""

from __future__ import annotations

import runtree as rt


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
