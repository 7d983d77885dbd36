"""Every ```python block of README.md and docs/*.md runs, as a script of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ray_cluster import ray_environment

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _uses_ray(code: str) -> bool:
    return '"ray"' in code or "integrations.ray" in code


def _blocks() -> list[tuple[str, int, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for index, match in enumerate(BLOCK.finditer(path.read_text(encoding="utf-8"))):
            found.append((path.relative_to(ROOT).as_posix(), index, match.group(1)))
    return found


@pytest.mark.parametrize(
    ("document", "index", "code"), _blocks(), ids=lambda v: str(v) if len(str(v)) < 40 else ""
)
def test_code_block_runs(
    document: str, index: int, code: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    script = tmp_path / f"block_{index}.py"
    script.write_text(code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RT_HOME": str(tmp_path / "home")}
    if _uses_ray(code):  # it joins the test session's cluster (skipped without the extra)
        env.update(ray_environment(request.getfixturevalue("ray_cluster")))
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, (
        f"{document} block {index} failed:\n{code}\n--- stderr ---\n{result.stderr}"
    )
