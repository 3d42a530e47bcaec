"""nn.init: variances of each initializer against its formula, bounds, orthogonality, seeding."""
from __future__ import annotations

import math

import numpy as np
import pytest

import autograd_core as ag
from nn import init

FAN_IN, FAN_OUT = 1000, 1000          # weights are (out_features, in_features)
TRUNC_2SIGMA = 1 - 4 * math.exp(-2) / math.sqrt(2 * math.pi) / math.erf(2 / math.sqrt(2))


def _weight(out_features=FAN_OUT, in_features=FAN_IN, dtype=np.float32):
    return ag.zeros(out_features, in_features, dtype=dtype, requires_grad=True)


VARIANCES = [
    ("normal_", lambda w: init.normal_(w, 0.0, 0.3), 0.09),
    ("uniform_", lambda w: init.uniform_(w, -0.5, 0.5), 1 / 12),
    ("trunc_normal_", lambda w: init.trunc_normal_(w, 0.0, 0.1), 0.01 * TRUNC_2SIGMA),
    ("lecun_normal_", init.lecun_normal_, 1 / FAN_IN),
    ("lecun_uniform_", init.lecun_uniform_, 1 / FAN_IN),
    ("xavier_normal_", init.xavier_normal_, 2 / (FAN_IN + FAN_OUT)),
    ("xavier_uniform_", init.xavier_uniform_, 2 / (FAN_IN + FAN_OUT)),
    ("xavier_uniform_gain", lambda w: init.xavier_uniform_(w, gain=5 / 3),
     (5 / 3) ** 2 * 2 / (FAN_IN + FAN_OUT)),
    ("kaiming_normal_", init.kaiming_normal_, 2 / FAN_IN),
    ("kaiming_uniform_", init.kaiming_uniform_, 2 / FAN_IN),
    ("kaiming_normal_tanh", lambda w: init.kaiming_normal_(w, nonlinearity="tanh"),
     (5 / 3) ** 2 / FAN_IN),
    ("kaiming_uniform_leaky", lambda w: init.kaiming_uniform_(w, a=0.2,
                                                              nonlinearity="leaky_relu"),
     2 / (1 + 0.04) / FAN_IN),
    ("orthogonal_", init.orthogonal_, 1 / FAN_IN),
]


@pytest.mark.parametrize("name, fill, variance", VARIANCES, ids=[v[0] for v in VARIANCES])
def test_empirical_variance_within_2_percent(name, fill, variance):
    w = _weight()
    out = fill(w)
    assert out is w and w.dtype == np.float32 and w.requires_grad and w.grad_fn is None
    assert abs(w.data.astype(np.float64).var() / variance - 1) < 0.02, name
    assert abs(w.data.mean()) < 0.01 * math.sqrt(variance) * 10


def test_fans_follow_pytorch_for_rectangular_and_conv_weights():
    w = ag.zeros(200, 800)                          # out=200, in=800
    init.kaiming_normal_(w, mode="fan_out")
    assert abs(w.data.var() / (2 / 200) - 1) < 0.03
    init.kaiming_normal_(w)
    assert abs(w.data.var() / (2 / 800) - 1) < 0.03
    conv = ag.zeros(16, 8, 3, 3)
    assert init._calculate_fan_in_and_fan_out(conv) == (72, 144)


def test_uniform_bounds_and_constants():
    w = init.xavier_uniform_(_weight(100, 300))
    bound = math.sqrt(6 / 400)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    assert np.all(init.ones_(ag.zeros(3)).data == 1)
    assert np.all(init.zeros_(ag.ones(3)).data == 0)
    assert np.all(init.constant_(ag.zeros(2, 2), 0.25).data == 0.25)


def test_trunc_normal_stays_within_bounds():
    w = init.trunc_normal_(_weight(), mean=1.0, std=0.5)
    assert w.data.min() >= 0.0 and w.data.max() <= 2.0
    assert w.data.min() < 0.01 and w.data.max() > 1.99          # bounds are reached, not shrunk
    w = init.trunc_normal_(ag.zeros(10000), std=1.0, a=-0.5, b=1.0)
    assert w.data.min() >= -0.5 and w.data.max() <= 1.0


