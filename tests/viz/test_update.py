"""viz.draw_update / update_preview: course 001's update slide number for number, and for every
optimizer of optim the previewed wₜ₊₁ equal to the parameter after the real step() — with the
parameters, their .grad and the optimizer's state untouched by the preview."""
from __future__ import annotations

import copy
import re
import shutil

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
import viz
from viz.labels import format_number

from .network_picture import (foreign_words, labels, overlapping, svg_text_boxes,
                              visible_strings)

# --- course 001's update slide -------------------------------------------------------------------
#: the 1-2-1 network's parameters in the slide's order w = [w₁⁽¹⁾, b₁⁽¹⁾, w₂⁽¹⁾, b₂⁽¹⁾, w₁₁⁽²⁾,
#: w₁₂⁽²⁾, b₁⁽²⁾], as (parameter index in model.parameters(), element)
SLIDE_ORDER = [(0, (0, 0)), (1, (0,)), (0, (1, 0)), (1, (1,)), (2, (0, 0)), (2, (0, 1)), (3, (0,))]
SLIDE_W = [0.1, -0.3, -0.1, 0.5, 0.4, 0.7, 0.2]
SLIDE_GRAD = [0.125, 0.245, 0.125, 0.250, -0.035, -0.049, -0.081]
SLIDE_NEXT = [0.088, -0.325, -0.112, 0.475, 0.404, 0.705, 0.208]     # printed to 3 decimals
#: wₜ − 0.1·∇J exactly. Four of them lie exactly halfway between two 3-decimal numbers, and the
#: slide rounds those in no single way: 0.0875 → 0.088 and 0.4035 → 0.404 (up), −0.3245 → −0.325
#: (away from zero) but −0.1125 → −0.112 (towards zero); 0.475, 0.7049 and 0.2081 are no ties.
EXACT_NEXT = [0.0875, -0.3245, -0.1125, 0.475, 0.4035, 0.7049, 0.2081]
TIES = {0: 0.088, 1: -0.325, 2: -0.112, 4: 0.404}


def slide_network(dtype: str = "float64"):
    """The 1-2-1 sigmoid network with the slide's wₜ, and its ∇J set as .grad."""
    model = nn.Sequential(nn.Linear(1, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    params = list(model.parameters())
    values = [np.zeros(p.shape) for p in params]
    grads = [np.zeros(p.shape) for p in params]
    for (k, index), w, g in zip(SLIDE_ORDER, SLIDE_W, SLIDE_GRAD):
        values[k][index], grads[k][index] = w, g
    for p, w, g in zip(params, values, grads):
        p.data = w.astype(dtype)
        p.grad = ag.tensor(g.astype(dtype))
    return model


def in_slide_order(arrays) -> list[float]:
    return [float(arrays[k][index]) for k, index in SLIDE_ORDER]


def node_numbers(label: str, head: str) -> list[float]:
    """The numbers of a node's label from the line that starts with ``head`` on."""
    lines = label.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(head))
    text = " ".join(lines[start:]).split("=")[-1]
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text)]


def test_course_001_update_slide_number_for_number():
    model = slide_network()
    before = [(p.data.copy(), p.grad.data.copy()) for p in model.parameters()]
    opt = optim.SGD(model.parameters(), lr=0.1)
    graph = viz.draw_update(model, opt)
    updates = graph.updates
    assert [u.name for u in updates] == ["W⁽¹⁾", "b⁽¹⁾", "W⁽²⁾", "b⁽²⁾"]
    assert in_slide_order([u.w_t for u in updates]) == SLIDE_W
    assert in_slide_order([u.grad for u in updates]) == SLIDE_GRAD
    shown = in_slide_order([u.w_next for u in updates])
    np.testing.assert_allclose(shown, EXACT_NEXT, rtol=0, atol=1e-12)
    for k, (exact, printed) in enumerate(zip(shown, SLIDE_NEXT)):
        if k in TIES:                   # the slide's digit is one of the two nearest
            assert printed in (np.floor(exact * 1000) / 1000, np.ceil(exact * 1000) / 1000)
            assert abs(abs(exact - printed) - 0.0005) < 1e-9
        else:
            assert round(exact, 3) == printed
    # the rendered DOT: every wₜ₊₁ node shows its parameter's exact numbers, and η = 0.1
    found = labels(graph.source)
    drawn = [node_numbers(found[f"u{k}_next"], "wₜ₊₁ =") for k in range(4)]
    assert drawn == [[float(format_number(v)) for v in u.w_next.ravel()] for u in updates]
    assert in_slide_order([np.reshape(d, u.w_t.shape) for d, u in zip(drawn, updates)]) \
        == EXACT_NEXT
    assert all(found[f"u{k}_next"].startswith("wₜ₊₁ = wₜ − η·g") for k in range(4))
    assert "η = 0.1 (learning rate)" in graph.source
    # untouched: parameters, .grad, optimizer state
    for p, (w, g) in zip(model.parameters(), before):
        assert np.array_equal(p.data, w) and np.array_equal(p.grad.data, g)
    assert opt.state == {}


