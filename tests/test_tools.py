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
