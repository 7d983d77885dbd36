"""Calling nodes: ``call``, ``call_sync``, ``call_batch`` and ``broadcast``."""

from __future__ import annotations

from runtree.interaction.batch import call_batch
from runtree.interaction.call import call, call_sync
from runtree.interaction.stream import broadcast

__all__ = ["broadcast", "call", "call_batch", "call_sync"]
