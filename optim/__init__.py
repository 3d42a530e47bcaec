"""Training: optimizers, learning-rate schedules and the training loop.

This package will hold the ``Optimizer`` base class and the optimizers (SGD with momentum, Adam,
RMSProp, ...), learning-rate schedules, the training loop with its callbacks, and hyperparameter
search. It depends on ``autograd_core`` only (the training loop may also use ``nn``).
"""