def test_course_001_slide_on_the_network_picture():
    model = slide_network()
    graph = viz.draw_update(model, optim.SGD(model.parameters(), lr=0.1), view="network")
    found = labels(graph.source)
    edges = {text.split(":")[0]: text for text in found.values() if isinstance(text, str)
             and "→" in text and ":" in text}
    assert edges["w₁₁⁽¹⁾"] == "w₁₁⁽¹⁾: 0.1 → 0.0875"
    assert edges["b₁⁽¹⁾"] == "b₁⁽¹⁾: −0.3 → −0.3245"
    assert edges["w₂₁⁽¹⁾"] == "w₂₁⁽¹⁾: −0.1 → −0.1125"
    assert edges["b₂⁽¹⁾"] == "b₂⁽¹⁾: 0.5 → 0.475"
    assert edges["w₁₂⁽²⁾"] == "w₁₂⁽²⁾: 0.7 → 0.7049"
    assert edges["b₁⁽²⁾"] == "b₁⁽²⁾: 0.2 → 0.2081"
    table = found["u_table1"]
    assert table[1] == ["", "wₜ", "∂J/∂w", "wₜ₊₁"]
    assert table[2] == ["w₁₁⁽¹⁾", "0.1", "0.125", "0.0875"]
    assert table[5] == ["b₂⁽¹⁾", "0.5", "0.25", "0.475"]


def test_float32_parameters_update_in_float32():
    model = slide_network("float32")
    updates = viz.update_preview(model, optim.SGD(model.parameters(), lr=0.1))
    assert all(u.w_next.dtype == np.float32 for u in updates)
    np.testing.assert_allclose(in_slide_order([u.w_next for u in updates]), EXACT_NEXT,
                               atol=1e-7)


# --- every optimizer: the preview is the step -----------------------------------------------------
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.8, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, maximize=True)),
    ("SGDMomentum", dict(lr=0.1, beta=0.9)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.5)),
    ("RMSprop", dict(lr=1e-2)),
    ("RMSprop", dict(lr=1e-2, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01)),
    ("RMSprop", dict(lr=1e-2, momentum=0.5)),
    ("RMSprop", dict(lr=1e-2, centered=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.01, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.01)),
    ("Adamax", dict(lr=0.05)),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.01)),
    ("NAdam", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05, momentum_decay=0.01, weight_decay=0.01)),
    ("FTRL", dict(lr=0.1)),
    ("FTRL", dict(lr=0.1, l1_regularization_strength=0.01, l2_regularization_strength=0.02,
                  l2_shrinkage_regularization_strength=0.03, beta=0.1)),
]


def test_every_first_order_optimizer_is_configured_here():
    first_order = {cls.__name__ for cls in _subclasses(optim.Optimizer)
                   if cls.__module__.startswith("optim.")} - {"Newton"}
    assert first_order == {name for name, _ in CONFIGS}


def _subclasses(cls) -> set:
    found = set()
    for sub in cls.__subclasses__():
        if not sub.__name__.startswith("_"):
            found.add(sub)
        found |= _subclasses(sub)
    return found


def regression(dtype: str = "float64"):
    """A 2-3-1 tanh network, 5 samples, and a loss function of it."""
    ag.manual_seed(3)
    model = nn.Sequential(nn.Linear(2, 3, dtype=dtype), nn.Tanh(), nn.Linear(3, 1, dtype=dtype))
    rng = np.random.default_rng(0)
    x = ag.tensor(rng.normal(size=(5, 2)).astype(dtype))
    t = ag.tensor(rng.normal(size=(5, 1)).astype(dtype))
    return model, lambda: nn.MSELoss()(model(x), t)


