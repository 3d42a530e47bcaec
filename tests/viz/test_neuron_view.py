"""draw_network: every label true (read back from the DOT), the course's words, no overlaps.

Course 000's 2-3-2 example (W⁽¹⁾ = [[1, −2], [0, 1], [3, 4]], W⁽²⁾ = [[6, −2, 1], [5, −3, 2]],
sigmoid hidden layer, linear output, C = ½‖y − t‖²): the picture must let a student check by hand
that each unit's ∂J/∂a is the sum of the w·δ arriving on its inverse edges and that
δ = ∂J/∂a · ψ'(z), and its δ must be the course's δ⁽ᵏ⁾ (tests/autograd_core/test_course_examples).
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import autograd_core as ag
import nn
from tests.autograd_core.test_course_examples import (BIASES, TARGETS, W1, W2, X, X_BATCH,
                                                      T_BATCH, course_backward,
                                                      course_batch_backward)
from tests.viz import network_picture as pic
from viz.neuron_view import _fmt, _sym, draw_network

HAS_NEATO = shutil.which("neato") is not None
COURSE_NAMES = {"es": ["Unidad 1", "L'", "Neurona inversa", "Suma de salidas",
                       "Salida ponderada doble", "Salida constante", "ψ'"],
                "en": ["Unit 1", "L'", "Inverse neuron", "Sum of outputs",
                       "Double weighted output", "Constant output", "ψ'"]}


def course_232(bias: str = "zero_bias") -> nn.Sequential:
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 2)).double()
    b1, b2 = BIASES[bias]
    with ag.no_grad():
        model[0].weight.data[...] = W1
        model[0].bias.data[...] = b1
        model[2].weight.data[...] = W2
        model[2].bias.data[...] = b2
    return model


def close(shown: float, exact: float, scale: float = 0.0) -> bool:
    """Equal up to the 4 significant digits a label shows (for sums: relative to ``scale``)."""
    return abs(shown - exact) <= 1e-3 * max(abs(exact), scale) + 1e-12


def dense(width: list[int], seed: int = 0) -> nn.Sequential:
    ag.manual_seed(seed)
    mods = []
    for n_in, n_out in zip(width, width[1:]):
        mods += [nn.Linear(n_in, n_out), nn.Tanh()]
    return nn.Sequential(*mods[:-1])


@pytest.mark.parametrize("lang", ["es", "en"])
@pytest.mark.parametrize("bias", sorted(BIASES))
def test_course_232_can_be_checked_by_hand(lang, bias):
    t = TARGETS["linear"]
    source = draw_network(course_232(bias), X, t, view="backward", lang=lang).source
    got = pic.labels(source)
    b1, b2 = BIASES[bias]
    course = course_backward(X[:, None], t[:, None], b1[:, None], b2[:, None], "linear")
    units = {(k, i): pic.lines_by_symbol(got[f"b{k}_u{i}"]) for k, n in enumerate((2, 3, 2))
             for i in range(n)}
    for k, n_in, n_out in ((1, 2, 3), (2, 3, 2)):
        for j in range(n_in):
            a = "x" if k == 1 else "a"
            received = [pic.number(got[f"bL{k}_{i}_{j}"]) for i in range(n_out)]
            for i in range(n_out):
                assert got[f"bL{k}_{i}_{j}"].startswith(
                    f"{_sym('w', i + 1, k, j + 1)}·{_sym('δ', i + 1, k)} = ")
            shown = units[k - 1, j][f"∂J/∂{_sym(a, j + 1, None if k == 1 else k - 1)}"]
            assert close(shown, sum(received), sum(map(abs, received))), (k, j)
        for i in range(n_out):
            unit = units[k, i]
            z, delta = _sym("z", i + 1, k), unit[_sym("δ", i + 1, k)]
            product = unit[f"∂J/∂{_sym('a', i + 1, k)}"] * unit[f"ψ'({z})"]
            assert close(delta, product), (k, i)
            assert delta == pic.number(_fmt(course[f"b{k}"][i, 0]))
            w = (W1, W2)[k - 1]
            for j in range(n_in):      # each edge carries w_ij·δ_i with the course's δ
                assert close(pic.number(got[f"bL{k}_{i}_{j}"]), w[i, j] * course[f"b{k}"][i, 0])
    y = W2 @ (1 / (1 + np.exp(-(W1 @ X + b1)))) + b2
    for i in range(2):                 # L' of C = ½‖y − t‖² is y − t
        assert close(units[2, i][f"∂J/∂{_sym('a', i + 1, 2)}"], y[i] - t[i])
    for name in COURSE_NAMES[lang]:
        assert any(name in s for s in pic.visible_strings(source)), name


@pytest.mark.parametrize("k", [1, 2])
def test_gradient_tables_are_delta_a_transposed(k):
    t = TARGETS["linear"]
    b1, b2 = BIASES["bias"]
    source = draw_network(course_232("bias"), X, t, view="backward").source
    table = pic.labels(source)[f"b_gradients{k}"]
    a = "x" if k == 1 else "a"
    assert table[0] == [f"∂J/∂W{_sym('', k=k)} = δ{_sym('', k=k)}"
                        f"{a}{'' if k == 1 else _sym('', k=k - 1)}ᵀ,   "
                        f"∂J/∂b{_sym('', k=k)} = δ{_sym('', k=k)}"]
    course = course_backward(X[:, None], t[:, None], b1[:, None], b2[:, None], "linear")
    body = np.array([[pic.number(c) for c in row[1:]] for row in table[2:]])
    assert body.shape == (course[f"W{k}"].shape[0], course[f"W{k}"].shape[1] + 1)
    np.testing.assert_allclose(body[:, :-1], course[f"W{k}"], rtol=1e-3)
    np.testing.assert_allclose(body[:, -1], course[f"b{k}"][:, 0], rtol=1e-3)


@pytest.mark.parametrize("view", ["forward", "backward", "both"])
def test_spanish_picture_has_only_spanish_words(view):
    source = draw_network(course_232("bias"), X, TARGETS["linear"], view=view, lang="es").source
    strings = pic.visible_strings(source)
    assert strings
    for s in strings:
        assert not pic.foreign_words(s, "es"), s
    batch = draw_network(course_232(), X_BATCH, T_BATCH["linear"], view="both", lang="es")
    for s in pic.visible_strings(batch.source):
        assert not pic.foreign_words(s, "es"), s
    # the check itself catches English
    assert pic.foreign_words("Inverse network", "es") == ["Inverse", "network"]
    assert pic.foreign_words("w₁₂⁽²⁾·δ₁⁽²⁾ = −0.054", "es") == []


def test_english_picture_uses_the_english_names():
    source = draw_network(course_232(), X, TARGETS["linear"], view="both", lang="en").source
    for s in pic.visible_strings(source):
        assert not pic.foreign_words(s, "en"), s
    assert "Neurona" not in source and "Salida" not in source


def test_forward_labels_are_the_weights_and_activations():
    model = course_232("bias")
    got = pic.labels(draw_network(model, X).source)
    b1, _ = BIASES["bias"]
    for k, layer in ((1, model[0]), (2, model[2])):
        w, b = layer.weight.numpy(), layer.bias.numpy()
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                assert got[f"fL{k}_{i}_{j}"] == f"{_sym('w', i + 1, k, j + 1)} = {_fmt(w[i, j])}"
            assert got[f"fL{k}_{i}_b"] == f"{_sym('b', i + 1, k)} = {_fmt(b[i])}"
    a1 = 1 / (1 + np.exp(-(W1 @ X + b1)))
    for i, v in enumerate(a1):
        assert got[f"f1_u{i}"] == f"{_sym('a', i + 1, 1)}\nσ\n{_fmt(v)}"


def test_users_grad_untouched():
    model = course_232()
    loss = nn.SquaredError()(model(ag.tensor(X[None])), ag.tensor(TARGETS["linear"][None]))
    loss.backward()
    before = [p.grad.numpy().copy() for p in model.parameters()]
    draw_network(model, X_BATCH, T_BATCH["linear"], view="both")
    for p, g in zip(model.parameters(), before):
        assert np.array_equal(p.grad.numpy(), g)


def test_sample_k_draws_that_sample_alone():
    model, ts = course_232("bias"), T_BATCH["linear"]
    for k in range(3):
        whole = draw_network(model, X_BATCH, ts, view="backward", sample=k).source
        alone = draw_network(model, X_BATCH[k], ts[k], view="backward").source
        assert f"sample k = {k} (m = 3)" in whole
        got, expected = pic.labels(whole), pic.labels(alone)
        for name in ("b1_u0", "b2_u1", "bL2_1_2", "b_gradients1", "b_cost"):
            assert got[name] == expected[name]
    with pytest.raises(ValueError, match=r"sample=3 is out of range for a batch of 3 samples"):
        draw_network(model, X_BATCH, ts, view="backward", sample=3)


@pytest.mark.parametrize("reduction, factor, prefix", [("mean", 1.0, "1/m Σₓ "),
                                                       ("sum", 3.0, "Σₓ ")])
def test_batch_is_the_mean_of_per_sample_gradients(reduction, factor, prefix):
    model, ts = course_232("bias"), T_BATCH["linear"]
    b1, b2 = BIASES["bias"]
    loss_fn = nn.SquaredError(reduction=reduction)
    source = draw_network(model, X_BATCH, ts, view="backward", loss_fn=loss_fn).source
    got = pic.labels(source)
    expected = course_batch_backward(X_BATCH, ts, b1, b2, "linear")    # (1/m) Σₓ δₓ aₓᵀ, δₓ
    cost = loss_fn(model(ag.tensor(X_BATCH)), ag.tensor(ts))
    engine = ag.grad(cost, list(model.parameters()))
    for k, (gw, gb) in ((1, engine[:2]), (2, engine[2:])):
        table = got[f"b_gradients{k}"]
        assert table[0][0].startswith(f"∂J/∂W{_sym('', k=k)} = {prefix}δ")
        body = np.array([[pic.number(c) for c in row[1:]] for row in table[2:]])
        np.testing.assert_allclose(body[:, :-1], factor * expected[f"W{k}"], rtol=1e-3)
        np.testing.assert_allclose(body[:, -1], factor * expected[f"b{k}"][:, 0], rtol=1e-3)
        np.testing.assert_allclose(body[:, :-1], gw.numpy(), rtol=1e-3)
        np.testing.assert_allclose(body[:, -1], gb.numpy(), rtol=1e-3)
        for i in range(gb.shape[0]):   # each unit: the batch's δ = ∂J/∂b
            unit = pic.lines_by_symbol(got[f"b{k}_u{i}"])
            assert got[f"b{k}_u{i}"].startswith(prefix.strip() + ":")
            assert close(unit[_sym("δ", i + 1, k)], gb.numpy()[i])
    assert "ψ'(z" not in got["b1_u0"]          # ψ'(z) is per sample: not shown for a batch


def test_batch_of_unrelated_costs_is_refused():
    class Worst(nn.Module):
        def forward(self, y, t):
            return ((y - t) ** 2).max()
    with pytest.raises(ValueError, match="neither the mean .* nor the sum"):
        draw_network(course_232(), X_BATCH, T_BATCH["linear"], view="backward",
                     loss_fn=Worst())


def test_edge_labels_fall_back_to_tables_that_add_up():
    model = dense([8, 8, 8])
    x, t = np.linspace(-1, 1, 8), np.linspace(0, 1, 8)
    got = pic.labels(draw_network(model, x, t, view="backward", lang="es").source)
    assert not any(name.startswith("bL") for name in got)     # too many edges: tables
    for k in (1, 2):
        table = got[f"b_messages{k}"]
        assert table[0][0].startswith("Salida ponderada doble: ")
        assert table[-1][0].startswith("Suma de salidas: ∂J/∂")
        body = np.array([[pic.number(c) for c in row[1:]] for row in table[2:-1]])
        sums = [pic.number(c) for c in table[-1][1:]]
        for j, total in enumerate(sums):          # the sum row is each unit's ∂J/∂a
            assert close(total, body[:, j].sum(), np.abs(body[:, j]).sum())
            a = _sym("x", j + 1) if k == 1 else _sym("a", j + 1, k - 1)
            assert pic.lines_by_symbol(got[f"b{k - 1}_u{j}"])[f"∂J/∂{a}"] == total


@pytest.mark.skipif(not HAS_NEATO, reason="Graphviz (neato) is not installed")
@pytest.mark.parametrize("widths", [[2, 3, 2], [3, 6, 4, 2], [8, 8, 8], [2, 8, 1], [5, 7, 3]])
@pytest.mark.parametrize("lang", ["es", "en"])
def test_no_text_boxes_overlap(widths, lang):
    model = dense(widths, seed=len(widths))
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(4, widths[0])), rng.normal(size=(4, widths[-1]))
    for graph in (draw_network(model, x, t, view="both", lang=lang, sample=1),
                  draw_network(model, x, t, view="backward", lang=lang)):
        boxes = pic.svg_text_boxes(graph.pipe(format="svg").decode())
        assert len(boxes) > 20
        assert pic.overlapping(boxes) == []


def test_overlap_check_detects_overlaps():
    boxes = [("a", (0, 0, 10, 5)), ("b", (9, 4, 20, 8)), ("c", (30, 0, 40, 5))]
    assert pic.overlapping(boxes) == [("a", "b")]


def test_size_refusal_and_bad_input():
    with pytest.raises(ValueError, match=r"layer 0 \(Linear\) has 20 units, more than "
                                         r"max_units=12"):
        draw_network(nn.Sequential(nn.Linear(2, 20), nn.Tanh(), nn.Linear(20, 1)))
    with pytest.raises(ValueError, match=r"layer 2 \(Dropout\) is not supported"):
        draw_network(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Dropout(0.5)))
    with pytest.raises(ValueError, match="needs a target t"):
        draw_network(course_232(), x=X, view="backward")
    with pytest.raises(ValueError, match=r"needs x \(one sample or a batch\) and its target"):
        draw_network(course_232(), view="both")
    with pytest.raises(ValueError, match="view must be 'forward', 'backward' or 'both'"):
        draw_network(course_232(), X, view="inverse")
    with pytest.raises(ValueError, match=r"x must be one sample of 2 values or a batch of "
                                         r"shape \(m, 2\), got shape \(3,\)"):
        draw_network(course_232(), x=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="x has 3 samples but t has 2"):
        draw_network(course_232(), X_BATCH, T_BATCH["linear"][:2], view="backward")
    with pytest.raises(ValueError, match="lang must be 'en' or 'es'"):
        draw_network(course_232(), lang="fr")
    draw_network(nn.Sequential(nn.Linear(2, 20), nn.Linear(20, 1)), max_units=20)


def test_cross_entropy_with_class_indices():
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3)).double()
    x = np.array([[0.5, -1.0], [1.0, 0.2]])
    source = draw_network(model, x, np.array([2, 0]), view="backward",
                          loss_fn=nn.CrossEntropyLoss(), sample=0).source
    got = pic.labels(source)
    logits = model(ag.tensor(x[:1])).numpy()[0]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    for i in range(3):                   # L' of cross-entropy on logits: softmax − one-hot
        unit = pic.lines_by_symbol(got[f"b2_u{i}"])
        assert close(unit[f"∂J/∂{_sym('a', i + 1, 2)}"], p[i] - (i == 2))


def test_no_bias_softmax_output_and_integer_targets():
    ag.manual_seed(3)
    model = nn.Sequential(nn.Linear(2, 3, bias=False), nn.Tanh(), nn.Linear(3, 3),
                          nn.Softmax(dim=-1)).double()
    x, t = np.array([0.3, -0.2]), np.array([0.0, 1.0, 0.0])
    got = pic.labels(draw_network(model, x, t, view="both").source)
    assert "f0_bias" not in got and "b0_bias" not in got and "f1_bias" in got
    xt = ag.tensor(x[None])
    z2 = model[2](model[1](model[0](xt)))
    cost = nn.SquaredError()(model[3](z2), ag.tensor(t[None]))
    (delta,) = ag.grad(cost, [z2])
    for i in range(3):                # softmax is not elementwise: no ψ' shown, δ still ∂J/∂z
        assert "ψ'" not in got[f"b2_u{i}"]
        assert got[f"b2_u{i}"].endswith(f"{_sym('δ', i + 1, 2)} = {_fmt(delta.numpy()[0, i])}")
    regression = nn.Sequential(nn.Linear(2, 2))
    got = pic.labels(draw_network(regression, [[1, 2], [3, 4]], [[0, 0], [1, 1]],
                                  view="backward").source)      # integers, but not classes
    assert "mean over the batch: 1/m Σₓ (m = 2)" in got.values()


@pytest.mark.skipif(not HAS_NEATO, reason="Graphviz (neato) is not installed")
def test_renders_svg_with_the_course_names_as_text():
    graph = draw_network(course_232(), X, TARGETS["linear"], view="both", lang="es")
    texts = [t for t, _ in pic.svg_text_boxes(graph.pipe(format="svg").decode())]
    for name in ("Unidad 1", "L'", "Neurona inversa", "Suma de salidas",
                 "Salida ponderada doble", "Salida constante", "Derivada ψ'"):
        assert name in texts, name
    for text in texts:                # what the SVG shows, not only the DOT labels
        assert not pic.foreign_words(text, "es"), text
