"""LLM agents on the run tree: messages, models, agent nodes, usage, streaming events.

Names follow railtracks (``rt.llm.MessageHistory``, ``rt.llm.OpenAILLM``, ...). Everything
but the tool descriptions loads on first use, and no provider SDK or pydantic is imported
until a model sends its first request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtree._lazy import lazy_exports
from runtree.llm.tools import Parameter, Tool

if TYPE_CHECKING:
    from runtree.llm.agent import (
        LLMBase,
        LLMResponse,
        StringResponse,
        StructuredLLM,
        StructuredResponse,
        StructuredToolCallLLM,
        TerminalLLM,
        ToolCallLLM,
        ToolManifest,
        agent_node,
    )
    from runtree.llm.history import MessageHistory
    from runtree.llm.message import (
        AssistantMessage,
        Message,
        Role,
        SystemMessage,
        ToolCall,
        ToolMessage,
        ToolResponse,
        UserMessage,
    )
    from runtree.llm.model import FallbackLLM, ModelBase, ModelCall
    from runtree.llm.providers.litellm import LiteLLM
    from runtree.llm.providers.openai import OllamaLLM, OpenAILLM
    from runtree.llm.response import MessageInfo, Response, Usage
    from runtree.llm.retry import RetryPolicy
    from runtree.llm.stream import (
        FinalResponse,
        ModelCallFinished,
        StreamEvent,
        TextDelta,
        ToolCallDelta,
        ToolCallResult,
        ToolCallStarted,
    )
    from runtree.llm.usage import UsageLimits, limit_usage, run_usage, usage_of

_EXPORTS: dict[str, tuple[str, ...]] = {
    "agent": (
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
    ),
    "history": ("MessageHistory",),
    "message": (
        "AssistantMessage",
        "Message",
        "Role",
        "SystemMessage",
        "ToolCall",
        "ToolMessage",
        "ToolResponse",
        "UserMessage",
    ),
    "model": ("FallbackLLM", "ModelBase", "ModelCall"),
    "providers.litellm": ("LiteLLM",),
    "providers.openai": ("OllamaLLM", "OpenAILLM"),
    "response": ("MessageInfo", "Response", "Usage"),
    "retry": ("RetryPolicy",),
    "stream": (
        "FinalResponse",
        "ModelCallFinished",
        "StreamEvent",
        "TextDelta",
        "ToolCallDelta",
        "ToolCallResult",
        "ToolCallStarted",
    ),
    "usage": ("UsageLimits", "limit_usage", "run_usage", "usage_of"),
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = [
    "AssistantMessage",
    "FallbackLLM",
    "FinalResponse",
    "LLMBase",
    "LLMResponse",
    "LiteLLM",
    "Message",
    "MessageHistory",
    "MessageInfo",
    "ModelBase",
    "ModelCall",
    "ModelCallFinished",
    "OllamaLLM",
    "OpenAILLM",
    "Parameter",
    "Response",
    "RetryPolicy",
    "Role",
    "StreamEvent",
    "StringResponse",
    "StructuredLLM",
    "StructuredResponse",
    "StructuredToolCallLLM",
    "SystemMessage",
    "TerminalLLM",
    "TextDelta",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallLLM",
    "ToolCallResult",
    "ToolCallStarted",
    "ToolManifest",
    "ToolMessage",
    "ToolResponse",
    "Usage",
    "UsageLimits",
    "UserMessage",
    "agent_node",
    "limit_usage",
    "run_usage",
    "usage_of",
]
