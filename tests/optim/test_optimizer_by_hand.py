"""Optimizer facts checked by hand, without PyTorch: weight decay's sign and form, SGD's
dampening, maximize, and what a step does to parameters without a gradient.

Each expected value below is worked out in the comment beside it (float64 parameters, gradients
set directly on ``.grad`` so that the arithmetic is the optimizer's alone).
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import optim

P0 = np.array([2.0, -4.0, 0.5])


def _param(values=P0):
    return ag.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def _steps(opt, p, grads):
    """Set ``p.grad`` to each gradient in turn and step; the parameter after each step."""
    out = []
    for g in grads:
        p.grad = ag.tensor(np.array(g, dtype=np.float64))
        opt.step()
        out.append(p.numpy().copy())
    return out


# --- weight decay ------------------------------------------------------------------------------
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_weight_decay_alone_shrinks_the_parameter(momentum):
    # g = 0: the update sees g + λp = λp, so p ← p − ηλp = p·(1 − ηλ) = 0.95·p (v = λp at step 1)
    p = _param()
    opt = optim.SGD([p], lr=0.1, weight_decay=0.5, momentum=momentum)
    (after,) = _steps(opt, p, [np.zeros(3)])
    np.testing.assert_allclose(after, P0 * (1 - 0.1 * 0.5), rtol=1e-15)


def test_sgd_weight_decay_adds_to_the_gradient():
    # p ← p − η(g + λp) = [2, −4, 0.5] − 0.1·([1, 1, −2] + 0.5·[2, −4, 0.5]) = [1.8, −3.9, 0.675]
    p = _param()
    (after,) = _steps(optim.SGD([p], lr=0.1, weight_decay=0.5), p, [[1.0, 1.0, -2.0]])
    np.testing.assert_allclose(after, [1.8, -3.9, 0.675], rtol=1e-15)


def test_sgd_maximize_negates_the_gradient_but_not_the_decay():
    # PyTorch's order: g ← −g, then g + λp:  p ← p − η(−g + λp)
    # = [2, −4, 0.5] − 0.1·([−1, −1, 2] + [1, −2, 0.25]) = [2, −3.7, 0.275]
    p = _param()
    opt = optim.SGD([p], lr=0.1, weight_decay=0.5, maximize=True)
    (after,) = _steps(opt, p, [[1.0, 1.0, -2.0]])
    np.testing.assert_allclose(after, [2.0, -3.7, 0.275], rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("name", ["Adam", "Adamax", "NAdam", "RMSprop", "Adagrad"])
def test_coupled_weight_decay_moves_the_parameter_towards_zero(name):
    # g = 0 and decay λ: the update sees λp, so every adaptive optimizer steps against sign(p)
    p = _param()
    opt = getattr(optim, name)([p], lr=0.01, weight_decay=0.1)
    (after,) = _steps(opt, p, [np.zeros(3)])
    assert np.all(np.abs(after) < np.abs(P0)), after
    assert np.all(np.sign(after) == np.sign(P0)), after


def test_adam_weight_decay_alone_by_hand():
    # g = 0, λ = 0.1: the update sees g' = λp = [0.2, −0.4, 0.05]; Adam's first bias-corrected
    # step is η·m̂/(√v̂ + ε) = η·g'/(|g'| + ε) ≈ η·sign(p): p ← p − 0.01·sign(p) (to ε)
    p = _param()
    (after,) = _steps(optim.Adam([p], lr=0.01, weight_decay=0.1), p, [np.zeros(3)])
    decayed = 0.1 * P0
    np.testing.assert_allclose(after, P0 - 0.01 * decayed / (np.abs(decayed) + 1e-8), rtol=1e-14)


def test_adamw_decays_the_parameter_itself_not_the_gradient():
    # decoupled: p ← (1 − ηλ)·p first, then Adam's step on the plain g = 0, which is 0 (m = 0):
    # p ← 0.99·p exactly; coupled decay would instead step by η·sign(p)
    p = _param()
    (after,) = _steps(optim.AdamW([p], lr=0.1, weight_decay=0.1), p, [np.zeros(3)])
    np.testing.assert_allclose(after, P0 * (1 - 0.1 * 0.1), rtol=1e-15)


def test_adamw_two_steps_with_a_gradient_by_hand():
    # g = [1, 1, 1] both steps: m̂ = 1 and v̂ = 1, so Adam's step is η/(1 + ε) ≈ η each time
    # p₁ = (1 − ηλ)p₀ − η,  p₂ = (1 − ηλ)p₁ − η   with η = 0.1, λ = 0.2
    p = _param()
    lr, decay = 0.1, 0.2
    got = _steps(optim.AdamW([p], lr=lr, weight_decay=decay), p, [np.ones(3)] * 2)
    p1 = P0 * (1 - lr * decay) - lr / (1 + 1e-8)
    p2 = p1 * (1 - lr * decay) - lr / (1 + 1e-8)
    np.testing.assert_allclose(got[0], p1, rtol=1e-12)
    np.testing.assert_allclose(got[1], p2, rtol=1e-12)


# --- SGD's momentum and dampening ----------------------------------------------------------------
def test_sgd_momentum_with_dampening_two_steps_by_hand():
    # μ = 0.9, dampening τ = 0.3, η = 0.1; g₁ = [1, −2, 0], g₂ = [0.5, 4, 1]
    # step 1: v₁ = g₁ (no dampening at the first step)      p₁ = p₀ − 0.1·[1, −2, 0]
    #                                                          = [1.9, −3.8, 0.5]
    # step 2: v₂ = 0.9·v₁ + 0.7·g₂ = [1.25, 1.0, 0.7]         p₂ = [1.775, −3.9, 0.43]
    p = _param()
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.3)
    p1, p2 = _steps(opt, p, [[1.0, -2.0, 0.0], [0.5, 4.0, 1.0]])
    np.testing.assert_allclose(p1, [1.9, -3.8, 0.5], rtol=1e-15)
    np.testing.assert_allclose(p2, [1.775, -3.9, 0.43], rtol=1e-14)
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [1.25, 1.0, 0.7], rtol=1e-15)


def test_sgd_nesterov_two_steps_by_hand():
    # μ = 0.5, η = 0.1, nesterov: p ← p − η(g + μv)
    # step 1: v₁ = g₁ = [1, 1, 1]              p₁ = p₀ − 0.1·1.5·[1, 1, 1] = p₀ − 0.15
    # step 2: g₂ = [2, 2, 2], v₂ = 0.5·v₁ + g₂ = 2.5   p₂ = p₁ − 0.1·(2 + 0.5·2.5) = p₁ − 0.325
    p = _param()
    opt = optim.SGD([p], lr=0.1, momentum=0.5, nesterov=True)
    p1, p2 = _steps(opt, p, [np.ones(3), 2 * np.ones(3)])
    np.testing.assert_allclose(p1, P0 - 0.15, rtol=1e-14)
    np.testing.assert_allclose(p2, P0 - 0.15 - 0.325, rtol=1e-14)


def test_a_parameter_without_gradient_is_left_alone_even_with_weight_decay():
    p, q = _param(), _param([1.0, 1.0, 1.0])
    opt = optim.SGD([p, q], lr=0.1, weight_decay=0.5, momentum=0.9)
    p.grad = ag.tensor(np.zeros(3))
    opt.step()
    np.testing.assert_array_equal(q.numpy(), [1.0, 1.0, 1.0])
    assert q not in opt.state
    np.testing.assert_allclose(p.numpy(), P0 * 0.95, rtol=1e-15)


# --- defaults and options ------------------------------------------------------------------------
# PyTorch's documented defaults (torch.optim, 2.x), Keras's for FTRL, the course's for SGDMomentum
DEFAULTS = {
    "SGD": dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                maximize=False),
    "SGDMomentum": dict(lr=1e-3, beta=0.9),
    "Adagrad": dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                    eps=1e-10, maximize=False),
    "RMSprop": dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                    centered=False, maximize=False),
    "Adam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False),
    "AdamW": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                  maximize=False),
    "Adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False),
    "Adamax": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False),
    "NAdam": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                  momentum_decay=4e-3, maximize=False),
    "FTRL": dict(lr=1e-3, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0),
}


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_defaults_are_the_documented_ones(name):
    opt = getattr(optim, name)([_param()])
    assert opt.defaults == DEFAULTS[name]
    group = {k: v for k, v in opt.param_groups[0].items() if k != "params"}
    assert group == DEFAULTS[name]


def test_ftrl_takes_kerass_learning_rate_name():
    opt = optim.FTRL([_param()], learning_rate=0.25)
    assert opt.param_groups[0]["lr"] == 0.25


@pytest.mark.parametrize("option, value, message", [
    ("lr", 0.0, "FTRL: invalid lr = 0.0; expected > 0"),
    ("lr", -1.0, "FTRL: invalid lr = -1.0; expected >= 0.0"),     # the base class's check
    ("learning_rate_power", 0.5, "FTRL: invalid learning_rate_power = 0.5; expected [-inf, 0.0]"),
    ("initial_accumulator_value", -0.1,
     "FTRL: invalid initial_accumulator_value = -0.1; expected >= 0.0"),
    ("l1_regularization_strength", -0.1,
     "FTRL: invalid l1_regularization_strength = -0.1; expected >= 0.0"),
    ("l2_regularization_strength", -0.1,
     "FTRL: invalid l2_regularization_strength = -0.1; expected >= 0.0"),
    ("l2_shrinkage_regularization_strength", -0.1,
     "FTRL: invalid l2_shrinkage_regularization_strength = -0.1; expected >= 0.0"),
    ("beta", -0.1, "FTRL: invalid beta = -0.1; expected >= 0.0"),
])
def test_ftrl_refuses_bad_options_by_name(option, value, message):
    with pytest.raises(ValueError) as caught:
        optim.FTRL([_param()], **{option: value})
    assert str(caught.value) == message


def test_ftrl_accepts_the_edges_of_its_ranges():
    opt = optim.FTRL([_param()], lr=1e-12, learning_rate_power=0.0, initial_accumulator_value=0.0,
                     l1_regularization_strength=0.0, beta=0.0)
    assert opt.param_groups[0]["learning_rate_power"] == 0.0


def _refusal(make):
    with pytest.raises(ValueError) as caught:
        make()
    return str(caught.value)


@pytest.mark.parametrize("name, options, message", [
    ("SGD", dict(lr=-0.1), "SGD: invalid lr = -0.1; expected >= 0.0"),
    ("Adam", dict(eps=-1e-8), "Adam: invalid eps = -1e-08; expected >= 0.0"),
    ("RMSprop", dict(weight_decay=-0.5), "RMSprop: invalid weight_decay = -0.5; expected >= 0.0"),
    ("SGD", dict(momentum=-0.9), "SGD: invalid momentum = -0.9; expected >= 0.0"),
    ("SGD", dict(nesterov=True, momentum=0.0),
     "SGD: nesterov momentum requires momentum > 0 and dampening = 0"),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1),
     "SGD: nesterov momentum requires momentum > 0 and dampening = 0"),
    ("SGDMomentum", dict(beta=1.0), "SGDMomentum: invalid beta = 1.0; expected [0.0, 1.0)"),
    ("SGDMomentum", dict(beta=-0.1), "SGDMomentum: invalid beta = -0.1; expected [0.0, 1.0)"),
    ("Adagrad", dict(lr_decay=-1.0), "Adagrad: invalid lr_decay = -1.0; expected >= 0.0"),
    ("Adagrad", dict(initial_accumulator_value=-0.1),
     "Adagrad: invalid initial_accumulator_value = -0.1; expected >= 0.0"),
    ("RMSprop", dict(alpha=-0.5), "RMSprop: invalid alpha = -0.5; expected >= 0.0"),
    ("RMSprop", dict(momentum=-0.5), "RMSprop: invalid momentum = -0.5; expected >= 0.0"),
    ("Adam", dict(betas=(1.0, 0.999)), "Adam: invalid betas[0] = 1.0; expected [0.0, 1.0)"),
    ("AdamW", dict(betas=(0.9, 1.0)), "AdamW: invalid betas[1] = 1.0; expected [0.0, 1.0)"),
    ("Adamax", dict(betas=(-0.1, 0.9)), "Adamax: invalid betas[0] = -0.1; expected [0.0, 1.0)"),
    ("NAdam", dict(betas=(0.9, 1.5)), "NAdam: invalid betas[1] = 1.5; expected [0.0, 1.0)"),
    ("Adadelta", dict(rho=1.1), "Adadelta: invalid rho = 1.1; expected [0.0, 1.0]"),
    ("Adadelta", dict(rho=-0.1), "Adadelta: invalid rho = -0.1; expected [0.0, 1.0]"),
    ("NAdam", dict(momentum_decay=-1e-3),
     "NAdam: invalid momentum_decay = -0.001; expected >= 0.0"),
])
def test_bad_hyperparameters_are_refused_by_name_with_the_valid_range(name, options, message):
    assert _refusal(lambda: getattr(optim, name)([_param()], **options)) == message


@pytest.mark.parametrize("name, options", [
    ("SGD", dict(lr=0.0, momentum=0.0, weight_decay=0.0)),
    ("SGD", dict(nesterov=True, momentum=1e-9)),
    ("SGDMomentum", dict(beta=0.0)), ("SGDMomentum", dict(beta=0.999)),
    ("Adagrad", dict(lr_decay=0.0, initial_accumulator_value=0.0, eps=0.0)),
    ("RMSprop", dict(alpha=0.0, momentum=0.0)),
    ("Adam", dict(betas=(0.0, 0.0))), ("Adamax", dict(betas=(0.999, 0.999))),
    ("Adadelta", dict(rho=1.0)), ("Adadelta", dict(rho=0.0)),
    ("NAdam", dict(momentum_decay=0.0)),
])
def test_the_edges_of_each_range_are_accepted(name, options):
    opt = getattr(optim, name)([_param()], **options)
    for key, value in options.items():
        assert opt.param_groups[0][key] == value


def test_maximize_reaches_each_optimizer_that_takes_it():
    # one step from p with g and with −g while maximizing: the same parameters
    for name in ("SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Adadelta", "Adamax", "NAdam"):
        p, q = _param(), _param()
        (descent,) = _steps(getattr(optim, name)([p], lr=0.1), p, [[1.0, -2.0, 0.5]])
        (ascent,) = _steps(getattr(optim, name)([q], lr=0.1, maximize=True), q,
                           [[-1.0, 2.0, -0.5]])
        np.testing.assert_array_equal(ascent, descent, err_msg=name)
        assert not np.array_equal(descent, P0), name


# --- steps allocate nothing -----------------------------------------------------------------------
@pytest.mark.parametrize("name, options", [
    ("SGD", {}), ("SGD", dict(momentum=0.9)), ("SGDMomentum", {}), ("Adagrad", {}),
    ("RMSprop", {}), ("Adam", {}), ("AdamW", {}),
])
def test_a_step_after_the_first_allocates_no_array(name, options):
    # the buffers are made at the first step; later steps write in place (numpy out=, kernels)
    import tracemalloc
    p = ag.tensor(np.ones(2 ** 16), dtype="float64", requires_grad=True)
    p.grad = ag.tensor(np.full(2 ** 16, 0.5))
    opt = getattr(optim, name)([p], **options)
    opt.step()
    tracemalloc.start()
    try:
        opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < p.data.nbytes / 10, peak


# --- state_dict and load_state_dict ---------------------------------------------------------------
class _ListState(optim.Optimizer):
    """An optimizer of one's own that keeps a list (mutable, not an array) in its state."""

    def __init__(self, params):
        super().__init__(params, dict(lr=0.1, schedule=[1.0, 0.5]))

    def _update(self, param, grad, state, group):
        state.setdefault("history", []).append([float(grad[0])])     # a list of lists
        param -= group["lr"] * grad


