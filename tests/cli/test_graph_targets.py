"""``runtree run file.py:GRAPH`` and ``file.py:SomeGraphNode`` run graphs; a failed graph run
is finished by ``runtree resume`` after the bug is fixed, without re-running finished steps."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli

FLOW = """
import os
import runtree.graph as rg


def effect(what):
    with open(os.environ["EFFECTS"], "a") as log:
        log.write(what + "\\n")


class Count(rg.Node):
    def prep(self, shared):
        return shared.get("n", 0)

    def exec(self, n):
        effect(f"count {n}")
        return n + 1

    def post(self, shared, prep_res, exec_res):
        shared["n"] = exec_res
        shared["key"] = self.params.get("key")
        return "again" if exec_res < 3 else None


class Finish(rg.Node):
    def exec(self, prep_res):
        effect("finish")
        BUG
        return "finished"

    def post(self, shared, prep_res, exec_res):
        shared["status"] = exec_res
        return "done"


count = Count()
count - "again" >> count
count >> Finish()
GRAPH = rg.Graph(count, name="counter")


class Files(rg.BatchGraph):
    def __init__(self):
        super().__init__(Count())

    def prep(self, shared):
        return [{"key": name} for name in shared["files"]]
"""


def _write(tmp_path: Path, bug: str) -> None:
    (tmp_path / "flow.py").write_text(FLOW.replace("BUG", bug), encoding="utf-8")


def _effects(tmp_path: Path) -> list[str]:
    return (tmp_path / "effects").read_text().splitlines()


def test_run_a_graph_object_with_a_store_and_params(cli: Cli, tmp_path: Path) -> None:
    _write(tmp_path, "pass")
    env = {"EFFECTS": str(tmp_path / "effects")}
    result = cli("run", "flow.py:GRAPH", '{"n": 1}', "--kw", "key=a", "--json", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "succeeded"
    assert document["result"] == {
        "graph": "counter",
        "action": "done",
        "path": ["Count", "Count", "Finish"],
        "steps": 3,
        "last_node": "Finish",
        "completed": True,
        "result": "finished",
        "shared": {"n": 3, "key": "a", "status": "finished"},
    }
    shown = cli("show", "latest")
    assert shown.returncode == 0, shown.stderr
    tree = [line.lstrip("└─├│ ").split()[0] for line in shown.stdout.splitlines()[3:]]
    assert tree == ["counter", *["Count", "Count.exec"] * 2, "Finish", "Finish.exec"]


def test_run_a_graph_node_class(cli: Cli, tmp_path: Path) -> None:
    _write(tmp_path, "pass")
    env = {"EFFECTS": str(tmp_path / "effects")}
    result = cli("run", "flow.py:Files", '{"files": ["a", "b"]}', "--json", env=env)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)["result"]
    assert outcome["path"] == ["Count", "Count"]  # one step per file: it has no successor
    assert outcome["shared"] == {"files": ["a", "b"], "n": 2, "key": "b"}


def test_a_graph_class_that_needs_arguments_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "needs.py").write_text(
        "import runtree.graph as rg\n\n"
        "class Needs(rg.Graph):\n"
        "    def __init__(self, start):\n"
        "        super().__init__(start)\n",
        encoding="utf-8",
    )
    result = cli("run", "needs.py:Needs")
    assert result.returncode == 2
    assert "cannot create Needs() to run it" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failed_graph_run_resumes_after_the_fix(cli: Cli, tmp_path: Path) -> None:
    _write(tmp_path, 'raise RuntimeError("not yet")')
    env = {"EFFECTS": str(tmp_path / "effects")}
    failed = cli("run", "flow.py:GRAPH", "--json", env=env)
    assert failed.returncode == 1
    document = json.loads(failed.stdout)
    assert document["error"] == {"type": "RuntimeError", "message": "not yet"}
    assert _effects(tmp_path) == ["count 0", "count 1", "count 2", "finish"]

    _write(tmp_path, "pass")  # the bug is fixed
    resumed = cli("resume", document["run_id"], "--json", env=env)
    assert resumed.returncode == 0, resumed.stderr
    outcome = json.loads(resumed.stdout)
    assert outcome["resumed_from"] == document["run_id"]
    assert outcome["result"]["shared"] == {"n": 3, "key": None, "status": "finished"}
    assert outcome["result"]["path"] == ["Count", "Count", "Count", "Finish"]
    # the three Count steps were answered from the journal; only Finish ran again
    assert _effects(tmp_path) == ["count 0", "count 1", "count 2", "finish", "finish"]
