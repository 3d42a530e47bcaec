"""``optim.compile_step``: the compiled training step against the eager one.

Two copies of a network start from the same weights; one is trained by the eager step
(``zero_grad; loss_fn(model(x), y).backward(); step``), the other by the compiled step, on the
same batches. After every step the losses, parameters, ``.grad`` and optimizer state must be
equal: to 1e-12 in float64, to float32 rounding in float32. Also: dropout with a seed, a batch
size that changes mid-training, ``state_dict`` round trips between the two, refusals with their
messages, the generated source of the course's 2-3-2 network, and the same source run as plain
Python (``NUMBA_DISABLE_JIT=1``).
"""
from __future__ import annotations

import _thread
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim

ROOT = Path(__file__).resolve().parents[2]
#: tests that compile with Numba (each new generated source takes seconds to compile): the
#: others run the generated source as Python, with its kernels compiled (``compile._JIT``)
@pytest.fixture(autouse=True)
def _python_mode(monkeypatch):
    monkeypatch.setattr("optim.compile._JIT", False)


@pytest.fixture
def jit(monkeypatch):
    """Compile the generated step with Numba (autouse fixtures run first, so this wins)."""
    monkeypatch.setattr("optim.compile._JIT", True)
F64 = {"rtol": 1e-12, "atol": 1e-12}
F32 = {"rtol": 2e-5, "atol": 2e-6}


def _pair(make_model, make_opt, seed=0):
    models = []
    for _ in range(2):
        ag.manual_seed(seed)
        models.append(make_model())
    return [(m, make_opt(m.parameters())) for m in models]


def _eager_step(model, loss_fn, opt, x, y) -> float:
    opt.zero_grad()
    loss = loss_fn(model(ag.Tensor(x)), ag.Tensor(y))
    loss.backward()
    opt.step()
    return float(loss.data)


def _assert_same(eager, compiled, tol) -> None:
    (m1, o1), (m2, o2) = eager, compiled
    for (name, p1), p2 in zip(m1.named_parameters(), m2.parameters()):
        np.testing.assert_allclose(p2.data, p1.data, **tol, err_msg=name)
        assert (p1.grad is None) == (p2.grad is None), name
        if p1.grad is not None:
            np.testing.assert_allclose(p2.grad.data, p1.grad.data, **tol, err_msg=f"{name}.grad")
        s1, s2 = o1.state.get(p1, {}), o2.state.get(p2, {})
        assert sorted(k for k in s1 if not k.startswith("_")) == \
            sorted(k for k in s2 if not k.startswith("_"))
        for key, value in s1.items():
            if not key.startswith("_"):
                np.testing.assert_allclose(s2[key], value, **tol, err_msg=f"{name} {key}")


def _batches(n_in, n_out, dtype, steps, rows=6, labels=None, seed=3):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(steps):
        n = rows(i) if callable(rows) else rows
        x = rng.standard_normal((n, n_in)).astype(dtype)
        if labels:
            y = rng.integers(0, labels, n)
        else:
            y = rng.standard_normal((n, n_out)).astype(dtype)
        out.append((x, y))
    return out


def _run(make_model, make_opt, loss_fn, batches, tol, seed=0):
    eager, compiled = _pair(make_model, make_opt, seed)
    step = optim.compile_step(compiled[0], loss_fn, compiled[1])
    for x, y in batches:
        expected = _eager_step(*eager[:1], loss_fn, eager[1], x, y)
        got = step(x, y)
        assert isinstance(got, float)
        np.testing.assert_allclose(got, expected, **tol)
        _assert_same(eager, compiled, tol)
    return step, eager, compiled


def _mlp(activation, dtype="float64", sizes=(3, 5, 4, 2)):
    def make():
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b, dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(activation())
        return nn.Sequential(*layers)
    return make


OPTIMIZERS = {
    "sgd": lambda p: optim.SGD(p, lr=0.1),
    "sgd_momentum_dampening": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.3),
    "sgd_nesterov_decay": lambda p: optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True,
                                              weight_decay=0.01),
    "sgd_maximize": lambda p: optim.SGD(p, lr=0.01, maximize=True),
    "sgd_course_momentum": lambda p: optim.SGDMomentum(p, lr=0.1, beta=0.9),
    "adam": lambda p: optim.Adam(p, lr=0.01),
    "adam_amsgrad_decay": lambda p: optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1),
    "adamw": lambda p: optim.AdamW(p, lr=0.01, weight_decay=0.05),
    "rmsprop": lambda p: optim.RMSprop(p, lr=0.01),
    "rmsprop_centered_momentum": lambda p: optim.RMSprop(p, lr=0.01, centered=True,
                                                         momentum=0.5),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.01),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_matches_eager_in_float64(name):
    _run(_mlp(nn.Tanh), OPTIMIZERS[name], nn.MSELoss(), _batches(3, 2, np.float64, 5), F64)


@pytest.mark.parametrize("name", ["sgd", "sgd_course_momentum", "adam", "rmsprop"])
def test_float32_matches_eager_to_rounding(name):
    _run(_mlp(nn.ReLU, "float32"), OPTIMIZERS[name], nn.MSELoss(),
         _batches(3, 2, np.float32, 5), F32)