def _stepped(opt_factory, grads=([1.0, 1.0, 1.0],)):
    p = _param()
    opt = opt_factory([p])
    _steps(opt, p, grads)
    return p, opt


def test_state_dict_holds_copies_of_mutable_options_and_state_and_no_scratch():
    p, opt = _stepped(_ListState)
    sd = opt.state_dict()
    sd["param_groups"][0]["schedule"].append(0.25)
    sd["state"][0]["history"].append([99.0])
    sd["state"][0]["history"][0].append(98.0)
    assert opt.param_groups[0]["schedule"] == [1.0, 0.5]
    assert opt.state[p]["history"] == [[1.0]]
    _, momentum = _stepped(lambda ps: optim.SGDMomentum(ps, lr=0.1))
    assert "_work" in next(iter(momentum.state.values()))          # the scratch array exists
    assert set(momentum.state_dict()["state"][0]) == {"exp_avg"}   # but is not saved


def test_load_state_dict_keeps_copies_and_the_parameters_dtype():
    p, opt = _stepped(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9))
    sd = opt.state_dict()
    q = ag.tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    other = optim.SGD([q], lr=0.5, momentum=0.9)
    other.load_state_dict(sd)
    buffer = other.state[q]["momentum_buffer"]
    assert buffer.dtype == np.float32
    np.testing.assert_array_equal(buffer, [1.0, 1.0, 1.0])
    same_dtype = optim.SGD([_param()], lr=0.5, momentum=0.9)
    same_dtype.load_state_dict(sd)
    sd["state"][0]["momentum_buffer"][...] = 7.0                 # the saved dict changes later
    assert np.all(same_dtype.state[same_dtype.param_groups[0]["params"][0]]
                  ["momentum_buffer"] == 1.0)


