"""Pictures of the computation graph and of training.

* ``draw_forward(output)`` — the forward graph with values (a ``graphviz.Digraph``).
* ``draw_backward(output)`` — the inverse network of course 001 with the gradient on every edge.
* ``render(graph, path, format="svg")`` — write it to a file (needs Graphviz's ``dot``).

The model (``viz.graph_model``) depends on ``autograd_core`` only (and ``nn`` for names); the
renderers import ``graphviz``/``matplotlib`` lazily. Nothing else in the project imports viz.
"""
from __future__ import annotations

from .graph_model import GraphModel, backward_model, forward_model
from .render_graphviz import draw_backward, draw_forward, render, to_digraph

__all__ = ["GraphModel", "backward_model", "draw_backward", "draw_forward", "forward_model",
           "render", "to_digraph"]

# NOTE: written concurrently by another engineer; made unconditional once the files exist
try:
    from .neuron_view import draw_network  # noqa: F401
    __all__.append("draw_network")
except ImportError:
    pass
