"""LLM-facing parts of runtree. For now: tool descriptions (:mod:`runtree.llm.tools`)."""

from __future__ import annotations

from runtree.llm.tools import Parameter, Tool

__all__ = ["Parameter", "Tool"]
