"""Neural-network building blocks on top of the autograd engine (PyTorch's names, Keras's
conveniences where the course uses Keras).

``Module`` and ``Parameter``, containers (``Sequential``, ``ModuleList``), layers (``Linear``,
``Maxout``, ``Dropout``, ``BatchNorm1d``, ...), activation modules, loss modules
(``CrossEntropyLoss``, ``MSELoss``, ... from ``nn.losses``), initializers (``nn.init``),
regularizers (``nn.regularizers``), functional forms (``nn.functional``, losses included), data
utilities (``nn.data``, ``nn.datasets``), ``summary`` and ``save``/``load`` (``.npz``, or
``.safetensors`` with PyTorch's names and layouts, see ``nn.safetensors_io``). It depends on
``autograd_core`` only and writes no backward rule of its own: every gradient comes from the
engine's ops.

>>> import nn
>>> model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
>>> model(ag.zeros(4, 2)).shape
(4, 1)
"""
from __future__ import annotations

import autograd_core as ag

from . import data, datasets, functional, init, losses, regularizers
from .activations import (ELU, GELU, SELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax,
                          Softplus, Swish, Tanh)
from .layers import BatchNorm1d, Dropout, Flatten, GaussianNoise, Identity, Linear, Maxout
from .losses import (BCELoss, BCEWithLogitsLoss, CategoricalHinge, CrossEntropyLoss, HingeLoss,
                     MSELoss, MultiMarginLoss, NLLLoss, SquaredError)
from .module import Module, ModuleList, Parameter, Sequential, owner_of
from .serialization import load, save
from .summary import SummaryResult, summary
