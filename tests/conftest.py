"""Shared fixtures: an isolated runtree home per test and the execution-mode matrix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtree.nodes import settings as node_settings
from runtree.state.config import reset_config
from tests.ray_cluster import RAY_MODE, ray_cluster

__all__ = ["MODES", "ray_cluster"]

#: every execution strategy; behaviour tests that must not depend on the strategy use `mode`
#: (and "ray" too, marked `ray`: see tests/ray_cluster.py)
MODES = ("async", "thread", "process")


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RT_HOME", str(tmp_path / "runtree-home"))
    for name in (
        "RT_NODE_DEBUG",
        "RT_NODE_SERIALISATION_FMT",
        "RT_EXECUTION_MODE",
        "RUNTREE_EXECUTION_MODE",
    ):
        monkeypatch.delenv(name, raising=False)
    node_settings.reload()
    reset_config()
    yield
    reset_config()
    node_settings.reload()


@pytest.fixture(params=[*MODES, RAY_MODE])
def mode(request: pytest.FixtureRequest) -> str:
    """Each execution mode in turn ("ray" on the test session's local Ray cluster)."""
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    return str(request.param)
