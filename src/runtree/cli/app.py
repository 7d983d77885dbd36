"""The ``runtree`` commands (typer). Built by :func:`build_app` when the command runs."""

from __future__ import annotations

import asyncio
import enum
import json
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

from runtree._json import to_jsonable, type_name
from runtree.errors import NodeInvocationError, NodeStateError, RuntreeError
from runtree.store import SqliteRunStore, default_store_path
from runtree.store.journal import DEFAULT_STORE, StoreOption

__all__ = ["build_app"]

HELP = """runtree: run nodes, and look at the runs the journal recorded.

The journal is $RT_HOME/runtree.db, else ./.runtree/runtree.db (choose another with --db).
"""


class Durability(str, enum.Enum):
    batch = "batch"
    sync = "sync"


class Mode(str, enum.Enum):
    process = "process"
    thread = "thread"
    async_ = "async"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on one line to stderr and exit with ``code``."""
    sys.stderr.write(f"runtree: error: {_one_line(message)}\n")
    raise typer.Exit(code)


def _out() -> Console:
    return Console(soft_wrap=True)


def _journal_path(db: Path | None) -> Path:
    return db if db is not None else default_store_path()


def _open_store(db: Path | None) -> SqliteRunStore:
    path = _journal_path(db)
    if not path.is_file():
        fail(f"no run journal at {path} (run something first, or choose one with --db)")
    try:
        return SqliteRunStore(path).open()
    except RuntreeError as exc:
        fail(str(exc))


DB_HELP = "The journal file (default: $RT_HOME/runtree.db, else ./.runtree/runtree.db)."


# -- running ---------------------------------------------------------------------------------


class _ProgressBar:
    """A rich progress bar over the requests a run creates below its root call."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self._progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._lock = threading.Lock()
        self._task: Any = None
        self._roots: set[str] = set()
        self._created = 0
        self._finished = 0

    def __call__(self, message: Any) -> None:
        from runtree.pubsub.messages import RequestCompletionMessage, RequestCreation

        with self._lock:
            if isinstance(message, RequestCreation):
                if message.parent_id is None:
                    self._roots.add(message.request_id)
                    return
                self._created += 1
            elif isinstance(message, RequestCompletionMessage):
                if message.request_id in self._roots:
                    return
                self._finished += 1
            if self._task is None:
                self._progress.start()
                self._task = self._progress.add_task("requests", total=self._created)
            self._progress.update(self._task, total=self._created, completed=self._finished)

    def stop(self) -> None:
        with self._lock:
            if self._task is not None:
                self._progress.stop()


def _execute(
    node: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    mode: str,
    store: StoreOption,
    name: str | None,
    durability: str,
    resume: str | None,
    as_json: bool,
    progress: bool | None,
) -> int:
    import runtree as rt
    from runtree.pubsub.messages import RequestCompletionMessage, RequestCreation

    try:
        session = rt.Session(name=name, store=store, durability=durability, resume=resume)
    except RuntreeError as exc:
        fail(str(exc))
    bar = None
    if progress if progress is not None else sys.stderr.isatty():
        bar = _ProgressBar()
        session.publisher.subscribe(
            bar, topics=(RequestCreation, RequestCompletionMessage), name="cli-progress"
        )

    async def go() -> Any:
        async with session:
            with rt.execution_mode(mode):
                return await rt.call(node, *args, **kwargs)

    error: BaseException | None = None
    result: Any = None
    try:
        result = asyncio.run(go())
    except NodeInvocationError as exc:
        raise typer.BadParameter(_one_line(str(exc)), param_hint="ARGS") from None
    except Exception as exc:
        error = exc
    finally:
        if bar is not None:
            bar.stop()
    if session.status == "unopened" and error is not None:  # the journal refused to start
        fail(str(error))
    short = session.run_id[:12]
    if as_json:
        document: dict[str, Any] = {
            "run_id": session.run_id,
            "status": "failed" if error is not None else "succeeded",
        }
        if resume is not None:
            document["resumed_from"] = resume
        if error is None:
            document["result"] = to_jsonable(result)
        else:
            document["error"] = {"type": type_name(error), "message": str(error)}
        sys.stdout.write(json.dumps(document) + "\n")
    elif error is None:
        if isinstance(result, str):
            sys.stdout.write(result + "\n")
        else:
            sys.stdout.write(json.dumps(to_jsonable(result), indent=2) + "\n")
    if error is not None:
        sys.stderr.write(
            f"runtree: error: {_one_line(f'{type(error).__name__}: {error}')} (run {short})\n"
        )
        return 1
    if session.journal is not None and not as_json:
        sys.stderr.write(f"run {short} succeeded; see it with: runtree show {short}\n")
    return 0


