"""autograd_core: the define-by-run reverse-mode differentiation engine of neurona.

Public names only; the code lives in the submodules (see the package layout in the README).
"""
from __future__ import annotations

import importlib.metadata as _metadata

from . import functional, graph, ops, vocabulary
from .checks import GradcheckError, detect_anomaly, gradcheck, gradgradcheck
from .creation import (arange, eye, from_numpy, full, full_like, linspace, ones, ones_like,
                       tensor, zeros, zeros_like)
from .dtypes import get_default_dtype, set_default_dtype
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .graph.engine import BackwardStep, add_observer, grad, increment_version
from .graph.rules import InverseRule
from .ops import *  # noqa: F401,F403  (every op function: add, tanh, matmul, softmax, ...)
from .ops import Op
from .random import (Generator, manual_seed, rand, rand_like, randint, randn, randn_like,
                     randperm)
from .tensor import Tensor

cat = ops.concatenate

try:                                   # the version is written once, in pyproject.toml
    __version__ = _metadata.version("neurona")
except _metadata.PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"
