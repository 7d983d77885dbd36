"""``runtree resume`` makes every root call of a run again, from any folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import Cli
from tests.store.nodes import executions

GUARDED = """\
import asyncio
import os

import runtree as rt
from tests.store.nodes import Flow, Leaf, note


class Twice(rt.Node[int]):
    def __init__(self, x: int) -> None:
        super().__init__()
        self.x = x

    async def invoke(self) -> int:
        note(f"Twice {self.x}")
        return 2 * await rt.call(Leaf, self.x)


async def main() -> None:
    note("main ran")
    async with rt.Session(name="script") as session:
        print(session.run_id, flush=True)
        await rt.call(Twice, 1)
        for n in (3, 2):
            try:
                await rt.call(Flow, n)
            except ValueError:
                pass
        await rt.call(Twice, 5)
        if os.environ.get("RT_TEST_FAIL_AT"):
            raise SystemExit("some steps failed")


if __name__ == "__main__":
    asyncio.run(main())
"""


def _script(
    path: Path, cli_env: dict[str, str], *, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(path)],
        cwd=cwd,
        env={**cli_env, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_root_call_of_a_script_is_made_again_from_another_folder(
    cli: Cli, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    apps = tmp_path / "apps"
    apps.mkdir()
    script = apps / "pipeline.py"
    script.write_text(GUARDED)
    log = tmp_path / "executions.txt"
    made = _script(
        script, cli_env, cwd=apps, env={"RT_TEST_EXECUTIONS": str(log), "RT_TEST_FAIL_AT": "1"}
    )
    run_id = made.stdout.strip()
    assert len(run_id) == 32, made.stderr
    assert executions(log) == [
        "main ran", "Twice 1", "Leaf 1", "Flow 3", "Leaf 0", "Flow 2", "Leaf 0", "Twice 5", "Leaf 5"
    ]  # fmt: skip
    log.unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    resumed = cli(
        "resume", run_id[:10], "--json", cwd=elsewhere, env={"RT_TEST_EXECUTIONS": str(log)}
    )
    assert resumed.returncode == 0, resumed.stderr
    document = json.loads(resumed.stdout)
    assert document["status"] == "succeeded" and document["resumed_from"] == run_id
    assert document["calls"] == [
        {"status": "succeeded", "result": 4},
        {"status": "succeeded", "result": 6},
        {"status": "succeeded", "result": 3},
        {"status": "succeeded", "result": 12},
    ]
    # the script's body did not run; what had completed was answered from the journal
    assert executions(log) == ["Flow 3", "Leaf 1", "Leaf 2", "Flow 2", "Leaf 1"]
    shown = cli("show", document["run_id"], cwd=elsewhere)
    assert shown.stdout.count("replayed") == 4  # Twice 1, Leaf 0 (in both Flows), Twice 5
    again = cli("resume", document["run_id"], cwd=elsewhere)
    assert again.returncode == 0
    assert again.stderr.strip() == (
        f"run {document['run_id'][:12]} succeeded: there is nothing to resume"
    )
    runs = json.loads(cli("runs", "--json", cwd=elsewhere).stdout)
    assert len(runs) == 2  # resuming a succeeded run made no run


def test_a_run_of_a_file_target_resumes_from_any_folder(
    cli: Cli, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    apps = tmp_path / "apps"
    apps.mkdir()
    (apps / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    (apps / "job.py").write_text(
        "import os\n"
        "import runtree as rt\n"
        "from helpers import double\n"
        "from tests.store.nodes import Leaf, note\n"
        "class Job(rt.Node[int]):\n"
        "    def __init__(self, n):\n"
        "        super().__init__()\n"
        "        self.n = n\n"
        "    async def invoke(self):\n"
        "        note('Job')\n"
        "        total = 0\n"
        "        for i in range(self.n):\n"
        "            if os.environ.get('RT_TEST_FAIL_AT') == str(i):\n"
        "                raise RuntimeError(f'stopped at {i}')\n"
        "            total += double(await rt.call(Leaf, i))\n"
        "        return total\n"
    )
    log = tmp_path / "executions.txt"
    failed = cli(
        "run", "apps/job.py:Job", "3", "--mode", "async", "--json",
        env={"RT_TEST_EXECUTIONS": str(log), "RT_TEST_FAIL_AT": "2"},
    )  # fmt: skip
    assert failed.returncode == 1
    run_id = json.loads(failed.stdout)["run_id"]
    log.unlink()
    for folder in (tmp_path, apps, tmp_path / "home"):
        folder.mkdir(exist_ok=True)
    resumed = cli(
        "resume", run_id, "--json", cwd=tmp_path / "home", env={"RT_TEST_EXECUTIONS": str(log)}
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["result"] == 2 * (1 + 2 + 3)
    assert executions(log) == ["Job", "Leaf 2"]


def test_a_script_that_works_at_its_top_level_is_not_imported_again(
    cli: Cli, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    script = tmp_path / "flat.py"
    script.write_text(GUARDED.replace('if __name__ == "__main__":\n    ', ""))
    log = tmp_path / "executions.txt"
    made = _script(
        script,
        cli_env,
        cwd=tmp_path,
        env={"RT_TEST_EXECUTIONS": str(log), "RT_TEST_FAIL_AT": "1"},
    )
    run_id = made.stdout.strip()
    log.unlink()
    refused = cli("resume", run_id, env={"RT_TEST_EXECUTIONS": str(log)})
    assert refused.returncode == 1
    (line,) = refused.stderr.splitlines()
    assert line.startswith(f"runtree: error: cannot resume run {run_id[:12]}: root call 1 of 4: ")
    assert f"defined in the script {script}, which does its work at its top level " in line
    number = script.read_text().splitlines().index("asyncio.run(main())") + 1
    assert f"(line {number}: asyncio.run(main()))" in line
    assert f"rt.Session(resume={run_id!r})" in line
    assert not log.exists()  # nothing ran


def test_nodes_of_code_without_a_file_cannot_be_resumed_and_it_says_why(
    cli: Cli, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    code = GUARDED.replace('if __name__ == "__main__":\n    ', "")
    made = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**cli_env, "RT_TEST_FAIL_AT": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    run_id = made.stdout.strip()
    refused = cli("resume", run_id)
    assert refused.returncode == 1
    assert "node Twice was defined in code run without a file (python -c, stdin" in refused.stderr


def test_arguments_not_stored_exactly_are_refused(
    cli: Cli, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    (tmp_path / "sizes.py").write_text(
        "import runtree as rt\n"
        "def size(items):\n"
        "    return len(items)\n"
        "def main():\n"
        "    with rt.Session() as session:\n"
        "        print(session.run_id)\n"
        "        rt.call_sync(size, {1, 2})\n"
        "        raise SystemExit(1)\n"
        "if __name__ == '__main__':\n"
        "    main()\n"
    )
    made = _script(tmp_path / "sizes.py", cli_env, cwd=tmp_path, env={})
    run_id = made.stdout.strip()
    refused = cli("resume", run_id)
    assert refused.returncode == 1
    assert "the arguments of size were not stored exactly (a set value)" in refused.stderr
