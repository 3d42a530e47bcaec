"""Shared test helpers for optim."""
from __future__ import annotations

import optim


def make_sgd(params, lr: float = 0.1) -> optim.SGD:
    """Plain SGD, w ← w − lr·∇J."""
    return optim.SGD(params, lr=lr)


class GroupsOnly:
    """Just ``param_groups`` with the given rates: all a scheduler needs."""

    def __init__(self, *lrs: float) -> None:
        self.param_groups = [{"params": [], "lr": lr} for lr in lrs]