def build_app() -> typer.Typer:
    from runtree.cli.target import TargetError, load_target, parse_arguments, run_mode

    app = typer.Typer(
        name="runtree",
        help=HELP,
        add_completion=False,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.command("run")
    def run_command(
        target: str = typer.Argument(..., help="The node: module:NodeClass (or module:function)."),
        args: list[str] | None = typer.Argument(  # noqa: B008
            None, help="Arguments: JSON when they parse as JSON (3, '\"x\"', '[1,2]'), else text."
        ),
        kw: list[str] | None = typer.Option(  # noqa: B008
            None, "--kw", help="A keyword argument name=value (repeatable)."
        ),
        mode: Mode = typer.Option(  # noqa: B008
            Mode.process, "--mode", help="Where the node runs (process: an isolated worker)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON document."),
        name: str | None = typer.Option(None, "--name", help="The run's name."),
        durability: Durability = typer.Option(  # noqa: B008
            Durability.batch, "--durability", help="batch, or sync: each result on disk first."
        ),
        progress: bool | None = typer.Option(
            None, "--progress/--no-progress", help="Progress bar (default: on a terminal)."
        ),
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),  # noqa: B008
    ) -> None:
        """Run a node in a fresh session and print its result (exit 1 if it fails)."""
        try:
            node = load_target(target)
            call_args, call_kwargs = parse_arguments(args, kw)
        except TargetError as exc:
            raise typer.BadParameter(str(exc), param_hint="TARGET") from None
        code = _execute(
            node,
            call_args,
            call_kwargs,
            mode=run_mode(node, mode.value),
            store=db if db is not None else DEFAULT_STORE,
            name=name or target.rpartition(":")[2],
            durability=durability.value,
            resume=None,
            as_json=as_json,
            progress=progress,
        )
        raise typer.Exit(code)

    @app.command("inspect")
    def inspect_command(
        path: Path = typer.Argument(..., help="A NodeState file."),  # noqa: B008
        allow_pickle: bool = typer.Option(
            False, "--allow-pickle", help="Load pickle files (runs code: only files you trust)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON document."),
    ) -> None:
        """Re-hydrate a NodeState file and print its node's class, inputs and details."""
        from runtree.nodes.details import details_to_dict
        from runtree.nodes.state import NodeState

        try:
            state = NodeState.load(path, allow_pickle=allow_pickle)
            node = state.node
            document = {
                "class": f"{type(node).__module__}:{type(node).__qualname__}",
                "name": node.name(),
                "attributes": to_jsonable({k: v for k, v in vars(node).items() if k != "details"}),
                "details": to_jsonable(details_to_dict(node.__dict__.get("details", {}))),
            }
        except NodeStateError as exc:
            message = str(exc)
            if "allow_pickle=True" in message:
                message = (
                    "a pickle NodeState: loading it runs code; add --allow-pickle if you trust it"
                )
            fail(f"{path}: {message}")
        except Exception as exc:  # a corrupt file must never show a traceback
            fail(f"{path}: not a readable NodeState ({type(exc).__name__}: {exc})")
        if as_json:
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
            return
        from rich.pretty import Pretty
        from rich.table import Table

        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        for key in ("class", "name", "attributes", "details"):
            table.add_row(key, Pretty(document[key]))
        _out().print(table)

    @app.command("runs")
    def runs_command(
        limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs."),
        name: str | None = typer.Option(None, "--name", help="Only runs with this name."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON document."),
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),  # noqa: B008
    ) -> None:
        """List runs, newest first: id, name, status, start, duration, request count."""
        from runtree.cli.render import runs_table

        with _open_store(db) as store:
            runs = store.list_runs(limit=limit, name=name)
        if as_json:
            sys.stdout.write(json.dumps([r.to_dict() for r in runs], indent=2) + "\n")
        elif not runs:
            sys.stderr.write(f"no runs in {_journal_path(db)}\n")
        else:
            _out().print(runs_table(runs))

    def _load_run(
        db: Path | None, ref: str, name: str | None = None
    ) -> tuple[Any, list[Any], list[Any]]:
        with _open_store(db) as store:
            try:
                if ref in ("latest", "last") and name is not None:
                    runs = store.list_runs(limit=1, name=name)
                    if not runs:
                        fail(f"no run named {name!r} in {store.path}")
                    run = runs[0]
                else:
                    run = store.get_run(ref)
            except RuntreeError as exc:
                fail(str(exc))
            return run, store.get_requests(run.run_id), store.get_events(run.run_id)

    @app.command("show")
    def show_command(
        run_id: str = typer.Argument(..., help="A run id, a unique prefix of one, or 'latest'."),
        max_requests: int = typer.Option(
            500, "--max-requests", min=1, help="Show at most this many requests."
        ),
        name: str | None = typer.Option(
            None, "--name", help="With 'latest': the newest run of this name."
        ),
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),  # noqa: B008
    ) -> None:
        """Show a run: its status and its request tree with timings and errors."""
        from runtree.cli.render import request_tree, run_header

        run, requests, events = _load_run(db, run_id, name)
        console = _out()
        console.print(run_header(run, events=len(events)))
        console.print(request_tree(run, requests, max_requests=max_requests))

    @app.command("export")
    def export_command(
        run_id: str = typer.Argument(..., help="A run id, a unique prefix of one, or 'latest'."),
        as_json: bool = typer.Option(True, "--json", help="JSON (the format; the default)."),
        output: Path | None = typer.Option(  # noqa: B008
            None, "--output", "-o", help="Write to this file instead of stdout."
        ),
        html: Path | None = typer.Option(  # noqa: B008
            None, "--html", help="Write a self-contained HTML report of the run to this file."
        ),
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),  # noqa: B008
    ) -> None:
        """Export a run (run record, requests, stream events) as one JSON document, or as
        an HTML report (--html) that opens offline."""
        del as_json  # JSON is the default format
        if html is not None:
            from runtree.cli.viz import export_html_command

            export_html_command(db, run_id, html)
            return
        run, requests, events = _load_run(db, run_id)
        document = {
            "run": run.to_dict(),
            "requests": [r.to_dict() for r in requests],
            "events": [e.to_dict() for e in events],
        }
        text = json.dumps(document, indent=2) + "\n"
        if output is None:
            sys.stdout.write(text)
        else:
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                fail(f"cannot write {output}: {exc.strerror or exc}")

    @app.command("resume")
    def resume_command(
        run_id: str = typer.Argument(..., help="The run to resume (id, unique prefix, 'latest')."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON document."),
        progress: bool | None = typer.Option(
            None, "--progress/--no-progress", help="Progress bar (default: on a terminal)."
        ),
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),  # noqa: B008
    ) -> None:
        """Re-run a crashed or failed run's root call; what completed is not run again."""
        run, requests, _ = _load_run(db, run_id)
        if run.root_node is None or run.root_inputs is None:
            fail(
                f"run {run.run_id[:12]} recorded no root call to re-invoke; resume it from "
                f"Python with rt.Session(resume={run.run_id!r})"
            )
        try:
            node = load_target(run.root_node)
        except TargetError as exc:
            fail(f"cannot re-invoke run {run.run_id[:12]}: {exc}")
        inputs = json.loads(run.root_inputs)
        if not isinstance(inputs, dict) or "args" not in inputs:
            fail(f"run {run.run_id[:12]}: its root call's arguments were not stored in full")
        root_modes = [r.mode for r in requests if r.parent_id is None and r.mode]
        code = _execute(
            node,
            tuple(inputs["args"]),
            dict(inputs.get("kwargs") or {}),
            mode=root_modes[0] if root_modes else "async",
            store=_journal_path(db),
            name=run.name,
            durability=run.durability or "batch",
            resume=run.run_id,
            as_json=as_json,
            progress=progress,
        )
        raise typer.Exit(code)

    from runtree.cli.viz import register

    register(app)
    return app
