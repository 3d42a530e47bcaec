"""Per-thread switches of the engine: gradient recording and anomaly detection.

``no_grad()`` / ``enable_grad()`` / ``set_grad_enabled(flag)`` work as context managers and as
decorators, as in PyTorch. While recording is off, operations build no graph.

The switches live in a ``threading.local`` (as PyTorch's grad mode is thread-local): a
``no_grad`` block in one thread never turns recording off in another, and a new thread starts
with recording on and anomaly detection off, whatever the thread that started it was doing.
"""
from __future__ import annotations

import contextlib
import threading


class _State(threading.local):
    """The calling thread's modes (``threading.local`` runs ``__init__`` once per thread)."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly_enabled = False
        self.stacks: dict = {}          # ModeStack -> this thread's saved modes (while in use)


STATE = _State()


def is_grad_enabled() -> bool:
    """True when operations record a graph for backward (in the calling thread)."""
    return STATE.grad_enabled


class ModeStack:
    """The previous values of a switch, one stack per thread (for context managers).

    NOTE: a decorator reuses one instance for every call, possibly from several threads at once,
    and a decorated function may recurse: each thread keeps its own stack for the instance (in
    its thread-local state, dropped when empty), so every exit restores the mode its own enter
    saw.
    """

    __slots__ = ("__weakref__",)

    def push(self, value: bool) -> None:
        stack = STATE.stacks.get(self)
        if stack is None:
            STATE.stacks[self] = [value]
        else:
            stack.append(value)

    def pop(self) -> bool:
        stacks = STATE.stacks
        stack = stacks[self]
        value = stack.pop()
        if not stack:
            del stacks[self]
        return value


class _GradSwitch(contextlib.ContextDecorator):
    """Set the recording mode on enter and bring the previous one back on exit."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous = ModeStack()

    def __enter__(self) -> None:
        self._previous.push(STATE.grad_enabled)
        STATE.grad_enabled = self.mode

    def __exit__(self, *exc) -> bool:
        STATE.grad_enabled = self._previous.pop()
        return False


class set_grad_enabled(_GradSwitch):
    """Turn graph recording on or off; the previous mode comes back on exit.

    Called as a plain function it also switches the mode at once (as ``torch.set_grad_enabled``);
    used as a decorator it switches nothing until the decorated function runs.
    """

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)
        # NOTE: kept on the instance, not pushed: a plain call that is never exited must leave
        # nothing behind in the thread's state
        self._before_init = STATE.grad_enabled
        STATE.grad_enabled = self.mode
        self._switched_at_init = True

    def __enter__(self) -> None:
        if self._switched_at_init:          # `with set_grad_enabled(m):` — __init__ did the work
            self._switched_at_init = False
            self._previous.push(self._before_init)
            return
        super().__enter__()

    def __call__(self, func):
        if self._switched_at_init:          # `@set_grad_enabled(m)`: undo the switch of __init__
            self._switched_at_init = False
            STATE.grad_enabled = self._before_init
        return super().__call__(func)


class no_grad(_GradSwitch):
    """Context manager / decorator: operations inside record no graph (inference, weight updates).

    Per thread: other threads keep recording.

    >>> import autograd_core as ag
    >>> x = ag.tensor([1.0], requires_grad=True)
    >>> with ag.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(_GradSwitch):
    """Context manager / decorator: turn recording back on inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)