def test_load_state_dict_copies_mutable_options_and_values_and_reads_tensors_and_scalars():
    _, opt = _stepped(_ListState)
    sd = opt.state_dict()
    sd["state"][0]["buffer"] = ag.tensor(np.array([1.0, 2.0, 3.0]))   # a Tensor value
    sd["state"][0]["count"] = np.array(3)                            # a 0-d array
    q = _param()
    other = _ListState([q])
    other.load_state_dict(sd)
    state = other.state[q]
    assert isinstance(state["buffer"], np.ndarray) and state["buffer"].tolist() == [1, 2, 3]
    assert state["count"] == 3 and isinstance(state["count"], int)
    sd["param_groups"][0]["schedule"].append(0.0)
    sd["state"][0]["history"].append([5.0])
    sd["state"][0]["history"][0].append(4.0)
    assert other.param_groups[0]["schedule"] == [1.0, 0.5] and state["history"] == [[1.0]]


def test_load_state_dict_errors_say_what_is_wrong():
    p, opt = _stepped(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9))
    sd = opt.state_dict()
    expected = "SGD.load_state_dict: expected a dict with 'state' and 'param_groups'"
    assert _refusal(lambda: opt.load_state_dict([sd])) == expected
    assert _refusal(lambda: opt.load_state_dict({"param_groups": sd["param_groups"]})) == expected
    assert _refusal(lambda: opt.load_state_dict({"state": {}})) == expected
    two = optim.SGD([_param(), _param()], lr=0.1, momentum=0.9)
    assert _refusal(lambda: two.load_state_dict(sd)) == (
        "SGD.load_state_dict: group 0 has 1 parameters in the state, 2 in the optimizer")
    stray = {"state": {5: sd["state"][0]}, "param_groups": sd["param_groups"]}
    assert _refusal(lambda: opt.load_state_dict(stray)) == (
        "SGD.load_state_dict: state for parameter 5, which no group lists")
    small = optim.SGD([ag.tensor(np.zeros(2), requires_grad=True)], lr=0.1, momentum=0.9)
    assert _refusal(lambda: small.load_state_dict(sd)) == (
        "SGD.load_state_dict: state 'momentum_buffer' has shape (3,), but its parameter has "
        "shape (2,)")


