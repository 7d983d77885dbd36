"""The agent loop: ask the model, run the tools it calls, repeat until it answers.

The answer is decided only after a whole reply: text that comes with tool calls is part of
the conversation, not the answer. With an output schema the answer must also fit it (see
:mod:`runtree.llm.structured`); a reply that does not goes back to the model with the error.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from runtree.errors import ModelError, StructuredOutputError, UsageLimitExceeded
from runtree.llm import structured as so
from runtree.llm.history import MessageHistory, WireMessages
from runtree.llm.message import Message, ToolMessage, ToolResponse, UserMessage
from runtree.llm.model import ModelBase
from runtree.llm.response import Response
from runtree.llm.tool_loop import ToolSet, check_arguments
from runtree.llm.usage import count_tool_calls

__all__ = ["LoopResult", "run_loop", "structured_reply"]


@dataclasses.dataclass(slots=True, kw_only=True)
class LoopResult:
    history: MessageHistory
    text: str
    structured: Any = None
    tool_calls: int = 0
    last: Response | None = None


class _Conversation:
    """The history and its chat-protocol form, kept side by side (each message converted
    once, not once per turn)."""

    __slots__ = ("history", "wire")

    def __init__(self, history: MessageHistory) -> None:
        self.history = history
        self.wire = WireMessages(history.to_dicts())

    def add(self, message: Message, wire: dict[str, Any] | None = None) -> None:
        self.history.append(message)
        self.wire.append(message.to_dict() if wire is None else wire)

    def extend(self, messages: list[ToolMessage]) -> None:
        for message in messages:
            self.add(message)


async def run_loop(
    model: ModelBase,
    history: MessageHistory,
    *,
    agent: str,
    tools: ToolSet | None = None,
    schema: Any = None,
    max_tool_calls: int | None = None,
    structured_retries: int = 2,
) -> LoopResult:
    """Run the conversation ``history`` (extended in place: pass a copy) to an answer."""
    mode = _start_mode(model) if schema is not None else None
    conversation = _Conversation(history)
    answer_tool = so.answer_tool(schema).to_openai() if schema is not None else None
    ran = 0
    invalid = 0
    last: Response | None = None
    while True:
        offered: list[dict[str, Any]] = tools.wire if tools is not None else []
        response_format = None
        tool_choice = None
        messages = conversation.wire
        if mode == "json_schema":
            response_format = so.json_schema_format(schema)
        elif mode == "tool":
            assert answer_tool is not None
            offered = [*offered, answer_tool]
            tool_choice = "required"
        elif mode == "prompt":
            messages = so.with_instructions(conversation.wire, schema)
        request = model.build_request(
            messages, tools=offered, tool_choice=tool_choice, response_format=response_format
        )
        try:
            last = await model.request(request)
        except ModelError as error:
            fallback = so.next_mode(mode, error) if mode is not None else None
            if fallback is None:
                raise
            mode = model.structured_mode_override = fallback
            continue
        message = last.message
        conversation.add(message, last.wire)
        calls = message.tool_calls
        if mode == "tool":
            answers = [c for c in calls if c.name == so.ANSWER_TOOL]
            if answers:
                value, problem = _answer(schema, answers[0].raw_arguments)
                if problem is None:
                    for call in calls:  # every call gets a result, so the history stays valid
                        note = "Answer received." if call is answers[0] else "Not run: answered."
                        conversation.add(
                            ToolMessage(ToolResponse(call.identifier, call.name, note))
                        )
                    return LoopResult(
                        history=history,
                        text=answers[0].raw_arguments,
                        structured=value,
                        tool_calls=ran,
                        last=last,
                    )
                invalid += 1
                _give_up_after(invalid, structured_retries, agent, problem)
                others = [c for c in calls if c.name != so.ANSWER_TOOL]
                conversation.extend(await _run_tools(tools, others, agent, ran, max_tool_calls))
                ran += len(others)
                for call in answers:
                    conversation.add(
                        ToolMessage(
                            ToolResponse(
                                call.identifier,
                                call.name,
                                f"Error: the answer does not fit the schema: {problem}. "
                                "Call final_answer again with a corrected answer.",
                            )
                        )
                    )
                continue
        if calls:
            conversation.extend(await _run_tools(tools, calls, agent, ran, max_tool_calls))
            ran += len(calls)
            continue
        text = message.text or ""
        if schema is None:
            return LoopResult(history=history, text=text, tool_calls=ran, last=last)
        if mode == "tool":
            problem = "the answer must be given by calling the final_answer tool"
            value = None
        else:
            value, problem = so.parse_reply(schema, text)
        if problem is None:
            return LoopResult(
                history=history, text=text, structured=value, tool_calls=ran, last=last
            )
        invalid += 1
        _give_up_after(invalid, structured_retries, agent, problem)
        conversation.add(
            UserMessage(
                f"Your answer does not fit the required format: {problem}. "
                + (
                    "Call the final_answer tool with your answer."
                    if mode == "tool"
                    else "Reply again with only the corrected JSON object."
                )
            )
        )


def _start_mode(model: ModelBase) -> str:
    override = getattr(model, "structured_mode_override", None)
    if override is not None:
        return str(override)
    return "json_schema" if model.structured_output == "auto" else model.structured_output


def _answer(schema: Any, raw: str) -> tuple[Any, str | None]:
    problem, _ = check_arguments(so.answer_tool(schema), raw)
    if problem is not None and "not valid JSON" in problem:
        return None, f"the arguments {problem}"
    return so.parse_reply(schema, raw)


def _give_up_after(invalid: int, retries: int, agent: str, problem: str) -> None:
    if invalid > retries:
        raise StructuredOutputError(
            f"{agent}: the model's answer did not fit the output schema after {invalid} "
            f"tries: {problem}"
        )


async def _run_tools(
    tools: ToolSet | None,
    calls: list[Any],
    agent: str,
    ran: int,
    max_tool_calls: int | None,
) -> list[ToolMessage]:
    if not calls:
        return []
    if max_tool_calls is not None and ran + len(calls) > max_tool_calls:
        raise UsageLimitExceeded(
            f"{agent} reached max_tool_calls={max_tool_calls} ({ran} ran, the model asked for "
            f"{len(calls)} more); what finished is in the journal: resume the run with a "
            "higher limit to go on"
        )
    count_tool_calls(len(calls))
    if tools is None:
        return [
            ToolMessage(
                ToolResponse(
                    call.identifier, call.name, "Error: this agent has no tools; answer directly."
                )
            )
            for call in calls
        ]
    return await tools.run(calls, agent=agent)


async def structured_reply(
    model: ModelBase, history: MessageHistory, schema: Any, *, tools: Any = ()
) -> Response:
    """One reply parsed into ``schema``: ``response.structured`` (used by
    :meth:`ModelBase.structured`)."""
    so.check_schema(schema, where=f"{model!r}.structured")
    result = await run_loop(
        model,
        MessageHistory(history),
        agent=f"{model!r}",
        tools=ToolSet(tools, where=f"{model!r}.structured") if tools else None,
        schema=schema,
    )
    assert result.last is not None
    response = result.last
    response.structured = result.structured
    return response
