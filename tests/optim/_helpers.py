"""Shared test helpers for optim: an optimizer for the schedule and loop tests.

The real ``optim.SGD`` is used when it exists; until then a minimal stand-in with the same
surface (``param_groups``, ``zero_grad``, ``step``) keeps these tests independent of it.
"""
from __future__ import annotations

import autograd_core as ag
import optim


class PlainSGD:
    """w ← w − lr·∇J for each parameter (test double of ``optim.SGD``)."""

    def __init__(self, params, lr: float = 0.1) -> None:
        self.param_groups = [{"params": list(params), "lr": lr}]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for param in group["params"]:
                param.grad = None

    def step(self) -> None:
        with ag.no_grad():
            for group in self.param_groups:
                for param in group["params"]:
                    if param.grad is not None:
                        param.data -= group["lr"] * param.grad.data


def make_sgd(params, lr: float = 0.1):
    """``optim.SGD(params, lr)`` when it exists, else the test double."""
    sgd = getattr(optim, "SGD", None)
    return sgd(params, lr=lr) if sgd is not None else PlainSGD(params, lr=lr)


class GroupsOnly:
    """Just ``param_groups`` with the given rates: all a scheduler needs."""

    def __init__(self, *lrs: float) -> None:
        self.param_groups = [{"params": [], "lr": lr} for lr in lrs]