def test_the_traced_first_step_runs_numpys_kernels(monkeypatch):
    """Compiling the eager step's Numba kernels during the trace would be wasted work (the
    generated step compiles the ones it calls): the first call runs the numpy references."""
    from autograd_core.kernels import Kernel, linalg
    eager, compiled = _pair(_mlp(nn.Tanh, "float32"), OPTIMIZERS["adam"])
    (x, y), = _batches(3, 2, np.float32, 1)
    expected = _eager_step(*eager[:1], nn.MSELoss(), eager[1], x, y)

    def refuse(*args):
        raise AssertionError("a compiled kernel ran in the traced step")
    monkeypatch.setattr(Kernel, "run", refuse)
    monkeypatch.setattr(linalg, "_dispatchers", (refuse, refuse))
    step = optim.compile_step(compiled[0], nn.MSELoss(), compiled[1])
    np.testing.assert_allclose(step(x, y), expected, **F32)
    _assert_same(eager, compiled, F32)


def _sum_of_flat(array):
    return _FLAT(array).sum()          # noqa: F821 (the test below sets the global)


def test_a_step_compiled_by_numba_does_not_optimize_its_kernels_again(monkeypatch):
    """The step's own library runs Numba's cheap module passes only (optim/_jit.py): the
    functions linked into it keep the code of their own O3 pass, and results do not change."""
    import numba

    from autograd_core.kernels import views
    from optim._jit import StepCompiler, _cheap_module_passes
    monkeypatch.setitem(_sum_of_flat.__globals__, "_FLAT", views.flat.dispatcher())
    compiled = numba.njit(pipeline_class=StepCompiler)(_sum_of_flat)   # no cache: compiled here
    assert compiled(np.arange(6.0).reshape(2, 3)) == 15.0
    library = compiled.overloads[compiled.signatures[0]].library
    assert library._optimize_final_module.func is _cheap_module_passes
    assert library._optimize_final_module.args == (library,)


def test_the_generated_step_takes_its_views_through_cached_helpers():
    step, _, _ = _run(_mlp(nn.Tanh), OPTIMIZERS["adam"], nn.MSELoss(),
                      _batches(3, 2, np.float64, 2), F64)
    assert "a1 = shaped(work, 0, (" in step.source and "adam(flat(W1), flat(dW1)" in step.source
    assert ".reshape(" not in step.source and ".ravel()" not in step.source
    # compiled for the ranks of the step's arrays only (losses (1,), the others 2-D)
    assert "shaped = _views.shaped.dispatcher(_views.shaped_signatures(F, (1, 2)))" in step.source


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sgd_nesterov_decay", "sgd_course_momentum",
                                  "adam_amsgrad_decay", "adamw", "rmsprop_centered_momentum",
                                  "adagrad"])
def test_each_optimizer_family_compiled_with_numba(name, jit):
    step, _, _ = _run(_mlp(nn.Tanh), OPTIMIZERS[name], nn.MSELoss(),
                      _batches(3, 2, np.float64, 4), F64)
    assert hasattr(next(iter(step._programs.values())).fn, "signatures")      # a dispatcher


@pytest.mark.slow
def test_every_activation_and_the_bce_loss_compiled_with_numba(jit):
    def make():
        sizes = [3] + [4] * len(ACTIVATIONS) + [2]
        layers = []
        for i, name in enumerate(sorted(ACTIVATIONS)):
            layers += [nn.Linear(sizes[i], sizes[i + 1], dtype="float64"), ACTIVATIONS[name]()]
        return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1], dtype="float64"))
    rng = np.random.default_rng(2)
    batches = [(x, (rng.random(y.shape) > 0.5).astype(np.float64))
               for x, y in _batches(3, 2, np.float64, 3)]
    _run(make, OPTIMIZERS["adam"], nn.BCEWithLogitsLoss(), batches, F64)


ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
               "leaky_relu": lambda: nn.LeakyReLU(0.2), "elu": lambda: nn.ELU(0.7),
               "selu": nn.SELU, "softplus": lambda: nn.Softplus(1.5), "silu": nn.SiLU,
               "gelu": nn.GELU}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_matches_eager(name):
    _run(_mlp(ACTIVATIONS[name]), OPTIMIZERS["adam"], nn.MSELoss(),
         _batches(3, 2, np.float64, 4), F64)


@pytest.mark.parametrize("loss", ["mse_sum", "ce_labels", "ce_sum", "ce_probabilities",
                                  "bce_logits", "squared_error", "squared_error_sum"])
def test_every_loss_matches_eager(loss):
    rng = np.random.default_rng(9)
    if loss.startswith("ce"):
        batches = _batches(3, 2, np.float64, 4, labels=2)
        if loss == "ce_probabilities":
            batches = [(x, np.eye(2)[y] * 0.7 + 0.15) for x, y in batches]
        fn = nn.CrossEntropyLoss(reduction="sum" if loss == "ce_sum" else "mean")
    elif loss == "bce_logits":
        batches = [(x, (rng.random(y.shape) > 0.5).astype(np.float64))
                   for x, y in _batches(3, 2, np.float64, 4)]
        fn = nn.BCEWithLogitsLoss()
    elif loss.startswith("squared_error"):               # the course's ½‖y − t‖²
        batches = _batches(3, 2, np.float64, 4)
        fn = nn.SquaredError(reduction="sum" if loss.endswith("sum") else "mean")
    else:
        batches, fn = _batches(3, 2, np.float64, 4), nn.MSELoss(reduction="sum")
    _run(_mlp(nn.Sigmoid), OPTIMIZERS["sgd_momentum_dampening"], fn, batches, F64)