def snapshot(state: dict) -> dict:
    """A copy of an optimizer's state, keyed by the same parameters."""
    return {p: copy.deepcopy(values) for p, values in state.items()}


def same(a, b) -> bool:
    """Equal states: the same keys, arrays equal element for element, numbers equal."""
    if isinstance(a, dict):
        return (isinstance(b, dict) and [id(k) for k in a] == [id(k) for k in b]
                and all(same(a[k], b[k]) for k in a))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name, options", CONFIGS, ids=[f"{n}{k}" for k, (n, _) in
                                                         enumerate(CONFIGS)])
def test_preview_equals_the_real_step_three_times(name, options, dtype):
    model, loss_fn = regression(dtype)
    opt = getattr(optim, name)(model.parameters(), **options)
    params = list(model.parameters())
    for _ in range(3):
        opt.zero_grad()
        loss_fn().backward()
        state = snapshot(opt.state)
        before = [(p.data.copy(), p.grad.data.copy(), p._version) for p in params]
        updates = viz.update_preview(model, opt)
        assert same(opt.state, state)
        for p, (w, g, version) in zip(params, before):
            assert np.array_equal(p.data, w) and np.array_equal(p.grad.data, g)
            assert p._version == version
        opt.step()
        for u, p in zip(updates, params):
            assert u.w_next.dtype == p.dtype and np.array_equal(u.w_next, p.data), u.name
            assert all(np.all(np.isfinite(t.value)) for t in u.terms.values())
        viz.draw_update(model, opt, lang="es")           # every word is in the vocabulary


def test_an_optimizer_of_the_users_own_is_previewed_exactly():
    class SignSGD(optim.Optimizer):
        """p ← p − η·sign(g): declares no rule and no terms."""

        def __init__(self, params, lr=0.01):
            super().__init__(params, dict(lr=lr))

        def _update(self, param, grad, state, group):
            param -= group["lr"] * np.sign(grad)

    model, loss_fn = regression()
    opt = SignSGD(model.parameters(), lr=0.1)
    loss_fn().backward()
    graph = viz.draw_update(model, opt)
    for u in graph.updates:
        np.testing.assert_array_equal(u.w_next, u.w_t - 0.1 * np.sign(u.grad))
        assert u.formula == "wₜ₊₁ = SignSGD._update(wₜ, g)" and u.terms == {}
    assert u.rule_uses == ["wₜ", "g"] and "u0_grad -> u0_next" in graph.source


def test_adam_shows_m_hat_and_v_hat_computed_by_hand():
    model, loss_fn = regression()
    beta1, beta2 = 0.8, 0.95
    opt = optim.Adam(model.parameters(), lr=0.05, betas=(beta1, beta2))
    m = [np.zeros(p.shape) for p in model.parameters()]
    v = [np.zeros(p.shape) for p in model.parameters()]
    for t in (1, 2, 3):
        opt.zero_grad()
        loss_fn().backward()
        updates = viz.update_preview(model, opt)
        for k, (u, p) in enumerate(zip(updates, model.parameters())):
            g = p.grad.numpy()
            m[k] = beta1 * m[k] + (1 - beta1) * g
            v[k] = beta2 * v[k] + (1 - beta2) * g * g
            assert u.terms["t"].value == t
            np.testing.assert_allclose(u.terms["m"].value, m[k], rtol=1e-13)
            np.testing.assert_allclose(u.terms["m̂"].value, m[k] / (1 - beta1 ** t), rtol=1e-13)
            np.testing.assert_allclose(u.terms["v̂"].value, v[k] / (1 - beta2 ** t), rtol=1e-13)
            hand = p.numpy() - 0.05 * (m[k] / (1 - beta1 ** t)) / (
                np.sqrt(v[k] / (1 - beta2 ** t)) + 1e-8)
            np.testing.assert_allclose(u.w_next, hand, rtol=1e-12)
        opt.step()
    assert [key for key, _, _ in updates[0].options] == ["lr", "eps", "betas.0", "betas.1"]


def test_momentum_terms_are_the_optimizers_buffers():
    model, loss_fn = regression()
    sgd = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn().backward()
    first = viz.update_preview(model, sgd)
    assert all(np.array_equal(u.terms["v"].value, u.grad) for u in first)     # v = g at t = 1
    sgd.step()
    second = viz.update_preview(model, sgd)
    for u, p in zip(second, model.parameters()):
        np.testing.assert_allclose(u.terms["v"].value,
                                   0.9 * sgd.state[p]["momentum_buffer"] + p.grad.numpy())
    course = optim.SGDMomentum(model.parameters(), lr=0.1, beta=0.9)
    (u, *_) = viz.update_preview(model, course)
    np.testing.assert_allclose(u.terms["m"].value, 0.1 * u.grad)
    assert u.formula == "wₜ₊₁ = wₜ − η·m"


