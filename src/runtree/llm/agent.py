"""Agents: ``agent_node`` and the agent node classes.

``rt.agent_node(name, *, tool_nodes=(), output_schema=None, llm=..., system_message=None,
max_tool_calls=None)`` returns a node class; call it with text, a message, a list of messages
or a ``MessageHistory`` (never changed: the agent works on a copy). Which class it builds:

============================  ===============  ============================
                              no tools         tools
============================  ===============  ============================
no ``output_schema``          ``TerminalLLM``  ``ToolCallLLM``
``output_schema``             ``StructuredLLM``  ``StructuredToolCallLLM``
============================  ===============  ============================

Each model call is a request of the agent's request, each tool call one too (see
:mod:`runtree.llm.model` and :mod:`runtree.llm.tool_loop`). The result is a
:class:`StringResponse` (``.text``) or a :class:`StructuredResponse` (``.structured``), with
``.message_history`` and ``.usage`` (everything the agent and the agents it called used).
An agent is itself a tool for other agents (its ``tool_info`` comes from ``manifest``, or
asks for a ``prompt``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from runtree.errors import ConfigurationError
from runtree.interaction.stream import broadcast, is_streaming
from runtree.llm.history import MessageHistory, as_history, with_system_message
from runtree.llm.loop import run_loop
from runtree.llm.message import Role, SystemMessage, ToolCall, ToolResponse, UserMessage
from runtree.llm.model import ModelBase, as_model
from runtree.llm.response import Usage
from runtree.llm.stream import FinalResponse, request_path
from runtree.llm.structured import check_schema
from runtree.llm.tool_loop import ToolSet, tool_name
from runtree.llm.tools import Parameter, Tool
from runtree.llm.usage import UsageLimits, UsageScope, open_scope
from runtree.nodes.builder import NodeBuilder
from runtree.nodes.node import Node

__all__ = [
    "LLMBase",
    "LLMResponse",
    "StringResponse",
    "StructuredLLM",
    "StructuredResponse",
    "StructuredToolCallLLM",
    "TerminalLLM",
    "ToolCallLLM",
    "ToolManifest",
    "agent_node",
]

T = TypeVar("T")


class LLMResponse(Generic[T]):
    """What an agent returns: ``content``, the whole ``message_history`` (a new one), and the
    ``usage`` of the agent's model calls (including those of agents it called)."""

    def __init__(
        self, content: T, message_history: MessageHistory, *, usage: Usage | None = None
    ) -> None:
        self.content = content
        self.message_history = message_history
        self.usage = usage or Usage()

    @property
    def tool_invocations(self) -> list[tuple[ToolCall, ToolResponse]]:
        """Every tool call of the conversation with its response."""
        responses = {
            m.content.identifier: m.content for m in self.message_history if m.role is Role.tool
        }
        return [
            (call, responses[call.identifier])
            for message in self.message_history
            for call in message.tool_calls
            if call.identifier in responses
        ]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.content!r})"


class StringResponse(LLMResponse[str]):
    """A text answer: ``text``."""

    @property
    def text(self) -> str:
        return self.content


class StructuredResponse(LLMResponse[T]):
    """A structured answer: ``structured`` (an instance of the output schema); ``text`` is
    its JSON."""

    @property
    def structured(self) -> T:
        return self.content

    @property
    def text(self) -> str:
        dump = getattr(self.content, "model_dump_json", None)
        return str(dump()) if callable(dump) else json.dumps(self.content, default=str)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ToolManifest:
    """How an agent presents itself as a tool: ``description`` and ``parameters``."""

    description: str
    parameters: Sequence[Parameter] = ()


#: the one parameter of an agent used as a tool without a manifest
PROMPT = Parameter(name="prompt", type="string", description="What to ask or tell the agent")