def test_dropout_draws_the_same_masks_as_eager_from_the_same_seed(jit):
    def make():
        return nn.Sequential(nn.Linear(3, 16, dtype="float64"), nn.ReLU(), nn.Dropout(0.4),
                             nn.Linear(16, 8, dtype="float64"), nn.Tanh(), nn.Dropout(0.25),
                             nn.Linear(8, 2, dtype="float64"))
    batches = _batches(3, 2, np.float64, 5)
    eager, compiled = _pair(make, OPTIMIZERS["sgd"])
    step = optim.compile_step(compiled[0], nn.MSELoss(), compiled[1])
    ag.manual_seed(123)
    expected = [_eager_step(eager[0], nn.MSELoss(), eager[1], x, y) for x, y in batches]
    ag.manual_seed(123)
    got = [step(x, y) for x, y in batches]
    np.testing.assert_allclose(got, expected, **F64)
    _assert_same(eager, compiled, F64)
    assert "dropout" in step.source and "m2" in step.source


def test_a_batch_with_a_label_the_compiled_step_refuses_draws_each_mask_once():
    """The labels are checked before the masks are drawn: the eager step that takes the
    batch draws them, and the next compiled steps' masks are still eager's."""
    def make():
        return nn.Sequential(nn.Linear(3, 16, dtype="float64"), nn.ReLU(), nn.Dropout(0.4),
                             nn.Linear(16, 3, dtype="float64"))
    batches = _batches(3, 3, np.float64, 5, labels=3)
    batches[2][1][0] = -100                                      # ignore_index: eager only
    eager, compiled = _pair(make, OPTIMIZERS["sgd"])
    step = optim.compile_step(compiled[0], nn.CrossEntropyLoss(), compiled[1])
    ag.manual_seed(7)
    expected = [_eager_step(eager[0], nn.CrossEntropyLoss(), eager[1], x, y) for x, y in batches]
    ag.manual_seed(7)
    np.testing.assert_allclose([step(x, y) for x, y in batches], expected, **F64)
    _assert_same(eager, compiled, F64)


def test_a_new_batch_size_compiles_again_and_eager_steps_mix_in(jit):
    rows = [8, 8, 3, 8, 3, 5]
    batches = _batches(3, 2, np.float32, len(rows), rows=lambda i: rows[i], labels=2)
    step, eager, compiled = _run(_mlp(nn.ReLU, "float32"), OPTIMIZERS["adam"],
                                 nn.CrossEntropyLoss(), batches, F32)
    assert len(step._programs) == 3
    x, y = batches[0]                       # an eager step on the compiled model, then compiled
    _eager_step(compiled[0], nn.CrossEntropyLoss(), compiled[1], x, y)
    _eager_step(eager[0], nn.CrossEntropyLoss(), eager[1], x, y)
    for _ in range(2):
        expected = _eager_step(eager[0], nn.CrossEntropyLoss(), eager[1], x, y)
        np.testing.assert_allclose(step(x, y), expected, **F32)
    _assert_same(eager, compiled, F32)


def test_state_dict_round_trips_between_compiled_and_eager():
    batches = _batches(3, 2, np.float64, 6)
    loss_fn = nn.MSELoss()
    step, eager, compiled = _run(_mlp(nn.Tanh), OPTIMIZERS["adam"], loss_fn, batches[:3], F64)
    # compiled → eager: a fresh model and optimizer loaded from the compiled run's state
    ag.manual_seed(99)
    fresh = _mlp(nn.Tanh)()
    fresh_opt = OPTIMIZERS["adam"](fresh.parameters())
    fresh.load_state_dict(compiled[0].state_dict())
    fresh_opt.load_state_dict(compiled[1].state_dict())
    # eager → compiled: the compiled run continues from the eager run's state
    compiled[0].load_state_dict(eager[0].state_dict())
    compiled[1].load_state_dict(eager[1].state_dict())
    for x, y in batches[3:]:
        a = _eager_step(fresh, loss_fn, fresh_opt, x, y)
        b = step(x, y)
        c = _eager_step(eager[0], loss_fn, eager[1], x, y)
        np.testing.assert_allclose([a, b], [c, c], **F64)
    _assert_same(eager, compiled, F64)
    _assert_same(eager, (fresh, fresh_opt), F64)


def test_a_learning_rate_changed_between_steps_is_used():
    batches = _batches(3, 2, np.float64, 4)
    eager, compiled = _pair(_mlp(nn.Tanh), OPTIMIZERS["sgd_momentum_dampening"])
    step = optim.compile_step(compiled[0], nn.MSELoss(), compiled[1])
    for i, (x, y) in enumerate(batches):
        for _, opt in (eager, compiled):
            opt.param_groups[0]["lr"] = 0.1 / (i + 1)
        np.testing.assert_allclose(step(x, y), _eager_step(*eager[:1], nn.MSELoss(), eager[1],
                                                           x, y), **F64)
    _assert_same(eager, compiled, F64)


