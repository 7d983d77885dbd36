"""``runtree resume``: make every root call of a run again in a new run that resumes it;
what completed is answered from the journal, the rest runs.

Each root call's node is found from what the journal recorded: its ``module:qualname`` and
the absolute path of its module's file, so resuming works from any folder. The module is
imported by its recorded name from the folder that held it (its packages included). A node
defined in a script's ``__main__`` is imported from the script, under the script's module
name, only if the script's top level merely defines things (:mod:`runtree.cli.script`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from runtree.cli.console import fail
from runtree.cli.execution import Call, execute
from runtree.cli.journal import DB_HELP, check_writable, journal_path, reading
from runtree.cli.script import top_level_work
from runtree.cli.target import (
    TargetError,
    import_module,
    module_for_file,
    resolve_attribute,
)
from runtree.store.record import StoredRoot
from runtree.store.root import root_calls

__all__ = ["load_root", "register"]


def _import_folder(module_name: str, file: Path) -> Path | None:
    """The folder from which ``module_name`` is found as ``file`` (``None`` if the file's
    path does not end with the module's dotted path)."""
    parts = module_name.split(".")
    trail = file.parent if file.name == "__init__.py" else file.with_suffix("")
    if len(trail.parts) > len(parts) and list(trail.parts[-len(parts) :]) == parts:
        return Path(*trail.parts[: -len(parts)])
    return None


def _script_module(file: Path, node_name: str) -> str:
    """The module name to import a script's ``__main__`` nodes by, if that is safe."""
    if not file.is_file():
        raise TargetError(f"node {node_name} was defined in the script {file}, which is gone")
    work = top_level_work(file)
    if work is not None:
        raise TargetError(
            f"node {node_name} was defined in the script {file}, which does its work at its "
            f"top level ({work}): importing it would run that again; put that under "
            "`if __name__ == '__main__':`"
        )
    name, _ = module_for_file(file)
    return name


def load_root(root: StoredRoot) -> Any:
    """The node class or function a root call called, imported again."""
    if root.target is None:
        raise TargetError(
            f"the journal does not say where node {root.node_name} is defined (the run was "
            "made by an older runtree)"
        )
    module_name, _, qualname = root.target.rpartition(":")
    file = Path(root.file) if root.file else None
    if module_name == "__main__":
        if file is None:
            raise TargetError(
                f"node {root.node_name} was defined in code run without a file (python -c, "
                "stdin, a notebook): there is nothing to import it from"
            )
        module_name = _script_module(file, root.node_name)
    if file is not None and file.is_file():
        folder = _import_folder(module_name, file)
        if folder is not None and str(folder) not in sys.path:
            sys.path.insert(0, str(folder))  # also for the process strategy's workers
        module = import_module(module_name, file=file if folder is not None else None)
    else:
        try:
            module = import_module(module_name)
        except TargetError:
            if file is None:
                raise
            raise TargetError(
                f"{file} (module {module_name!r} of node {root.node_name}) is gone"
            ) from None
    obj = resolve_attribute(module, qualname, root.target)
    from runtree.graph.entry import graph_entry, is_graph_target

    if is_graph_target(obj):  # a graph run as a root call: the same entry node class again
        return graph_entry(obj, module_name, qualname)
    return obj


def _marker(value: Any) -> str | None:
    """The kind of the first ``{"__runtree__": kind}`` marker in a stored value, if any:
    such a value is not the argument the call was made with."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__runtree__" in item:
                return str(item.get("type") or item["__runtree__"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _call(root: StoredRoot, loaded: dict[tuple[str | None, str | None], Any]) -> Call:
    key = (root.target, root.file)
    if key not in loaded:
        loaded[key] = load_root(root)
    inputs = root.inputs
    if not isinstance(inputs, dict) or not isinstance(inputs.get("args"), list):
        raise TargetError(f"the arguments of {root.node_name} were not stored")
    kind = _marker(inputs)
    if kind is not None:
        raise TargetError(
            f"the arguments of {root.node_name} were not stored exactly (a {kind} value)"
        )
    kwargs = inputs.get("kwargs") or {}
    return Call(
        node=loaded[key], args=tuple(inputs["args"]), kwargs=dict(kwargs), mode=root.mode or "async"
    )


def register(app: typer.Typer) -> None:
    @app.command("resume")
    def resume_command(
        run_id: str = typer.Argument(..., help="The run to resume (id, unique prefix, 'latest')."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON document."),
        progress: bool | None = typer.Option(
            None, "--progress/--no-progress", help="Progress display (default: on a terminal)."
        ),
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),  # noqa: B008
    ) -> None:
        """Make a crashed or failed run's root calls again; what completed is not run again."""
        path = journal_path(db)
        with reading(db) as store:
            run = store.get_run(run_id)
            roots = root_calls(store, run) if run.status not in ("succeeded", "running") else []
        short = run.run_id[:12]
        if run.status == "succeeded":
            sys.stderr.write(f"run {short} succeeded: there is nothing to resume\n")
            raise typer.Exit(0)
        if run.status == "running":
            where = f"pid {run.pid} on {run.host}" if run.pid is not None else "another process"
            fail(f"run {short} is still running ({where}); wait for it to end, or stop it")
        if not roots:
            fail(
                f"run {short} recorded no root call to make again; resume it from Python with "
                f"rt.Session(resume={run.run_id!r})"
            )
        loaded: dict[tuple[str | None, str | None], Any] = {}
        calls = []
        for index, root in enumerate(roots, 1):
            try:
                calls.append(_call(root, loaded))
            except TargetError as exc:
                fail(
                    f"cannot resume run {short}: root call {index} of {len(roots)}: {exc}; "
                    f"resume it from Python with rt.Session(resume={run.run_id!r})"
                )
        check_writable(path)
        code = execute(
            calls,
            store=path,
            name=run.name,
            durability=run.durability or "batch",
            resume=run.run_id,
            as_json=as_json,
            progress=progress,
        )
        raise typer.Exit(code)
