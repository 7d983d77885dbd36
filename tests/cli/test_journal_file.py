"""Bad journal paths get one error line from every command, and read-only commands never
change the file; the journal is found in a parent folder's ``.runtree``."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import runtree as rt
from runtree.store.schema import migrate
from tests.cli.conftest import Cli, read_only
from tests.store.nodes import Fails, Tree

RUN_LEAF = ["run", "tests.store.nodes:Leaf", "1", "--mode", "async"]
COMMANDS = [["runs"], ["show", "latest"], ["export", "latest"], ["resume", "latest"], RUN_LEAF]
READ_ONLY_COMMANDS = COMMANDS[:3]


def make_journal(path: Path, *, failed: bool = False) -> str:
    """A real journal with one run of ``Tree(2)`` (or of ``Fails(2)``); returns its id."""

    async def main() -> str:
        session = rt.Session(name="tree", store=path)
        try:
            async with session:
                await rt.call(Fails if failed else Tree, 2)
        except ValueError:
            pass
        return session.run_id

    return asyncio.run(main())


def _overwrite_pages(path: Path, pages: range) -> None:
    size = _page_size(path)
    data = bytearray(path.read_bytes())
    for page in pages:  # pages are numbered from 1
        start = (page - 1) * size
        data[start : start + size] = bytes((i * 7 + page) % 251 for i in range(size))
    path.write_bytes(bytes(data))


def _page_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


def _root_page(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(
            conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[
                0
            ]
        )
    finally:
        conn.close()


def _foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()


def _damaged(path: Path) -> None:
    make_journal(path)
    pages = path.stat().st_size // _page_size(path)
    _overwrite_pages(path, range(2, pages + 1))


def _newer(path: Path) -> None:
    make_journal(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE runtree_schema SET version = 99")
    conn.commit()
    conn.close()


BAD_FILES: dict[str, tuple[Callable[[Path], object], str]] = {
    "folder": (lambda p: p.mkdir(), "is a folder, not a journal file"),
    "empty": (lambda p: p.write_bytes(b""), "is empty (0 bytes), not a runtree journal"),
    "text": (lambda p: p.write_text("hello\n" * 50), "is not a runtree journal (not an SQLite"),
    "foreign": (_foreign, "this SQLite file is not a runtree journal (it has tables ['notes']"),
    "damaged": (_damaged, "is damaged (database disk image is malformed); move it away"),
    "newer": (_newer, "was written by a newer runtree (journal schema 99"),
}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _one_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr + result.stdout
    assert result.returncode == 1, (result.stdout, result.stderr)
    (line,) = result.stderr.splitlines()
    assert line.startswith("runtree: error: ")
    return line


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_journal_is_one_line_from_every_command_and_stays_as_it_was(
    cli: Cli, tmp_path: Path, kind: str
) -> None:
    folder = tmp_path / "journals"
    folder.mkdir()
    path = folder / "runtree.db"
    make, message = BAD_FILES[kind]
    make(path)
    before = _files(folder)
    for command in COMMANDS:
        line = _one_error(cli(*command, "--db", str(path)))
        assert message in line, (command, line)
        assert str(path) in line
        after = _files(folder)
        assert after.get("runtree.db") == before.get("runtree.db"), command  # not converted
        if kind in ("damaged", "newer"):  # SQLite's companions of a WAL file may appear
            assert set(after) <= {
                "runtree.db",
                "runtree.db-wal",
                "runtree.db-shm",
                "runtree.db.key",
            }
            assert not after.get("runtree.db-wal")
        else:
            assert after == before


def test_without_a_journal_read_commands_say_so_and_create_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "nowhere" / "runtree.db"
    for command in [*READ_ONLY_COMMANDS, ["resume", "latest"]]:
        line = _one_error(cli(*command, "--db", str(path)))
        assert f"no run journal at {path}" in line
    assert not path.parent.exists()
    assert cli(*RUN_LEAF, "--db", str(path)).returncode == 0  # a run creates it
    assert path.is_file()


def test_a_journal_damaged_where_a_command_reads_is_one_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "runtree.db"
    make_journal(path)
    for name in ("requests", "requests_by_seq", "requests_by_parent"):  # table and its indexes
        page = _root_page(path, name)
        _overwrite_pages(path, range(page, page + 1))
    for command in [*READ_ONLY_COMMANDS, ["resume", "latest"], RUN_LEAF]:
        made = cli(*command, "--db", str(path))
        assert made.stdout == ""  # refused before anything runs: nothing is lost
        assert f"{path} is damaged (" in _one_error(made)


def test_read_commands_read_an_older_journal_without_migrating_it_and_a_run_does(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=2)
    conn.execute(
        "INSERT INTO runs (run_id, name, status, start_time) "
        "VALUES ('0ld0ld0ld0ld', 'v2', 'succeeded', 1)"
    )
    conn.close()
    before = path.read_bytes()
    listed = cli("runs", "--db", str(path), "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)] == ["v2"]
    shown = cli("show", "0ld0ld", "--db", str(path))
    assert shown.returncode == 0 and "0ld0ld0ld0ld" in shown.stdout, shown.stderr
    exported = cli("export", "latest", "--db", str(path))
    assert json.loads(exported.stdout)["run"]["name"] == "v2", exported.stderr
    assert path.read_bytes() == before  # read through an upgraded copy in memory
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM runtree_schema").fetchone() == (2,)
    conn.close()
    assert cli(*RUN_LEAF, "--db", str(path)).returncode == 0  # a run upgrades the file
    listed = cli("runs", "--db", str(path), "--json")
    assert [r["name"] for r in json.loads(listed.stdout)] == ["Leaf", "v2"]


def test_read_commands_work_in_a_read_only_folder_and_change_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    path = folder / "runtree.db"
    run_id = make_journal(path, failed=True)
    before = _files(folder)
    with read_only(folder) as prefix:
        listed = cli("runs", "--db", str(path), "--json", prefix=prefix)
        assert listed.returncode == 0, listed.stderr
        assert [r["run_id"] for r in json.loads(listed.stdout)] == [run_id]
        shown = cli("show", run_id[:8], "--db", str(path), prefix=prefix)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.count("Leaf succeeded") == 2 and "Fails failed" in shown.stdout
        exported = cli("export", "latest", "--db", str(path), prefix=prefix)
        assert json.loads(exported.stdout)["run"]["run_id"] == run_id
        for command in (RUN_LEAF, ["resume", "latest"]):
            line = _one_error(cli(*command, "--db", str(path), prefix=prefix))
            assert "read-only" in line and str(folder) in line
    assert _files(folder)["runtree.db"] == before["runtree.db"]


def test_commands_in_a_subfolder_find_the_project_journal(
    cli: Cli, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    project = tmp_path / "home" / "project"
    deeper = project / "src" / "jobs"
    deeper.mkdir(parents=True)
    (project / ".runtree").mkdir()
    env = {"RT_HOME": "", "HOME": str(tmp_path / "home")}
    made = cli(*RUN_LEAF, "--json", cwd=deeper, env=env)
    assert made.returncode == 0, made.stderr
    journal = project / ".runtree" / "runtree.db"
    assert journal.is_file() and not (deeper / ".runtree").exists()
    listed = cli("runs", cwd=project / "src", env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.splitlines()[0] == f"runs in {journal}"
    assert json.loads(made.stdout)["run_id"][:12] in listed.stdout
    # a script in the subfolder journals to the same file
    script = deeper / "job.py"
    script.write_text(
        "import runtree as rt\n"
        "with rt.Session(name='script') as session:\n"
        "    rt.call_sync(len, 'abc')\n"
        "print(session.journal.store.path)\n"
    )
    printed = subprocess.run(
        [os.sys.executable, str(script)],  # type: ignore[attr-defined]
        cwd=deeper,
        env={**cli_env, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.stdout.strip() == str(journal), printed.stderr
    # RT_HOME still wins
    elsewhere = cli("runs", "--json", cwd=deeper, env={"RT_HOME": str(tmp_path / "other")})
    assert "no run journal at " + str(tmp_path / "other" / "runtree.db") in elsewhere.stderr