# --- buffers: allocated once per signature, gradients handed over as eager does -----------------
def test_buffers_are_allocated_once_and_reused_while_nobody_holds_them(jit):
    batches = _batches(3, 2, np.float32, 4, labels=2)
    step, eager, compiled = _run(_mlp(nn.Tanh, "float32"), OPTIMIZERS["adam"],
                                 nn.CrossEntropyLoss(), batches[:2], F32)
    program = next(iter(step._programs.values()))
    work, kept = id(program.work), id(program.gradients.kept)
    grads = [id(p.grad) for p in compiled[0].parameters()]
    for x, y in batches[2:]:
        np.testing.assert_allclose(step(x, y), _eager_step(eager[0], nn.CrossEntropyLoss(),
                                                           eager[1], x, y), **F32)
        _assert_same(eager, compiled, F32)
    assert (id(program.work), id(program.gradients.kept)) == (work, kept)
    assert [id(p.grad) for p in compiled[0].parameters()] == grads
    assert "return J\n" in step.source and "np.empty" not in step.source


def test_gradients_and_outputs_kept_by_the_caller_stay_as_they_were():
    """Eager's zero_grad() + backward() give every step a new .grad and leave the old one
    alone; so does the compiled step, although it writes its gradients into reused arrays: a
    kept .grad Tensor, its array, a view of it, or last_output are not overwritten."""
    batches = _batches(3, 2, np.float64, 4)
    step, eager, compiled = _run(_mlp(nn.Sigmoid), OPTIMIZERS["sgd"], nn.MSELoss(), batches[:2],
                                 F64)
    w, b = compiled[0][0].weight, compiled[0][0].bias
    for x, y in batches[2:]:
        expected = [p.grad.data.copy() for p in eager[0].parameters()][:2] + \
            [eager[0](ag.Tensor(x)).data]
        held = (w.grad, b.grad.data[1:], step.last_output)
        values = [np.array(h.data if isinstance(h, ag.Tensor) else h) for h in held]
        np.testing.assert_allclose(step(x, y), _eager_step(eager[0], nn.MSELoss(), eager[1],
                                                           x, y), **F64)
        _assert_same(eager, compiled, F64)
        assert w.grad is not held[0]
        for h, value in zip(held, values):
            np.testing.assert_array_equal(h.data if isinstance(h, ag.Tensor) else h, value)
        np.testing.assert_allclose(held[0].data, expected[0], **F64)
        np.testing.assert_allclose(held[1], expected[1][1:], **F64)
        np.testing.assert_allclose(step.last_output, expected[2], **F64)
        del held


@pytest.mark.parametrize("borrowed", [0, 1])
def test_kept_gradients_are_found_however_the_interpreter_counts_references(monkeypatch,
                                                                            borrowed):
    """Python 3.14 may borrow getrefcount's argument (a count one lower): a held .grad, its
    array or a view of it is still found, and with nothing held the arrays are still reused."""
    import optim.compile as compile_module
    counts = sys.getrefcount          # (the lambda's own argument adds one reference: less it)
    monkeypatch.setattr(compile_module.sys, "getrefcount",
                        lambda obj: counts(obj) - 1 - borrowed)
    batches = _batches(3, 2, np.float64, 6)
    step, eager, compiled = _run(_mlp(nn.Sigmoid), OPTIMIZERS["sgd"], nn.MSELoss(), batches[:2],
                                 F64)
    program = next(iter(step._programs.values()))
    w = compiled[0][0].weight
    holds = (lambda: w.grad, lambda: w.grad.data, lambda: w.grad.data[1:], lambda: None)
    for hold, (x, y) in zip(holds, batches[2:]):
        kept, held = id(program.gradients.kept), hold()     # an id: holding kept would count
        before = None if held is None else np.array(getattr(held, "data", held))
        step(x, y)
        if held is None:
            assert id(program.gradients.kept) == kept                 # nobody held it: reused
        else:
            assert id(program.gradients.kept) != kept
            np.testing.assert_array_equal(getattr(held, "data", held), before)
        del held


def test_a_gradient_held_after_an_eager_step_replaced_it_is_not_overwritten():
    """.grad replaced (here by an eager step) while the caller holds the compiled step's last
    Tensor: that Tensor is the caller's alone now, and stays as it was."""
    batches = _batches(3, 2, np.float64, 4)
    step, eager, compiled = _run(_mlp(nn.Sigmoid), OPTIMIZERS["sgd"], nn.MSELoss(), batches[:2],
                                 F64)                          # traced, then compiled
    model, opt = compiled
    held = model[0].weight.grad                                # the compiled step's Tensor
    assert held.data.base is step._last_program.gradients.kept
    before = held.data.copy()
    _eager_step(model, nn.MSELoss(), opt, *batches[2])         # .grad is a new Tensor now
    assert model[0].weight.grad is not held
    step(*batches[3])
    np.testing.assert_array_equal(held.data, before)


def test_a_gradient_array_held_after_zero_grad_is_not_overwritten():
    """zero_grad() sets every .grad to None, which drops references the step counts on, while
    the caller holds one gradient array: the one reference less must not hide the one more."""
    batches = _batches(3, 2, np.float64, 4)
    step, eager, compiled = _run(_mlp(nn.Sigmoid), OPTIMIZERS["sgd"], nn.MSELoss(), batches[:2],
                                 F64)
    model, opt = compiled
    held = model[0].weight.grad.data                           # a view of the step's buffer
    before = held.copy()
    opt.zero_grad()
    assert model[0].weight.grad is None
    step(*batches[2])
    np.testing.assert_array_equal(held, before)
    assert model[0].weight.grad.data is not held


