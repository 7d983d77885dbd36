"""Is the process that owns a ``running`` run still alive? (Honest crash detection.)

A run records its host name, pid and, where ``/proc`` exists, the process start time. A run
is *crashed* when it is still marked ``running`` and, on this host, its pid is gone, is a
zombie, or now belongs to a process that started at another time (the pid was reused).
Runs of other hosts cannot be checked and keep their stored status.
"""

from __future__ import annotations

import os
import socket

__all__ = ["host_name", "is_alive", "process_marker"]

_HOST: str | None = None


def host_name() -> str:
    global _HOST
    if _HOST is None:
        _HOST = socket.gethostname()
    return _HOST


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    # the command name may contain spaces and parentheses: split after the last ')'
    return raw[raw.rfind(")") + 2 :].split()


def process_marker(pid: int | None = None) -> str | None:
    """The start time of ``pid`` (default: this process) in clock ticks since boot, or
    ``None`` where ``/proc`` is not available."""
    fields = _stat_fields(os.getpid() if pid is None else pid)
    if fields is None or len(fields) < 20:
        return None
    return fields[19]


def is_alive(pid: int | None, marker: str | None, host: str | None) -> bool | None:
    """``True``/``False`` when it can be known, ``None`` when it cannot (another host)."""
    if pid is None or host != host_name():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return None
    fields = _stat_fields(pid)
    if fields is None:
        return True  # no /proc: the pid exists, that is all we can tell
    if fields[0] in ("Z", "X"):
        return False
    return marker is None or len(fields) < 20 or fields[19] == marker
