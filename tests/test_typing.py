"""What a type checker sees of user code: mypy --strict on a small program."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

PROGRAM = """
from __future__ import annotations

import runtree as rt


class Greet(rt.Node[str]):
    def __init__(self, who: str) -> None:
        super().__init__()
        self.who = who

    async def invoke(self) -> str:
        return self.who


@rt.function_node
async def add(a: int, b: int) -> int:
    return a + b


@rt.function_node
def shout(text: str) -> str:
    return text.upper()


async def plain(x: int) -> float:
    return x / 2


async def main(flag: bool) -> None:
    reveal_type(add)
    reveal_type(await rt.call_batch(Greet, ["a"]))
    reveal_type(await rt.call_batch(add, [1], [2]))
    reveal_type(await rt.call_batch(shout, ["a"], return_exceptions=True))
    reveal_type(await rt.call_batch(plain, [1]))
    reveal_type(await rt.call_batch(plain, [1], return_exceptions=flag))
    add("not an int", 2)
"""


@pytest.mark.timeout(600)
def test_function_nodes_and_call_batch_carry_their_types(tmp_path: Path) -> None:
    from mypy import api

    source = tmp_path / "program.py"
    source.write_text(textwrap.dedent(PROGRAM))
    out, err, _status = api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(source)]
    )
    lines = [line.split(": ", 1)[1] for line in out.splitlines() if "program.py:" in line]
    assert lines == [
        'note: Revealed type is "type[runtree.nodes.function.FunctionNode[[a: int, b: int], int]]"',
        'note: Revealed type is "list[str]"',
        'note: Revealed type is "list[int]"',
        'note: Revealed type is "list[str | BaseException]"',
        'note: Revealed type is "list[float]"',
        'note: Revealed type is "list[Any]"',
        'error: Argument 1 to "FunctionNode" has incompatible type "str"; expected "int"  '
        "[arg-type]",
    ], out + err