# --- batch normalization -------------------------------------------------------------------------
def _normed(dtype="float64", momentum=0.1, affine_last=False):
    """Linear → BatchNorm → ReLU → Linear → BatchNorm (affine or not) → Tanh → Linear.

    NOTE: the Linear layers before a batch norm have no bias: its gradient would be 0 up to
    rounding (the norm subtracts the mean), and Adam divides such noise by its own size."""
    def make():
        return nn.Sequential(nn.Linear(3, 5, bias=False, dtype=dtype),
                             nn.BatchNorm1d(5, dtype=dtype, momentum=momentum),
                             nn.ReLU(), nn.Linear(5, 4, bias=False, dtype=dtype),
                             nn.BatchNorm1d(4, momentum=momentum, affine=affine_last,
                                            dtype=dtype),
                             nn.Tanh(), nn.Linear(4, 2, dtype=dtype))
    return make


def _assert_same_buffers(eager, compiled, tol) -> None:
    buffers = dict(compiled[0].named_buffers())
    assert buffers, "the model has batch norms"
    for name, b1 in eager[0].named_buffers():
        np.testing.assert_allclose(buffers[name].data, b1.data, **tol, err_msg=name)
        assert buffers[name].dtype == b1.dtype, name


def _run_normed(make, opt, batches, tol, step=None, pair=None):
    eager, compiled = pair or _pair(make, OPTIMIZERS[opt])
    step = step or optim.compile_step(compiled[0], nn.MSELoss(), compiled[1])
    for x, y in batches:
        expected = _eager_step(eager[0], nn.MSELoss(), eager[1], x, y)
        np.testing.assert_allclose(step(x, y), expected, **tol)
        _assert_same(eager, compiled, tol)
        _assert_same_buffers(eager, compiled, tol)
    return step, (eager, compiled)


@pytest.mark.parametrize("dtype, tol", [("float64", F64), ("float32", F32)])
@pytest.mark.parametrize("opt", ["sgd_momentum_dampening", "adam"])
def test_batch_norm_in_training_matches_eager(dtype, tol, opt):
    """Batch statistics forward and backward, running mean and variance (unbiased) updated in
    place, num_batches_tracked counted: all as the eager step, over several steps."""
    step, _ = _run_normed(_normed(dtype), opt, _batches(3, 2, np.dtype(dtype), 5, rows=7), tol)
    assert "rm1 *= F(1.0 - bn1_momentum)" in step.source
    assert "rv2 += var5 * F(1.1666666666666667) * F(bn2_momentum)" in step.source


def test_batch_norm_cumulative_average_and_evaluation_mode():
    """momentum=None averages the running statistics over all batches (1/t for the t-th); in
    evaluation mode they normalize (read, not written), and back in training a new program."""
    step, pairs = _run_normed(_normed(momentum=None, affine_last=True), "adam",
                              _batches(3, 2, np.float64, 3), F64)
    eager, compiled = pairs
    assert int(compiled[0][1].num_batches_tracked.data) == 3
    for model, _ in pairs:
        model.eval()
    _run_normed(None, None, _batches(3, 2, np.float64, 3, seed=4), F64, step, pairs)
    assert "inv2 = F(1.0) / np.sqrt(rv1 + F(bn1_eps))" in step.source
    assert "rm1 *=" not in step.source
    compiled[0][4].train()                     # one module back in training: a new signature
    eager[0][4].train()
    _run_normed(None, None, _batches(3, 2, np.float64, 2, seed=5), F64, step, pairs)
    assert len(step._programs) == 3


def test_batch_norm_of_the_input_and_without_running_statistics(jit):
    """A batch norm of x itself (no δ to send back) and one that keeps no running statistics
    (batch statistics in both modes), compiled with Numba, in float32."""
    def make():
        return nn.Sequential(nn.BatchNorm1d(3), nn.Linear(3, 6), nn.Sigmoid(),
                             nn.BatchNorm1d(6, track_running_stats=False), nn.Linear(6, 2))
    step, _ = _run_normed(make, "sgd_nesterov_decay", _batches(3, 2, np.float32, 4), F32)
    assert hasattr(next(iter(step._programs.values())).fn, "signatures")     # a dispatcher
    backward = step.source.split("# --- backward")[1]
    assert backward.count("x feeds x − μ, μ and σ²") == 1
    assert "np.multiply(da1, gamma1, dxh1)" not in backward        # no δx̂ for the input x


# --- Ctrl-C: all or nothing, as Optimizer.step ---------------------------------------------------
def _state(model, opt) -> dict:
    """Everything a step changes: parameters, buffers, optimizer state (not .grad)."""
    state = {f"model.{k}": np.array(v) for k, v in model.state_dict().items()}
    for i, p in enumerate(model.parameters()):
        for key, value in opt.state.get(p, {}).items():
            if not key.startswith("_"):
                state[f"opt.{i}.{key}"] = np.array(value)
    return state


