"""Global switches of the engine: gradient recording and anomaly detection.

``no_grad()`` / ``enable_grad()`` / ``set_grad_enabled(flag)`` work as context managers and as
decorators, as in PyTorch. While recording is off, operations build no graph.
"""
from __future__ import annotations

import contextlib


class _State:
    grad_enabled = True
    anomaly_enabled = False


STATE = _State()


def is_grad_enabled() -> bool:
    """True when operations record a graph for backward."""
    return STATE.grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Turn graph recording on or off; the previous mode comes back on exit.

    Called as a plain function it also switches the mode at once (as ``torch.set_grad_enabled``).
    """

    def __init__(self, mode: bool) -> None:
        self.prev = STATE.grad_enabled
        self.mode = bool(mode)
        STATE.grad_enabled = self.mode

    def __enter__(self) -> None:
        STATE.grad_enabled = self.mode

    def __exit__(self, *exc) -> bool:
        STATE.grad_enabled = self.prev
        return False


class no_grad(contextlib.ContextDecorator):
    """Context manager / decorator: operations inside record no graph (inference, weight updates).

    >>> import autograd_core as ag
    >>> x = ag.tensor([1.0], requires_grad=True)
    >>> with ag.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def __enter__(self) -> None:
        self.prev = STATE.grad_enabled
        STATE.grad_enabled = False

    def __exit__(self, *exc) -> bool:
        STATE.grad_enabled = self.prev
        return False


class enable_grad(contextlib.ContextDecorator):
    """Context manager / decorator: turn recording back on inside a ``no_grad`` block."""

    def __enter__(self) -> None:
        self.prev = STATE.grad_enabled
        STATE.grad_enabled = True

    def __exit__(self, *exc) -> bool:
        STATE.grad_enabled = self.prev
        return False
