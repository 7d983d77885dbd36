"""Structured output: a reply parsed into a pydantic model (pydantic comes with the LLM
extras, never with ``import runtree``).

Three ways to ask a model for it, tried in this order by ``structured_output="auto"``:

* ``"json_schema"``: the server's native ``response_format={"type": "json_schema", ...}``;
* ``"tool"``: a ``final_answer`` tool whose arguments are the schema; the model calls it to
  answer (works on every server with tool calling);
* ``"prompt"``: the schema in the instructions and JSON in the reply text.

A server that refuses one (HTTP 400 naming ``response_format`` or tools) moves the model to
the next for the rest of the process. A reply that does not fit goes back to the model with
the validation error, up to the agent's ``structured_retries``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from runtree.errors import ModelError, NodeDefinitionError
from runtree.llm.history import WireMessages
from runtree.llm.tools import Tool

__all__ = [
    "ANSWER_TOOL",
    "OutputSchema",
    "check_schema",
    "json_schema_format",
    "next_mode",
    "parse_reply",
    "prompt_instructions",
]

#: the name of the tool a model calls to give its structured answer (``"tool"`` mode)
ANSWER_TOOL = "final_answer"
OutputSchema = Any  # a pydantic BaseModel subclass (not imported here: pydantic is optional)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def check_schema(schema: Any, *, where: str) -> Any:
    """``schema`` if it is a pydantic model class, else a definition error."""
    if not (
        isinstance(schema, type)
        and callable(getattr(schema, "model_json_schema", None))
        and callable(getattr(schema, "model_validate_json", None))
    ):
        raise NodeDefinitionError(
            f"{where}: output_schema must be a pydantic model class (a BaseModel subclass), "
            f"got {schema!r}"
        )
    return schema


def json_schema_format(schema: Any) -> dict[str, Any]:
    """The ``response_format`` of the native JSON-schema mode."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": re.sub(r"[^a-zA-Z0-9_-]", "_", schema.__name__)[:64],
            "schema": schema.model_json_schema(),
            "strict": False,
        },
    }


def answer_tool(schema: Any) -> Tool:
    """The ``final_answer`` tool of the ``"tool"`` mode."""
    doc = (schema.__doc__ or "").strip().split("\n\n")[0]
    return Tool(
        name=ANSWER_TOOL,
        description=(
            "Give your final answer with this tool once you know it; its arguments are the "
            f"answer. {doc}".strip()
        ),
        json_schema=schema.model_json_schema(),
    )


def prompt_instructions(schema: Any) -> str:
    """The instructions of the ``"prompt"`` mode."""
    return (
        "When you give your final answer, reply with a single JSON object and nothing else "
        "(no prose, no code fence), matching this JSON schema:\n"
        + json.dumps(schema.model_json_schema(), sort_keys=True)
    )


def parse_reply(schema: Any, text: str) -> tuple[Any, str | None]:
    """``(value, None)`` when ``text`` holds JSON fitting ``schema``, else ``(None, problem)``."""
    candidate = text.strip()
    fenced = _FENCE.search(candidate)
    if fenced:
        candidate = fenced.group(1).strip()
    elif not candidate.startswith("{"):
        start, end = candidate.find("{"), candidate.rfind("}")
        if start != -1 and end > start:
            candidate = candidate[start : end + 1]
    if not candidate:
        return None, "the reply was empty; an answer must be a JSON object"
    try:
        return schema.model_validate_json(candidate), None
    except Exception as exc:  # pydantic.ValidationError, kept without importing pydantic
        return None, _short(exc)


def _short(error: Exception, limit: int = 2000) -> str:
    text = str(error)
    return text if len(text) <= limit else text[:limit] + " ..."


def next_mode(mode: str, error: ModelError) -> str | None:
    """The mode to try after the server refused ``mode`` with ``error``, or ``None``."""
    if error.status_code not in (400, 422):
        return None
    message = str(error).lower()
    if mode == "json_schema" and ("response_format" in message or "json_schema" in message):
        return "tool"
    if mode == "tool" and "tool" in message:
        return "prompt"
    return None


def with_instructions(wire: list[dict[str, Any]], schema: Any) -> WireMessages:
    """The messages to send in ``"prompt"`` mode: the conversation (chat-protocol dicts),
    the instructions added to its first system message (or in one of their own)."""
    messages = WireMessages(wire)
    instructions = prompt_instructions(schema)
    if messages and messages[0].get("role") == "system":
        first = dict(messages[0])
        first["content"] = f"{first.get('content') or ''}\n\n{instructions}".strip()
        messages[0] = first
    else:
        messages.insert(0, {"role": "system", "content": instructions})
    return messages