def _interrupted_step(at_line: int, wrap_call: bool) -> tuple:
    """A fresh model's third step (the second compiled one), with Ctrl-C (``interrupt_main``)
    at the ``at_line``-th line run in optim/compile.py or the generated code — or, with
    ``wrap_call``, right after the compiled function returns, as if it came during it.
    Returns (state before, state after, gradients after, whether KeyboardInterrupt came)."""
    ag.manual_seed(0)
    model = _normed()()
    opt = OPTIMIZERS["adam"](model.parameters())
    step = optim.compile_step(model, nn.MSELoss(), opt)
    (x, y), = _batches(3, 2, np.float64, 1)
    step(x, y)
    step(x, y)
    before = _state(model, opt)
    program = next(iter(step._programs.values()))
    if wrap_call:
        real = program.fn

        def interrupted_during(*args):
            loss = real(*args)
            _thread.interrupt_main()
            return loss
        program.fn = interrupted_during
    lines = [0]

    def tracer(frame, event, arg):
        name = frame.f_code.co_filename
        if "neurona_step_" not in name and not name.endswith(os.path.join("optim", "compile.py")):
            return None
        if event == "line":
            lines[0] += 1
            if lines[0] == at_line:
                _thread.interrupt_main()
        return tracer
    came = False
    try:
        sys.settrace(None if wrap_call else tracer)
        step(x, y)
        sys.settrace(None)
        for _ in range(5):                              # a late Ctrl-C lands here
            pass
    except KeyboardInterrupt:
        sys.settrace(None)
        came = True
    return before, _state(model, opt), [p.grad.data.copy() for p in model.parameters()], came


@pytest.mark.slow
@pytest.mark.parametrize("jit_on", [False, True])
def test_ctrl_c_at_any_moment_of_a_compiled_step_is_all_or_nothing(jit_on, monkeypatch):
    """Ctrl-C at every line of the compiled step (the Python around the compiled call, and
    the generated function itself when it runs as Python), and during the compiled call: the
    step then either changed nothing or completed — parameters, Adam's moments and step
    counts, batch norm's running statistics and batch count, .grad — as Optimizer.step."""
    monkeypatch.setattr("optim.compile._JIT", jit_on)
    before, after, grads, came = _interrupted_step(10 ** 9, wrap_call=False)
    assert not came and any(not np.array_equal(after[k], before[k]) for k in before)
    outcomes = {"nothing": 0, "all": 0}
    cases = [(None, True)] + [(line, False) for line in range(1, 10 ** 4)]
    for line, wrap in cases:
        start, end, got_grads, came = _interrupted_step(line, wrap)
        if not came:
            break
        if all(np.array_equal(end[k], start[k]) for k in start):
            outcomes["nothing"] += 1
            continue
        outcomes["all"] += 1
        for k in after:
            np.testing.assert_array_equal(end[k], after[k], err_msg=f"line {line}: {k}")
        for g, want in zip(got_grads, grads):
            np.testing.assert_array_equal(g, want, err_msg=f"line {line}: .grad")
    assert outcomes["nothing"] > 3 and outcomes["all"] > 3, outcomes


# --- refusals -------------------------------------------------------------------------------------
class _Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 2, dtype="float64")

    def forward(self, x):
        out = self.layer(x)
        if out.sum() > 0:                          # a Python branch on the data
            return out.tanh()
        return out


def _refused(model, opt=None, loss_fn=None):
    opt = opt or optim.SGD(model.parameters(), lr=0.1)
    step = optim.compile_step(model, loss_fn or nn.MSELoss(), opt)
    x, y = _batches(3, 2, np.float64, 1)[0]
    step(x, y)


def test_refusals_name_the_op_or_feature():
    model = _mlp(nn.Tanh)()
    model[0].register_forward_hook(lambda module, inputs, out: None)
    with pytest.raises(optim.CompileError, match=r"module 0 \(Linear\) has a forward hook"):
        _refused(model)
    model = _mlp(nn.Tanh)()
    model[0].weight.register_hook(lambda g: g)
    with pytest.raises(optim.CompileError, match="gradient hook"):
        _refused(model)
    model = nn.Sequential(nn.Linear(3, 2, dtype="float64",
                                    activity_regularizer=nn.regularizers.L2(0.1)))
    with pytest.raises(optim.CompileError, match="activity_regularizer"):
        _refused(model)
    model = nn.Sequential(nn.Linear(3, 2, dtype="float64"), nn.Softmax(dim=-1))
    with pytest.raises(optim.CompileError, match="op 'softmax'.*no compilable form"):
        _refused(model)
    with pytest.raises(optim.CompileError, match="reads tensor values into Python"):
        _refused(_Branchy())
    model = _mlp(nn.Tanh)()
    with pytest.raises(optim.CompileError, match="optimizer Adadelta has no compiled update"):
        _refused(model, optim.Adadelta(model.parameters()))
    model = nn.Sequential(nn.BatchNorm1d(3, dtype="float64"))
    step = optim.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(optim.CompileError, match=r"BatchNorm1d\(3\) on an input of shape "
                                                 r"\(4, 3, 2\)"):
        step(np.ones((4, 3, 2)), np.ones((4, 3, 2)))


