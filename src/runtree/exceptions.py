"""The error names railtracks code imports (``from runtree.exceptions import ...``).

Each name is runtree's own error class (see :mod:`runtree.errors` for the tree); nothing
here holds logic.

=========================  ==========================================
railtracks name            runtree error
=========================  ==========================================
``RTError``                :class:`~runtree.errors.RuntreeError`
``NodeCreationError``      :class:`~runtree.errors.NodeDefinitionError`
``NodeInvocationError``    :class:`~runtree.errors.NodeInvocationError`
``GlobalTimeOutError``     :class:`~runtree.errors.SessionTimeoutError`
``ContextError``           :class:`~runtree.errors.ContextError`
``FatalError``             :class:`~runtree.errors.FatalError`
=========================  ==========================================
"""

from __future__ import annotations

from runtree.errors import (
    ContextError,
    FatalError,
    NodeInvocationError,
)
from runtree.errors import NodeDefinitionError as NodeCreationError
from runtree.errors import RuntreeError as RTError
from runtree.errors import SessionTimeoutError as GlobalTimeOutError

__all__ = [
    "ContextError",
    "FatalError",
    "GlobalTimeOutError",
    "NodeCreationError",
    "NodeInvocationError",
    "RTError",
]
