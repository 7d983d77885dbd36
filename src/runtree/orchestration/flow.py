"""Where railtracks code imports ``Flow`` from; the class lives in
:mod:`runtree.interaction.flow`."""

from __future__ import annotations

from runtree.interaction.flow import Flow

__all__ = ["Flow"]