def test_fallback_warns_once_and_runs_the_eager_step():
    def make():
        return nn.Sequential(nn.Linear(3, 4, dtype="float64"), nn.Softmax(dim=-1),
                             nn.Linear(4, 2, dtype="float64"))
    eager, compiled = _pair(make, OPTIMIZERS["sgd"])
    step = optim.compile_step(compiled[0], nn.MSELoss(), compiled[1], fallback=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for x, y in _batches(3, 2, np.float64, 3):
            np.testing.assert_allclose(step(x, y), _eager_step(eager[0], nn.MSELoss(),
                                                               eager[1], x, y), **F64)
    assert len(caught) == 1 and "softmax" in str(caught[0].message)
    _assert_same(eager, compiled, F64)
    with pytest.raises(RuntimeError, match="nothing compiled yet"):
        _ = step.source


# --- the course's 2-3-2 network: the source reads as its delta formulas ---------------------------
RULES_232 = ["Unit 1", "Derivative L'", "Derivative ψ'", "Double weighted output",
             "Constant output", "Derivative ψ'", "Double weighted output", "Constant output"]


def _course_232():
    model = nn.Sequential(nn.Linear(2, 3, dtype="float64"), nn.Sigmoid(),
                          nn.Linear(3, 2, dtype="float64"), nn.Sigmoid())
    model[0].weight.data[...] = [[1.0, -2.0], [0.0, 1.0], [3.0, 4.0]]
    model[2].weight.data[...] = [[6.0, -2.0, 1.0], [5.0, -3.0, 2.0]]
    model[0].bias.data[...] = [0.1, -0.2, 0.3]
    model[2].bias.data[...] = [-0.5, 0.25]
    return model


def test_source_of_the_course_232_network_names_the_rules_in_order():
    model = _course_232()
    step = optim.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    x = np.array([[0.5, -0.25], [1.0, 0.5], [-0.3, 0.2]])
    t = np.array([[0.8, 0.2], [0.1, 0.9], [0.5, 0.5]])
    step(x, t)
    source = step.source
    backward = source.split("# --- backward")[1].split("# --- optimizer")[0]
    rules = [line.strip()[2:].split(" / ")[0] for line in backward.splitlines()
             if line.strip().startswith("# ")]
    assert rules == RULES_232
    for es in ("Unidad 1", "Derivada L'", "Derivada ψ'", "Salida ponderada doble",
               "Salida constante"):
        assert es in backward
    assert "sigmoid_backward" not in backward          # fused: ψ' inside linear_backward
    assert backward.index("dW2") < backward.index("dW1")
    compile(source, "<step>", "exec")                   # plain, valid Python


def test_source_shows_as_highlighted_python_in_jupyter():
    """``step.source`` is a str (print, split, ``in``) whose Markdown form is one fenced Python
    block holding exactly the code: what Jupyter renders with highlighting."""
    model = _course_232()
    step = optim.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    step(np.array([[0.5, -0.25], [1.0, 0.5]]), np.array([[0.8, 0.2], [0.1, 0.9]]))
    source = step.source
    assert isinstance(source, str) and str(source) == source
    markdown = source._repr_markdown_()
    first, *body, last = markdown.split("\n")
    assert (first, last) == ("```python", "```")
    assert "\n".join(body) == source.rstrip()
    IPython = pytest.importorskip("IPython.core.formatters")
    shown, _ = IPython.DisplayFormatter().format(source)
    assert shown["text/markdown"] == markdown
    tricky = optim.codegen.Source("x = '```'\n")
    assert tricky._repr_markdown_() == "````python\nx = '```'\n````"


_PLAIN_PYTHON_RUN = """
import json, numpy as np, nn, optim, sys
sys.path.insert(0, {tests!r})
from test_compile import _course_232
model = _course_232()
step = optim.compile_step(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=0.1))
x = np.array([[0.5, -0.25], [1.0, 0.5], [-0.3, 0.2]])
t = np.array([[0.8, 0.2], [0.1, 0.9], [0.5, 0.5]])
losses = [step(x, t) for _ in range(4)]
print(json.dumps({{"losses": losses, "params": [p.data.tolist() for p in model.parameters()]}}))
"""


def _run_in_process(disable_jit: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_DISABLE_JIT="1" if disable_jit else "0")
    code = _PLAIN_PYTHON_RUN.format(tests=str(Path(__file__).parent))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_source_run_as_plain_python_gives_the_same_results():
    plain = _run_in_process(disable_jit=True)
    model = _course_232()
    opt = optim.Adam(model.parameters(), lr=0.1)
    x = np.array([[0.5, -0.25], [1.0, 0.5], [-0.3, 0.2]])
    t = np.array([[0.8, 0.2], [0.1, 0.9], [0.5, 0.5]])
    eager = [_eager_step(model, nn.MSELoss(), opt, x, t) for _ in range(4)]
    np.testing.assert_allclose(plain["losses"], eager, **F64)
    for got, p in zip(plain["params"], model.parameters()):
        np.testing.assert_allclose(got, p.data, **F64)


# --- fit ------------------------------------------------------------------------------------------
def test_fit_compile_true_gives_the_eager_history():
    X = np.random.default_rng(0).standard_normal((50, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    histories, models = [], []
    for compiled in (False, True):
        ag.manual_seed(0)
        model = _mlp(nn.ReLU)()
        opt = optim.SGD(model.parameters(), lr=0.2, momentum=0.5)
        history = optim.fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=3, batch_size=16,
                            seed=1, verbose=False, compile=compiled)
        histories.append(history.history)
        models.append(model)
    for key in histories[0]:
        np.testing.assert_allclose(histories[1][key], histories[0][key], **F64, err_msg=key)
    for p1, p2 in zip(models[0].parameters(), models[1].parameters()):
        np.testing.assert_allclose(p2.data, p1.data, **F64)


def test_fit_compile_refuses_regularizers():
    model = nn.Sequential(nn.Linear(3, 2, dtype="float64",
                                    kernel_regularizer=nn.regularizers.L2(0.1)))
    X, y = np.zeros((4, 3)), np.zeros(4, np.int64)
    with pytest.raises(optim.CompileError, match="regularizer"):
        optim.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y),
                  epochs=1, verbose=False, compile=True)


