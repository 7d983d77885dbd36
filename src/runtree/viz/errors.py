"""Why the viewer cannot show a journal."""

from __future__ import annotations

from typing import Any

from runtree.store.errors import StoreError

__all__ = ["JournalProblem"]


class JournalProblem(StoreError):
    """The journal cannot be shown: ``kind`` is ``missing``, ``empty``, ``locked``,
    ``corrupt``, ``not_journal`` or ``newer``; ``http_status`` the matching HTTP status."""

    def __init__(self, message: str, *, kind: str, http_status: int = 503) -> None:
        super().__init__(message)
        self.kind = kind
        self.http_status = http_status

    def to_dict(self) -> dict[str, Any]:
        return {"error": str(self), "kind": self.kind}
