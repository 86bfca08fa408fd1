"""Engine processes that never outlive their worker (see :mod:`checks.workers`).

This module is the engine process's entry point and imports nothing heavy: a spawned process
first imports the module of its target, and the parent may die during the seconds the check
engine's imports take on a loaded machine. So the process arranges to die with its parent
first (:func:`die_with_parent`), then imports and runs the engine (``checks.workers._child``).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
from typing import Any

#: prctl(2) option: the signal this process gets when the thread that created it exits.
PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Make this (child) process end when ``parent_pid`` does: the kernel's parent-death
    signal on Linux, and a thread watching the parent's multiprocessing sentinel everywhere.
    Exits at once when the parent is already gone."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # died before prctl took effect
        os._exit(1)
    parent = multiprocessing.parent_process()
    if parent is not None and parent.sentinel is not None:
        sentinel = parent.sentinel

        def watch() -> None:
            multiprocessing.connection.wait([sentinel])
            os._exit(1)  # the parent is gone: nothing we do now would be reported or wanted

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def engine_child(*args: Any) -> None:  # pragma: no cover - runs in the engine process
    """The engine process's target: die with the parent (its pid is the last argument), then
    run ``checks.workers._child(*args)``."""
    die_with_parent(args[-1])
    from checks.workers import _child

    _child(*args)
