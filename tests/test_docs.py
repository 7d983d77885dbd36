"""Every ```python block of README.md and docs/*.md runs, as a script of its own.

A block followed by an ```output block (with at most prose between them) must print exactly
that, but for durations (``1.81 ms``) and run ids (``2ade779e-3``), which differ every run.

A block must not warn (an unmatched graph action, a coroutine never awaited, an unclosed
file or socket: ``ResourceWarning`` is shown too).

A block that needs a package only an extra brings is skipped where that package is not
installed (the Python versions CI runs without the dev extra): only when the block failed
for exactly that reason and the package is one of :data:`OPTIONAL`, and the skip says which
package and how to install it. Any other failure fails.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.ray_cluster import ray_environment

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```(python|output)\n(.*?)^```", re.DOTALL | re.MULTILINE)
MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")
WARNING_LINE = re.compile(r"^.+:\d+: \w*Warning: ", re.MULTILINE)  # warnings.showwarning's

#: modules a block may need that plain `pip install runtree` does not bring, and how to get
#: them (the longest matching name wins: opentelemetry.sdk before opentelemetry)
OPTIONAL = {
    "openai": "pip install 'runtree[openai]'",
    "pydantic": "pip install 'runtree[openai]'",
    "litellm": "pip install 'runtree[litellm]'",
    "mcp": "pip install 'runtree[mcp]'",
    "ray": "pip install 'runtree[ray]'",
    "starlette": "pip install 'runtree[viz]'",
    "uvicorn": "pip install 'runtree[viz]'",
    "opentelemetry": "pip install 'runtree[otel]'",
    # the docs' examples collect spans with the SDK, which an application brings itself
    "opentelemetry.sdk": "pip install opentelemetry-sdk",
}


class Block(NamedTuple):
    document: str
    index: int
    code: str
    output: str | None  # what it must print, if the document says


def _uses_ray(code: str) -> bool:
    return '"ray"' in code or "integrations.ray" in code


def _blocks_of(document: str, text: str) -> list[Block]:
    found: list[Block] = []
    for match in BLOCK.finditer(text):
        kind, body = match.group(1), match.group(2)
        if kind == "python":
            found.append(Block(document, len(found), body, None))
            continue
        if not found or found[-1].output is not None:
            raise ValueError(f"{document}: an ```output block must follow a ```python block")
        found[-1] = found[-1]._replace(output=body)
    return found


def _blocks() -> list[Block]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        document = path.relative_to(ROOT).as_posix()
        found.extend(_blocks_of(document, path.read_text(encoding="utf-8")))
    return found


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def missing_extra(stderr: str) -> str | None:
    """Why a block that failed with ``stderr`` cannot run here, if a missing optional
    package is the reason, else None."""
    for name in MISSING_MODULE.findall(stderr):
        known = [m for m in OPTIONAL if name == m or name.startswith(m + ".")]
        if known and not _installed(name):
            return f"{name} is not installed ({OPTIONAL[max(known, key=len)]})"
    return None


def normalised(text: str) -> list[str]:
    """``text``'s lines with durations and run ids replaced by placeholders."""
    text = re.sub(r"\b\d+\.\d+ ms\b", "<t> ms", text)
    text = re.sub(r"\b[0-9a-f]{8}-(\d+)\b", r"<run>-\1", text)
    return [line.rstrip() for line in text.strip().splitlines()]


@pytest.mark.parametrize("block", _blocks(), ids=lambda b: f"{b.document}-{b.index}")
def test_code_block_runs(block: Block, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    script = tmp_path / f"block_{block.index}.py"
    script.write_text(block.code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RT_HOME": str(tmp_path / "home")}
    if _uses_ray(block.code):  # it joins the test session's cluster (skipped without the extra)
        env.update(ray_environment(request.getfixturevalue("ray_cluster")))
    result = subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0 and (reason := missing_extra(result.stderr)):
        pytest.skip(f"{block.document} block {block.index} needs what is missing: {reason}")
    assert result.returncode == 0, (
        f"{block.document} block {block.index} failed:\n{block.code}\n"
        f"--- stderr ---\n{result.stderr}"
    )
    warned = WARNING_LINE.findall(result.stderr)
    assert not warned, f"{block.document} block {block.index} warned:\n{result.stderr}"
    if block.output is not None:
        assert normalised(result.stdout) == normalised(block.output), (
            f"{block.document} block {block.index} printed:\n{result.stdout}"
        )


def test_blocks_pair_with_their_output() -> None:
    text = "```python\nprint(1)\n```\n\nIt prints:\n\n```output\n1\n```\n```python\npass\n```\n"
    assert _blocks_of("doc.md", text) == [
        Block("doc.md", 0, "print(1)\n", "1\n"),
        Block("doc.md", 1, "pass\n", None),
    ]
    with pytest.raises(ValueError, match="must follow a ```python block"):
        _blocks_of("doc.md", "```output\n1\n```\n")


def test_only_a_missing_optional_package_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    absent = "opentelemetry.sdk.not_a_real_module"
    stderr = f"Traceback ...\nModuleNotFoundError: No module named '{absent}'\n"
    assert missing_extra(stderr) == f"{absent} is not installed (pip install opentelemetry-sdk)"
    # a typo in the docs, or a package runtree does not name as optional, fails the block
    assert missing_extra("ModuleNotFoundError: No module named 'runtree.nodez'") is None
    assert missing_extra("ModuleNotFoundError: No module named 'requests'") is None
    # an optional package that is installed is no excuse: the block failed for another reason
    monkeypatch.setitem(OPTIONAL, "json", "pip install json")
    assert missing_extra("ModuleNotFoundError: No module named 'json'") is None
    assert missing_extra("ModuleNotFoundError: No module named 'json.nothing'") is not None


def test_durations_and_run_ids_do_not_count() -> None:
    assert normalised("Total [succeeded] 3.12 ms (2ade779e-1)\n") == normalised(
        "Total [succeeded] 11.60 ms (29784bfe-1)"
    )
    assert normalised("a (2ade779e-1)") != normalised("a (2ade779e-2)")


def test_warnings_are_recognised_in_stderr() -> None:
    stderr = (
        "/x/graph.py:350: UnmatchedActionWarning: Graph ends\n  await x\n"
        "/tmp/block_0.py:3: ResourceWarning: unclosed file <_io.TextIOWrapper name='a'>\n"
    )
    assert len(WARNING_LINE.findall(stderr)) == 2
    assert not WARNING_LINE.findall("runtree: interrupted (run 1234); resume it: ...\n")
