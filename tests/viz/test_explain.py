"""viz.explain: the chain rule with numbers equals the course's delta formulas and the engine."""
from __future__ import annotations

import re

import numpy as np
import pytest

import autograd_core as ag
import nn
from tests.viz import corpus
from viz import explain
from viz.math_text import to_latex

R = ag.InverseRule


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _course_232():
    """Course 000's deltas for the 2-3-2 example (sigmoid hidden layer, linear output,
    J = ½‖y − t‖²), written out in numpy as the notes write them."""
    x, t = corpus.X, corpus.T
    z1 = corpus.W1 @ x
    a1 = _sigmoid(z1)
    y = corpus.W2 @ a1
    delta2 = y - t                                         # L' with a linear output (ψ' = 1)
    dpsi1 = a1 * (1 - a1)
    delta1 = (corpus.W2.T @ delta2) * dpsi1                # δ⁽¹⁾ = (W⁽²⁾ᵀ δ⁽²⁾) ⊙ ψ'(z⁽¹⁾)
    return {"x": x, "a1": a1, "dpsi1": dpsi1, "delta1": delta1, "delta2": delta2,
            "W1": np.outer(delta1, x), "W2": np.outer(delta2, a1), "b1": delta1, "b2": delta2}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_path_of_W1_is_the_course_product_of_local_derivatives(lang):
    J, names, model = corpus.course_232_nn()
    course = _course_232()
    for i in range(3):
        for j in range(2):
            e = explain(J, model[0].weight, index=(i, j), names=names, model=model, lang=lang)
            (element,) = e.elements
            assert element.name == f"W⁽¹⁾{'₁₂₃'[i]},{'₁₂'[j]}"
            assert element.count == 2                       # one path per output unit
            for k, path in enumerate(element.paths):
                loss, weight, psi, x = path.factors
                assert (loss.rule, weight.rule, psi.rule, x.rule) == (
                    R.LOSS, R.WEIGHTED_INPUT, R.ACTIVATION, R.WEIGHTED_INPUT)
                assert loss.value == pytest.approx(course["delta2"][k])
                assert weight.value == corpus.W2[k, i]
                assert weight.formula == f"W⁽²⁾{'₁₂'[k]},{'₁₂₃'[i]}"
                assert psi.value == pytest.approx(course["dpsi1"][i])
                z = f"z⁽¹⁾{'₁₂₃'[i]}"
                assert psi.formula == f"ψ'({z}) = σ({z})(1 − σ({z}))"
                assert loss.formula == f"L' = (z⁽²⁾{'₁₂'[k]} − t{'₁₂'[k]})/n"
                assert x.value == corpus.X[j] and x.formula == f"x{'₁₂'[j]}"
            assert element.total == pytest.approx(course["W1"][i, j])
            assert element.engine == pytest.approx(course["W1"][i, j])


def test_the_delta_recursion_has_the_course_numbers():
    J, names, model = corpus.course_232_nn()
    course = _course_232()
    e = explain(J, model[2].bias, names=names, model=model)
    first, second = e.layers
    np.testing.assert_allclose(second.arrays["delta"], course["delta2"])
    np.testing.assert_allclose(first.arrays["dJ_da"], corpus.W2.T @ course["delta2"])
    np.testing.assert_allclose(first.arrays["dpsi"], course["dpsi1"])
    np.testing.assert_allclose(first.arrays["delta"], course["delta1"])
    for layer, key in ((first, "W1"), (second, "W2")):
        np.testing.assert_allclose(layer.arrays["dW"], course[key])
        np.testing.assert_allclose(layer.arrays["db"], course["b" + key[1]])
    assert [el.total for el in e.elements] == pytest.approx(list(course["b2"]))


@pytest.mark.parametrize("lang, words", [("en", ("paths lead from", "delta recursion")),
                                         ("es", ("llevan 2 caminos", "recursión de las deltas"))])
