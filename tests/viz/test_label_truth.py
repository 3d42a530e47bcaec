"""Every label of the course's pictures is true, in the course's words, and fits a slide.

The pictures are parsed from their DOT text (what Graphviz draws) and SVG, over a corpus of the
graphs a teacher draws (tests/viz/corpus.py): every "∂J/∂NAME = value" equals the engine's
gradient of the value the forward picture calls NAME, δ is only ever ∂J/∂z, a shared weight's
per-use shares are never called ∂J/∂w, and an es picture holds no English word.
"""
from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

import autograd_core as ag
import viz
from tests.viz.corpus import CASES, LOSSES
from viz.backward_model import backward_model
from viz.graph_model import drawing

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed")

NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
CLAIM = re.compile(r"^(?:Σ = )?(?:δ⁽[⁰¹²³⁴⁵⁶⁷⁸⁹]+⁾ = )?∂J/∂(\S+) =(.*)$")


def dot_labels(source: str) -> list[list[str]]:
    """Every node and edge label of a DOT text, as its lines."""
    found = []
    for m in re.finditer(r'(?<![a-z])label="((?:[^"\\]|\\.)*)"', source):
        found.append(m.group(1).replace("\\\\", "\x00").split("\\n"))
    return [[line.replace("\x00", "\\") for line in lines] for lines in found]


def claims(lines: list[str]) -> list[tuple[str, np.ndarray]]:
    """("NAME", numbers) for each "∂J/∂NAME = …" line, its numbers on it and the lines below."""
    found = []
    for k, line in enumerate(lines):
        m = CLAIM.match(line)
        if not m:
            continue
        text = [m.group(2)]
        for below in lines[k + 1:]:
            if not re.fullmatch(r"[\s\[\],\d.e+-]+", below):
                break
            text.append(below)
        found.append((m.group(1), np.array([float(x) for x in NUMBER.findall(" ".join(text))])))
    return found


def expected_gradients(J, names, model) -> dict[str, np.ndarray]:
    """name → ∂J/∂(the value the pictures call so), from the engine."""
    d = drawing(J, names, model)
    keyed = {v.key: v for v in d.values.values()}
    tensors = [(name, keyed[key].tensor) for key, name in d.names.items()
               if key in keyed and keyed[key].tensor is not None and keyed[key].tensor is not J
               and keyed[key].tensor.requires_grad]
    grads = ag.grad(J, [t for _, t in tensors], allow_unused=True, retain_graph=True)
    found = {name: g.numpy() for (name, _), g in zip(tensors, grads) if g is not None}
    for step in d.steps:                      # a fused layer's z: δ = ∂J/∂a ⊙ ψ'(z)
        if step.kind == "fused_activation":
            z = ag.tensor(step.inputs[0].data, requires_grad=True)
            a = step.op.apply(z)
            (dz,) = ag.grad(a, [z], grad_outputs=ag.tensor(found[d.names[step.output.key]]))
            found[d.names[step.inputs[0].key]] = dz.numpy()
    return found


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_gradient_label_equals_the_engines_gradient_of_what_it_names(case, lang):
    J, names, model = CASES[case]()
    expected = expected_gradients(J, names, model)
    source = viz.draw_backward(J, names=names, model=model, lang=lang).source
    checked = 0
    for lines in dot_labels(source):
        for name, numbers in claims(lines):
            if name == "J":
                continue
            assert name in expected, f"{case}: a label names ∂J/∂{name}, a value not drawn"
            want = np.ravel(expected[name])
            assert numbers.shape == want.shape, (case, name, numbers, want)
            np.testing.assert_allclose(numbers, want, rtol=2e-3, atol=1e-4,
                                       err_msg=f"{case}: ∂J/∂{name}")
            checked += 1
    assert checked >= 2


@pytest.mark.parametrize("case", sorted(CASES))
def test_delta_is_only_ever_the_gradient_of_a_weighted_sum_z(case):
    J, names, model = CASES[case]()
    source = viz.draw_backward(J, names=names, model=model).source
    forward = viz.draw_forward(J, names=names, model=model).source
    for lines in dot_labels(source):
        for line in lines:
            for k in re.findall(r"δ(⁽[⁰¹²³⁴⁵⁶⁷⁸⁹]+⁾) =", line):
                assert f"δ{k} = ∂J/∂z{k}" in line, line
            for k in re.findall(r"δ(⁽[⁰¹²³⁴⁵⁶⁷⁸⁹]+⁾)", line):
                assert f"z{k} = " in forward, f"δ{k} names a z{k} the forward picture lacks"


