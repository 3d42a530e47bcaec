"""Pictures of the computation graph and of training.

* ``draw_forward(output)`` — the forward graph with values (a ``graphviz.Digraph``).
* ``draw_backward(output)`` — the inverse network of course 001 with the gradient on every edge.
* ``backprop_steps(output)`` / ``save_frames(frames, dir)`` — the backward pass step by step
  (SVG/PNG/PDF files, one HTML page with a slider, or an animated GIF).
* ``trace_modules(model)`` + ``draw_forward(out, collapse="module", trace=trace)`` — one box
  per ``nn`` module (also ``draw_backward``, ``backprop_steps``, ``draw_gradcheck``); without
  ``collapse``, ``trace=``/``model=`` draw every module call as a cluster, nested as the calls.
* ``draw_gradcheck(output, inputs)`` — the forward graph, each op coloured by a check of its
  backward, and an end-to-end finite-difference check of ∂J/∂input for each of ``inputs``.
* ``frames_slider(frames)`` — a Jupyter slider over ``backprop_steps`` (ipywidgets when installed,
  an HTML/JS slider otherwise); the frames list itself displays as one.
* ``render(graph, path, format="svg")`` — write it to a file (needs Graphviz's ``dot``).
* ``draw_network(model, x, t, view=..., sample=None|k, lang=...)`` — the neuron-level picture
  of a small dense network: the course's inverse network with w·δ on the edges.
* ``explain(J, w, index=...)`` — ∂J/∂w written out: every path from w to J with each local
  derivative's rule, formula and value, the products and their sum (= the engine's ∂J/∂w), and
  for a dense network the delta recursion with the numbers; text, Markdown and LaTeX.
* ``export_lesson(J, "lesson.html")`` — one offline HTML page: the forward graph, the backward
  frames with a slider and ←/→ keys, ``explain`` for each parameter, the update step.
* ``plot_gradient_flow(model, x, t)`` — per layer ‖∂J/∂W⁽ᵏ⁾‖ and the product of ψ' from the
  output down (course 001's vanishing gradients), for several activations side by side.
* ``draw_update(model_or_params, optimizer, apply=False, view="graph"|"network")`` — course
  001's update step wₜ₊₁ = wₜ − α·∇J for each parameter: wₜ, ∂J/∂w, the optimizer's own terms
  (momentum, Adam's m̂ and v̂, …) and wₜ₊₁, exactly as ``optimizer.step()`` would compute them,
  on copies (nothing changes unless ``apply=True``); ``update_preview`` gives the numbers.
* ``plot_*`` — matplotlib figures of training (history, decision boundary, activations, ...).

The model (``viz.graph_model``) depends on ``autograd_core`` only (and ``nn`` for names); the
renderers import ``graphviz``/``matplotlib`` lazily. Nothing else in the project imports viz.
"""
from __future__ import annotations

from .backward_model import backward_model
from .chain_rule import explain
from .gradient_flow import gradient_flow, plot_gradient_flow
from .graph_model import GraphModel, forward_model
from .jupyter import Frames, frames_slider
from .lesson import export_lesson
from .modules import ModuleTrace, trace_modules
from .neuron_view import draw_network
from .plots import (plot_activation_functions, plot_decision_boundary, plot_function_fit,
                    plot_history, plot_layer_statistics, plot_optimizer_paths)
from .render_graphviz import (backprop_steps, draw_backward, draw_forward, draw_gradcheck, render,
                              save_frames, to_digraph)
from .update import ParamUpdate, draw_update, update_preview

__all__ = ["Frames", "GraphModel", "ModuleTrace", "ParamUpdate", "backprop_steps",
           "backward_model", "draw_backward", "draw_forward", "draw_gradcheck", "draw_network",
           "draw_update", "explain", "export_lesson", "forward_model", "frames_slider",
           "gradient_flow", "plot_activation_functions", "plot_decision_boundary",
           "plot_gradient_flow", "plot_function_fit", "plot_history", "plot_layer_statistics",
           "plot_optimizer_paths", "render", "save_frames", "to_digraph", "trace_modules",
           "update_preview"]
