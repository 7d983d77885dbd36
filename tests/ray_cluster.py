"""One local Ray cluster for the whole test session, started by the first test that needs
it (the `ray_cluster` fixture, or the `mode` fixture's "ray" case) and stopped at the end.

It is the cluster behind `execution_mode="ray"` (runtree's shared Ray strategy), bound to
127.0.0.1, with usage statistics off. Ray's dashboard agent asks cloud-metadata addresses
about the machine even then, so the cluster starts with HTTP proxies pointing at a dead
loopback port (its processes keep that environment; the tests' own is restored after). Its
authentication token is the test session's own (not ``~/.ray/auth_token``); child
processes that join it get the same environment (:func:`ray_environment`).
Where the `ray` extra is not installed, the tests that need it skip, saying so.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

HAVE_RAY = importlib.util.find_spec("ray") is not None
SKIP_REASON = "the `ray` extra is not installed (pip install 'runtree[ray]')"
#: marks a test that runs on the test session's Ray cluster
ray_mark = pytest.mark.ray
needs_ray = [ray_mark, pytest.mark.skipif(not HAVE_RAY, reason=SKIP_REASON)]
#: the "ray" member of the `mode` fixture's parameters
RAY_MODE = pytest.param("ray", marks=needs_ray, id="ray")

DEAD_PROXY = "http://127.0.0.1:9"
OFFLINE = {
    "http_proxy": DEAD_PROXY,
    "https_proxy": DEAD_PROXY,
    "HTTP_PROXY": DEAD_PROXY,
    "HTTPS_PROXY": DEAD_PROXY,
    "no_proxy": "localhost,127.0.0.1,::1",
    "NO_PROXY": "localhost,127.0.0.1,::1",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    # two CPUs whatever the machine: the fan-out test needs its parent to lend its CPU
    "RT_RAY_NUM_CPUS": "2",
    # a token of this test session's own: nothing read from or written to ~/.ray
    "RAY_AUTH_TOKEN": secrets.token_hex(32),
}


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """The shared Ray strategy, started on a local loopback-only cluster."""
    if not HAVE_RAY:
        pytest.skip(SKIP_REASON)
    from runtree.integrations.ray import shared_strategy

    strategy = shared_strategy()
    saved = {name: os.environ.get(name) for name in OFFLINE}
    for name in ("RT_RAY_ADDRESS", "RT_RAY_CALLBACK_HOST", "RT_RAY_CALLBACK_PORT"):  # local
        saved.setdefault(name, os.environ.pop(name, None))
    os.environ.update(OFFLINE)
    try:
        strategy.start()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    yield strategy
    strategy.shutdown()


def ray_environment(strategy: Any) -> dict[str, str]:
    """What a child process needs to join the test session's cluster (started by
    ``strategy``) instead of starting one: its address, and the offline settings."""
    import ray

    del strategy  # (requested so that the cluster is up)
    address = ray.get_runtime_context().gcs_address
    return {**OFFLINE, "RAY_AUTH_MODE": "token", "RT_RAY_ADDRESS": address}