def test_course_232_deltas_are_the_courses():
    """Course 000: δ⁽²⁾ = (a⁽²⁾ − t) (linear output), δ⁽¹⁾ = (W⁽²⁾ᵀ δ⁽²⁾) ⊙ σ'(z⁽¹⁾)."""
    from tests.viz.corpus import T, W1, W2, X
    J, names, model = CASES["course_232_nn"]()
    z1 = W1 @ X
    a1 = 1 / (1 + np.exp(-z1))
    delta2 = W2 @ a1 - T
    delta1 = (W2.T @ delta2) * a1 * (1 - a1)
    found = {}
    for lines in dot_labels(viz.draw_backward(J, names=names, model=model).source):
        for k, line in enumerate(lines):
            if line.startswith("δ⁽") and "∂J/∂z" in line:
                found[line[:4]] = claims(lines[k:])[0][1]
    np.testing.assert_allclose(found["δ⁽¹⁾"], delta1, rtol=2e-3)
    np.testing.assert_allclose(found["δ⁽²⁾"], delta2, rtol=2e-3)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_shared_weights_uses_are_shares_and_only_their_sum_is_its_gradient(lang):
    J, names, model = CASES["shared_weight"]()
    w = names["w"]
    (gw,) = ag.grad(J, [w], retain_graph=True)
    m = backward_model(J, names=names, lang=lang)
    use = ag.vocabulary.text("use", lang)
    into_sum = [e for e in m.edges if e.dst.startswith("sum")]
    assert len(into_sum) == 2
    for k, e in enumerate(into_sum, 1):
        assert any(f"{use} {k} " in line and line.endswith(" w") for line in e.lines)
        assert not any("∂J/∂w" in line for line in e.lines), e.lines
    (sum_node,) = m.nodes_of_kind("sum_of_outputs")
    assert sum_node.lines[0] == ag.vocabulary.text("inverse.branch_point", lang)
    shares = sum_node.data["contributions"]
    assert not np.isclose(shares[0], gw.item()) and not np.isclose(shares[1], gw.item())
    np.testing.assert_allclose(sum(shares), gw.item())
    assert claims(sum_node.lines)[-1][0] == "w"


def test_square_plus_linear_is_drawn_op_by_op_not_as_a_loss():
    J, names, model = CASES["square_plus_linear"]()
    m = backward_model(J, names=names)
    assert not [n for n in m.nodes if n.data.get("rule") == "loss"]
    (sum_node,) = m.nodes_of_kind("sum_of_outputs")
    np.testing.assert_allclose(sum_node.data["total"], 2 * 1.5 + 3)


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss_is_one_L_prime_box_with_its_formula(loss):
    J, names, model = LOSSES[loss]()
    m = backward_model(J, names=names, model=model, lang="es")
    boxes = [n for n in m.nodes if n.data.get("rule") == "loss"]
    assert len(boxes) == 1, [n.lines for n in m.nodes]
    (box,) = boxes
    # the prediction: the layer's z⁽¹⁾, or a⁽¹⁾ = σ(z⁽¹⁾) for BCELoss (probabilities)
    h, grad = ("a⁽¹⁾", "∂J/∂a⁽¹⁾") if loss == "BCELoss" else ("z⁽¹⁾", "δ⁽¹⁾")
    assert box.lines[0] == "Derivada L'"
    assert box.lines[1].startswith("J = ") and h in box.lines[1]
    assert any(line.startswith(f"L' = ∂J/∂{h}") for line in box.lines)
    (out,) = [e for e in m.edges if e.src == box.id]
    assert out.lines[-1] == f"= {grad}"


def test_a_neurons_sum_of_inputs_is_one_branch_point():
    w1, w2, b = (ag.tensor(v, requires_grad=True) for v in (0.5, -1.0, 0.25))
    x1, x2 = ag.tensor(2.0), ag.tensor(3.0)
    J = ag.sigmoid(w1 * x1 + w2 * x2 + b)
    m = backward_model(J, names=locals())
    (branch,) = m.nodes_of_kind("branch")
    assert branch.lines[:2] == ["Branch point", "z⁽¹⁾ = v₁ + v₂ + b"]
    assert len([e for e in m.edges if e.src == branch.id]) == 3


# --- the course's words -----------------------------------------------------------------------
#: names of math functions written as the course writes them, in both languages
MATH = {"tanh", "ReLU", "softmax", "ln", "exp", "max", "min", "sin", "cos", "sign", "clip",
        "softplus", "GELU", "ELU", "LeakyReLU", "var", "where", "diag", "float64", "grad",
        "gradcheck", "NaN", "Inf", "nn", "float"}


def visible_text(graph) -> str:
    """Every text a reader sees: node, edge and cluster labels, and the legend's HTML table."""
    source = graph.source
    text = " ".join(" ".join(lines) for lines in dot_labels(source))
    for table in re.findall(r"<<table.*?</table>>", source, re.S):
        text += " " + " ".join(re.findall(r">([^<>]+)<", table))
    return text


def test_no_english_word_in_a_spanish_picture():
    spanish = set()
    for _, es in ag.vocabulary.VOCABULARY.values():
        spanish.update(re.findall(r"[A-Za-zÁÉÍÓÚáéíóúñÑ]{3,}", es))
    for case, make in sorted(CASES.items()):
        J, names, model = make()
        # the model's own identifiers (attribute and class names) are code, not English
        code = " ".join(f"{n} {type(m).__name__}" for n, m in model.named_modules()) \
            if model else ""
        allowed = spanish | MATH | set(names) | set(re.findall(r"[A-Za-z]{3,}", code))
        for draw in (viz.draw_forward, viz.draw_backward):
            text = visible_text(draw(J, names=names, model=model, lang="es"))
            words = set(re.findall(r"[A-Za-zÁÉÍÓÚáéíóúñÑ]{3,}", text))
            assert words <= allowed, f"{case}: {sorted(words - allowed)}"


