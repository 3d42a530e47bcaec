"""Training: optimizers, learning-rate schedules, the training loop and hyperparameter search.

``optim.SGD``, ``optim.Adam``, … follow ``torch.optim`` (names, defaults, update rules,
``param_groups``, ``zero_grad``/``step``/``state_dict``); ``optim.SGDMomentum`` is the course's
moving-average momentum, ``optim.FTRL`` Keras's FTRL, ``optim.Newton`` a second-order step for
small models; ``optim.compile_step`` compiles a whole training step into one Numba call. It
depends on ``autograd_core`` only (the training loop and the step compiler also use ``nn``).
"""
from __future__ import annotations

from . import lr_scheduler
from .clip import clip_grad_norm_, clip_grad_value_
from .newton import Newton
from .optimizer import Optimizer
from .optimizers import (FTRL, SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RMSprop,
                         SGDMomentum)

# the training loop, its callbacks and hyperparameter search: every name in their __all__
from . import callbacks, search, training
from .compile import CompiledStep, CompileError, compile_step
from .callbacks import *  # noqa: F403
from .search import *  # noqa: F403
from .training import *  # noqa: F403
