"""Learning-rate schedules: closed forms always, torch.optim.lr_scheduler values when present."""
from __future__ import annotations

import math

import numpy as np
import pytest

import autograd_core as ag
import optim
from optim import lr_scheduler as lrs

from ._helpers import GroupsOnly

EPOCHS = 30


def _run(scheduler, epochs: int = EPOCHS) -> list[float]:
    """The rate of group 0 at epochs 0 … epochs−1 (read before each step, as in a loop)."""
    rates = []
    for _ in range(epochs):
        rates.append(scheduler.get_last_lr()[0])
        scheduler.step()
    return rates


def test_step_lr_closed_form():
    rates = _run(lrs.StepLR(GroupsOnly(0.1), step_size=7, gamma=0.5))
    assert rates == pytest.approx([0.1 * 0.5 ** (e // 7) for e in range(EPOCHS)])


def test_multistep_lr_closed_form():
    rates = _run(lrs.MultiStepLR(GroupsOnly(1.0), milestones=[20, 5], gamma=0.1))
    expected = [1.0] * 5 + [0.1] * 15 + [0.01] * 10
    assert rates == pytest.approx(expected)


def test_exponential_lr_closed_form():
    rates = _run(lrs.ExponentialLR(GroupsOnly(0.2), gamma=0.95))
    assert rates == pytest.approx([0.2 * 0.95 ** e for e in range(EPOCHS)])


def test_inverse_time_lr_is_the_course_decay():
    rates = _run(lrs.InverseTimeLR(GroupsOnly(0.2), gamma=1.0))
    assert rates[:4] == pytest.approx([0.2, 0.1, 0.2 / 3, 0.05])       # α₀/(1 + γ·epoch)


def test_cosine_annealing_closed_form():
    rates = _run(lrs.CosineAnnealingLR(GroupsOnly(1.0), T_max=10, eta_min=0.1))
    assert rates[0] == pytest.approx(1.0)
    assert rates[5] == pytest.approx(0.55)
    assert rates[10] == pytest.approx(0.1)
    assert rates[20] == pytest.approx(1.0)


def test_lambda_lr_per_group():
    opt = GroupsOnly(1.0, 2.0)
    sched = lrs.LambdaLR(opt, [lambda e: 0.5 ** e, lambda e: 1.0 / (e + 1)])
    sched.step()
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.25, 2.0 / 3])
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.25, 2.0 / 3])
    with pytest.raises(ValueError, match="expected 2 lr_lambdas"):
        lrs.LambdaLR(GroupsOnly(1.0, 2.0), [lambda e: 1.0])


def test_reduce_on_plateau_rules():
    opt = GroupsOnly(1.0)
    sched = lrs.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    rates = []
    for metric in [5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]:
        sched.step(metric)
        rates.append(opt.param_groups[0]["lr"])
    # bad epochs 1, 2, 3 > patience → halve at the 5th step; 1 cooldown epoch; then 3 more bad
    assert rates == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]
    sched.step(4)
    sched.step(4)
    sched.step(4)
    sched.step(4)
    assert opt.param_groups[0]["lr"] == 0.2                               # floored at min_lr


def test_state_dict_round_trip_resumes_the_schedule():
    sched = lrs.StepLR(GroupsOnly(1.0), step_size=3, gamma=0.5)
    for _ in range(4):
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 4
    opt = GroupsOnly(1.0)
    other = lrs.StepLR(opt, step_size=3, gamma=0.5)
    other.load_state_dict(state)
    other.step()
    assert other.get_last_lr() == pytest.approx([0.5 ** (5 // 3)])


def test_errors_name_the_scheduler():
    with pytest.raises(TypeError, match="StepLR: expected an optimizer with param_groups"):
        lrs.StepLR(object(), step_size=1)
    with pytest.raises(KeyError, match="initial_lr"):
        lrs.ExponentialLR(GroupsOnly(1.0), gamma=0.9, last_epoch=3)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        lrs.ReduceLROnPlateau(GroupsOnly(1.0), mode="up")


# --- PyTorch parity over 30 epochs ----------------------------------------------------------------
PAIRS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 11, 20], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=12, eta_min=0.01)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1.0 + 0.5 * e))),
]


@pytest.mark.parametrize("name, kwargs", PAIRS, ids=[p[0] for p in PAIRS])
def test_matches_torch_schedules(name, kwargs):
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.zeros(1))
    torch_opt = torch.optim.SGD([param, ], lr=0.3)
    torch_sched = getattr(torch.optim.lr_scheduler, name)(torch_opt, **kwargs)
    ours = getattr(lrs, name)(GroupsOnly(0.3), **kwargs)
    expected = []
    for _ in range(EPOCHS):
        expected.append(torch_sched.get_last_lr()[0])
        torch_opt.step()
        torch_sched.step()
    np.testing.assert_allclose(_run(ours), expected, rtol=1e-10, atol=1e-12)


def test_inverse_time_matches_torch_lambda():
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.zeros(1))
    torch_opt = torch.optim.SGD([param], lr=0.5)
    torch_sched = torch.optim.lr_scheduler.LambdaLR(torch_opt, lambda e: 1 / (1 + 0.2 * e))
    expected = []
    for _ in range(EPOCHS):
        expected.append(torch_sched.get_last_lr()[0])
        torch_opt.step()
        torch_sched.step()
    np.testing.assert_allclose(_run(lrs.InverseTimeLR(GroupsOnly(0.5), gamma=0.2)), expected,
                               rtol=1e-12)


@pytest.mark.parametrize("mode, threshold_mode", [("min", "rel"), ("min", "abs"), ("max", "rel"),
                                                  ("max", "abs")])
def test_reduce_on_plateau_matches_torch(mode, threshold_mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    metrics = np.cumsum(rng.normal(0, 1, EPOCHS)) * (1 if mode == "max" else -1)
    metrics = np.round(metrics, 1)          # ties exercise the threshold
    kwargs = dict(mode=mode, factor=0.5, patience=2, threshold=0.05,
                  threshold_mode=threshold_mode, cooldown=1, min_lr=1e-3)
    param = torch.nn.Parameter(torch.zeros(1))
    torch_opt = torch.optim.SGD([param], lr=1.0)
    torch_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, **kwargs)
    ours_opt = GroupsOnly(1.0)
    ours = lrs.ReduceLROnPlateau(ours_opt, **kwargs)
    for metric in metrics:
        torch_sched.step(float(metric))
        ours.step(float(metric))
        assert math.isclose(ours_opt.param_groups[0]["lr"], torch_opt.param_groups[0]["lr"])


def test_schedule_drives_a_real_optimizer():
    """The rate the scheduler writes is the one the next step uses: w ← w − α_e · 1."""
    w = ag.tensor([0.0], requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    sched = lrs.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        opt.zero_grad()
        w.sum().backward()
        opt.step()
        sched.step()
    assert w.data[0] == pytest.approx(-(1.0 + 0.5 + 0.25))
    assert opt.param_groups[0]["initial_lr"] == 1.0