@pytest.mark.parametrize("shape", [(64, 64), (128, 32), (32, 128), (16, 4, 3)])
def test_orthogonal_gives_identity_gram(shape):
    w = init.orthogonal_(ag.zeros(*shape, dtype=np.float64), gain=2.0)
    flat = w.data.reshape(shape[0], -1)
    gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-10)


def test_seed_reproducibility_global_and_explicit_generator():
    ag.manual_seed(7)
    a = init.kaiming_uniform_(ag.zeros(5, 4)).data.copy()
    ag.manual_seed(7)
    b = init.kaiming_uniform_(ag.zeros(5, 4)).data.copy()
    np.testing.assert_array_equal(a, b)
    c = init.xavier_normal_(ag.zeros(5, 4), generator=ag.Generator(3)).data.copy()
    d = init.xavier_normal_(ag.zeros(5, 4), generator=ag.Generator(3)).data.copy()
    np.testing.assert_array_equal(c, d)
    assert not np.array_equal(a, init.kaiming_uniform_(ag.zeros(5, 4)).data)


def test_keeps_float64_dtype_and_calculate_gain_table():
    w = init.normal_(ag.zeros(3, 3, dtype=np.float64))
    assert w.dtype == np.float64
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("selu") == 0.75
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 1e-4)))


@pytest.mark.parametrize("name, fn", [
    ("glorot_uniform", init.xavier_uniform_), ("xavier_uniform", init.xavier_uniform_),
    ("glorot_normal", init.xavier_normal_), ("xavier_normal", init.xavier_normal_),
    ("he_normal", init.kaiming_normal_), ("kaiming_normal", init.kaiming_normal_),
    ("he_uniform", init.kaiming_uniform_), ("kaiming_uniform_", init.kaiming_uniform_),
    ("lecun_normal", init.lecun_normal_), ("lecun_uniform", init.lecun_uniform_),
    ("orthogonal", init.orthogonal_), ("zeros", init.zeros_), ("ones", init.ones_),
])
def test_get_initializer_resolves_keras_and_pytorch_names(name, fn):
    assert init.get_initializer(name) is fn


def test_get_initializer_keras_defaults_kwargs_and_callables():
    w = init.get_initializer("normal")(_weight())
    assert abs(w.data.std() / 0.05 - 1) < 0.02
    w = init.get_initializer("uniform")(ag.zeros(1000))
    assert w.data.min() >= -0.05 and w.data.max() <= 0.05
    assert np.all(init.get_initializer("constant", val=3.0)(ag.zeros(2)).data == 3)
    custom = init.get_initializer(lambda t: init.constant_(t, 2.0))
    assert np.all(custom(ag.zeros(2)).data == 2)


def test_bad_names_modes_and_shapes_raise_clear_errors():
    with pytest.raises(ValueError, match=r"unknown initializer 'glorot'.*glorot_uniform"):
        init.get_initializer("glorot")
    with pytest.raises(TypeError, match="expected a name or a callable"):
        init.get_initializer(3)
    with pytest.raises(ValueError, match=r"kaiming_normal_: mode must be one of .*'fan_avg'"):
        init.kaiming_normal_(ag.zeros(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match=r"kaiming_uniform_: unknown nonlinearity 'swish'"):
        init.kaiming_uniform_(ag.zeros(3, 3), nonlinearity="swish")
    with pytest.raises(ValueError, match=r"xavier_uniform_: .*at least 2 dimensions.*\(5,\)"):
        init.xavier_uniform_(ag.zeros(5))
    with pytest.raises(TypeError, match="only initialize floating"):
        init.normal_(ag.tensor([1, 2]))
    with pytest.raises(ValueError, match="empty"):
        init.trunc_normal_(ag.zeros(3), a=1.0, b=-1.0)


def test_in_place_update_is_visible_to_views_and_bumps_version():
    w = ag.zeros(4, 4, requires_grad=True)
    before = w._version
    array = w.data
    init.ones_(w)
    assert w.data is array and np.all(array == 1) and w._version > before
