"""The import paths railtracks code uses lead to runtree's own classes."""

from __future__ import annotations

import pytest

import runtree as rt
from runtree import errors


def test_exceptions_module_names_runtree_errors() -> None:
    from runtree.exceptions import (
        ContextError,
        FatalError,
        GlobalTimeOutError,
        NodeCreationError,
        NodeInvocationError,
        RTError,
    )

    assert RTError is errors.RuntreeError
    assert NodeCreationError is errors.NodeDefinitionError
    assert NodeInvocationError is errors.NodeInvocationError
    assert GlobalTimeOutError is errors.SessionTimeoutError
    assert ContextError is errors.ContextError
    assert FatalError is errors.FatalError is rt.FatalError


def test_node_and_config_paths() -> None:
    from runtree.nodes.nodes import DebugDetails, LatencyDetails, Node, NodeState
    from runtree.orchestration.flow import Flow
    from runtree.utils.config import ExecutorConfig

    assert Node is rt.Node and NodeState is rt.NodeState and ExecutorConfig is rt.ExecutorConfig
    assert Flow is rt.Flow
    assert DebugDetails.__module__ == LatencyDetails.__module__ == "runtree.nodes.details"


async def stop_everything() -> None:
    raise rt.FatalError("the data is corrupt")


async def fine() -> int:
    return 1


async def test_a_fatal_error_ends_the_run_without_end_on_error() -> None:
    with pytest.raises(rt.FatalError, match="corrupt"):
        async with rt.Session(store=None):
            try:
                await rt.call(stop_everything)
            except rt.FatalError:
                pass  # caught, yet the run is over
            with pytest.raises(rt.RunEndedError):
                await rt.call(fine)
