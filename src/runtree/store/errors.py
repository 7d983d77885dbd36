"""Errors of the run journal (:mod:`runtree.store`).

::

    RuntreeError
    └── StoreError (RuntimeError)            the journal cannot be opened, read or written
        ├── JournalFileError                 the file cannot be read as a journal (why: problem)
        ├── SchemaVersionError               the file was written by a newer runtree
        ├── RunNotFoundError (LookupError)   no run has that id (or the prefix is ambiguous)
        └── ResumeError                      a run cannot be resumed (still running, no root)

Every error pickles with its attributes (see :class:`~runtree.errors.RuntreeError`).
"""

from __future__ import annotations

from runtree.errors import RuntreeError

__all__ = [
    "JournalFileError",
    "ResumeError",
    "RunNotFoundError",
    "SchemaVersionError",
    "StoreError",
]


class StoreError(RuntreeError, RuntimeError):
    """The run journal could not be opened, read or written."""


class JournalFileError(StoreError):
    """A file cannot be read as a run journal (one line naming it). ``problem`` says why:
    ``"missing"``, ``"folder"``, ``"empty"`` (0 bytes, or SQLite without tables),
    ``"not_journal"`` (not SQLite, or another program's database), ``"damaged"``,
    ``"locked"`` or ``"unreadable"`` (permissions, I/O)."""

    def __init__(self, message: str, *, problem: str = "unreadable") -> None:
        super().__init__(message)
        self.problem = problem


class SchemaVersionError(StoreError):
    """The journal file has a schema version this runtree cannot use.

    ``found`` is the file's version, ``supported`` the newest version this runtree knows.
    """

    def __init__(self, message: str, *, found: int = 0, supported: int = 0) -> None:
        super().__init__(message)
        self.found = found
        self.supported = supported


class RunNotFoundError(StoreError, LookupError):
    """No run matches the id or id prefix (or a prefix matches several runs)."""


class ResumeError(StoreError):
    """A run cannot be resumed: it is still running, or there is nothing to re-invoke."""
