"""Tool descriptions from function signatures: pydantic models, nested models, lists."""

from __future__ import annotations

import subprocess
import sys
from typing import Optional

import pytest
from pydantic import BaseModel, Field

import runtree as rt
from runtree._signature import arguments_from_json, pydantic_model, tool_from_function


class Address(BaseModel):
    """Where someone lives."""

    city: str = Field(description="the city")
    zip_code: Optional[str] = None  # noqa: UP045 - the typing.Union spelling is tested


class Person(BaseModel):
    name: str = Field(description="full name")
    age: int = 0
    home: Address
    tags: list[str] = []


def register(person: Person, friends: list[Person], note: dict[str, str] | None = None) -> str:
    """Register someone.

    Args:
        person: who to register
        friends: people they know
        note: free-form notes
    """
    return f"{person.name}/{person.home.city}/{len(friends)}"


def test_a_model_parameter_is_an_object_with_the_model_fields() -> None:
    tool = tool_from_function(register)
    person, friends, note = tool.parameters
    assert (person.type, person.description, person.required) == ("object", "who to register", True)
    fields = {p.name: p for p in person.properties}
    assert list(fields) == ["name", "age", "home", "tags"]
    assert fields["name"].description == "full name" and fields["name"].required
    assert fields["age"].required is False and fields["age"].default == 0
    assert fields["home"].type == "object"
    assert {p.name: p.required for p in fields["home"].properties} == {
        "city": True,
        "zip_code": False,
    }
    assert fields["tags"].items == rt.llm.tools.Parameter("item", "str")
    assert friends.type == "list" and friends.items is not None
    assert friends.items.type == "object" and len(friends.items.properties) == 4
    assert (note.type, note.required) == ("dict", False)
    schema = tool.to_json_schema()
    assert schema["required"] == ["person", "friends"]
    assert schema["properties"]["person"]["properties"]["home"]["required"] == ["city"]


def test_tool_arguments_become_model_instances() -> None:
    sent = {
        "person": {"name": "Ada", "home": {"city": "London"}},
        "friends": [{"name": "Bo", "home": {"city": "Oslo"}}],
        "note": {"k": "v"},
    }
    converted = arguments_from_json(register, sent)
    assert isinstance(converted["person"], Person) and converted["person"].home.city == "London"
    assert isinstance(converted["friends"][0], Person)
    assert converted["note"] == {"k": "v"}
    assert arguments_from_json(register, {"person": "not a dict"})["person"] == "not a dict"


def test_tuples_and_optional_models_convert() -> None:
    def f(
        pair: tuple[Address, int], maybe: Address | None = None, rest: tuple[int, ...] = ()
    ) -> None:
        return None

    converted = arguments_from_json(
        f, {"pair": [{"city": "Rome"}, 2], "maybe": None, "rest": [1, 2]}
    )
    assert isinstance(converted["pair"], tuple) and isinstance(converted["pair"][0], Address)
    assert converted["maybe"] is None and converted["rest"] == (1, 2)
    assert isinstance(arguments_from_json(f, {"maybe": {"city": "X"}})["maybe"], Address)


async def test_a_function_node_tool_call_gets_model_instances() -> None:
    node = rt.function_node(register)
    prepared = node.prepare_tool(
        {"person": {"name": "Ada", "home": {"city": "London"}}, "friends": []}
    )
    assert await rt.call(node, *prepared.args, **prepared.kwargs) == "Ada/London/0"
    with pytest.raises(rt.NodeInvocationError, match="missing required argument"):
        node.prepare_tool({"friends": []})


def test_a_type_that_cannot_be_described_names_the_parameter() -> None:
    class Opaque:
        pass

    def f(thing: Opaque) -> None:
        return None

    with pytest.raises(rt.NodeDefinitionError, match="parameter 'thing'.*pydantic model"):
        tool_from_function(f)


def test_describing_functions_never_imports_pydantic() -> None:
    code = (
        "import sys, runtree as rt\n"
        "from runtree._signature import pydantic_model\n"
        "def f(x: int, y: list[str]) -> None: ...\n"
        "rt.function_node(f).tool_info(); assert pydantic_model(int) is None\n"
        "assert 'pydantic' not in sys.modules, 'pydantic was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pydantic_model_recognises_only_model_classes() -> None:
    assert pydantic_model(Person) is Person
    assert pydantic_model(Person(name="a", home=Address(city="b"))) is None
    assert pydantic_model(dict) is None
