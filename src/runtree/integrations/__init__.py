"""Bridges to foreign libraries, one subpackage or module per library.

Each one imports its library only when used, and says which extra to install when the
library is missing (``pip install 'runtree[mcp]'``). Nothing here is imported by
``import runtree``.
"""

from __future__ import annotations
