"""Bridges to other libraries, one module or subpackage each: :mod:`runtree.integrations.mcp`
(MCP tools and servers), :mod:`runtree.integrations.otel` (OpenTelemetry traces),
:mod:`runtree.integrations.ray` (``execution_mode="ray"``: nodes as Ray tasks).

Each one imports its library only when used, and says which extra to install when the
library is missing (``pip install 'runtree[mcp]'``). Nothing here is imported by
``import runtree``.
"""

from __future__ import annotations
