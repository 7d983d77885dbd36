"""Testing without a model: :class:`ScriptedLLM` (in process) and :class:`LocalOpenAIServer`
(a real OpenAI-protocol HTTP server on 127.0.0.1), both answering from a script of
:class:`Reply` objects. See ``docs/testing.md``."""

from __future__ import annotations

from runtree.testing.script import Reply, Script, ScriptExhausted, ToolCallSpec, tool_call
from runtree.testing.scripted import ScriptedLLM
from runtree.testing.server import LocalOpenAIServer

__all__ = [
    "LocalOpenAIServer",
    "Reply",
    "Script",
    "ScriptExhausted",
    "ScriptedLLM",
    "ToolCallSpec",
    "tool_call",
]
