"""Training: optimizers, learning-rate schedules, the training loop and hyperparameter search.

``optim.SGD``, ``optim.Adam``, … follow ``torch.optim`` (names, defaults, update rules,
``param_groups``, ``zero_grad``/``step``/``state_dict``); ``optim.SGDMomentum`` is the course's
moving-average momentum, ``optim.FTRL`` Keras's FTRL, ``optim.Newton`` a second-order step for
small models. It depends on ``autograd_core`` only (the training loop also uses ``nn``).
"""
from __future__ import annotations

from . import lr_scheduler
from .clip import clip_grad_norm_, clip_grad_value_
from .newton import Newton
from .optimizer import Optimizer
from .optimizers import (FTRL, SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RMSprop,
                         SGDMomentum)


def _missing(error: ModuleNotFoundError, module: str) -> bool:
    """True when ``module`` itself does not exist yet (not when something it imports fails)."""
    return error.name == f"{__name__}.{module}"


# NOTE: training, callbacks and search are written concurrently; until their files exist the
# package still imports. A failing import *inside* one of them is not hidden.
try:
    from .training import *  # noqa: F403
except ModuleNotFoundError as error:
    if not _missing(error, "training"):
        raise
try:
    from .callbacks import *  # noqa: F403
except ModuleNotFoundError as error:
    if not _missing(error, "callbacks"):
        raise
try:
    from .search import *  # noqa: F403
except ModuleNotFoundError as error:
    if not _missing(error, "search"):
        raise
