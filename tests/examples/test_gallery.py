"""examples/README.md lists every runnable example (each has its test in this folder)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
LISTED = re.compile(r"^\| `python -m (examples(?:\.\w+)+)`", re.MULTILINE)


def listed() -> list[str]:
    return LISTED.findall((EXAMPLES / "README.md").read_text(encoding="utf-8"))


def runnable() -> set[str]:
    """Every example module with a ``__main__`` block, as ``examples.x.y``."""
    found = set()
    for path in EXAMPLES.rglob("*.py"):
        if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8"):
            found.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def test_the_gallery_lists_every_runnable_example_once() -> None:
    assert len(listed()) == len(set(listed()))
    assert set(listed()) == runnable()