def test_the_courses_rule_names_are_visible_text_in_spanish():
    seen = ""
    for case in ("course_232_nn", "shared_weight", "single_neuron"):
        J, names, model = CASES[case]()
        seen += visible_text(viz.draw_backward(J, names=names, model=model, lang="es"))
    for name in ("Unidad 1", "L'", "Neurona inversa", "Punto de bifurcación", "Suma de salidas",
                 "Salida ponderada doble", "Salida constante", "ψ'"):
        assert name in seen, name


def test_spanish_plurals():
    assert ag.vocabulary.count(1, "op", "es") == "1 operación"
    assert ag.vocabulary.count(2, "op", "es") == "2 operaciones"
    x = ag.tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(4):
        y = y * 1.5
    source = viz.draw_forward(y.sum(), max_nodes=2, lang="es").source
    assert "5 operaciones" in source and "operación" not in source.replace("operaciones", "")


# --- layout ------------------------------------------------------------------------------------
def svg_size(graph) -> tuple[float, float]:
    svg = graph.pipe(format="svg").decode()
    m = re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    return float(m.group(1)), float(m.group(2))


def svg_node_x(graph) -> dict[str, float]:
    """Node id → the x of its centre in the rendered SVG."""
    svg = graph.pipe(format="svg").decode()
    found = {}
    for m in re.finditer(r'<g id="node\d+" class="node">\s*<title>([^<]+)</title>(.*?)</g>',
                         svg, re.S):
        xs = [float(x) for x in re.findall(r'<text[^>]* x="([-\d.]+)"', m.group(2))]
        if xs:
            found[m.group(1)] = sum(xs) / len(xs)
    return found


@needs_dot
@pytest.mark.parametrize("case", ["course_232_nn", "course_232_columns", "single_neuron",
                                  "xor_221"])
def test_course_size_pictures_fit_a_slide(case):
    J, names, model = CASES[case]()
    for draw in (viz.draw_forward, viz.draw_backward):
        for lang in ("en", "es"):
            width, height = svg_size(draw(J, names=names, model=model, lang=lang))
            # the column form draws each layer as three boxes (W·a, + b, σ): a longer chain
            limit = 4.0 if case == "course_232_columns" else 3.5
            assert width / height <= limit, (draw.__name__, lang, width, height)


@needs_dot
@pytest.mark.parametrize("case", ["course_232_nn", "xor_221", "shared_weight"])
def test_the_inverse_network_keeps_the_forward_layout_cost_on_the_right(case):
    J, names, model = CASES[case]()
    m = backward_model(J, names=names, model=model)
    x = svg_node_x(viz.draw_backward(J, names=names, model=model))
    assert x["unit"] == max(x.values())
    for e in m.edges:                          # every gradient runs right to left (or down)
        if not e.dst.startswith("leaf"):
            assert x[e.dst] < x[e.src], (e.src, e.dst)


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_op_is_in_a_box_and_every_value_has_a_name(case):
    """Regression: the prediction's ``+ b`` before a hand-written loss (h − t)² was swallowed by
    the loss's sum chain — no box, and the loss formula read ``(? − t)²``."""
    J, names, model = CASES[case]()
    d = drawing(J, names, model)
    covered = {id(n) for s in d.steps for n in s.nodes}
    assert covered == {id(n) for n in d.order}
    for step in d.steps:
        assert "?" not in step.formula, step.formula
        for v in step.inputs + [step.output]:
            assert v.key in d.names


@pytest.mark.parametrize("lang, words", [("en", "Σ over the batch"), ("es", "Σ sobre el lote")])
def test_a_weights_gradient_on_a_batch_is_marked_as_a_sum_over_the_samples(lang, words):
    J, names, model = CASES["course_232_batch"]()
    m = backward_model(J, names=names, model=model, lang=lang)
    weight_edges = {e.data["quantity"]: e.lines for e in m.edges if e.kind == "grad"
                    and e.data.get("quantity", "").startswith("∂J/∂W")}
    assert weight_edges == {
        "∂J/∂W⁽¹⁾": [f"{words}: δ⁽¹⁾ᵀ·x (m = 3)", "= ∂J/∂W⁽¹⁾"],
        "∂J/∂W⁽²⁾": [f"{words}: δ⁽²⁾ᵀ·a⁽¹⁾ (m = 3)", "= ∂J/∂W⁽²⁾"]}
    J, names, model = CASES["course_232_nn"]()                  # one sample: x·δ, no sum
    one = backward_model(J, names=names, model=model, lang=lang)
    assert {tuple(e.lines) for e in one.edges if e.data.get("quantity", "").startswith("∂J/∂W")
            } == {("x·δ⁽¹⁾", "= ∂J/∂W⁽¹⁾"), ("a⁽¹⁾·δ⁽²⁾", "= ∂J/∂W⁽²⁾")}