def test_the_text_says_it_with_the_numbers(lang, words):
    J, names, model = corpus.course_232_nn()
    course = _course_232()
    text = str(explain(J, model[0].weight, index=(0, 1), names=names, model=model, lang=lang))
    for w in words:
        assert w in text
    assert "∂J/∂W⁽¹⁾₁,₂ = -1.928" in text
    assert f"{course['W1'][0, 1]:.4g}" == "-1.928"
    assert "δ⁽¹⁾ = ∂J/∂z⁽¹⁾ = (W⁽²⁾ᵀ δ⁽²⁾) ⊙ ψ'(z⁽¹⁾)" in text
    assert "[" + ", ".join(f"{v:.4g}" for v in course["delta1"]) + "]" in text
    assert "∂J/∂W⁽¹⁾ = δ⁽¹⁾ xᵀ" in text and "∂J/∂b⁽¹⁾ = δ⁽¹⁾" in text


def test_markdown_and_latex_for_jupyter():
    J, names, model = corpus.course_232_nn()
    e = explain(J, model[0].weight, index=(0, 1), names=names, model=model)
    md, latex = e._repr_markdown_(), e._repr_latex_()
    assert r"$\frac{\partial J}{\partial W^{(1)}_{1,2}} = -1.928$" in md
    assert r"\sigma (z^{(1)}_{1})(1 - \sigma (z^{(1)}_{1}))" in md
    assert md.count("$") % 2 == 0
    assert latex.startswith("$$\\begin{array}{l}") and latex.endswith("\\end{array}$$")
    assert r"\text{Path 1: }" in latex


def test_a_shared_weight_sums_its_two_paths_and_agrees_with_grad():
    J, names, _ = corpus.shared_weight()
    w = names["w"]
    J.backward(retain_graph=True)
    e = explain(J, w, names=names)
    (element,) = e.elements
    assert element.count == 2
    assert element.total == pytest.approx(float(w.grad.data))
    assert sum(p.product for p in element.paths) == pytest.approx(float(w.grad.data))
    assert ", as does w.grad" in str(e)


def test_a_zero_input_keeps_its_path_with_a_zero_factor():
    """XOR's sample x = (0, 1): W⁽¹⁾₁,₁'s path exists, its factor x₁ is 0."""
    J, names, model = corpus.xor_221()
    e = explain(J, model[0].weight, index=(0, 0), names=names, model=model)
    (element,) = e.elements
    assert element.count == 1 and element.paths[0].factors[-1].value == 0
    assert element.total == 0


def test_too_many_paths_are_counted_not_listed():
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 4), nn.Tanh(),
                          nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 1))
    x, t = ag.randn(1, 2), ag.randn(1, 1)
    J = nn.MSELoss()(model(x), t)
    J.backward(retain_graph=True)
    e = explain(J, model[0].weight, index=(1, 0), max_paths=10)
    (element,) = e.elements
    assert element.count == 4 * 4 and element.paths is None
    assert element.total == pytest.approx(float(model[0].weight.grad.data[1, 0]), rel=1e-5)
    assert "16 paths lead from" in str(e) and len(e.layers) == 4
    listed = explain(J, model[0].weight, index=(1, 0), max_paths=16).elements[0]
    assert len(listed.paths) == 16
    assert listed.total == pytest.approx(element.engine, rel=1e-5)


def test_a_batch_sums_over_its_samples():
    J, names, model = corpus.course_232_nn()
    x = ag.tensor(np.stack([corpus.X, -corpus.X]))
    J = nn.SquaredError()(model(x), ag.tensor(np.stack([corpus.T, corpus.T])))
    J.backward(retain_graph=True)
    e = explain(J, model[0].weight, index=(2, 1), model=model)
    (element,) = e.elements
    assert element.count == 4                              # 2 samples × 2 output units
    assert element.total == pytest.approx(float(model[0].weight.grad.data[2, 1]))
    assert e.batch == 2 and "Σₓ δ⁽¹⁾ xᵀ" in str(e)