def test_labels_the_compiled_step_cannot_take_run_the_eager_step():
    batches = _batches(3, 2, np.float64, 3, labels=2)
    step, eager, compiled = _run(_mlp(nn.Tanh), OPTIMIZERS["sgd"], nn.CrossEntropyLoss(),
                                 batches, F64)
    x, y = batches[0]
    ignored = y.copy()
    ignored[1] = -100                                    # ignore_index: eager's weighted path
    expected = _eager_step(eager[0], nn.CrossEntropyLoss(), eager[1], x, ignored)
    np.testing.assert_allclose(step(x, ignored), expected, **F64)
    _assert_same(eager, compiled, F64)
    bad = y.copy()
    bad[0] = 7
    with pytest.raises(ValueError, match="label 7 is out of range for 2 classes"):
        step(x, bad)


# --- live arrays the generated code cannot take as they are: the eager step runs instead -------
def _replace_after_two_steps(change):
    """Both models take two steps, then ``change(model, optimizer)`` is applied to each; the
    compiled step must then do exactly what the eager step does."""
    batches = _batches(3, 2, np.float64, 4)
    step, eager, compiled = _run(_mlp(nn.Tanh), OPTIMIZERS["adam"], nn.MSELoss(), batches[:2],
                                 F64)
    for model, opt in (eager, compiled):
        change(model, opt)
    for x, y in batches[2:]:
        expected = _eager_step(eager[0], nn.MSELoss(), eager[1], x, y)
        np.testing.assert_allclose(step(x, y), expected, **F64)
        _assert_same(eager, compiled, F64)


@pytest.mark.parametrize("change", [
    # a transposed copy (Fortran order): ravel() made a copy and every update was lost
    lambda m, o: setattr(m[0].weight, "data", np.asfortranarray(m[0].weight.data)),
    # a strided view of a larger array: the same
    lambda m, o: setattr(m[0].weight, "data", np.repeat(m[0].weight.data, 2, axis=1)[:, ::2]),
    # an optimizer buffer in Fortran order: the moment was updated in a copy
    lambda m, o: o.state[m[0].weight].update(exp_avg=np.asfortranarray(
        o.state[m[0].weight]["exp_avg"])),
])
def test_a_parameter_or_buffer_the_code_would_copy_takes_the_eager_step(change):
    _replace_after_two_steps(change)


def test_a_parameter_or_buffer_of_another_shape_or_dtype_is_refused_as_eager_refuses_it():
    """What the eager step raises (by name), the compiled step raises too — never a bare Numba
    error, and never a kernel writing past the end of a smaller buffer."""
    batches = _batches(3, 2, np.float64, 3)
    changes = [
        (lambda m, o: setattr(m[0].bias, "data", np.zeros(4)), ValueError),
        (lambda m, o: setattr(m[0].weight, "data", m[0].weight.data.astype(np.float32)), None),
        (lambda m, o: o.state[m[0].weight].update(exp_avg=np.zeros(2)), ValueError),
    ]
    for change, error in changes:
        step, eager, compiled = _run(_mlp(nn.Tanh), OPTIMIZERS["adam"], nn.MSELoss(),
                                     batches[:2], F64)
        for model, opt in (eager, compiled):
            change(model, opt)
        x, y = batches[2]
        if error is None:                                  # eager runs it: so must compiled
            expected = _eager_step(eager[0], nn.MSELoss(), eager[1], x, y)
            np.testing.assert_allclose(step(x, y), expected, **F64)
            _assert_same(eager, compiled, F64)
            continue
        with pytest.raises(error) as eager_error:
            _eager_step(eager[0], nn.MSELoss(), eager[1], x, y)
        with pytest.raises(error) as compiled_error:
            step(x, y)
        assert str(compiled_error.value) == str(eager_error.value)


def test_inputs_in_another_byte_order_or_ragged_are_taken_or_named():
    batches = _batches(3, 2, np.float32, 3)
    swapped = [(x.astype(">f4"), y.astype(">f4")) for x, y in batches]
    _run(_mlp(nn.Tanh, "float32"), OPTIMIZERS["sgd"], nn.MSELoss(), swapped, F32)
    step = optim.compile_step(*(lambda m: (m, nn.MSELoss(), optim.SGD(m.parameters(), lr=0.1)))(
        _mlp(nn.Tanh)()))
    with pytest.raises(ValueError, match=r"compiled step: x is a ragged list \(rows of different "
                                         r"lengths\)"):
        step([[0.1, 0.2, 0.3], [1.0]], [[1.0, 2.0], [3.0, 4.0]])

