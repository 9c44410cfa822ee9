"""Child processes the server starts (the live push process, the demo history writer).

Ctrl+C in a terminal reaches the whole process group. The server stops its children itself, so a
child must not answer the interrupt with a KeyboardInterrupt traceback, not even while it is still
importing (before it can install a handler of its own): :func:`start_quietly` starts it with SIGINT
ignored, a disposition that exec keeps and that Python then leaves alone (a blocked signal mask is
not enough: the spawned interpreter starts with it cleared).
"""

from __future__ import annotations

import signal
import threading
from typing import Any


def start_quietly(process: Any) -> None:
    """``process.start()`` with SIGINT ignored in the child from its first instruction.

    Only the main thread may change a handler; from another thread the child is started as is and
    ignores SIGINT once its own code runs."""
    if threading.current_thread() is not threading.main_thread():
        process.start()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process.start()
    finally:
        signal.signal(signal.SIGINT, previous)