@pytest.mark.parametrize("call, error, message", [
    (lambda J, m: explain(J * ag.ones(2), m[0].weight), ValueError, "must be a scalar cost"),
    (lambda J, m: explain(J, ag.ones(3, requires_grad=True)), ValueError, "not in the recorded"),
    (lambda J, m: explain(J, m[0].weight, index=(3, 0)), IndexError, "not an element"),
    (lambda J, m: explain(J, m[0].weight, lang="fr"), ValueError, "unknown language"),
    (lambda J, m: explain(J, 1.0), TypeError, "wrt must be a Tensor"),
])
def test_bad_input_is_named(call, error, message):
    J, _, model = corpus.course_232_nn()
    with pytest.raises(error, match=message):
        call(J, model)


def test_a_large_tensor_needs_an_index():
    ag.manual_seed(0)
    layer = nn.Linear(4, 3)
    J = layer(ag.randn(1, 4)).sum()
    with pytest.raises(ValueError, match=r"shape \(3, 4\) \(12 elements\); pass index="):
        explain(J, layer.weight)


@pytest.mark.parametrize("text, latex", [
    ("W⁽¹⁾₁,₂", "W^{(1)}_{1,2}"),
    ("δ⁽²⁾", r"\delta^{(2)}"),
    ("W⁽²⁾ᵀ", r"W^{(2)\top}"),
    ("1 − tanh²(z)", r"1 - \tanh^{2}(z)"),
    ("softmax(z)", r"\mathrm{softmax}(z)"),
    ("x_1 + 50%", r"x\_1 + 50\%"),
    ("3·w^(3 − 1)", r"3\cdot w^{(3 - 1)}"),                 # Pow's declared derivative
    ("e^{x}", "e^{x}"),
    ("a<b", r"a\lt b"),
    ("x\\y", r"x\backslash y"),
])
def test_unicode_formulas_become_latex(text, latex):
    assert to_latex(text) == latex


def test_column_vectors_and_matmul_name_the_same_factors():
    """The 2-3-2 net written W·a + b with column vectors (MatMul, Add): same factors, same sum."""
    J, names, _ = corpus.course_232_columns()
    course = _course_232()
    e = explain(J, names["W1"], index=(2, 0), names=names)
    (element,) = e.elements
    formulas = [[f.formula for f in p.factors] for p in element.paths]
    assert [f[-1] for f in formulas] == ["x₁", "x₁"]
    assert {f[2] for f in formulas} == {"W2₁,₃", "W2₂,₃"}          # after z = v + b: 1
    assert element.total == pytest.approx(course["W1"][2, 0])


@pytest.mark.parametrize("shapes", [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)),
                                    ((4,), (4,))])
def test_matmul_declares_which_element_each_derivative_is(shapes):
    rng = np.random.default_rng(1)
    a, b = (ag.tensor(rng.normal(size=s), requires_grad=True) for s in shapes)
    out = a @ b
    for o in np.ndindex(*out.shape):
        seed = np.zeros(out.shape)
        seed[o] = 1
        grads = ag.grad(out, [a, b], grad_outputs=ag.tensor(seed), retain_graph=True)
        for i, g in enumerate(grads):
            for e in np.ndindex(*g.shape):
                if g.data[e] != 0:
                    j, idx = ag.ops.linalg.MatMul.partner(i, o, e, [a.shape, b.shape])
                    assert (a, b)[j].data[idx] == g.data[e]


def test_the_readmes_example_is_what_explain_prints():
    import pathlib
    import re

    readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- explain-example[^>]*-->\n```text\n(.*?)\n```", readme, re.S)
    w, b = ag.tensor(0.1, requires_grad=True), ag.tensor(-0.3, requires_grad=True)
    x, y = ag.tensor(1.5), ag.tensor(1.0)
    h = ag.sigmoid(w * x + b)
    J = (h - y) ** 2
    assert block is not None
    assert str(explain(J, w, names={"w": w, "b": b, "x": x, "y": y, "h": h, "J": J})) == \
        block.group(1)