def test_weight_decay_and_maximize_show_the_gradient_the_step_uses():
    model, loss_fn = regression()
    loss_fn().backward()
    opt = optim.SGD(model.parameters(), lr=0.1, weight_decay=0.2, maximize=True)
    (u, *_) = viz.update_preview(model, opt)
    assert u.terms["g"].formula == "g = −∂J/∂w + λ·wₜ"
    np.testing.assert_allclose(u.terms["g"].value, -u.grad + 0.2 * u.w_t)
    assert ("weight_decay", "λ", 0.2) in u.options
    source = viz.draw_update(model, opt).source
    assert "u0_grad -> u0_t0" in source and "u0_w -> u0_t0" in source   # g from ∂J/∂w and wₜ


def test_a_schedulers_current_learning_rate_is_used():
    model, loss_fn = regression()
    opt = optim.SGD(model.parameters(), lr=0.1)
    scheduler = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    loss_fn().backward()
    opt.step()
    scheduler.step()                                     # η = 0.05 from now on
    (u, *_) = viz.update_preview(model, opt)
    assert ("lr", "η", 0.05) in u.options
    np.testing.assert_allclose(u.w_next, u.w_t - 0.05 * u.grad, rtol=1e-15)


def test_newton_with_a_closure():
    w = ag.tensor([3.0, -1.0], dtype="float64", requires_grad=True)
    b = ag.tensor(0.5, dtype="float64", requires_grad=True)
    opt = optim.Newton([w, b], lr=0.5, damping=0.1)

    def closure():
        return ((w - 1.0) ** 2).sum() + w[0] * w[1] + (b * w[0] - 2.0) ** 2

    for _ in range(3):
        before = (w.data.copy(), b.data.copy())
        updates = viz.update_preview([w, b], opt, closure=closure)
        assert np.array_equal(w.data, before[0]) and np.array_equal(b.data, before[1])
        assert w.grad is None and b.grad is None
        opt.step(closure)
        assert [np.array_equal(u.w_next, p.data) for u, p in zip(updates, (w, b))] == [True] * 2
        np.testing.assert_allclose(updates[0].grad, w.grad.numpy())
        w.grad = b.grad = None
    assert updates[0].formula == "wₜ₊₁ = wₜ − η·Δ" and "Δ" in updates[0].terms
    np.testing.assert_allclose(updates[0].w_t - 0.5 * updates[0].terms["Δ"].value,
                               updates[0].w_next)
    with pytest.raises(ValueError, match="draw_update: Newton's step recomputes the loss"):
        viz.update_preview([w], opt)


def test_ctrl_c_during_the_preview_changes_nothing(monkeypatch):
    model, loss_fn = regression()
    opt = optim.Adam(model.parameters(), lr=0.05)
    loss_fn().backward()
    opt.step()
    state = snapshot(opt.state)
    before = [p.data.copy() for p in model.parameters()]
    real, calls = opt._update, []

    def interrupted(param, grad, state, group):
        calls.append(1)
        real(param, grad, state, group)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(opt, "_update", interrupted)
    with pytest.raises(KeyboardInterrupt):
        viz.draw_update(model, opt)
    assert len(calls) == 2 and same(opt.state, state)
    assert all(np.array_equal(p.data, w) for p, w in zip(model.parameters(), before))


# --- apply=True --------------------------------------------------------------------------------
def test_apply_performs_the_step_and_draws_it():
    model, loss_fn = regression()
    twin, twin_loss = regression()
    opt = optim.Adam(model.parameters(), lr=0.05)
    twin_opt = optim.Adam(twin.parameters(), lr=0.05)
    for _ in range(2):
        for o, f in ((opt, loss_fn), (twin_opt, twin_loss)):
            o.zero_grad()
            f().backward()
        graph = viz.draw_update(model, opt, apply=True)
        twin_opt.step()
        for u, p, q in zip(graph.updates, model.parameters(), twin.parameters()):
            assert u.applied and np.array_equal(p.data, q.data) and np.array_equal(u.w_next,
                                                                                     p.data)
            assert not np.array_equal(u.w_t, u.w_next)
        assert all(opt.state[p]["step"] == twin_opt.state[q]["step"]
                   for p, q in zip(model.parameters(), twin.parameters()))
    assert "Update step: Adam (step() applied)" in graph.source
    assert graph.updates[0].terms["t"].value == 2


