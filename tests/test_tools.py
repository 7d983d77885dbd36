from __future__ import annotations

import pytest

import runtree as rt
from runtree.llm.tools import Parameter, Tool


def test_parameter_validation() -> None:
    with pytest.raises(rt.ToolDefinitionError, match="unknown type 'integerish'"):
        Parameter(name="x", type="integerish")
    with pytest.raises(rt.ToolDefinitionError, match="identifier"):
        Parameter(name="not ok", type="int")
    with pytest.raises(rt.ToolDefinitionError, match="duplicate parameters"):
        Tool(name="t", description="", parameters=[Parameter(name="x", type="int")] * 2)
    with pytest.raises(rt.ToolDefinitionError, match="Parameter objects"):
        Tool(name="t", description="", parameters=["x"])  # type: ignore[list-item]


def test_nested_schema() -> None:
    point = Parameter(
        name="point",
        type="object",
        properties=[
            Parameter(name="x", type="float"),
            Parameter(name="label", type="str", required=False),
        ],
    )
    tool = Tool(name="plot", description="Plot", parameters=[point])
    assert tool.to_json_schema()["properties"]["point"] == {
        "type": "object",
        "properties": {"x": {"type": "number"}, "label": {"type": "string"}},
        "required": ["x"],
    }


def test_a_tool_described_by_a_json_schema() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    tool = Tool(name="search", description="Search.", json_schema=schema)
    assert tool.to_json_schema() == schema
    assert tool.to_openai()["function"]["parameters"] == schema
    with pytest.raises(rt.ToolDefinitionError, match="not both"):
        Tool(
            name="search",
            description="Search.",
            parameters=[Parameter(name="q", type="str")],
            json_schema=schema,
        )
    with pytest.raises(rt.ToolDefinitionError, match="must be a dict"):
        Tool(name="search", description="Search.", json_schema="{}")  # type: ignore[arg-type]


def test_parameter_takes_railtracks_spellings() -> None:
    positional = Parameter("text", "string", "what to encode")
    assert positional == Parameter(name="text", type="string", description="what to encode")
    assert Parameter(name="n", param_type="integer").type == "integer"
    assert Parameter("n", "integer").param_type == "integer"
    optional = Parameter("n", "integer", "", False, default=3)
    assert optional.required is False and optional.to_json_schema()["default"] == 3
    with pytest.raises(rt.ToolDefinitionError, match="type or param_type, not both"):
        Parameter(name="n", type="int", param_type="integer")
    with pytest.raises(rt.ToolDefinitionError, match="needs a type"):
        Parameter(name="n")


def test_parameter_is_still_a_value() -> None:
    import dataclasses

    base = Parameter("tags", "list", items=Parameter("item", "str"), enum=["a", "b"])
    assert base.enum == ("a", "b")
    assert dataclasses.replace(base, name="labels").name == "labels"
    assert dataclasses.replace(base, name="labels").items == base.items
    assert hash(base) == hash(
        Parameter("tags", "list", items=Parameter("item", "str"), enum=["a", "b"])
    )


def test_tool_from_function_reads_the_function_and_takes_overrides() -> None:
    def convert(amount: float, currency: str = "EUR") -> float:
        """Convert an amount.

        Args:
            amount: how much
            currency: into which currency
        """
        return amount

    tool = Tool.from_function(convert)
    assert tool.name == "convert" and tool.detail == "Convert an amount."
    assert [(p.name, p.type, p.required) for p in tool.parameters] == [
        ("amount", "float", True),
        ("currency", "str", False),
    ]
    assert tool.parameters[1].description == "into which currency"
    renamed = Tool.from_function(
        convert, name="fx", details="Money.", params=[Parameter("amount", "number")]
    )
    assert (renamed.name, renamed.description) == ("fx", "Money.")
    assert [p.name for p in renamed.parameters] == ["amount"]