def test_repr_lists_each_groups_options_in_order():
    a, b = _param(), _param()
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    assert repr(opt) == "\n".join([
        "SGD (", "Parameter Group 0", "    dampening: 0.0", "    lr: 0.1", "    maximize: False",
        "    momentum: 0.9", "    nesterov: False", "    weight_decay: 0.0",
        "Parameter Group 1", "    dampening: 0.0", "    lr: 0.5", "    maximize: False",
        "    momentum: 0.9", "    nesterov: False", "    weight_decay: 0.0", ")"])


def test_an_optimizer_without_an_update_rule_says_so_at_its_first_step():
    class Unfinished(optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, dict(lr=0.1))

    p = _param()
    p.grad = ag.tensor(np.ones(3))
    with pytest.raises(NotImplementedError, match="^Unfinished must implement _update$"):
        Unfinished([p]).step()


# --- what a step keeps, and the rule a picture shows ----------------------------------------------
# PyTorch's state layout (FTRL: Keras's slots; SGDMomentum: the course's m), after two steps
STATE_KEYS = [
    ("SGD", {}, set()),
    ("SGD", dict(momentum=0.9), {"momentum_buffer"}),
    ("SGDMomentum", {}, {"exp_avg"}),
    ("Adagrad", {}, {"step", "sum"}),
    ("RMSprop", {}, {"step", "square_avg"}),
    ("RMSprop", dict(momentum=0.5), {"step", "square_avg", "momentum_buffer"}),
    ("RMSprop", dict(centered=True), {"step", "square_avg", "grad_avg"}),
    ("RMSprop", dict(centered=True, momentum=0.5),
     {"step", "square_avg", "grad_avg", "momentum_buffer"}),
    ("Adam", {}, {"step", "exp_avg", "exp_avg_sq"}),
    ("Adam", dict(amsgrad=True), {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    ("AdamW", {}, {"step", "exp_avg", "exp_avg_sq"}),
    ("Adadelta", {}, {"step", "square_avg", "acc_delta"}),
    ("Adamax", {}, {"step", "exp_avg", "exp_inf"}),
    ("NAdam", {}, {"step", "exp_avg", "exp_avg_sq", "mu_product"}),
    ("FTRL", {}, {"accumulator", "linear"}),
]


@pytest.mark.parametrize("name, options, keys", STATE_KEYS,
                         ids=[f"{n}{sorted(o)}" for n, o, _ in STATE_KEYS])
def test_the_state_a_step_keeps_is_pytorchs(name, options, keys):
    p = _param()
    opt = getattr(optim, name)([p], **options)
    _steps(opt, p, [[1.0, -2.0, 0.5], [0.5, 1.0, -1.0]])
    saved = opt.state_dict()["state"]
    assert set(saved.get(0, {})) == keys
    if "step" in keys:
        assert saved[0]["step"] == 2


@pytest.mark.parametrize("name", ["SGDMomentum", "Adadelta", "Adamax", "NAdam", "FTRL"])
def test_the_scratch_array_follows_the_parameters_dtype(name):
    p = _param()
    opt = getattr(optim, name)([p], lr=0.01)
    _steps(opt, p, [[1.0, -2.0, 0.5]])
    p.data = p.data.astype(np.float32)             # e.g. model.float() between steps
    p.grad = ag.tensor(np.array([1.0, -2.0, 0.5], dtype=np.float32))
    opt.step()
    assert opt.state[p]["_work"].dtype == np.float32 and p.dtype == np.float32


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "NAdam", "FTRL"])
def test_the_numpy_updates_make_at_most_one_temporary_array(name):
    import tracemalloc
    p = ag.tensor(np.ones(2 ** 16), dtype="float64", requires_grad=True)
    p.grad = ag.tensor(np.full(2 ** 16, 0.5))
    opt = getattr(optim, name)([p])
    opt.step()
    tracemalloc.start()
    try:
        opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * p.data.nbytes, peak / p.data.nbytes