class LLMBase(Node[LLMResponse[Any]]):
    """Base of the agent node classes. Configure a subclass with class attributes (or build
    one with :func:`agent_node`): ``llm``, ``system_message``, ``tool_nodes``,
    ``output_schema``, ``max_tool_calls``, ``usage_limits``, ``structured_retries``,
    ``manifest``, ``agent_name``.

    An agent runs on the event loop (``execution_mode = "async"``): it waits on models and
    tools, and its tools run in whatever mode they ask for.
    """

    execution_mode: ClassVar[str | None] = "async"
    llm: ClassVar[ModelBase | Sequence[ModelBase] | None] = None
    system_message: ClassVar[SystemMessage | str | None] = None
    tool_nodes: ClassVar[Sequence[Any]] = ()
    output_schema: ClassVar[Any] = None
    max_tool_calls: ClassVar[int | None] = None
    usage_limits: ClassVar[UsageLimits | None] = None
    structured_retries: ClassVar[int] = 2
    manifest: ClassVar[ToolManifest | None] = None
    agent_name: ClassVar[str | None] = None
    _toolset: ClassVar[ToolSet | None] = None

    def __init__(
        self,
        user_input: Any = None,
        *,
        llm: ModelBase | Sequence[ModelBase] | None = None,
        llm_model: ModelBase | Sequence[ModelBase] | None = None,
        **tool_arguments: Any,
    ) -> None:
        super().__init__()
        if user_input is None:
            if not tool_arguments:
                raise TypeError(f"{self.name()} needs user_input (text or messages)")
            user_input = _prompt_from_arguments(tool_arguments)
        elif tool_arguments:
            raise TypeError(f"{self.name()} got unexpected arguments {sorted(tool_arguments)}")
        #: the conversation the agent starts from (a copy: the caller's is never changed)
        self.message_history = as_history(user_input)
        chosen = llm if llm is not None else llm_model
        self._llm = None if chosen is None else as_model(chosen, where=self.name())

    @classmethod
    def name(cls) -> str:
        return cls.agent_name or cls.__name__

    @classmethod
    def tool_info(cls) -> Tool:
        manifest = cls.manifest
        if manifest is not None:
            return Tool(
                name=tool_name(cls.name()),
                description=manifest.description,
                parameters=manifest.parameters,
            )
        system = cls.system_message
        text = system.content if isinstance(system, SystemMessage) else system
        description = f"Ask the agent {cls.name()!r}" + (f" ({text})" if text else "")
        return Tool(name=tool_name(cls.name()), description=description, parameters=[PROMPT])

    @classmethod
    def tools(cls) -> ToolSet | None:
        """The agent's tools, resolved once."""
        if not cls.tool_nodes:
            return None
        if cls.__dict__.get("_toolset") is None:
            cls._toolset = ToolSet(cls.tool_nodes, where=cls.name())
        return cls._toolset

    def model(self) -> ModelBase:
        if self._llm is not None:
            return self._llm
        if type(self).llm is None:
            raise ConfigurationError(
                f"agent {self.name()!r} has no model: pass llm= to agent_node or to the call"
            )
        return as_model(type(self).llm, where=self.name())

    async def invoke(self) -> LLMResponse[Any]:
        cls = type(self)
        model = self.model()
        system = cls.system_message
        if isinstance(system, str):
            system = SystemMessage(system)
        history = with_system_message(MessageHistory(self.message_history), system)
        self.details["attributes"] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": self.name(),
            "runtree.kind": "agent",
        }
        scope = UsageScope(f"agent {self.name()!r}", cls.usage_limits)
        with open_scope(scope):
            result = await run_loop(
                model,
                history,
                agent=f"agent {self.name()!r}",
                tools=cls.tools(),
                schema=cls.output_schema,
                max_tool_calls=cls.max_tool_calls,
                structured_retries=cls.structured_retries,
            )
        usage = scope.usage
        self.details["usage"] = usage.to_dict()
        response: LLMResponse[Any]
        if cls.output_schema is not None:
            response = StructuredResponse(result.structured, result.history, usage=usage)
        else:
            response = StringResponse(result.text, result.history, usage=usage)
        if is_streaming():
            await broadcast(
                FinalResponse(
                    request_id=self.uuid,
                    path=request_path(self.uuid),
                    agent=self.name(),
                    text=response.text,
                    structured=result.structured,
                )
            )
        return response


