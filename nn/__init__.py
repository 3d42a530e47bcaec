"""Neural-network building blocks on top of the autograd engine.

This package will hold ``Module`` and ``Parameter``, the layers (``Linear``, ``Sequential``, ...),
the activation modules, the loss functions, weight initialisers, regularizers, data helpers,
``summary`` and saving/loading of weights. It depends on ``autograd_core`` only, and writes no
backward rule of its own: every gradient comes from the engine's ops.
"""
