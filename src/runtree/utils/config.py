"""Where railtracks code imports ``ExecutorConfig`` from; the class lives in
:mod:`runtree.state.config`."""

from __future__ import annotations

from runtree.state.config import ExecutorConfig

__all__ = ["ExecutorConfig"]