# --- bad input and odd values (issue 13's probing, applied to explain) -------------------------
@pytest.mark.parametrize("index", [(0.5, 0), (True, False), (slice(None), 0), (None, 0), "a"])
def test_an_index_that_is_not_ints_is_named(index):
    J, _, model = corpus.course_232_nn()
    with pytest.raises(TypeError, match=r"explain: index must hold one int per axis of wrt "
                                        r"\(shape \(3, 2\)\)"):
        explain(J, model[0].weight, index=index)


def test_numpy_ints_lists_and_arrays_are_indices():
    J, _, model = corpus.course_232_nn()
    for index in [(np.int64(2), np.int32(1)), [2, 1], np.array([2, 1])]:
        assert explain(J, model[0].weight, index=index).elements[0].index == (2, 1)


@pytest.mark.parametrize("value, error, message", [
    (-1, ValueError, "explain: max_paths must be at least 0, got -1"),
    ("3", TypeError, "explain: max_paths must be an int, got str '3'"),
    (None, TypeError, "explain: max_paths must be an int, got NoneType"),
    (1.5, TypeError, "explain: max_paths must be an int, got float 1.5"),
])
def test_max_paths_is_checked(value, error, message):
    J, _, model = corpus.course_232_nn()
    with pytest.raises(error, match=re.escape(message)):
        explain(J, model[0].weight, index=(0, 0), max_paths=value)


def test_the_output_itself_and_an_empty_tensor_are_refused():
    J, _, model = corpus.course_232_nn()
    with pytest.raises(ValueError, match=r"explain: wrt is the output J itself \(∂J/∂J = 1"):
        explain(J, J)
    w = ag.tensor(np.zeros((0, 3)), requires_grad=True)
    v = ag.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match=r"explain: wrt has no elements \(shape \(0, 3\)\)"):
        explain((v * 2.0).sum() + (w * 2.0).sum(), w)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_a_nan_or_inf_input_adds_no_path_through_the_other_elements():
    """0·NaN = NaN in the VJP of one element must not read as a dependence on another."""
    for bad, op, value in [(np.nan, ag.sigmoid, np.nan), (np.inf, ag.exp, np.inf)]:
        w = ag.tensor(np.array([0.1, bad]), requires_grad=True)
        J = (op(w) * 3.0).sum()
        e = explain(J, w, names={"w": w})
        first, second = e.elements
        assert first.count == second.count == 1
        assert first.total == pytest.approx(3 * (_sigmoid(0.1) * (1 - _sigmoid(0.1))
                                                 if op is ag.sigmoid else np.exp(0.1)))
        np.testing.assert_equal([second.total, second.engine], [value, value])
        assert str(e).count("✓ the engine's backward gives the same") == 2     # NaN = NaN
        assert "✗" not in str(e)


def test_too_many_paths_outside_a_dense_network_claim_no_recursion():
    """No delta recursion is shown, so the text must not point to one, and the value (the
    engine's, since the paths are not summed) must not be 'checked' against itself."""
    J, names, model = corpus.course_232_nn()
    e = explain(J, model[0].weight, index=(0, 0), max_paths=1)
    assert e.layers and "the delta recursion below adds them up" in str(e)
    w = ag.tensor(np.array([0.5, -0.25]), requires_grad=True)
    h = ag.tanh(w * 2.0)
    J = (h * h).sum() + (h * w).sum()                       # branch points, no Linear layers
    e = explain(J, w, names={"w": w}, max_paths=1)
    text = str(e)
    assert e.layers is None and e.elements[0].paths is None
    assert "delta recursion" not in text and "too many to list one by one (a larger max_paths" \
        in text
    assert "✓" not in text and text.count("the engine's backward gives this value") == 2
    J.backward(retain_graph=True)
    assert ", as does w.grad" in str(explain(J, w, names={"w": w}, max_paths=1))