# --- names and languages -------------------------------------------------------------------------
def test_names_of_bare_tensors_and_of_a_models_parameters_given_as_a_list():
    a = ag.tensor([1.0, 2.0], requires_grad=True)
    b = ag.tensor(3.0, requires_grad=True)
    b.name = "bias"
    c = ag.tensor(4.0, requires_grad=True)
    for p in (a, b, c):
        p.grad = ag.ones_like(p)
    opt = optim.SGD([a, b, c], lr=0.5)
    assert [u.name for u in viz.update_preview([a, b, c], opt)] == ["w1", "bias", "w3"]
    model = slide_network()
    names = [u.name for u in viz.update_preview(list(model.parameters())[2:],
                                                optim.SGD(model.parameters(), lr=0.1))]
    assert names == ["W⁽²⁾", "b⁽²⁾"]


@pytest.mark.parametrize("view", ["graph", "network"])
def test_spanish_labels(view):
    model = slide_network()
    opt = optim.Adam(model.parameters(), lr=0.1, weight_decay=0.01)
    graph = viz.draw_update(model, opt, lang="es", view=view)
    source = graph.source
    for es in ("Paso de actualización: Adam (lo que haría step(): nada ha cambiado)",
               "η = 0.1 (tasa de aprendizaje)", "decaimiento de pesos", "primer momento corregido",
               "gradiente que usa el paso"):
        assert es in source
    assert "learning rate" not in source and "Update step" not in source
    tables = re.findall(r"<<table.*?</table>>", source, re.S | re.I)
    strings = visible_strings(source) + re.findall(r">([^<>]+)<", " ".join(tables))
    text = " ".join(strings).replace("\\n", " ").replace("Adam", "")
    assert foreign_words(text, "es") == []


def test_english_words_and_the_terms_formulas():
    model = slide_network()
    opt = optim.RMSprop(model.parameters(), lr=0.01, momentum=0.5, centered=True)
    source = viz.draw_update(model, opt).source
    for en in ("moving average of g²", "ḡ ← α·ḡ + (1 − α)·g", "b ← μ·b + g/(√(v − ḡ²) + ε)",
               "wₜ₊₁ = wₜ − η·b", "α = 0.99 (smoothing constant)", "μ = 0.5 (momentum)"):
        assert en in source
    assert "u0_t0 -> u0_t2" in source and "u0_t2 -> u0_next" in source    # v → b → wₜ₊₁


# --- bad input ---------------------------------------------------------------------------------
def test_bad_input_errors():
    model = slide_network()
    opt = optim.SGD(model.parameters(), lr=0.1)
    list(model.parameters())[3].grad = None
    with pytest.raises(ValueError, match=r"draw_update: parameter b⁽²⁾ \(shape \(1,\)\) has no "
                                         r"\.grad: call loss.backward\(\) first"):
        viz.draw_update(model, opt, apply=True)
    assert all(np.array_equal(u, w) for u, w in zip(
        [p.numpy() for p in list(model.parameters())[:3]],
        [np.array([[0.1], [-0.1]]), np.array([-0.3, 0.5]), np.array([[0.4, 0.7]])]))
    other = ag.tensor([1.0], requires_grad=True)
    other.grad = ag.ones_like(other)
    with pytest.raises(ValueError, match=r"draw_update: parameter w1 \(shape \(1,\)\) is not in "
                                         r"the optimizer's param_groups \(SGD\)"):
        viz.draw_update([other], opt)
    with pytest.raises(TypeError, match="draw_update: expected an optim optimizer"):
        viz.draw_update(model, "sgd")
    with pytest.raises(TypeError, match="draw_update: expected an nn.Module or Tensors, got a "
                                        "float at position 1"):
        viz.draw_update([other, 1.0], opt)
    with pytest.raises(ValueError, match="view must be 'graph' or 'network'"):
        viz.draw_update(model, opt, view="table")
    with pytest.raises(ValueError, match="view='network' needs the model"):
        viz.draw_update([other], opt, view="network")
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        viz.draw_update(model, opt, lang="fr")
    with pytest.raises(ValueError, match="closure is only for optimizers"):
        viz.update_preview([other], optim.SGD([other], lr=0.1), closure=lambda: None)


