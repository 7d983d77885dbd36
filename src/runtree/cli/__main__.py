"""``python -m runtree.cli``: the same as the ``runtree`` command."""

from __future__ import annotations

from runtree.cli import main

if __name__ == "__main__":
    main()