# the formulas of the class docstrings, in the symbols of the terms
RULES = [
    ("SGD", {}, "wₜ₊₁ = wₜ − η·g"),
    ("SGD", dict(momentum=0.9), "wₜ₊₁ = wₜ − η·v"),
    ("SGD", dict(momentum=0.9, nesterov=True), "wₜ₊₁ = wₜ − η·(g + μ·v)"),
    ("SGDMomentum", {}, "wₜ₊₁ = wₜ − η·m"),
    ("Adagrad", {}, "wₜ₊₁ = wₜ − η·g/(√s + ε)"),
    ("Adagrad", dict(lr_decay=0.1), "wₜ₊₁ = wₜ − ηₜ·g/(√s + ε)"),
    ("RMSprop", {}, "wₜ₊₁ = wₜ − η·g/(√v + ε)"),
    ("RMSprop", dict(centered=True), "wₜ₊₁ = wₜ − η·g/(√(v − ḡ²) + ε)"),
    ("RMSprop", dict(momentum=0.5), "wₜ₊₁ = wₜ − η·b"),
    ("Adam", {}, "wₜ₊₁ = wₜ − η·m̂/(√v̂ + ε)"),
    ("AdamW", {}, "wₜ₊₁ = (1 − η·λ)·wₜ − η·m̂/(√v̂ + ε)"),
    ("Adadelta", {}, "wₜ₊₁ = wₜ − η·Δ"),
    ("Adamax", {}, "wₜ₊₁ = wₜ − η·m̂/u"),
    ("NAdam", {}, "wₜ₊₁ = wₜ − η·(1 − μₜ)/(1 − Πₜ)·g/(√v̂ + ε) − η·μₜ₊₁/(1 − Πₜ·μₜ₊₁)·m/(√v̂ + ε)"),
    ("FTRL", {}, "wₜ₊₁ = (clip(zₜ₊₁, −λ₁, λ₁) − zₜ₊₁)/q"),
]


