"""``runtree run`` targets whose module fails at import, and file targets in packages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Cli


def _one_error_line(result: object) -> str:
    stderr = getattr(result, "stderr", "")
    assert "Traceback" not in stderr
    (line,) = stderr.splitlines()
    assert line.startswith("runtree: error: ")
    return line


@pytest.mark.parametrize("as_file", [True, False])
def test_a_module_that_raises_at_import_is_one_line_naming_file_and_line(
    cli: Cli, tmp_path: Path, as_file: bool
) -> None:
    (tmp_path / "broken.py").write_text(
        "import os\n\nraise RuntimeError('no API key set')\n\ndef job():\n    return 1\n"
    )
    result = cli("run", "broken.py:job" if as_file else "broken:job")
    assert result.returncode == 1
    line = _one_error_line(result)
    assert line == (
        f"runtree: error: {tmp_path / 'broken.py'}, line 3: RuntimeError: no API key set "
        "(while importing module 'broken')"
    )
    assert not (tmp_path / "home").exists()  # no run was started


def test_an_error_raised_in_a_module_the_target_imports_names_both(
    cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "settings.py").write_text("LIMIT = int('many')\n")
    (tmp_path / "job.py").write_text("import settings\n\ndef job():\n    return 1\n")
    result = cli("run", "job.py:job")
    assert result.returncode == 1
    line = _one_error_line(result)
    assert f"{tmp_path / 'job.py'}, line 1 (raised in {tmp_path / 'settings.py'}, line 1)" in line
    assert "ValueError: invalid literal for int()" in line


def test_a_syntax_error_names_the_file_and_line(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "typo.py").write_text("def job():\n    return 1\n\ndef other(:\n    pass\n")
    for spec in ("typo.py:job", "typo:job"):
        result = cli("run", spec)
        assert result.returncode == 1
        line = _one_error_line(result)
        assert f"{tmp_path / 'typo.py'}, line 4: SyntaxError: " in line


@pytest.mark.parametrize(("code", "shown"), [("3", "3"), ("'bye'", "'bye'"), ("", "None")])
def test_sys_exit_at_import_is_reported_not_obeyed(
    cli: Cli, tmp_path: Path, code: str, shown: str
) -> None:
    (tmp_path / "exits.py").write_text(f"import sys\nsys.exit({code})\n")
    result = cli("run", "exits.py:job")
    assert result.returncode == 1
    line = _one_error_line(result)
    assert f"{tmp_path / 'exits.py'}, line 2: called sys.exit({shown}) while being imported" in line


def test_a_missing_import_inside_the_module_is_not_a_missing_target(
    cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "needs.py").write_text("import no_such_dependency_xyz\n")
    result = cli("run", "needs:job")
    assert result.returncode == 1
    line = _one_error_line(result)
    assert "ModuleNotFoundError: No module named 'no_such_dependency_xyz'" in line
    missing = cli("run", "no_such_module_xyz:job")
    assert missing.returncode == 2
    assert "cannot import module 'no_such_module_xyz'" in _one_error_line(missing)


def test_a_file_in_a_package_is_imported_with_its_package(cli: Cli, tmp_path: Path) -> None:
    package = tmp_path / "src" / "shop"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "prices.py").write_text("TAX = 0.5\n")
    (package / "jobs.py").write_text(
        "from .prices import TAX\n\ndef total(x):\n    return x * (1 + TAX)\n"
    )
    result = cli("run", "src/shop/jobs.py:total", "4", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["result"] == 6.0
    bad_name = tmp_path / "my-job.py"
    bad_name.write_text("def job():\n    return 1\n")
    result = cli("run", "my-job.py:job")
    assert result.returncode == 2
    assert "must be Python identifiers" in _one_error_line(result)


def test_a_file_whose_module_name_is_taken_is_refused(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    # the console script (python -m would put this folder first, shadowing json for Python)
    script = Path(sys.executable).parent / "runtree"
    if not script.is_file():
        pytest.skip("no runtree console script next to this Python")
    (tmp_path / "json.py").write_text("def job():\n    return 1\n")
    result = subprocess.run(
        [str(script), "run", "json.py:job"],
        cwd=tmp_path,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    line = _one_error_line(result)
    assert f"the module name 'json' of {tmp_path / 'json.py'} is already taken by" in line
