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