@pytest.mark.parametrize("name, options, rule", RULES,
                         ids=[f"{n}{sorted(o)}" for n, o, _ in RULES])
def test_the_update_rule_a_picture_shows(name, options, rule):
    opt = getattr(optim, name)([_param()], **options)
    assert opt.update_rule(opt.param_groups[0]) == rule


# --- param groups, zero_grad, step ----------------------------------------------------------------
def test_param_group_errors_say_what_is_wrong():
    p, q = _param(), _param()
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(TypeError) as caught:
        opt.add_param_group(5)
    assert str(caught.value) == "SGD: a param group must be a dict, got int"
    assert _refusal(lambda: opt.add_param_group({"lr": 0.1})) == (
        "SGD: a param group needs a 'params' entry")
    assert _refusal(lambda: opt.add_param_group({"params": [q, p]})) == (
        "SGD: parameter 1 (shape (3,)) appears in more than one place; each parameter may "
        "belong to one group once")
    frozen = ag.tensor(np.ones(2))
    assert _refusal(lambda: opt.add_param_group({"params": [frozen]})) == (
        "SGD: parameter 0 (shape (2,)) does not require grad, so it can never be updated; set "
        "requires_grad=True")


def test_zero_grad_in_place_reaches_every_parameter_and_detaches():
    a, b, c = _param(), _param(), _param()
    opt = optim.SGD([a, b, c], lr=0.1)
    b.grad = ag.tensor(np.ones(3))
    c.grad = ag.tensor(np.full(3, 2.0), requires_grad=True)   # e.g. left by create_graph
    opt.zero_grad(set_to_none=False)
    assert a.grad is None
    np.testing.assert_array_equal(b.grad.numpy(), np.zeros(3))
    assert c.grad.requires_grad is False and c.grad.grad_fn is None
    np.testing.assert_array_equal(c.grad.numpy(), np.zeros(3))
    opt.zero_grad()
    assert a.grad is None and b.grad is None and c.grad is None


