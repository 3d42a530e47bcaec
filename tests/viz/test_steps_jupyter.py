"""backprop_steps with collapse="module", and the Jupyter slider over the frames (ipywidgets
when installed, the HTML/JS slider otherwise)."""
from __future__ import annotations

import importlib.util
import shutil
import sys
import types

import numpy as np
import pytest

import autograd_core as ag
import nn
import viz
from viz.jupyter import Frames, HTMLSlider, frames_slider
from viz.modules import module_model

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed")


def traced_step():
    rng = np.random.default_rng(0)
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    loss_fn = nn.MSELoss()
    x = ag.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    t = ag.tensor(rng.standard_normal((5, 2)).astype(np.float32))
    with viz.trace_modules(model, loss_fn) as trace:
        loss = loss_fn(model(x), t)
    return model, loss, trace


def current_ids(source):
    return [line.strip().split(" ")[0] for line in source.splitlines()
            if "penwidth=3" in line and "->" not in line]


def test_collapsed_steps_one_frame_per_module_in_engine_order():
    model, loss, trace = traced_step()
    m = module_model(loss, view="backward", trace=trace)
    labels = [m.node(i).data["module"] for i in m.order]
    assert labels == ["MSELoss", "Sequential.2", "Sequential.1", "Sequential.0"]
    frames = viz.backprop_steps(loss, collapse="module", trace=trace)
    assert isinstance(frames, Frames) and isinstance(frames, list)
    assert len(frames) == len(m.order) + 1
    assert current_ids(frames[0].source) == ["unit"]
    for frame, box in zip(frames[1:], m.order):
        assert current_ids(frame.source) == [box]
    first, last = frames[0].source, frames[-1].source
    assert first.count("#cccccc") > last.count("#cccccc")
    # before its box runs, a Linear's parameter group is pending; after, it is drawn normally
    params0 = f"params{m.order[-1]}"
    line = lambda src: next(ln for ln in src.splitlines()               # noqa: E731
                            if ln.strip().startswith(params0 + " "))
    assert "#cccccc" in line(frames[-2].source) and "#cccccc" not in line(last)
    w = ag.tensor(1.0, requires_grad=True)                  # a parameter of no module
    with pytest.raises(ValueError, match="needs trace="):
        viz.backprop_steps(w * 2.0, collapse="module")


def test_collapsed_steps_repeat_a_box_the_engine_returns_to():
    from viz.render_graphviz import frame_states
    from viz.graph_model import GraphModel, VEdge, VNode

    g = GraphModel("backward", "en", [VNode("unit", "unit", ["1"]), VNode("a", "module", ["a"]),
                                      VNode("b", "module", ["b"])],
                   [VEdge("unit", "a"), VEdge("a", "b"), VEdge("b", "a")], order=["a", "b", "a"])
    states = frame_states(g)
    assert len(states) == 4
    assert states[1]["a"] == "current" and states[1]["b"] == "pending"
    assert states[2]["b"] == "current" and "a" not in states[2]
    assert states[3]["a"] == "current" and "b" not in states[3]


class FakeWidget:
    def __init__(self, *children, **kwargs):
        self.children = children[0] if children else []
        self.__dict__.update(kwargs)
        self.observers = []

    def observe(self, fn, names=None):
        self.observers.append((fn, names))


def fake_ipywidgets():
    mod = types.ModuleType("ipywidgets")
    for name in ("IntSlider", "Label", "HTML", "VBox", "HBox"):
        setattr(mod, name, type(name, (FakeWidget,), {}))
    return mod


@needs_dot
def test_slider_uses_ipywidgets_when_importable(monkeypatch):
    model, loss, trace = traced_step()
    frames = viz.backprop_steps(loss, collapse="module", trace=trace)
    monkeypatch.setitem(sys.modules, "ipywidgets", fake_ipywidgets())
    box = frames_slider(frames)
    assert type(box).__name__ == "VBox"
    (row, view) = box.children
    slider, label = row.children
    assert (slider.min, slider.max, slider.value) == (0, len(frames) - 1, 0)
    assert view.value.startswith("<svg") and label.value == f"1 / {len(frames)}"
    (show, names), = slider.observers
    assert names == "value"
    show({"new": 3})
    assert view.value == box.svgs[3] != box.svgs[0] and label.value == f"4 / {len(frames)}"
    assert box.svgs[3] == frames[3].pipe(format="svg").decode()[
        frames[3].pipe(format="svg").decode().index("<svg"):]
    assert isinstance(frames_slider(frames, widgets=False), HTMLSlider)


@needs_dot
def test_slider_falls_back_to_html_without_ipywidgets(monkeypatch):
    L = (ag.sigmoid(ag.tensor(0.5, requires_grad=True) * 1.5) - 1.0) ** 2
    frames = viz.backprop_steps(L)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)      # import ipywidgets → ImportError
    s = frames_slider(frames)
    assert isinstance(s, HTMLSlider) and len(s) == len(frames)
    html = s._repr_html_()
    assert html.count("<svg") == len(frames) and 'type="range"' in html
    assert f'max="{len(frames) - 1}"' in html
    other = frames_slider(frames)                               # ids differ: two on one page
    assert other.html.split('"', 2)[1] != html.split('"', 2)[1]
    assert frames._repr_html_().count("<svg") == len(frames)


@needs_dot
@pytest.mark.skipif(importlib.util.find_spec("ipywidgets") is not None,
                    reason="ipywidgets is installed")
def test_real_fallback_when_ipywidgets_is_not_installed():
    L = ag.tanh(ag.tensor(0.5, requires_grad=True)) * 2.0
    assert isinstance(frames_slider(viz.backprop_steps(L)), HTMLSlider)


@needs_dot
def test_frames_display_in_ipython_as_the_slider(monkeypatch):
    pytest.importorskip("IPython")
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append(obj))
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    frames = viz.backprop_steps(ag.tanh(ag.tensor(0.5, requires_grad=True)) * 2.0)
    frames._ipython_display_()
    assert len(shown) == 1 and isinstance(shown[0], HTMLSlider)
