"""JSON schema -> tool parameters, parameters of a connection, errors (no server needed)."""

from __future__ import annotations

import datetime
import pickle

import pytest

import runtree as rt
from runtree.integrations.mcp import MCPConnectionError, MCPTimeoutError, MCPToolError
from runtree.integrations.mcp.schema import (
    WRAPPED_OUTPUT_SCHEMA,
    is_wrapped_output,
    one_line,
    parameters_from_schema,
)
from runtree.llm.tools import Parameter

# What the MCP Python SDK makes of `def find(query: Query, limit: int | None = 5, mode:
# Literal["a", "b"] = "a", any_value=None, pick: int | str = 1)` with a pydantic `Query`.
PYDANTIC_SCHEMA = {
    "$defs": {
        "Query": {
            "properties": {
                "text": {"type": "string", "description": "what to look for"},
                "fields": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["text"],
            "title": "Query",
            "type": "object",
        }
    },
    "properties": {
        "query": {"$ref": "#/$defs/Query"},
        "limit": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": 5},
        "mode": {"enum": ["a", "b"], "default": "a", "type": "string"},
        "any_value": {"default": None},
        "pick": {"anyOf": [{"type": "integer"}, {"type": "string"}], "default": 1},
    },
    "required": ["query"],
    "title": "findArguments",
    "type": "object",
}


def test_a_pydantic_schema_becomes_parameters() -> None:
    params, names = parameters_from_schema(PYDANTIC_SCHEMA)
    assert names == {n: n for n in ("query", "limit", "mode", "any_value", "pick")}
    query, limit, mode, any_value, pick = params
    assert query == Parameter(
        name="query",
        type="object",
        properties=(
            Parameter(name="text", type="string", description="what to look for"),
            Parameter(
                name="fields",
                type="array",
                required=False,
                items=Parameter(name="item", type="string"),
            ),
        ),
    )
    assert (limit.type, limit.required, limit.default) == ("integer", False, 5)
    assert (mode.type, mode.enum, mode.default) == ("string", ("a", "b"), "a")
    assert (any_value.type, any_value.required) == ("string", False)  # any value: say string
    assert (pick.type, pick.description) == ("integer", "(also accepts: string)")


def test_names_that_are_not_identifiers_get_one_and_are_mapped_back() -> None:
    schema = {
        "type": "object",
        "properties": {"file-path": {"type": "string"}, "2x": {"type": "number"}, "file_path": {}},
        "required": ["file-path"],
    }
    params, names = parameters_from_schema(schema)
    assert [p.name for p in params] == ["file_path", "_2x", "file_path_2"]
    assert names == {"file_path": "file-path", "_2x": "2x", "file_path_2": "file_path"}
    assert params[0].required and not params[1].required


def test_odd_schemas_still_give_parameters() -> None:
    assert parameters_from_schema({}) == ((), {})
    assert parameters_from_schema({"type": "object"}) == ((), {})
    params, _ = parameters_from_schema(
        {
            "type": "object",
            "properties": {
                "nullable": {"type": ["string", "null"]},
                "const": {"const": 3},
                "listed": {"items": {"type": "boolean"}},
                "nested": {"properties": {"bad-name": {"type": "string"}}},
                "cycle": {"$ref": "#/$defs/Node"},
            },
            "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
        }
    )
    by_name = {p.name: p for p in params}
    assert by_name["nullable"].type == "string"
    assert (by_name["const"].type, by_name["const"].enum) == ("integer", (3,))
    assert by_name["listed"].items == Parameter(name="item", type="boolean")
    assert (by_name["nested"].type, by_name["nested"].properties) == ("object", ())
    depth, node = 0, by_name["cycle"]
    while node.properties:  # a recursive schema is cut at a bounded depth
        node, depth = node.properties[0], depth + 1
    assert 0 < depth <= 10


def test_wrapped_outputs_and_one_line() -> None:
    assert is_wrapped_output(WRAPPED_OUTPUT_SCHEMA)
    assert is_wrapped_output(
        {"type": "object", "properties": {"result": {"type": "integer"}}, "required": ["result"]}
    )
    assert not is_wrapped_output(None)
    assert not is_wrapped_output({"type": "object", "properties": {"result": {}}})
    assert not is_wrapped_output(
        {"type": "object", "properties": {"result": {}, "x": {}}, "required": ["result"]}
    )
    assert one_line("a\n  b\tc ") == "a b c"
    assert one_line("x" * 50, limit=10) == "xxxxxxx..."


def test_params_check_their_fields() -> None:
    stdio = rt.MCPStdioParams(command="srv", args=["--x"], timeout=datetime.timedelta(seconds=5))
    assert stdio.args == ("--x",) and stdio.describe() == "srv --x"
    assert rt.MCPHttpParams(url="http://127.0.0.1:1/mcp", timeout=None).timeout is None
    for bad, message in [
        (lambda: rt.MCPStdioParams(command=""), "command must be a non-empty string"),
        (lambda: rt.MCPStdioParams(command="x", args="--y"), "args must be a list of strings"),
        (lambda: rt.MCPStdioParams(command="x", env={"A": 1}), "env must map strings"),
        (lambda: rt.MCPStdioParams(command="x", timeout=0), "timeout must be a positive number"),
        (lambda: rt.MCPHttpParams(url="127.0.0.1:80"), "must be an http:// or https:// URL"),
        (lambda: rt.MCPHttpParams(url="http://h", headers={"a": 1}), "headers must map"),
        (lambda: rt.MCPHttpParams(url="http://h", timeout="1"), "timeout must be a positive"),
    ]:
        with pytest.raises(rt.ConfigurationError, match=message):
            bad()


@pytest.mark.parametrize(
    ("error_type", "builtin"),
    [
        (MCPConnectionError, ConnectionError),
        (MCPToolError, RuntimeError),
        (MCPTimeoutError, TimeoutError),
    ],
)
def test_errors_pickle_with_the_tool_and_inherit_a_builtin(
    error_type: type[rt.RuntreeError], builtin: type[Exception]
) -> None:
    error = error_type("MCP tool 'x' failed", tool="x")  # type: ignore[call-arg]
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is error_type and str(clone) == "MCP tool 'x' failed"
    assert clone.tool == "x"  # type: ignore[attr-defined]
    assert isinstance(clone, builtin) and isinstance(clone, rt.RuntreeError)
