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


class Count(rt.Node[int]):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def invoke(self) -> int:  # a sync invoke (it runs in a worker thread)
        return self.n


def plain_sync(x: int) -> list[int]:
    return [x]


async def main(flag: bool) -> None:
    reveal_type(add)
    reveal_type(await rt.call_batch(Greet, ["a"]))
    reveal_type(await rt.call_batch(add, [1], [2]))
    reveal_type(await rt.call_batch(shout, ["a"], return_exceptions=True))
    reveal_type(await rt.call_batch(plain, [1]))
    reveal_type(await rt.call_batch(plain, [1], return_exceptions=flag))
    add("not an int", 2)


async def calls() -> None:
    reveal_type(await rt.call(Greet, "x"))
    reveal_type(await rt.call(Count, 3))
    reveal_type(await rt.call(add, 1, b=2))
    reveal_type(await rt.call(shout, "a"))
    reveal_type(await rt.call(plain, 1))
    reveal_type(await rt.call(plain_sync, 1))
    await rt.call(Greet, 1)
    await rt.call(Count, n="three")
    await rt.call(plain, x="no")
    await rt.call(plain_sync)


def sync_calls() -> None:
    reveal_type(rt.call_sync(Count, 3))
    reveal_type(rt.call_sync(add, 1, 2))
    reveal_type(rt.call_sync(plain, 1))
    reveal_type(rt.call_sync(plain_sync, 1))
    rt.call_sync(Greet, who=2)
    rt.call_sync(plain, 1, 2)
"""


@pytest.mark.timeout(600)
def test_calls_carry_the_types_of_their_nodes(tmp_path: Path) -> None:
    """Function nodes, call_batch, call and call_sync give the node's output type and check
    the arguments against its parameters; a node with a sync ``def invoke`` type-checks.

    (mypy cannot yet check the arguments of a *function node* passed to ``rt.call``: it
    does not read the parameters of a generic class's constructor when inferring a
    ParamSpec, so such a call falls through to a looser overload; calling the node class
    directly, as ``add("not an int", 2)`` below, is checked.)"""
    api = pytest.importorskip("mypy.api", reason="mypy is not installed (pip install -e '.[dev]')")
    source = tmp_path / "program.py"
    source.write_text(textwrap.dedent(PROGRAM))
    out, err, _status = api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(source)]
    )
    lines = [
        line.split(": ", 1)[1]
        for line in out.splitlines()
        if "program.py:" in line and ": note:    " not in line and "overload variants" not in line
    ]
    assert lines == [
        'note: Revealed type is "type[runtree.nodes.function.FunctionNode[[a: int, b: int], int]]"',
        'note: Revealed type is "list[str]"',
        'note: Revealed type is "list[int]"',
        'note: Revealed type is "list[str | BaseException]"',
        'note: Revealed type is "list[float]"',
        'note: Revealed type is "list[Any]"',
        'error: Argument 1 to "FunctionNode" has incompatible type "str"; expected "int"  '
        "[arg-type]",
        'note: Revealed type is "str"',
        'note: Revealed type is "int"',
        'note: Revealed type is "int"',
        'note: Revealed type is "str"',
        'note: Revealed type is "float"',
        'note: Revealed type is "list[int]"',
        _no_overload("call", 'types "type[Greet]", "int"'),
        _no_overload("call", 'types "type[Count]", "str"'),
        _no_overload("call", 'types "Callable[[int], Coroutine[Any, Any, float]]", "str"'),
        _no_overload("call", 'type "Callable[[int], list[int]]"'),
        'note: Revealed type is "int"',
        'note: Revealed type is "int"',
        'note: Revealed type is "float"',
        'note: Revealed type is "list[int]"',
        _no_overload("call_sync", 'types "type[Greet]", "int"'),
        _no_overload(
            "call_sync", 'types "Callable[[int], Coroutine[Any, Any, float]]", "int", "int"'
        ),
    ], out + err


def _no_overload(function: str, arguments: str) -> str:
    """mypy's error for a call that matches none of ``function``'s overloads."""
    return (
        f'error: No overload variant of "{function}" matches argument {arguments}  [call-overload]'
    )
