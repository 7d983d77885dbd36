"""Session(logging_setting=..., log_file=...): the run log."""

from __future__ import annotations

from pathlib import Path

import pytest

import runtree as rt


async def ok(x: int) -> int:
    return x


async def broken() -> None:
    raise ValueError("bad input")


async def test_debug_shows_every_request_and_the_end_of_the_run(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    async with rt.Session(name="logged", store=None, logging_setting="DEBUG", log_file=log):
        await rt.call(ok, 1)
        with pytest.raises(ValueError):
            await rt.call(broken)
    lines = log.read_text().splitlines()
    assert all("runtree[logged]" in line for line in lines)
    text = "\n".join(lines)
    assert "run started" in lines[0]
    assert "ok logged" not in text
    assert "started" in text and "done in" in text
    assert "broken" in text and "failed: ValueError: bad input" in text
    assert "run succeeded after" in lines[-1]


async def test_info_shows_failures_and_the_end_only(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    with pytest.raises(ValueError):
        async with rt.Session(store=None, logging_setting="INFO", log_file=log):
            await rt.call(ok, 1)
            await rt.call(broken)
    text = log.read_text()
    assert "done in" not in text
    assert "failed: ValueError: bad input" in text
    assert "run failed after" in text and "WARNING" in text


async def test_to_standard_error_and_off_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    async with rt.Session(store=None):
        await rt.call(ok, 1)
    assert capsys.readouterr().err == ""
    async with rt.Session(store=None, logging_setting="QUIET"):
        await rt.call(ok, 1)
    assert capsys.readouterr().err == ""  # QUIET (WARNING) hides a run that went well
    async with rt.Session(store=None, logging_setting="REGULAR"):
        await rt.call(ok, 1)
    assert "run succeeded" in capsys.readouterr().err


async def test_a_log_file_alone_gets_every_line(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    async with rt.Session(store=None, log_file=log):
        await rt.call(ok, 1)
    assert "done in" in log.read_text()  # DEBUG lines too
    quiet = tmp_path / "quiet.log"
    async with rt.Session(store=None, log_file=quiet, logging_setting="NONE"):
        await rt.call(ok, 1)
    assert not quiet.exists()  # NONE still means nothing
