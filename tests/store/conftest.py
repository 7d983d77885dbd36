from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtree.store import SqliteRunStore


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "journal" / "runtree.db"


@pytest.fixture
def executions_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "executions.txt"
    monkeypatch.setenv("RT_TEST_EXECUTIONS", str(path))
    return path


@pytest.fixture
def reader(db: Path) -> Iterator[SqliteRunStore]:
    """A store on the same file, opened lazily by the test (closed after it)."""
    store = SqliteRunStore(db)
    yield store
    store.close()
