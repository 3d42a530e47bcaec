"""Every differentiable operation, one module per family (forward and backward side by side)."""
from __future__ import annotations

from . import shape
from ._op import Op
from .activations import (elu, gelu, leaky_relu, relu, selu, sigmoid, silu, softplus, swish,
                          tanh)
from .compare import argmax, argmin, eq, ge, gt, le, lt, ne, one_hot
from .elementwise import (abs, add, astype, clip, clone, cos, div, exp, log, maximum, minimum, mul,
                          neg, pow, sin, sqrt, sub, where)
from .linalg import linear, matmul
from .losses import (binary_cross_entropy, binary_cross_entropy_with_logits, mse_loss,
                     softmax_cross_entropy, squared_error)
from .reduce import (log_softmax, logsumexp, max, mean, min, prod, softmax, std, sum, var)
from .shape import (broadcast_to, concatenate, flatten, getitem, permute, reshape, split, squeeze,
                    stack, sum_to, transpose, unsqueeze)

__all__ = [
    "Op", "shape",
    "elu", "gelu", "leaky_relu", "relu", "selu", "sigmoid", "silu", "softplus", "swish", "tanh",
    "argmax", "argmin", "eq", "ge", "gt", "le", "lt", "ne", "one_hot",
    "abs", "add", "astype", "clip", "clone", "cos", "div", "exp", "log", "maximum", "minimum",
    "mul", "neg", "pow", "sin", "sqrt", "sub", "where",
    "linear", "matmul", "binary_cross_entropy_with_logits", "mse_loss", "softmax_cross_entropy",
    "squared_error", "binary_cross_entropy",
    "log_softmax", "logsumexp", "max", "mean", "min", "prod", "softmax", "std", "sum", "var",
    "broadcast_to", "concatenate", "flatten", "getitem", "permute", "reshape", "split", "squeeze",
    "stack", "sum_to", "transpose", "unsqueeze",
]