def test_step_without_a_closure_returns_none():
    p = _param()
    p.grad = ag.tensor(np.ones(3))
    assert optim.SGD([p], lr=0.1).step() is None


# --- the step as a picture reads it ---------------------------------------------------------------
def test_the_gradient_term_says_which_gradient_the_update_uses():
    def g_term(opt):
        terms = opt.update_terms(opt.param_groups[0])
        return (terms[0].symbol, terms[0].formula, terms[0].uses) if terms else None

    assert g_term(optim.SGD([_param()], lr=0.1)) is None                     # g is ∂J/∂w
    assert g_term(optim.SGD([_param()], lr=0.1, weight_decay=0.5)) == (
        "g", "g = ∂J/∂w + λ·wₜ", ("∂J/∂w", "wₜ"))
    assert g_term(optim.SGD([_param()], lr=0.1, maximize=True)) == ("g", "g = −∂J/∂w", ("∂J/∂w",))
    assert g_term(optim.SGD([_param()], lr=0.1, momentum=0.9, maximize=True,
                            weight_decay=0.5)) == ("g", "g = −∂J/∂w + λ·wₜ", ("∂J/∂w", "wₜ"))
    adamw = optim.AdamW([_param()], weight_decay=0.5)          # decoupled: g is ∂J/∂w
    assert [t.symbol for t in adamw.update_terms(adamw.param_groups[0])][0] == "m"


def test_the_options_a_picture_lists_are_those_its_formulas_use():
    def shown(opt):
        return opt.shown_options(opt.param_groups[0])

    assert shown(optim.SGD([_param()], lr=0.1, momentum=0.9, weight_decay=0.5)) == [
        ("lr", "η", 0.1), ("weight_decay", "λ", 0.5), ("momentum", "μ", 0.9)]
    assert shown(optim.SGD([_param()], lr=0.1, momentum=0.9, dampening=0.3)) == [
        ("lr", "η", 0.1), ("momentum", "μ", 0.9), ("dampening", "τ", 0.3)]
    assert shown(optim.Adam([_param()], lr=0.1, betas=(0.8, 0.9))) == [
        ("lr", "η", 0.1), ("eps", "ε", 1e-8), ("betas.0", "β₁", 0.8), ("betas.1", "β₂", 0.9)]
    assert shown(optim.FTRL([_param()], lr=0.1, l1_regularization_strength=0.01)) == [
        ("lr", "η", 0.1), ("learning_rate_power", "p", -0.5),
        ("initial_accumulator_value", "n₀", 0.1), ("l1_regularization_strength", "λ₁", 0.01),
        ("l2_regularization_strength", "λ₂", 0.0),
        ("l2_shrinkage_regularization_strength", "λ₂ₛ", 0.0), ("beta", "β", 0.0)]


def _after_one_step(name, **options):
    p = _param()
    opt = getattr(optim, name)([p], lr=0.1, **options)
    _steps(opt, p, [[1.0, -2.0, 0.5]])
    p.grad = ag.tensor(np.array([0.5, 0.5, -1.0]))
    return p, opt


