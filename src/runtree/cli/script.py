"""Is a script safe to import? A run started by a script (``python job.py``) records its
root nodes as ``__main__:Name`` with the script's path. ``runtree resume`` imports the
script under its module name, so its ``if __name__ == "__main__":`` block does not run, but
everything else at its top level does. It does that only when the top level just *defines*
things; a script that does its work at the top level would run it again."""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = ["top_level_work"]

#: calls that start the work when made at a script's top level
_WORK_CALLS = frozenset({"run", "main", "call_sync", "call_batch_sync", "run_sync"})
_DEFINITIONS = (
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Pass,
)


def _is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    mains = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(mains) == 1


def _calls_work(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in _WORK_CALLS:
                return True
    return False


def _has_call(node: ast.AST) -> bool:
    return any(isinstance(sub, ast.Call) for sub in ast.walk(node))


def _work_in(body: list[ast.stmt]) -> ast.stmt | None:
    for stmt in body:
        if _does_work(stmt):
            return stmt
    return None


def _does_work(stmt: ast.stmt) -> bool:
    if isinstance(stmt, _DEFINITIONS):
        return False
    if isinstance(stmt, ast.Expr):  # a docstring is fine; a call at the top level is work
        return not isinstance(stmt.value, ast.Constant)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return _calls_work(stmt)
    if isinstance(stmt, ast.If):
        if _is_main_guard(stmt.test):
            return _work_in(stmt.orelse) is not None
        return _has_call(stmt.test) or _work_in(stmt.body + stmt.orelse) is not None
    if isinstance(stmt, ast.Try):
        blocks = stmt.body + stmt.orelse + stmt.finalbody
        for handler in stmt.handlers:
            blocks += handler.body
        return _work_in(blocks) is not None
    return True  # loops, with blocks, raise, del...: not a definition


def top_level_work(path: Path) -> str | None:
    """Why importing the script at ``path`` would do its work (``"line 12: main()"``), or
    ``None`` if its top level only defines things. A script that cannot be read or parsed
    is reported too."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read it ({exc})"
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        return f"line {exc.lineno}: SyntaxError: {exc.msg}"
    stmt = _work_in(tree.body)
    if stmt is None:
        return None
    segment = (ast.get_source_segment(source, stmt) or "").strip().splitlines()
    text = segment[0] if segment else type(stmt).__name__
    if len(text) > 60:
        text = text[:59] + "…"
    return f"line {stmt.lineno}: {text}"
