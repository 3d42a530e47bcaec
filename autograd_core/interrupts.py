"""``deferred_interrupts()``: hold Ctrl-C back while a group of in-place updates runs.

An optimizer step updates many arrays one after the other; a ``KeyboardInterrupt`` raised
between two of them would leave some parameters (and their optimizer state) updated and others
not. Python delivers SIGINT as an exception at the next bytecode of the main thread, so the
only way to make such a group all-or-nothing is to hold the signal back for its duration and
deliver it right after, as ``torch.utils.data``'s workers and many databases do.
"""
from __future__ import annotations

import signal
import threading


class deferred_interrupts:
    """Context manager: a SIGINT that arrives inside the block is delivered when it ends.

    Only in the main thread (the only one Python delivers signals to, and the only one allowed
    to set handlers); elsewhere it does nothing. Nested blocks deliver at the outermost end.
    An exception raised *by the block itself* still propagates at once.

    >>> with deferred_interrupts():
    ...     pass
    """

    __slots__ = ("_installed", "_previous", "_received")

    def __enter__(self) -> deferred_interrupts:
        self._installed = False
        self._received = None
        if threading.current_thread() is not threading.main_thread():
            return self
        try:
            self._previous = signal.signal(signal.SIGINT, self._hold)
        except (ValueError, OSError):          # e.g. an interpreter embedded without signals
            return self
        self._installed = True
        return self

    def _hold(self, signum, frame) -> None:
        if self._received is None:
            self._received = (signum, frame)

    def __exit__(self, *exc) -> bool:
        if not self._installed:
            return False
        previous = self._previous
        # NOTE: None means a handler set outside Python; it cannot be put back, so Python's
        # default one (raise KeyboardInterrupt) stands in for it
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
        if self._received is not None:
            signum, frame = self._received
            if previous is None:
                raise KeyboardInterrupt
            if callable(previous):
                previous(signum, frame)        # the default handler raises KeyboardInterrupt
            elif previous == signal.SIG_DFL:
                signal.raise_signal(signum)
        return False