def test_a_preview_changes_nothing_and_keeps_its_own_copies():
    p, opt = _after_one_step("SGD", momentum=0.9)
    buffer = opt.state[p]["momentum_buffer"].copy()                 # [1, −2, 0.5]
    (r,) = opt.record_step()
    np.testing.assert_array_equal(p.numpy(), P0 - 0.1 * np.array([1.0, -2.0, 0.5]))
    np.testing.assert_array_equal(opt.state[p]["momentum_buffer"], buffer)
    np.testing.assert_array_equal(r.state_before["momentum_buffer"], buffer)
    np.testing.assert_allclose(r.state["momentum_buffer"], 0.9 * buffer + [0.5, 0.5, -1.0])
    np.testing.assert_allclose(r.w_next, p.numpy() - 0.1 * r.state["momentum_buffer"])
    assert not np.shares_memory(r.g, p.grad.data) and not np.shares_memory(r.grad, p.grad.data)
    r.g[...] = 0.0
    np.testing.assert_array_equal(p.grad.numpy(), [0.5, 0.5, -1.0])


def test_an_applied_record_keeps_the_state_of_its_step():
    p, opt = _after_one_step("SGD", momentum=0.9)
    before = opt.state[p]["momentum_buffer"].copy()
    (r,) = opt.record_step(apply=True)
    after = opt.state[p]["momentum_buffer"].copy()
    np.testing.assert_array_equal(r.state_before["momentum_buffer"], before)
    np.testing.assert_array_equal(r.state["momentum_buffer"], after)
    np.testing.assert_array_equal(r.w_next, p.numpy())
    opt.step()                                                      # a later step
    np.testing.assert_array_equal(r.state["momentum_buffer"], after)
    np.testing.assert_array_equal(r.state_before["momentum_buffer"], before)


def test_record_step_refuses_a_closure():
    p, opt = _after_one_step("SGD")
    with pytest.raises(ValueError) as caught:
        opt.record_step(closure=lambda: None)
    assert str(caught.value) == (
        "SGD.record_step: closure is only for optimizers whose step computes its own "
        "gradients (Newton); set .grad by backward()")


def _terms(opt, record) -> dict:
    return {t.symbol: np.asarray(t.read(record), dtype=float)
            for t in opt.update_terms(opt.param_groups[0])}


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adams_bias_corrected_terms_give_the_step(amsgrad):
    """The m̂ and v̂ a picture shows are the ones the step used: wₜ₊₁ = wₜ − η·m̂/(√v̂ + ε),
    m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ) (vₘₐₓ with amsgrad), t after the step."""
    p = _param()
    opt = optim.Adam([p], lr=0.1, betas=(0.8, 0.7), eps=0.01, amsgrad=amsgrad)
    _steps(opt, p, [[1.0, -2.0, 0.5], [-3.0, 0.25, 2.0]])
    p.grad = ag.tensor(np.array([0.5, 0.5, -1.0]))
    (r,) = opt.record_step()
    t = _terms(opt, r)
    assert int(t["t"]) == 3
    v = r.state["max_exp_avg_sq"] if amsgrad else r.state["exp_avg_sq"]
    np.testing.assert_allclose(t["m̂"], r.state["exp_avg"] / (1 - 0.8 ** 3), rtol=1e-12)
    np.testing.assert_allclose(t["v̂"], v / (1 - 0.7 ** 3), rtol=1e-12)
    np.testing.assert_allclose(r.w_next, r.w - 0.1 * t["m̂"] / (np.sqrt(t["v̂"]) + 0.01),
                               rtol=1e-12)


def test_nadams_terms_give_the_step():
    """NAdam's picture: wₜ₊₁ = wₜ − η·(1 − μₜ)/(1 − Πₜ)·g/(√v̂ + ε)
    − η·μₜ₊₁/(1 − Πₜ·μₜ₊₁)·m/(√v̂ + ε), from the terms it shows."""
    p = _param()
    opt = optim.NAdam([p], lr=0.1, betas=(0.8, 0.7), eps=0.01)
    _steps(opt, p, [[1.0, -2.0, 0.5], [-3.0, 0.25, 2.0]])
    p.grad = ag.tensor(np.array([0.5, 0.5, -1.0]))
    (r,) = opt.record_step()
    t = _terms(opt, r)
    np.testing.assert_allclose(t["v̂"], r.state["exp_avg_sq"] / (1 - 0.7 ** 3), rtol=1e-12)
    mu, mu_next, product = t["μₜ"], t["μₜ₊₁"], t["Πₜ"]
    root = np.sqrt(t["v̂"]) + 0.01
    expected = (r.w - 0.1 * (1 - mu) / (1 - product) * r.g / root
                - 0.1 * mu_next / (1 - product * mu_next) * r.state["exp_avg"] / root)
    np.testing.assert_allclose(r.w_next, expected, rtol=1e-12)
