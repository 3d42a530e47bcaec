"""Weight initializers (``nn.init``): fill a tensor in place and return it.

Every initializer writes new values into ``tensor`` (through ``Tensor.copy_`` under
``ag.no_grad()``, so parameters that require grad can be initialized and the version counter
moves), keeps the tensor's dtype, and draws from autograd_core's global generator
(``ag.manual_seed``) unless a ``generator=`` (an ``ag.Generator`` or a numpy Generator) is given.

Fans follow PyTorch for a weight of shape (out_features, in_features, *receptive field):
fan_in = shape[1]·∏shape[2:], fan_out = shape[0]·∏shape[2:].

variance of each initializer:

- ``lecun_normal_`` N(0, σ²), ``lecun_uniform_`` U(±√(3/fan_in)): 1/fan_in (the course's 1/d)
- ``xavier_normal_``, ``xavier_uniform_`` U(±gain·√(6/(fan_in + fan_out))), Glorot:
  gain²·2/(fan_in + fan_out)
- ``kaiming_normal_``, ``kaiming_uniform_`` U(±√3·σ), He: σ² = gain²/fan (ReLU: 2/fan_in)
- ``orthogonal_``: QR of a Gaussian matrix, WᵀW = gain²·I (or WWᵀ when wider than tall)

Differences from Keras: ``he_normal``, ``glorot_normal`` and ``lecun_normal`` here draw from a
plain normal (PyTorch); Keras draws a normal truncated at 2σ and rescaled to the same variance.
``trunc_normal_`` truncates at mean ± 2·std by default (Keras's ``TruncatedNormal``), whereas
PyTorch's default bounds are the absolute values ±2 whatever the std.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

__all__ = [
    "calculate_gain", "constant_", "get_initializer", "kaiming_normal_", "kaiming_uniform_",
    "lecun_normal_", "lecun_uniform_", "normal_", "ones_", "orthogonal_", "trunc_normal_",
    "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_",
]

_NONLINEARITIES = ("linear", "identity", "sigmoid", "tanh", "relu", "leaky_relu", "selu",
                   "conv1d", "conv2d", "conv3d")
_MODES = ("fan_in", "fan_out")


# --- helpers ------------------------------------------------------------------------------------
def _rng(generator) -> np.random.Generator:
    if generator is None:
        return ag.random.default_generator.numpy
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, ag.Generator):
        return generator.numpy
    raise TypeError(f"init: generator must be an ag.Generator or a numpy Generator, got "
                    f"{type(generator).__name__}")


def _check_tensor(name: str, tensor) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}: expected a Tensor (e.g. a Parameter), got "
                        f"{type(tensor).__name__}")
    if tensor.dtype.kind != "f":
        raise TypeError(f"{name}: can only initialize floating tensors, got {tensor.dtype}")


def _fill(tensor: Tensor, values) -> Tensor:
    """Write ``values`` into ``tensor`` in place (no graph is recorded) and return it."""
    with ag.no_grad():
        tensor.copy_(np.asarray(values, dtype=np.float64).astype(tensor.dtype, copy=False))
    return tensor


def _calculate_fan_in_and_fan_out(tensor: Tensor, name: str = "init") -> tuple[int, int]:
    """fan_in = shape[1]·∏shape[2:], fan_out = shape[0]·∏shape[2:] (PyTorch's convention)."""
    if tensor.ndim < 2:
        raise ValueError(f"{name}: fan in and fan out need a tensor with at least 2 dimensions "
                         f"(out_features, in_features), got shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str, name: str) -> int:
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be one of {_MODES}, got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, name)
    return fan_in if mode == "fan_in" else fan_out


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation (PyTorch's table).

    linear/identity/conv/sigmoid → 1,  tanh → 5/3,  relu → √2,
    leaky_relu → √(2/(1 + a²)) (a = ``param``, default 0.01),  selu → 3/4.

    >>> round(calculate_gain("relu"), 4)
    1.4142
    """
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; valid: "
                         f"{', '.join(_NONLINEARITIES)}")
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    return 1.0


# --- constant and plain random fills ------------------------------------------------------------
def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    _check_tensor("constant_", tensor)
    return _fill(tensor, np.full(tensor.shape, val, dtype=np.float64))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0 (the usual bias initialization)."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples of N(mean, std²)."""
    _check_tensor("normal_", tensor)
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    return _fill(tensor, _rng(generator).normal(mean, std, size=tensor.shape))


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples of U(a, b); variance (b − a)²/12."""
    _check_tensor("uniform_", tensor)
    if a > b:
        raise ValueError(f"uniform_: the lower bound a={a} is above the upper bound b={b}")
    return _fill(tensor, _rng(generator).uniform(a, b, size=tensor.shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float | None = None,
                  b: float | None = None, *, generator=None) -> Tensor:
    """Fill with N(mean, std²) samples, re-drawing every sample outside [a, b].

    Bounds default to mean − 2·std and mean + 2·std (Keras's ``TruncatedNormal``); given bounds
    are absolute values, as in PyTorch. Truncated at ±2σ the variance is
    σ²·(1 − 4φ(2)/(Φ(2) − Φ(−2))) ≈ 0.7737·σ².
    """
    _check_tensor("trunc_normal_", tensor)
    a = mean - 2 * std if a is None else a
    b = mean + 2 * std if b is None else b
    if not a < b:
        raise ValueError(f"trunc_normal_: the interval [a, b] = [{a}, {b}] is empty")
    if std <= 0:
        raise ValueError(f"trunc_normal_: std must be positive, got {std}")
    rng = _rng(generator)
    values = rng.normal(mean, std, size=tensor.shape)
    bad = (values < a) | (values > b)
    for _ in range(1000):
        count = int(bad.sum())
        if count == 0:
            return _fill(tensor, values)
        values[bad] = rng.normal(mean, std, size=count)
        bad = (values < a) | (values > b)
    raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] is too far from the mean {mean} "
                     f"(std {std}) to draw samples by rejection")


# --- variance-scaling initializers -------------------------------------------------------------
def lecun_normal_(tensor: Tensor, *, generator=None) -> Tensor:
    """LeCun normal: N(0, 1/fan_in) — the course's "variance 1/d" initialization."""
    fan_in, _ = _calculate_fan_in_and_fan_out(tensor, "lecun_normal_")
    return normal_(tensor, 0.0, math.sqrt(1.0 / fan_in), generator=generator)


def lecun_uniform_(tensor: Tensor, *, generator=None) -> Tensor:
    """LeCun uniform: U(−√(3/fan_in), √(3/fan_in)), variance 1/fan_in."""
    fan_in, _ = _calculate_fan_in_and_fan_out(tensor, "lecun_uniform_")
    bound = math.sqrt(3.0 / fan_in)
    return uniform_(tensor, -bound, bound, generator=generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, *, generator=None) -> Tensor:
    """Glorot/Xavier normal: N(0, σ²) with σ = gain·√(2/(fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, "xavier_normal_")
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator=generator)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, *, generator=None) -> Tensor:
    """Glorot/Xavier uniform: U(−ℓ, ℓ) with ℓ = gain·√(6/(fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator=generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str, name: str) -> float:
    fan = _fan(tensor, mode, name)
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"{name}: unknown nonlinearity {nonlinearity!r}; valid: "
                         f"{', '.join(_NONLINEARITIES)}")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "relu", *, generator=None) -> Tensor:
    """He/Kaiming normal: N(0, σ²) with σ = gain/√fan (ReLU, fan_in: σ² = 2/fan_in).

    ``a`` is the negative slope used when ``nonlinearity="leaky_relu"``.
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return normal_(tensor, 0.0, std, generator=generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "relu", *, generator=None) -> Tensor:
    """He/Kaiming uniform: U(−√3·σ, √3·σ) with σ = gain/√fan."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator=generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, *, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2013; PyTorch's algorithm).

    The tensor is viewed as (shape[0], ∏shape[1:]); a Gaussian matrix is factored W = QR and Q's
    columns are signed by diag(R) so the result is uniformly distributed. Then WᵀW = gain²·I
    when rows ≥ columns, WWᵀ = gain²·I otherwise.
    """
    _check_tensor("orthogonal_", tensor)
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: needs a tensor with at least 2 dimensions, got shape "
                         f"{tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor.size // rows if rows else 0
    flat = _rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


# --- lookup by name -----------------------------------------------------------------------------
_KERAS_RANDOM = {"std": 0.05}
_NAMES: dict[str, tuple[Callable[..., Tensor], dict]] = {
    "zeros": (zeros_, {}),
    "ones": (ones_, {}),
    "constant": (constant_, {}),
    "normal": (normal_, _KERAS_RANDOM),
    "random_normal": (normal_, _KERAS_RANDOM),
    "uniform": (uniform_, {"a": -0.05, "b": 0.05}),
    "random_uniform": (uniform_, {"a": -0.05, "b": 0.05}),
    "trunc_normal": (trunc_normal_, _KERAS_RANDOM),
    "truncated_normal": (trunc_normal_, _KERAS_RANDOM),
    "glorot_uniform": (xavier_uniform_, {}),
    "xavier_uniform": (xavier_uniform_, {}),
    "glorot_normal": (xavier_normal_, {}),
    "xavier_normal": (xavier_normal_, {}),
    "he_normal": (kaiming_normal_, {}),
    "kaiming_normal": (kaiming_normal_, {}),
    "he_uniform": (kaiming_uniform_, {}),
    "kaiming_uniform": (kaiming_uniform_, {}),
    "lecun_normal": (lecun_normal_, {}),
    "lecun_uniform": (lecun_uniform_, {}),
    "orthogonal": (orthogonal_, {}),
}


def get_initializer(name_or_callable: str | Callable[..., Tensor], **kwargs
                    ) -> Callable[..., Tensor]:
    """Resolve a Keras or PyTorch initializer name (or pass a callable through).

    Names: zeros, ones, constant, normal/random_normal, uniform/random_uniform,
    trunc_normal/truncated_normal, glorot_*/xavier_*, he_*/kaiming_*, lecun_*, orthogonal
    (a trailing ``_`` is accepted: ``"xavier_uniform_"``). ``kwargs`` are bound to the
    initializer (``get_initializer("constant", val=0.1)``). The random-by-name initializers use
    Keras's defaults, std 0.05 and U(−0.05, 0.05); called directly, ``normal_``/``uniform_`` keep
    PyTorch's N(0, 1) and U(0, 1).

    >>> import autograd_core as ag
    >>> get_initializer("he_normal")(ag.zeros(3, 4)).shape
    (3, 4)
    """
    if callable(name_or_callable):
        return functools.partial(name_or_callable, **kwargs) if kwargs else name_or_callable
    if not isinstance(name_or_callable, str):
        raise TypeError(f"get_initializer: expected a name or a callable, got "
                        f"{type(name_or_callable).__name__}")
    key = name_or_callable.lower().rstrip("_")
    if key not in _NAMES:
        raise ValueError(f"get_initializer: unknown initializer {name_or_callable!r}; valid "
                         f"names: {', '.join(sorted(_NAMES))}")
    function, defaults = _NAMES[key]
    bound = {**defaults, **kwargs}
    return functools.partial(function, **bound) if bound else function
