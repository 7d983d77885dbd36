from __future__ import annotations

from typing import Literal

import pytest

import runtree as rt
from runtree.nodes import function_node
from runtree.nodes.function import make_argument_checker


def search(
    query: str,
    limit: int = 5,
    tags: list[str] | None = None,
    order: Literal["asc", "desc"] = "asc",
) -> list[str]:
    """Search the catalogue.

    Args:
        query: What to look for.
        limit: How many results
            at most.
        tags: Only items with these tags.
    """
    return [query] * limit


def test_tool_info_from_signature_and_docstring() -> None:
    tool = function_node(search).tool_info()
    assert tool.name == "search" and tool.description == "Search the catalogue."
    schema = tool.to_json_schema()
    assert schema["required"] == ["query"]
    assert schema["properties"]["query"] == {"type": "string", "description": "What to look for."}
    assert schema["properties"]["limit"] == {
        "type": "integer",
        "description": "How many results at most.",
        "default": 5,
    }
    assert schema["properties"]["tags"]["items"] == {"type": "string"}
    assert schema["properties"]["order"]["enum"] == ["asc", "desc"]
    assert tool.to_openai()["function"]["name"] == "search"


def test_sphinx_docstrings() -> None:
    def f(x: int) -> int:
        """Do f.

        :param x: the x.
        """
        return x

    assert function_node(f).tool_info().parameters[0].description == "the x."


def test_unsupported_parameter_type_is_explained() -> None:
    def f(x: complex) -> None:
        """F."""

    with pytest.raises(rt.NodeDefinitionError, match="parameter 'x'.*complex"):
        function_node(f).tool_info()


def test_function_node_is_cached_and_named() -> None:
    assert function_node(search) is function_node(search)
    named = function_node(search, name="find")
    assert named.name() == "find" and named is not function_node(search)
    with pytest.raises(rt.NodeDefinitionError, match="already a node class"):
        function_node(rt.Node)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "kwargs", "ok"),
    [
        ((1, 2), {}, True),
        ((1,), {"b": 2}, True),
        ((), {"a": 1, "b": 2}, False),  # a is positional-only
        ((1, 2, 3), {}, True),
        ((1, 2), {"c": 3, "d": 4}, True),
        ((1, 2), {"zzz": 1}, True),
        ((1,), {}, False),
    ],
)
def test_argument_checker_matches_python(
    args: tuple[int, ...], kwargs: dict[str, int], ok: bool
) -> None:
    def f(a: int, /, b: int, *rest: int, c: int = 0, d: int = 1, **more: int) -> None:
        pass

    check = make_argument_checker(f)
    if ok:
        check(*args, **kwargs)
        f(*args, **kwargs)
    else:
        with pytest.raises(TypeError):
            check(*args, **kwargs)
        with pytest.raises(TypeError):
            f(*args, **kwargs)


def test_keyword_only_without_star_args() -> None:
    def g(a: int, *, b: int) -> None:
        pass

    check = make_argument_checker(g)
    check(1, b=2)
    with pytest.raises(TypeError, match="takes 1 positional argument"):
        check(1, 2)