def test_large_arrays_of_the_delta_recursion_are_written_as_their_shape():
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
    J = nn.MSELoss()(model(ag.randn(16, 8)), ag.randn(16, 1))
    e = explain(J, model[0].bias, index=0, model=model)
    lines = str(e).splitlines()
    assert "δ⁽¹⁾ = ∂J/∂z⁽¹⁾ = (W⁽²⁾ᵀ δ⁽²⁾) ⊙ ψ'(z⁽¹⁾) = [shape (16,8)] ⊙ [shape (16,8)] = " \
           "[shape (16,8)]" in lines
    assert "∂J/∂W⁽¹⁾ = Σₓ δ⁽¹⁾ xᵀ = [shape (8,8)]" in lines
    db = next(line for line in lines if line.startswith("∂J/∂b⁽¹⁾ = Σₓ δ⁽¹⁾ = ["))  # 8 numbers
    np.testing.assert_allclose([float(v) for v in db.split("= [")[1][:-1].split(", ")],
                               e.layers[0].arrays["db"], rtol=1e-3, atol=1e-8)
    spanish = explain(J, model[0].bias, index=0, model=model, lang="es")
    assert "∂J/∂W⁽¹⁾ = Σₓ δ⁽¹⁾ xᵀ = [forma (8,8)]" in str(spanish).splitlines()


@pytest.mark.parametrize("name, markdown, latex_text", [
    ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;", "<b>x</b>"),
    ("a&b", "a&amp;b", r"a\&b"),
    ("$w$", r"\$w\$", r"\$w\$"),
    ("x\\y", "x\\\\y", r"x\textbackslash{}y"),
    ("a^b", "a^b", r"a\textasciicircum{}b"),
])
def test_names_are_escaped_in_markdown_and_latex(name, markdown, latex_text):
    w = ag.tensor(np.array([0.5]), requires_grad=True)
    e = explain((w * 3.0).sum(), w, names={name: w})
    md, latex = e._repr_markdown_(), e._repr_latex_()
    assert f"One path leads from {markdown} to J" in md
    assert rf"\text{{One path leads from {latex_text} to J" in latex
    words = re.sub(r"\$[^$]*\$", "", md.replace(r"\$", ""))      # outside the $…$ math
    assert "<b>" not in words and "$" not in words.replace("\\$", "")
    math = " ".join(re.findall(r"\$([^$]*)\$", md.replace(r"\$", "")))
    assert "<" not in math and ">" not in math and "\\y" not in math


def test_float32_rounding_of_cancelling_paths_is_not_called_a_disagreement():
    """The paths are summed in float64, the engine ran in float32: two paths of ±250 that
    cancel to 0.08 differ from the engine's float32 sum in the 5th digit, which is rounding
    (a third of such draws were reported '✗ the engine's backward gives …')."""
    rng = np.random.default_rng(0)
    for _ in range(40):
        w = ag.tensor(rng.normal(size=1).astype(np.float32), requires_grad=True)
        x1 = rng.normal(size=1).astype(np.float32)
        x2 = x1 + np.float32(1e-3) * rng.normal(size=1).astype(np.float32)
        c = float(rng.uniform(100, 1000))
        J = (ag.sigmoid(w * ag.tensor(x1)) * c - ag.sigmoid(w * ag.tensor(x2)) * c).sum()
        J.backward(retain_graph=True)
        text = str(explain(J, w, names={"w": w}))
        assert "✓ the engine's backward gives the same, as does w.grad" in text, text
    (element,) = explain(J, w, names={"w": w}).elements
    assert element.eps == np.finfo(np.float32).eps
    assert not element.agrees(element.total + 1e-3 * max(abs(p.product) for p in element.paths))


def test_a_grad_accumulated_twice_is_pointed_out():
    J, names, _ = corpus.single_neuron()
    w = names["w"]
    J.backward(retain_graph=True)
    J.backward(retain_graph=True)                         # no zero_grad: w.grad is twice ∂J/∂w
    (element,) = explain(J, w, names=names).elements
    assert float(w.grad.data) == pytest.approx(2 * element.engine)
    assert str(explain(J, w, names=names)).endswith(
        f"✓ the engine's backward gives the same; w.grad holds {2 * element.engine:.4g} "
        "(backward adds to .grad: was it run more than once without zero_grad()?)")
    assert "; w.grad vale" in str(explain(J, w, names=names, lang="es"))
