"""The functional API: ``ag.grad`` (also grad of grad), ``vjp``, ``jvp``, ``jacobian``,
``hessian`` and ``hvp`` in ``autograd_core.functional``.

Expected values are derived by hand in float64 (derivatives written next to each test) and, where
PyTorch is installed, compared with ``torch.autograd.functional`` (those parametrizations are
skipped without torch).
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import functional as F

try:
    import torch
except ImportError:                      # the torch comparisons are skipped
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
TIGHT = {"rtol": 1e-12, "atol": 1e-12}


def f64(values, requires_grad: bool = False) -> ag.Tensor:
    return ag.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def as_array(t) -> np.ndarray:
    assert isinstance(t, ag.Tensor), f"expected a Tensor, got {type(t).__name__}"
    return t.numpy()


# --- ag.grad, first and higher order --------------------------------------------------------
def test_grad_returns_a_tuple_and_leaves_dot_grad_untouched():
    x = f64([1.0, -2.0, 0.5], requires_grad=True)
    (g,) = ag.grad((x ** 3).sum(), x)
    np.testing.assert_allclose(as_array(g), 3 * x.numpy() ** 2, **TIGHT)
    assert x.grad is None
    assert not g.requires_grad                      # create_graph=False: a plain result


def test_grad_of_grad_with_create_graph():
    x = f64([1.5, -0.5], requires_grad=True)
    (g,) = ag.grad((x ** 3).sum(), x, create_graph=True)       # 3x²
    assert g.requires_grad
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2, **TIGHT)
    (gg,) = ag.grad(g.sum(), x)                                 # 6x
    np.testing.assert_allclose(gg.numpy(), 6 * x.numpy(), **TIGHT)


def test_third_derivative_of_sin():
    x = f64([0.3, 1.1, -2.0], requires_grad=True)
    (d1,) = ag.grad(ag.sin(x).sum(), x, create_graph=True)     # cos
    (d2,) = ag.grad(d1.sum(), x, create_graph=True)             # −sin
    (d3,) = ag.grad(d2.sum(), x)                                # −cos
    np.testing.assert_allclose(d1.numpy(), np.cos(x.numpy()), **TIGHT)
    np.testing.assert_allclose(d2.numpy(), -np.sin(x.numpy()), **TIGHT)
    np.testing.assert_allclose(d3.numpy(), -np.cos(x.numpy()), **TIGHT)


def test_mixed_second_derivative_through_two_inputs():
    x = f64(0.7, requires_grad=True)
    y = f64(-1.3, requires_grad=True)
    gx, gy = ag.grad(x ** 2 * y, [x, y], create_graph=True)    # 2xy, x²
    (gxy,) = ag.grad(gx, y)                                     # ∂²/∂y∂x = 2x
    (gyx,) = ag.grad(gy, x)                                     # ∂²/∂x∂y = 2x
    assert gxy.item() == pytest.approx(2 * 0.7, rel=1e-12)
    assert gyx.item() == pytest.approx(2 * 0.7, rel=1e-12)


def test_grad_of_grad_then_backward_accumulates_into_leaves():
    x = f64([2.0, -1.0], requires_grad=True)
    (g,) = ag.grad((x ** 4).sum(), x, create_graph=True)       # 4x³
    (g * g).sum().backward()                                    # d/dx Σ 16x⁶ = 96x⁵
    np.testing.assert_allclose(x.grad.numpy(), 96 * x.numpy() ** 5, **TIGHT)


def test_grad_with_grad_outputs_and_allow_unused():
    x = f64([1.0, 2.0], requires_grad=True)
    unused = f64([3.0], requires_grad=True)
    v = f64([0.5, -1.0])
    gx, gu = ag.grad(x * x, [x, unused], grad_outputs=v, allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), 2 * x.numpy() * v.numpy(), **TIGHT)
    assert gu is None
    with pytest.raises(RuntimeError, match="input 1 .* was not used"):
        ag.grad((x * x).sum(), [x, unused])


# --- vjp and jvp ------------------------------------------------------------------------------
A = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]])


def affine_tanh(x):
    return ag.tanh(ag.tensor(A) @ x)


def affine_tanh_jacobian(x: np.ndarray) -> np.ndarray:
    """∂ tanh(A x)/∂x = diag(1 − tanh²(A x)) A."""
    return (1 - np.tanh(A @ x) ** 2)[:, None] * A


def test_vjp_single_input_equals_v_transposed_jacobian():
    x = f64([0.2, -0.4, 0.9])
    v = f64([1.5, -0.5])
    out, g = F.vjp(affine_tanh, x, v)
    np.testing.assert_allclose(out.numpy(), np.tanh(A @ x.numpy()), **TIGHT)
    np.testing.assert_allclose(g.numpy(), v.numpy() @ affine_tanh_jacobian(x.numpy()), **TIGHT)


def test_vjp_multiple_inputs_returns_a_tuple():
    a, b = f64([1.0, 2.0, 3.0]), f64([-1.0, 0.5, 4.0])
    v = f64([1.0, 10.0, 100.0])
    out, (ga, gb) = F.vjp(lambda a, b: a * b, (a, b), v)
    np.testing.assert_allclose(ga.numpy(), v.numpy() * b.numpy(), **TIGHT)
    np.testing.assert_allclose(gb.numpy(), v.numpy() * a.numpy(), **TIGHT)


def test_vjp_scalar_output_needs_no_v_and_non_scalar_does():
    x = f64([1.0, -3.0])
    _, g = F.vjp(lambda x: (x * x).sum(), x)
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy(), **TIGHT)
    with pytest.raises(ValueError, match="vjp: v is required"):
        F.vjp(lambda x: x * x, x)


def test_vjp_does_not_touch_the_callers_tensors():
    x = f64([1.0, 2.0], requires_grad=True)
    F.vjp(lambda x: (x * x).sum(), x)
    assert x.grad is None and x.is_leaf


def test_vjp_of_an_unused_input_is_zero():
    a, b = f64([1.0, 2.0]), f64([5.0])
    _, (ga, gb) = F.vjp(lambda a, b: (a * a).sum(), (a, b))
    np.testing.assert_array_equal(gb.numpy(), [0.0])
    assert gb.shape == b.shape


def test_jvp_equals_jacobian_times_v():
    x = f64([0.2, -0.4, 0.9])
    v = f64([1.0, 0.5, -2.0])
    out, jv = F.jvp(affine_tanh, x, v)
    np.testing.assert_allclose(out.numpy(), np.tanh(A @ x.numpy()), **TIGHT)
    np.testing.assert_allclose(jv.numpy(), affine_tanh_jacobian(x.numpy()) @ v.numpy(), **TIGHT)


def test_jvp_multiple_inputs_sums_the_directional_derivatives():
    a, b = f64([1.0, 2.0]), f64([3.0, -1.0])
    va, vb = f64([0.5, 0.5]), f64([1.0, -2.0])
    _, jv = F.jvp(lambda a, b: a * b + ag.sin(a), (a, b), (va, vb))
    expected = (b.numpy() + np.cos(a.numpy())) * va.numpy() + a.numpy() * vb.numpy()
    np.testing.assert_allclose(jv.numpy(), expected, **TIGHT)


# --- jacobian ---------------------------------------------------------------------------------
def test_jacobian_single_input_single_output():
    x = f64([0.2, -0.4, 0.9])
    J = F.jacobian(affine_tanh, x)
    assert J.shape == (2, 3)
    np.testing.assert_allclose(J.numpy(), affine_tanh_jacobian(x.numpy()), **TIGHT)


def test_jacobian_shape_is_output_shape_plus_input_shape():
    x = f64(np.arange(6.0).reshape(2, 3) / 10)
    W = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5], [1.0, 1.0]])          # (4, 2)
    J = F.jacobian(lambda x: ag.tensor(W) @ x, x)                           # out (4, 3)
    assert J.shape == (4, 3, 2, 3)
    # ∂(W x)[i, j] / ∂x[k, l] = W[i, k]·[j == l]
    expected = np.einsum("ik,jl->ijkl", W, np.eye(3))
    np.testing.assert_allclose(J.numpy(), expected, **TIGHT)


def test_jacobian_of_a_scalar_output_has_the_input_shape():
    x = f64([[1.0, 2.0], [3.0, 4.0]])
    J = F.jacobian(lambda x: (x * x).sum(), x)
    assert J.shape == (2, 2)
    np.testing.assert_allclose(J.numpy(), 2 * x.numpy(), **TIGHT)


def test_jacobian_multiple_inputs():
    a, b = f64([1.0, 2.0, 3.0]), f64([0.5, -1.0])
    Ja, Jb = F.jacobian(lambda a, b: a.sum() * b, (a, b))      # out shape (2,)
    assert Ja.shape == (2, 3) and Jb.shape == (2, 2)
    np.testing.assert_allclose(Ja.numpy(), np.repeat(b.numpy()[:, None], 3, axis=1), **TIGHT)
    np.testing.assert_allclose(Jb.numpy(), a.numpy().sum() * np.eye(2), **TIGHT)


def test_jacobian_multiple_inputs_and_outputs_is_nested_by_output_then_input():
    a, b = f64([1.0, -2.0]), f64([3.0, 0.5])
    (J00, J01), (J10, J11) = F.jacobian(lambda a, b: (a * b, ag.exp(a).sum()), (a, b))
    np.testing.assert_allclose(J00.numpy(), np.diag(b.numpy()), **TIGHT)
    np.testing.assert_allclose(J01.numpy(), np.diag(a.numpy()), **TIGHT)
    assert J10.shape == (2,) and J11.shape == (2,)
    np.testing.assert_allclose(J10.numpy(), np.exp(a.numpy()), **TIGHT)
    np.testing.assert_array_equal(J11.numpy(), [0.0, 0.0])       # output 1 ignores b


def test_jacobian_multiple_outputs_single_input():
    x = f64([0.5, 2.0])
    J0, J1 = F.jacobian(lambda x: (x * 3.0, x.prod()), x)
    np.testing.assert_allclose(J0.numpy(), 3 * np.eye(2), **TIGHT)
    np.testing.assert_allclose(J1.numpy(), [2.0, 0.5], **TIGHT)


def test_jacobian_create_graph_gives_a_differentiable_result():
    x = f64([0.3, -0.8], requires_grad=True)
    J = F.jacobian(lambda x: x ** 3, x, create_graph=True)     # diag(3x²)
    assert J.requires_grad
    (g,) = ag.grad(J.sum(), x)                                  # d/dx Σ 3x² = 6x
    np.testing.assert_allclose(g.numpy(), 6 * x.numpy(), **TIGHT)


def test_jacobian_requires_tensor_inputs():
    with pytest.raises(TypeError, match="input 0 must be a Tensor"):
        F.jacobian(lambda x: x, np.ones(2))


# --- hessian ------------------------------------------------------------------------------
def course_f(x0, x1):
    """f = x0²·x1 + sin(x1)."""
    return x0 ** 2 * x1 + ag.sin(x1)


def course_f_hessian(x0: float, x1: float) -> np.ndarray:
    """∂²f/∂x0² = 2·x1, ∂²f/∂x0∂x1 = 2·x0, ∂²f/∂x1² = −sin(x1)."""
    return np.array([[2 * x1, 2 * x0], [2 * x0, -np.sin(x1)]])


def torch_hessian(torch_fn, inputs):
    tensors = tuple(torch.tensor(np.asarray(x.numpy())) for x in inputs)
    result = torch.autograd.functional.hessian(torch_fn, tensors if len(tensors) > 1
                                               else tensors[0])
    if len(tensors) == 1:
        return result.numpy()
    return [[block.numpy() for block in row] for row in result]


@pytest.mark.parametrize("reference", ["hand", pytest.param("torch", marks=needs_torch)])
def test_hessian_single_vector_input(reference):
    x = f64([1.5, -0.7])
    H = F.hessian(lambda x: course_f(x[0], x[1]), x)
    assert H.shape == (2, 2)
    if reference == "hand":
        expected = course_f_hessian(1.5, -0.7)
    else:
        expected = torch_hessian(lambda x: x[0] ** 2 * x[1] + torch.sin(x[1]), (x,))
    np.testing.assert_allclose(H.numpy(), expected, **TIGHT)


@pytest.mark.parametrize("reference", ["hand", pytest.param("torch", marks=needs_torch)])
def test_hessian_multiple_scalar_inputs(reference):
    x0, x1 = f64(1.5), f64(-0.7)
    H = F.hessian(course_f, (x0, x1))
    assert len(H) == 2 and all(len(row) == 2 for row in H)
    got = np.array([[H[i][j].item() for j in range(2)] for i in range(2)])
    if reference == "hand":
        expected = course_f_hessian(1.5, -0.7)
    else:
        blocks = torch_hessian(lambda a, b: a ** 2 * b + torch.sin(b), (x0, x1))
        expected = np.array([[float(blocks[i][j]) for j in range(2)] for i in range(2)])
    np.testing.assert_allclose(got, expected, **TIGHT)


def mixed_vector_f(a, b):
    """f = Σ a² · Σ b + Σ sin(a ⊙ b[:2])   (a: (2,), b: (3,))."""
    return (a * a).sum() * b.sum() + ag.sin(a * b[:2]).sum()


@pytest.mark.parametrize("reference", ["hand", pytest.param("torch", marks=needs_torch)])
def test_hessian_multiple_vector_inputs_blocks_have_shape_in_i_plus_in_j(reference):
    a, b = f64([0.4, -1.1]), f64([0.7, 2.0, -0.3])
    H = F.hessian(mixed_vector_f, (a, b))
    shapes = [[H[i][j].shape for j in range(2)] for i in range(2)]
    assert shapes == [[(2, 2), (2, 3)], [(3, 2), (3, 3)]]
    if reference == "hand":
        an, bn = a.numpy(), b.numpy()
        s = np.sin(an * bn[:2])
        c = np.cos(an * bn[:2])
        haa = 2 * bn.sum() * np.eye(2) - np.diag(bn[:2] ** 2 * s)
        hab = np.repeat(2 * an[:, None], 3, axis=1)
        hab[:, :2] += np.diag(c - an * bn[:2] * s)
        hbb = np.zeros((3, 3))
        hbb[:2, :2] = -np.diag(an ** 2 * s)
        expected = [[haa, hab], [hab.T, hbb]]
    else:
        expected = torch_hessian(
            lambda a, b: (a * a).sum() * b.sum() + torch.sin(a * b[:2]).sum(), (a, b))
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(H[i][j].numpy(), expected[i][j], **TIGHT)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("reference", ["hand", pytest.param("torch", marks=needs_torch)])
def test_hessian_of_a_quadratic_form_is_the_symmetric_part(seed, reference):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((4, 4))                      # not symmetric
    x = f64(rng.standard_normal(4))
    H = F.hessian(lambda x: 0.5 * (x @ (ag.tensor(M) @ x)), x)
    if reference == "hand":
        expected = (M + M.T) / 2
    else:
        Mt = torch.tensor(M)
        expected = torch_hessian(lambda x: 0.5 * (x @ (Mt @ x)), (x,))
    np.testing.assert_allclose(H.numpy(), expected, **TIGHT)


@pytest.mark.parametrize("reference", ["hand", pytest.param("torch", marks=needs_torch)])
def test_hessian_of_a_matrix_input_has_shape_in_plus_in(reference):
    x = f64([[0.5, -1.0], [2.0, 0.25]])
    H = F.hessian(lambda x: (x ** 3).sum() + (x[0] * x[1]).sum(), x)
    assert H.shape == (2, 2, 2, 2)
    if reference == "hand":
        expected = np.zeros((2, 2, 2, 2))
        for i in range(2):
            for j in range(2):
                expected[i, j, i, j] = 6 * x.numpy()[i, j]       # ∂²Σx³
        for j in range(2):                                      # ∂²(x₀ⱼ·x₁ⱼ) = 1 off-diagonal
            expected[0, j, 1, j] = expected[1, j, 0, j] = 1.0
    else:
        expected = torch_hessian(lambda x: (x ** 3).sum() + (x[0] * x[1]).sum(), (x,))
    np.testing.assert_allclose(H.numpy(), expected, **TIGHT)


@needs_torch
def test_hessian_of_a_small_network_loss_matches_torch():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((3, 2))
    X = rng.standard_normal((4, 3))
    w = f64(W.ravel())

    def loss(w):
        return ag.log_softmax(ag.tanh(ag.tensor(X) @ w.reshape(3, 2)), axis=-1)[:, 0].mean()

    def torch_loss(w):
        out = torch.tanh(torch.tensor(X) @ w.reshape(3, 2))
        return torch.log_softmax(out, dim=-1)[:, 0].mean()

    H = F.hessian(loss, w)
    np.testing.assert_allclose(H.numpy(), torch_hessian(torch_loss, (w,)), rtol=1e-10,
                               atol=1e-12)


def test_hessian_requires_a_single_element_output():
    with pytest.raises(ValueError, match="hessian: func must return a single-element tensor"):
        F.hessian(lambda x: x * x, f64([1.0, 2.0]))


def test_hessian_create_graph_allows_third_derivatives():
    x = f64([0.5, 1.5], requires_grad=True)
    H = F.hessian(lambda x: (x ** 4).sum(), x, create_graph=True)    # diag(12x²)
    assert H.requires_grad
    (g,) = ag.grad(H.sum(), x)                                        # 24x
    np.testing.assert_allclose(g.numpy(), 24 * x.numpy(), **TIGHT)


# --- hvp ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hvp_equals_hessian_times_v(seed):
    rng = np.random.default_rng(seed)
    x = f64(rng.standard_normal(4))
    v = f64(rng.standard_normal(4))

    def f(x):
        return ag.tanh(x).sum() * (x * x).sum() + ag.exp(x[0] * x[3])

    value, hv = F.hvp(f, x, v)
    assert value.item() == pytest.approx(f(x).item(), rel=1e-12)
    H = F.hessian(f, x)
    np.testing.assert_allclose(hv.numpy(), H.numpy() @ v.numpy(), **TIGHT)


def test_hvp_multiple_inputs_equals_hessian_blocks_times_v():
    a, b = f64([0.4, -1.1]), f64([0.7, 2.0, -0.3])
    va, vb = f64([1.0, -0.5]), f64([0.25, 2.0, 1.0])
    _, (ha, hb) = F.hvp(mixed_vector_f, (a, b), (va, vb))
    H = F.hessian(mixed_vector_f, (a, b))
    expected_a = H[0][0].numpy() @ va.numpy() + H[0][1].numpy() @ vb.numpy()
    expected_b = H[1][0].numpy() @ va.numpy() + H[1][1].numpy() @ vb.numpy()
    np.testing.assert_allclose(ha.numpy(), expected_a, **TIGHT)
    np.testing.assert_allclose(hb.numpy(), expected_b, **TIGHT)


def test_hvp_of_a_quadratic_form():
    M = np.array([[2.0, 1.0, 0.0], [-1.0, 3.0, 4.0], [0.5, 0.0, 1.0]])
    x, v = f64([1.0, 2.0, 3.0]), f64([0.0, 1.0, -1.0])
    _, hv = F.hvp(lambda x: 0.5 * (x @ (ag.tensor(M) @ x)), x, v)
    np.testing.assert_allclose(hv.numpy(), (M + M.T) / 2 @ v.numpy(), **TIGHT)


@needs_torch
def test_hvp_matches_torch():
    x = f64([0.3, -0.2, 1.4])
    v = f64([1.0, 2.0, -1.0])
    _, hv = F.hvp(lambda x: (ag.sin(x) * x).sum() * x[1], x, v)
    _, expected = torch.autograd.functional.hvp(
        lambda x: (torch.sin(x) * x).sum() * x[1], torch.tensor(x.numpy()),
        torch.tensor(v.numpy()))
    np.testing.assert_allclose(hv.numpy(), expected.numpy(), **TIGHT)


def test_hvp_requires_a_single_element_output():
    with pytest.raises(ValueError, match="hvp: func must return a single-element tensor"):
        F.hvp(lambda x: x * x, f64([1.0, 2.0]), f64([1.0, 0.0]))


# --- grad mode and the caller's graph ---------------------------------------------------------
def test_functional_api_records_even_under_no_grad():
    x = f64([1.0, 2.0])
    with ag.no_grad():
        J = F.jacobian(lambda x: x * x, x)
        H = F.hessian(lambda x: (x ** 3).sum(), x)
        _, g = F.vjp(lambda x: (x ** 3).sum(), x)
        _, jv = F.jvp(lambda x: x ** 3, x, f64([1.0, 1.0]))
        _, hv = F.hvp(lambda x: (x ** 3).sum(), x, f64([1.0, 1.0]))
        assert not ag.is_grad_enabled()                 # the caller's mode is left alone
    np.testing.assert_allclose(J.numpy(), np.diag(2 * x.numpy()), **TIGHT)
    np.testing.assert_allclose(H.numpy(), np.diag(6 * x.numpy()), **TIGHT)
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2, **TIGHT)
    np.testing.assert_allclose(jv.numpy(), 3 * x.numpy() ** 2, **TIGHT)
    np.testing.assert_allclose(hv.numpy(), 6 * x.numpy(), **TIGHT)


def test_create_graph_results_stay_connected_to_the_callers_inputs():
    x = f64([0.3, -0.8], requires_grad=True)
    v = f64([1.0, 1.0])
    _, g = F.vjp(lambda x: x ** 3, x, v, create_graph=True)          # 3x²
    _, jv = F.jvp(lambda x: x ** 3, x, v, create_graph=True)         # 3x²
    _, hv = F.hvp(lambda x: (x ** 4).sum(), x, v, create_graph=True)  # 12x²
    for result, factor in ((g, 6), (jv, 6), (hv, 24)):
        (d,) = ag.grad(result.sum(), x)
        np.testing.assert_allclose(d.numpy(), factor * x.numpy(), **TIGHT)
    assert x.grad is None
