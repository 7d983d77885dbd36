from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RT_HOME": str(tmp_path / "home")}
    for name in ("RT_TEST_PAUSE_AT", "RT_TEST_FAIL_AT", "RT_TEST_EXECUTIONS", "COLUMNS"):
        env.pop(name, None)
    env["COLUMNS"] = "200"
    return env


@pytest.fixture
def cli(tmp_path: Path, cli_env: dict[str, str]) -> Cli:
    """Run ``python -m runtree.cli ARGS`` in ``tmp_path`` (journal: ``$RT_HOME``);
    ``cwd=`` runs it elsewhere, ``prefix=`` puts a command before it (``unshare ...``)."""

    def run(
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        prefix: list[str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*(prefix or []), sys.executable, "-m", "runtree.cli", *args],
            cwd=cwd or tmp_path,
            env={**cli_env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


_REMOUNT = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'


@functools.cache
def _can_remount() -> bool:
    """Root ignores file modes; a private read-only bind mount (unshare) makes a folder
    truly read-only for one command, where the machine allows it."""
    if shutil.which("unshare") is None:
        return False
    probe = Path(os.environ.get("TMPDIR", "/tmp"))
    try:
        result = subprocess.run(
            ["unshare", "-m", "sh", "-c", _REMOUNT, "sh", str(probe), "true"],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[list[str]]:
    """Make ``folder`` read-only for the commands run with the yielded prefix."""
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield []
        finally:
            folder.chmod(mode)
        return
    if not _can_remount():
        pytest.skip("running as root without unshare/mount: cannot make a folder read-only")
    yield ["unshare", "-m", "sh", "-c", _REMOUNT, "sh", str(folder)]
