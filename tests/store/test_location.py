"""Where the default journal goes: RT_HOME, else the nearest .runtree folder above."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtree.store import default_store_path
from runtree.store.journal import find_runtree_folder


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.delenv("RT_HOME", raising=False)
    return folder


def test_the_nearest_runtree_folder_above_is_found(home: Path) -> None:
    project = home / "project"
    deeper = project / "src" / "pkg"
    deeper.mkdir(parents=True)
    assert find_runtree_folder(deeper) == deeper / ".runtree"  # none yet: here
    (project / ".runtree").mkdir()
    assert find_runtree_folder(deeper) == project / ".runtree"
    (project / "src" / ".runtree").mkdir()
    assert find_runtree_folder(deeper) == project / "src" / ".runtree"  # the nearest wins
    (deeper / ".runtree").write_text("a file, not a folder")
    assert find_runtree_folder(deeper) == project / "src" / ".runtree"


def test_the_search_stops_below_the_home_folder(home: Path) -> None:
    (home / ".runtree").mkdir()
    project = home / "project"
    project.mkdir()
    assert find_runtree_folder(project) == project / ".runtree"
    assert find_runtree_folder(home) == home / ".runtree"  # in the home folder itself


def test_outside_home_the_search_goes_up_to_the_root(tmp_path: Path, home: Path) -> None:
    outside = tmp_path / "srv"
    (outside / ".runtree").mkdir(parents=True)
    jobs = outside / "jobs" / "nightly"
    jobs.mkdir(parents=True)
    assert find_runtree_folder(jobs) == outside / ".runtree"


def test_rt_home_wins(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = home / "project"
    (project / ".runtree").mkdir(parents=True)
    monkeypatch.chdir(project)
    assert default_store_path() == project / ".runtree" / "runtree.db"
    monkeypatch.setenv("RT_HOME", str(tmp_path / "elsewhere"))
    assert default_store_path() == tmp_path / "elsewhere" / "runtree.db"
    monkeypatch.setenv("RT_HOME", "  ")
    assert default_store_path() == project / ".runtree" / "runtree.db"
