"""Calling nodes: ``call``, ``call_sync``, ``call_batch``, ``broadcast`` and ``stream``."""

from __future__ import annotations

from runtree.interaction.batch import call_batch
from runtree.interaction.call import call, call_sync
from runtree.interaction.stream import RunStream, broadcast, stream

__all__ = ["RunStream", "broadcast", "call", "call_batch", "call_sync", "stream"]
