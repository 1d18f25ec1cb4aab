"""Child processes that `docflow serve` owns: own session, and they die with their parent."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def child_preexec() -> None:
    """Run in the child before exec: leave the terminal's process group, die with the parent.

    Ctrl-C reaches only `docflow serve`, which then stops its children in order; if it is
    killed outright, the kernel sends each child SIGTERM so none is left behind.
    """
    os.setsid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