def test_odd_arguments_are_refused_before_anything_changes():
    model = slide_network()
    opt = optim.SGD(model.parameters(), lr=0.1)
    before = [p.numpy().copy() for p in model.parameters()]
    with pytest.raises(TypeError, match=r"draw_update: apply must be True \(take the real step\) "
                                        r"or False \(a preview\), got str 'no'"):
        viz.draw_update(model, opt, apply="no")              # a truthy string: no real step
    w = list(model.parameters())[0]
    with pytest.raises(ValueError, match=r"draw_update: the parameter at positions 0 and 2 "
                                         r"\(shape \(2,1\)\) is the same tensor"):
        viz.update_preview([w, list(model.parameters())[1], w], opt)
    for options, error, message in [
            ({"max_elements": -1}, ValueError, "draw_update: max_elements must be at least 0"),
            ({"max_elements": "6"}, TypeError, "draw_update: max_elements must be an int"),
            ({"view": "network", "max_units": 0}, ValueError,
             "draw_network: max_units must be at least 1"),
            ({"rankdir": "XY"}, ValueError, "viz: rankdir must be one of TB, LR, BT, RL")]:
        with pytest.raises(error, match=message):
            viz.draw_update(model, opt, **options)
    assert all(np.array_equal(p.numpy(), b) for p, b in zip(model.parameters(), before))


def test_the_network_view_names_a_frozen_parameter():
    model = slide_network()
    model[0].weight.requires_grad = False                  # frozen: no update to label it with
    opt = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    with pytest.raises(ValueError, match=r"view='network' labels every weight and bias with its "
                                         r"update, but some do not require grad \(frozen\): "
                                         r"W⁽¹⁾; use view='graph'"):
        viz.draw_update(model, opt, view="network")
    graph = viz.draw_update(model, opt)
    assert [u.name for u in graph.updates] == ["b⁽¹⁾", "W⁽²⁾", "b⁽²⁾"]


def test_large_parameters_take_the_compiled_kernels_and_stay_exact():
    rng = np.random.default_rng(1)
    for name, options in (("SGD", dict(lr=0.1)), ("Adam", dict(lr=0.01, amsgrad=True))):
        w = ag.tensor(rng.normal(size=(80, 70)).astype("float32"), requires_grad=True)
        opt = getattr(optim, name)([w], **options)
        for _ in range(3):
            w.grad = ag.tensor(rng.normal(size=w.shape).astype("float32"))
            (u,) = viz.update_preview([w], opt)
            opt.step()
            assert np.array_equal(u.w_next, w.data)


# --- the pictures render ------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("dot") is None or shutil.which("neato") is None,
                    reason="Graphviz 'dot'/'neato' not installed")
@pytest.mark.parametrize("view", ["graph", "network"])
def test_renders_svg(view, tmp_path):
    model = slide_network()
    graph = viz.draw_update(model, optim.Adam(model.parameters(), lr=0.1), view=view)
    svg = (tmp_path / "u.svg")
    viz.render(graph, tmp_path / "u", format="svg")
    text = svg.read_text(encoding="utf-8")
    assert "<svg" in text and "m̂ = m/(1 − β₁ᵗ)" in text


@pytest.mark.skipif(shutil.which("neato") is None, reason="Graphviz (neato) is not installed")
@pytest.mark.parametrize("widths", [[1, 2, 1], [2, 3, 2], [3, 6, 4, 2]])
@pytest.mark.parametrize("lang", ["es", "en"])
def test_network_view_text_does_not_overlap(widths, lang):
    ag.manual_seed(len(widths))
    modules = []
    for n_in, n_out in zip(widths, widths[1:]):
        modules += [nn.Linear(n_in, n_out, dtype="float64"), nn.Tanh()]
    model = nn.Sequential(*modules[:-1])
    x = ag.tensor(np.random.default_rng(0).normal(size=(4, widths[0])))
    model(x).sum().backward()
    opt = optim.Adam(model.parameters(), lr=0.01)
    graph = viz.draw_update(model, opt, view="network", lang=lang)
    boxes = svg_text_boxes(graph.pipe(format="svg").decode())
    assert len(boxes) > 20
    assert overlapping(boxes) == []
