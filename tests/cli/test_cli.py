"""The ``runtree`` command, driven for real in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtree.nodes import NodeState
from tests.cli.conftest import ROOT, Cli
from tests.store.nodes import Leaf
from tests.support import default_sigint

COMMANDS = ["run", "inspect", "runs", "show", "export", "resume"]


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def test_help_for_the_command_and_every_subcommand(cli: Cli) -> None:
    top = cli("--help")
    assert top.returncode == 0
    for command in COMMANDS:
        assert command in top.stdout
        result = cli(command, "--help")
        assert result.returncode == 0, result.stderr
        assert "Usage: runtree " + command in result.stdout
    bare = cli()
    assert "Usage" in bare.stdout + bare.stderr
    _no_traceback(bare)


def test_run_prints_the_result_and_journals_the_run(cli: Cli, tmp_path: Path) -> None:
    result = cli("run", "tests.store.nodes:Tree", "3", "--mode", "async")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "6\n"
    assert "runtree show" in result.stderr
    listed = cli("runs", "--json")
    (run,) = json.loads(listed.stdout)
    assert (run["name"], run["status"], run["request_count"]) == ("Tree", "succeeded", 4)
    assert (tmp_path / "home" / "runtree.db").is_file()


@pytest.mark.parametrize("mode", ["process", "thread", "async"])
def test_run_in_each_mode_with_json_output(cli: Cli, mode: str) -> None:
    result = cli("run", "tests.store.nodes:Leaf", "41", "--mode", mode, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["status"], document["result"]) == ("succeeded", 42)
    assert len(document["run_id"]) == 32


def test_run_parses_json_arguments_else_keeps_strings(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "shout.py").write_text(
        "def shout(text, times=1, sep=' '):\n    return sep.join([str(text).upper()] * times)\n"
    )
    result = cli("run", "shout:shout", "hey", "--kw", "times=3", "--kw", 'sep="-"')
    assert result.returncode == 0, result.stderr
    assert result.stdout == "HEY-HEY-HEY\n"
    listing = cli("run", "shout.py:shout", "[1, 2]", "--json", "--mode", "thread")
    assert json.loads(listing.stdout)["result"] == "[1, 2]"


def test_a_failing_node_names_the_node_its_input_and_where(cli: Cli) -> None:
    result = cli("run", "tests.store.nodes:Fails", "2", "--mode", "async")
    assert result.returncode == 1
    assert result.stdout == ""
    error, hint = result.stderr.strip().splitlines()
    nodes_py = Path("tests", "store", "nodes.py")
    line = next(
        n
        for n, text in enumerate((ROOT / nodes_py).read_text().splitlines(), 1)
        if 'raise ValueError(f"failed after {total}")' in text
    )
    assert error.startswith("runtree: error: ValueError: failed after 3 in Fails(2) at ")
    assert error.endswith(f"{ROOT / nodes_py}:{line} (run {error[-13:-1]})")
    short = error[-13:-1]
    assert hint == f"see it whole: runtree show {short} --request {short[:8]}-1"
    _no_traceback(result)
    as_json = cli("run", "tests.store.nodes:Fails", "0", "--json")
    assert as_json.returncode == 1
    document = json.loads(as_json.stdout)
    assert document["status"] == "failed"
    assert document["error"] == {"type": "ValueError", "message": "failed after 0"}


def test_a_failure_deep_in_the_tree_names_the_node_that_raised(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "deep.py").write_text(
        "import runtree as rt\n"
        "async def parse(text):\n"
        "    return int(text)\n"
        "async def total(*texts):\n"
        "    return sum([await rt.call(parse, t) for t in texts])\n"
    )
    result = cli("run", "deep.py:total", "1", "two", "3", "--mode", "thread")
    assert result.returncode == 1
    error, hint = result.stderr.strip().splitlines()
    assert error.startswith(
        "runtree: error: ValueError: invalid literal for int() with base 10: 'two' "
        'in parse("two") at deep.py:3 (run '
    )
    request_id = hint.rpartition(" ")[2]
    shown = cli("show", "latest", "--request", request_id)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert f"request {request_id}  parse  failed" in out
    assert '"two"' in out and "parent: " in out and "(total)" in out
    assert "Traceback (most recent call last)" in out and "return int(text)" in out
    assert "error: ValueError: invalid literal for int() with base 10: 'two'" in out


def test_show_request_prints_one_request_whole(cli: Cli) -> None:
    made = json.loads(cli("run", "tests.store.nodes:Tree", "2", "--mode", "async", "--json").stdout)
    prefix = made["run_id"][:8]
    for ref in ("2", f"{prefix}-2"):
        shown = cli("show", made["run_id"], "--request", ref)
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert lines[0] == f"request {prefix}-2  Leaf  succeeded"
        assert f"parent: {prefix}-1 (Tree)" in lines[1] and "mode: async" in lines[1]
        assert "inputs:" in lines and "output:" in lines
        assert lines[lines.index("output:") + 1].strip() == "1"
    described = json.loads(
        cli("run", "tests.store.nodes:Described", "5", "--mode", "async", "--json").stdout
    )
    shown = cli("show", described["run_id"], "-r", "1")
    assert "attributes:" in shown.stdout and '"demo.x": 5' in shown.stdout
    missing = cli("show", made["run_id"], "--request", "99")
    assert missing.returncode == 1
    assert missing.stderr.startswith("runtree: error: no request '99' in this run")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "tests.store.nodes:Nope"], "has no attribute 'Nope'"),
        (["run", "no_such_module_xyz:Thing"], "cannot import module"),
        (["run", "just-a-name"], "is not module:Name"),
        (["run", "json:dumps", "1", "--mode", "warp"], "'warp' is not one of"),
        (["run", "tests.store.nodes:Leaf", "1", "2"], "Leaf(x): too many positional"),
        (["run", "tests.store.nodes:Leaf"], "Leaf(x): missing a required argument: 'x'"),
        (["run", "tests.store.nodes:Leaf", "1", "--kw", "y=1"], "unexpected keyword argument 'y'"),
        (["run", "tests.store.nodes:note"], "missing a required argument: 'label'"),
        (["run", "tests.store.nodes:Leaf", "--kw", "oops"], "name=value"),
        (["run", "tests.store.nodes:Point", "1"], "not a runtree Node"),
        (["runs", "--limit", "0"], "--limit"),
        (["show"], "Missing argument"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_arguments_are_one_line_usage_errors_and_create_no_run(
    cli: Cli, tmp_path: Path, args: list[str], message: str
) -> None:
    result = cli(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    (line,) = result.stderr.splitlines()
    assert line.startswith("runtree: error: ") and line.endswith(" --help)")
    assert message in line
    _no_traceback(result)
    assert not (tmp_path / "home").exists()  # no journal, so no run


def test_runs_lists_newest_first_with_status_duration_and_count(cli: Cli) -> None:
    assert cli("run", "tests.store.nodes:Tree", "2", "--mode", "async").returncode == 0
    assert cli("run", "tests.store.nodes:Fails", "1", "--mode", "async").returncode == 1
    table = cli("runs")
    assert table.returncode == 0, table.stderr
    header, first, second = table.stdout.strip().splitlines()
    assert header.split() == ["run", "id", "name", "status", "started", "duration", "requests"]
    assert first.split()[1:3] == ["Fails", "failed"] and first.split()[-1] == "2"
    assert second.split()[1:3] == ["Tree", "succeeded"] and second.split()[-1] == "3"
    assert " ms" in first or " s" in first
    assert len(json.loads(cli("runs", "--json", "-n", "1").stdout)) == 1


def test_show_prints_the_tree_with_timings_and_errors(cli: Cli) -> None:
    run = json.loads(cli("run", "tests.store.nodes:Fails", "2", "--mode", "async", "--json").stdout)
    prefix = run["run_id"][:8]
    result = cli("show", prefix)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert run["run_id"] in out and "failed" in out
    assert "ValueError: failed after 3" in out
    lines = out.splitlines()
    leaf_lines = [line for line in lines if "Leaf" in line]
    assert len(leaf_lines) == 2 and all("succeeded" in line and "ms" in line for line in leaf_lines)
    fails_line = next(line for line in lines if line.lstrip(" └├─│").startswith("Fails"))
    assert fails_line.index("Fails") < leaf_lines[0].index("Leaf")  # leaves are nested
    assert "\x1b[" not in out  # no colour codes when not on a terminal
    missing = cli("show", "ffffffff")
    assert missing.returncode == 1 and "no run 'ffffffff'" in missing.stderr


def test_show_works_on_a_run_made_by_a_plain_session(
    cli: Cli, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    script = tmp_path / "demo.py"
    script.write_text(
        "import asyncio, runtree as rt\n"
        "from tests.store.nodes import Tree\n"
        "async def main():\n"
        "    async with rt.Session(name='demo') as run:\n"
        "        await rt.call(Tree, 2)\n"
        "    print(run.run_id)\n"
        "asyncio.run(main())\n"
    )
    made = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    run_id = made.stdout.strip()
    for args in ([run_id], ["latest", "--name", "demo"], ["latest"]):
        result = cli("show", *args)
        assert result.returncode == 0, result.stderr
        assert run_id in result.stdout
        assert "demo" in result.stdout
        assert result.stdout.count("Leaf succeeded") == 2


def test_export_writes_one_json_document(cli: Cli, tmp_path: Path) -> None:
    run = json.loads(cli("run", "tests.store.nodes:Tree", "2", "--mode", "async", "--json").stdout)
    result = cli("export", run["run_id"][:10], "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["run"]["run_id"] == run["run_id"]
    assert [r["node_name"] for r in document["requests"]] == ["Tree", "Leaf", "Leaf"]
    assert sorted(e["payload"] for e in document["events"]) == ["leaf 0", "leaf 1"]
    target = tmp_path / "out.json"
    assert cli("export", run["run_id"], "-o", str(target)).returncode == 0
    assert json.loads(target.read_text()) == document


def test_inspect_rehydrates_a_json_state_file(cli: Cli, tmp_path: Path) -> None:
    path = NodeState(Leaf(7)).save(tmp_path / "leaf.json", fmt="json")
    result = cli("inspect", str(path))
    assert result.returncode == 0, result.stderr
    assert "tests.store.nodes:Leaf" in result.stdout and "'x': 7" in result.stdout
    document = json.loads(cli("inspect", str(path), "--json").stdout)
    assert document["class"] == "tests.store.nodes:Leaf"
    assert document["attributes"]["x"] == 7


def test_inspect_loads_pickle_only_when_allowed(cli: Cli, tmp_path: Path) -> None:
    path = NodeState(Leaf(8)).save(tmp_path / "leaf.pickle", fmt="pickle")
    refused = cli("inspect", str(path))
    assert refused.returncode == 1
    assert "--allow-pickle" in refused.stderr
    allowed = cli("inspect", str(path), "--allow-pickle", "--json")
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["attributes"]["x"] == 8


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a runtree NodeState"),
        (b"\x00\x01 not json", "not a runtree NodeState"),
        (b'{"hello": "world"}', "not a runtree NodeState"),
        (b'{"runtree": "NodeState", "version": 99}', "unsupported version"),
        (b"RTNS-PICKLE-1\nbroken", "corrupt pickle"),
    ],
)
def test_inspect_corrupt_or_foreign_files_get_a_one_line_error(
    cli: Cli, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    result = cli("inspect", str(path), "--allow-pickle")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert message in line and line.startswith(f"runtree: error: {path}: ")
    _no_traceback(result)
    assert path.read_bytes() == content
    missing = cli("inspect", str(tmp_path / "nope.json"))
    assert missing.returncode == 1 and "cannot read it" in missing.stderr
    folder = cli("inspect", str(tmp_path))
    assert folder.returncode == 1 and "is a folder" in folder.stderr


def test_inspect_never_imports_the_module_a_state_file_names(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "planted.py").write_text(
        "import pathlib\n"
        "pathlib.Path('imported.txt').write_text('ran')\n"
        "import runtree as rt\n"
        "class Job(rt.Node):\n"
        "    async def invoke(self):\n"
        "        return 1\n"
    )
    path = tmp_path / "state.json"
    path.write_text(
        json.dumps(
            {
                "runtree": "NodeState",
                "version": 1,
                "class": "planted:Job",
                "name": "Job",
                "attributes": {"x": 1},
                "details": {},
            }
        )
    )
    shown = cli("inspect", str(path), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {
        "class": "planted:Job",
        "name": "Job",
        "attributes": {"x": 1},
        "details": {},
    }
    assert not (tmp_path / "imported.txt").exists()
    imported = cli("inspect", str(path), "--allow-import", "--json")
    assert imported.returncode == 0, imported.stderr
    assert (tmp_path / "imported.txt").read_text() == "ran"
    path.write_text(path.read_text().replace("planted:Job", "nowhere_xyz:Node"))
    refused = cli("inspect", str(path), "--allow-import")
    assert (
        refused.returncode == 1 and "cannot import node class 'nowhere_xyz:Node'" in refused.stderr
    )


def test_resume_finishes_a_failed_run_without_rerunning_completed_requests(
    cli: Cli, tmp_path: Path
) -> None:
    executions = tmp_path / "executions.txt"
    env = {"RT_TEST_EXECUTIONS": str(executions), "RT_TEST_FAIL_AT": "2"}
    failed = cli("run", "tests.store.nodes:Flow", "4", "--mode", "async", "--json", env=env)
    assert failed.returncode == 1
    run_id = json.loads(failed.stdout)["run_id"]
    executions.unlink()
    resumed = cli("resume", run_id[:8], "--json", env={"RT_TEST_EXECUTIONS": str(executions)})
    assert resumed.returncode == 0, resumed.stderr
    document = json.loads(resumed.stdout)
    assert document["result"] == 10 and document["resumed_from"] == run_id
    assert executions.read_text().split("\n")[:-1] == ["Flow 4", "Leaf 2", "Leaf 3"]
    shown = cli("show", document["run_id"])
    assert shown.stdout.count("replayed") == 2


def test_version(cli: Cli) -> None:
    import runtree

    result = cli("--version")
    assert (result.returncode, result.stdout) == (0, f"runtree {runtree.__version__}\n")


def test_export_is_json_by_default_and_json_is_accepted(cli: Cli) -> None:
    run = json.loads(cli("run", "tests.store.nodes:Leaf", "1", "--mode", "async", "--json").stdout)
    plain = cli("export", run["run_id"])
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["run"]["run_id"] == run["run_id"]
    assert cli("export", run["run_id"], "--json").stdout == plain.stdout
    assert "--no-json" not in cli("export", "--help").stdout


def _run_on_a_terminal(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, bytes, str]:
    """Run the command with stderr on a pseudo-terminal; (exit status, stdout, terminal)."""
    pty = pytest.importorskip("pty")
    import os
    import threading

    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:  # the terminal must be read while the command writes to it
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "runtree.cli", *args],
            cwd=cwd,
            env={**env, "TERM": "xterm"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
        )
        os.close(slave)
        slave = -1
        reader.start()
        out, _ = proc.communicate(timeout=60)
        reader.join(timeout=10)
    finally:
        os.close(master)
        if slave != -1:
            os.close(slave)
    return proc.returncode, out, b"".join(chunks).decode(errors="replace")


def test_the_progress_display_counts_requests_and_shows_broadcasts(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    code, out, terminal = _run_on_a_terminal(
        ROOT, cli_env, "run", "tests.store.nodes:Tree", "300", "--mode", "async"
    )
    assert code == 0
    assert out.strip() == str(sum(range(1, 301))).encode()
    assert "running" in terminal and "finished" in terminal
    assert "/300" not in terminal  # no total that only counts the requests made so far
    assert "leaf 0" in terminal and "leaf 299" in terminal  # broadcast items, above the bar


def test_ctrl_c_stops_the_run_and_says_how_to_resume_it(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    import signal
    import time

    (tmp_path / "slow.py").write_text(
        "import asyncio, pathlib\n"
        "async def slow():\n"
        "    pathlib.Path('started').write_text('')\n"
        "    await asyncio.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtree.cli", "run", "slow.py:slow", "--mode", "async"],
        cwd=tmp_path,
        env=cli_env,
        preexec_fn=default_sigint,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "started").exists():  # the node is running
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    (line,) = err.splitlines()
    assert line.startswith("runtree: interrupted (run ") and "; resume it: runtree resume " in line
