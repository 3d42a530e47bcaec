"""Compiled kernels with their numpy reference twins (see kernels/_kernel.py).

``KERNELS`` maps each kernel's name to its ``Kernel``; the kernels are also attributes of this
package (``kernels.sigmoid(x)``, ``kernels.softmax_rows(x)``…). The fused linear layer
(``linalg.py``: ``linear_forward``/``linear_backward``) takes arrays of different shapes, so it
has its own dispatch and tests instead of a ``Kernel``.
"""
from __future__ import annotations

from ._kernel import KERNELS, Compiled, Kernel, jit_enabled, references_only
from .elementwise import (
    elu,
    elu_backward,
    gelu,
    gelu_backward,
    gelu_erf,
    gelu_erf_backward,
    leaky_relu,
    leaky_relu_backward,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    silu,
    silu_backward,
    softplus,
    softplus_backward,
    tanh,
    tanh_backward,
)
from .linalg import ACTIVATIONS, linear_backward, linear_forward
from .optim import (
    adagrad,
    adam,
    adam_amsgrad,
    rmsprop,
    rmsprop_centered,
    rmsprop_centered_momentum,
    rmsprop_momentum,
    sgd,
    sgd_momentum,
)
from .reduce import (
    log_softmax_rows,
    softmax_cross_entropy_backward_rows,
    softmax_cross_entropy_rows,
    softmax_rows,
)
