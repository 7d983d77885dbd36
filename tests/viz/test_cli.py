"""``runtree viz``, ``runtree graph`` and ``runtree export --html``, run for real."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.cli.conftest import ROOT, Cli
from tests.support import default_sigint
from tests.viz.conftest import Demo


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def test_export_html_writes_one_self_contained_file(cli: Cli, demo: Demo, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    result = cli("export", demo.crawl[:8], "--html", str(target), "--db", str(demo.path))
    assert result.returncode == 0, result.stderr
    assert f"wrote {target}" in result.stderr
    page = target.read_text(encoding="utf-8")
    assert '"mode":"report"' in page and "unexpected end of document" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing to fetch
    assert "<script src=" not in page and '<link rel="stylesheet"' not in page
    # the JSON export is unchanged
    exported = json.loads(cli("export", demo.crawl, "--db", str(demo.path)).stdout)
    assert len(exported["requests"]) == 8


def test_export_html_of_an_unknown_run_or_a_bad_journal(
    cli: Cli, demo: Demo, tmp_path: Path
) -> None:
    out = tmp_path / "r.html"
    unknown = cli("export", "nope", "--html", str(out), "--db", str(demo.path))
    assert unknown.returncode == 1 and "no run 'nope'" in unknown.stderr
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"nonsense" * 100)
    bad = cli("export", "latest", "--html", str(out), "--db", str(corrupt))
    assert bad.returncode == 1 and "is not a runtree journal (not an SQLite file)" in bad.stderr
    unwritable = cli("export", demo.crawl, "--html", str(tmp_path), "--db", str(demo.path))
    assert unwritable.returncode == 1 and "cannot write" in unwritable.stderr
    for result in (unknown, bad, unwritable):
        no_traceback(result)
        assert len(result.stderr.strip().splitlines()) == 1


GRAPH = """
import runtree.graph as rg

class Review(rg.Node):
    pass

class Publish(rg.Node):
    pass

review = Review()
review - "approve" >> Publish()
review - "redo" >> review
G = rg.Graph(review, name="review")
NOT_A_GRAPH = 3
"""


def test_graph_prints_mermaid(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(GRAPH)
    result = cli("graph", "flow.py:G")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:5] == [
        "flowchart TD",
        '    n0["Review"]',
        '    n1["Publish"]',
        "    n0 -->|approve| n1",
        "    n0 -->|redo| n0",
    ]
    assert cli("graph", "flow:review", "--direction", "LR").stdout.startswith("flowchart LR")
    for args, message in [
        (("flow.py:NOT_A_GRAPH",), "is a int, not a runtree.graph Graph"),
        (("flow.py:missing",), "has no attribute 'missing'"),
        (("flow.py:G", "--direction", "up"), "choose one of TD, LR, BT, RL"),
    ]:
        bad = cli("graph", *args)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
        no_traceback(bad)


def test_viz_refuses_a_bad_journal_or_a_busy_port(cli: Cli, demo: Demo, tmp_path: Path) -> None:
    pytest.importorskip("uvicorn", reason="runtree viz needs the viz extra")
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"nonsense" * 100)
    result = cli("viz", "--db", str(corrupt))
    assert result.returncode == 1
    assert "is not a runtree journal (not an SQLite file)" in result.stderr
    no_traceback(result)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = cli("viz", "--db", str(demo.path), "--port", str(port))
    assert taken.returncode == 1 and f"port {port} on 127.0.0.1 is in use" in taken.stderr


def test_viz_serves_the_journal_until_interrupted(demo: Demo, tmp_path: Path) -> None:
    pytest.importorskip("uvicorn", reason="runtree viz needs the viz extra")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "runtree.cli", "viz", "--port", "0", "--db", str(demo.path)],
        cwd=tmp_path,
        env=env,
        preexec_fn=default_sigint,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"runtree viewer on (http://127\.0\.0\.1:\d+/)", line)
        assert match, line
        with urllib.request.urlopen(match.group(1) + "api/runs", timeout=30) as response:
            runs = json.loads(response.read())
        assert runs["total"] == 2
    finally:
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=30)
    assert process.returncode == 0, rest
    assert "Traceback" not in rest and "runtree viewer stopped" in rest
