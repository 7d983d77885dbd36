"""Tool nodes shared by the LLM tests (importable: process workers and child processes)."""

from __future__ import annotations

import runtree as rt


@rt.function_node
def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


@rt.function_node
def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


@rt.function_node
def explode(reason: str) -> str:
    """A tool that always fails."""
    raise ValueError(f"exploded: {reason}")