class TerminalLLM(LLMBase):
    """An agent that answers in text, without tools."""


class ToolCallLLM(LLMBase):
    """An agent that calls tools until it can answer in text."""


class StructuredLLM(LLMBase):
    """An agent whose answer fits ``output_schema``, without tools."""


class StructuredToolCallLLM(LLMBase):
    """An agent that calls tools, then answers to fit ``output_schema``."""


def _prompt_from_arguments(arguments: dict[str, Any]) -> Any:
    if set(arguments) == {"prompt"} and isinstance(arguments["prompt"], str):
        return arguments["prompt"]
    return UserMessage(json.dumps(arguments, sort_keys=True, default=str))


def agent_node(
    name: str | None = None,
    *,
    tool_nodes: Iterable[Any] | None = (),
    output_schema: Any = None,
    llm: ModelBase | Sequence[ModelBase] | None = None,
    llm_model: ModelBase | Sequence[ModelBase] | None = None,
    system_message: SystemMessage | str | None = None,
    max_tool_calls: int | None = None,
    usage_limits: UsageLimits | None = None,
    structured_retries: int = 2,
    manifest: ToolManifest | None = None,
) -> type[LLMBase]:
    """Build an agent node class (see the module docstring for which one).

    ``tool_nodes``: node classes, functions or graphs the model may call. ``output_schema``:
    a pydantic model the answer must fit. ``llm`` (railtracks 1.0 spelling: ``llm_model``):
    a model, or a list of models tried in order when one fails with a transient error; it may
    also be given per call. ``max_tool_calls`` and ``usage_limits`` bound the agent's work
    (going past one raises :class:`~runtree.errors.UsageLimitExceeded`).
    """
    where = f"agent_node({name!r})"
    if llm is not None and llm_model is not None:
        raise ConfigurationError(f"{where}: give llm= or llm_model=, not both")
    chosen = llm if llm is not None else llm_model
    if chosen is not None:
        as_model(chosen, where=where)  # check now, not at the first call
    if system_message is not None and not isinstance(system_message, (str, SystemMessage)):
        raise ConfigurationError(
            f"{where}: system_message must be text or a SystemMessage, got {system_message!r}"
        )
    if max_tool_calls is not None and (
        isinstance(max_tool_calls, bool)
        or not isinstance(max_tool_calls, int)
        or max_tool_calls < 0
    ):
        raise ConfigurationError(f"{where}: max_tool_calls must be an int >= 0 or None")
    if usage_limits is not None and not isinstance(usage_limits, UsageLimits):
        raise ConfigurationError(f"{where}: usage_limits must be rt.llm.UsageLimits")
    if isinstance(tool_nodes, (str, bytes)) or (
        tool_nodes is not None and not isinstance(tool_nodes, Iterable)
    ):
        tool_nodes = [tool_nodes]
    tools = tuple(tool_nodes or ())
    if output_schema is not None:
        check_schema(output_schema, where=where)
    base: type[LLMBase]
    if tools:
        base = StructuredToolCallLLM if output_schema is not None else ToolCallLLM
    else:
        base = StructuredLLM if output_schema is not None else TerminalLLM
    class_name = base.__name__
    if name:
        words = "".join(ch if ch.isalnum() else " " for ch in name).split()
        candidate = "".join(word[:1].upper() + word[1:] for word in words)
        if candidate.isidentifier():
            class_name = candidate
    built = (
        NodeBuilder(base, class_name=class_name)
        .override_attrs(
            agent_name=name,
            llm=chosen,
            system_message=system_message,
            tool_nodes=tools,
            output_schema=output_schema,
            max_tool_calls=max_tool_calls,
            usage_limits=usage_limits,
            structured_retries=structured_retries,
            manifest=manifest,
            _toolset=None,
        )
        .build()
    )
    if tools:
        built.tools()  # resolve the tools now: a bad tool fails here, not mid-run
    return built
