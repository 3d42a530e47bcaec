"""Render the course's pictures into docs/gallery/ (``make gallery``; the README shows some).

    python docs/gallery.py [--out DIR] [--only NAME ...] [--format png|svg]

Every picture is drawn from a recorded computation by ``viz``: the one-neuron example of course
001 (σ(w·x + b), cost (h − y)²), course 000's 2-3-2 network, a shared weight, XOR 2-2-1 — each
forward and inverse, in English and Spanish — course 001's update slide (``draw_update``,
as a graph and on the network) and the lesson page of the 2-3-2 network (``export_lesson``; a
screenshot by headless Chromium when it is installed, else the HTML page itself). The test
suite runs this script on a reduced set, so the gallery cannot rot.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import urllib.parse

import numpy as np

import autograd_core as ag
import nn
import optim
import viz

#: course 000's 2-3-2 example: its weights; x and t as in the tests of the course's deltas
W1 = np.array([[1.0, -2.0], [0.0, 1.0], [3.0, 4.0]])
W2 = np.array([[6.0, -2.0, 1.0], [5.0, -3.0, 2.0]])


def single_neuron():
    """Course 001: h = σ(w·x + b), J = (h − y)²."""
    w, b = ag.tensor(0.1, requires_grad=True), ag.tensor(-0.3, requires_grad=True)
    x, y = ag.tensor(1.5), ag.tensor(1.0)
    h = ag.sigmoid(w * x + b)
    return (h - y) ** 2, {"w": w, "b": b, "x": x, "y": y, "h": h}, None


def network_232():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 2))
    for layer, w in ((model[0], W1), (model[2], W2)):
        layer.weight.data = w.astype(np.float32)
        layer.bias.data = np.zeros(w.shape[0], dtype=np.float32)
    x = ag.tensor([[0.5, -0.25]])
    return nn.SquaredError()(model(x), ag.tensor([[1.0, -0.5]])), {"x": x}, model


def shared_weight():
    w = ag.tensor(0.7, requires_grad=True)
    x1, x2 = ag.tensor(2.0), ag.tensor(-0.5)
    return ag.tanh(w * x1 + w * x2), {"w": w, "x1": x1, "x2": x2}, None


def xor_221():
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1), nn.Sigmoid())
    x = ag.tensor([[0.0, 1.0]])
    return nn.BCELoss()(model(x), ag.tensor([[1.0]])), {"x": x}, model


EXAMPLES = {"neuron": single_neuron, "net232": network_232, "shared": shared_weight,
            "xor": xor_221}


def update_slide():
    """Course 001's update slide: the 1-2-1 network's wₜ, the slide's ∇J set as .grad, SGD with
    α = 0.1. The slide's ∇J is taken as given: its layer-1 entries do not follow from its own
    output δ = ∂J/∂b₁⁽²⁾ = −0.081 (with w⁽²⁾ > 0 and σ' > 0, ∂J/∂b⁽¹⁾ would be negative, not
    0.245 and 0.250)."""
    model = nn.Sequential(nn.Linear(1, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    values = ([[0.1], [-0.1]], [-0.3, 0.5], [[0.4, 0.7]], [0.2])
    grads = ([[0.125], [0.125]], [0.245, 0.250], [[-0.035, -0.049]], [-0.081])
    for p, w, g in zip(model.parameters(), values, grads):
        p.data = np.array(w)
        p.grad = ag.tensor(np.array(g))
    return model, optim.SGD(model.parameters(), lr=0.1)


#: pictures of the update step: name → (model, optimizer), drawn by viz.draw_update
UPDATES = {"update": update_slide}


def lesson_232():
    """Course 000's 2-3-2 network after ``backward``, with the SGD step it would take."""
    J, names, model = network_232()
    J.backward(retain_graph=True)
    return J, names, model, optim.SGD(model.parameters(), lr=0.1)


#: lesson pages (viz.export_lesson): name → (J, names, model, optimizer); with format "png" and
#: Chromium installed, also a screenshot of frame 3 of the backward pass
LESSONS = {"lesson": lesson_232}
#: the browser that takes the screenshots (Debian's chromium; none: the pages only)
CHROMIUM = next((shutil.which(c) for c in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(c)), None)


def screenshot(page: str, png: str, fragment: str = "frame=3") -> str:
    """A PNG of the lesson page as headless Chromium shows it at ``#fragment``."""
    url = "file://" + urllib.parse.quote(os.path.abspath(page)) + "#" + fragment
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--virtual-time-budget=3000", "--window-size=1400,1250",
                    f"--screenshot={os.path.abspath(png)}", url],
                   check=True, capture_output=True, timeout=120)
    return png


def render_all(out: str, only=None, fmt: str = "png", langs=("en", "es")) -> list[str]:
    """Draw every example (or those in ``only``), forward and inverse, and every update step
    as a graph and on the network, in each language."""
    paths = []
    for name, make in EXAMPLES.items():
        if only and name not in only:
            continue
        J, names, model = make()
        for lang in langs:
            for view, draw in (("forward", viz.draw_forward), ("inverse", viz.draw_backward)):
                graph = draw(J, names=names, model=model, lang=lang)
                paths.append(viz.render(graph, os.path.join(out, f"{name}_{view}_{lang}"),
                                        format=fmt))
    for name, make in UPDATES.items():
        if only and name not in only:
            continue
        model, opt = make()
        for lang in langs:
            for view in ("graph", "network"):
                graph = viz.draw_update(model, opt, lang=lang, view=view)
                paths.append(viz.render(graph, os.path.join(out, f"{name}_{view}_{lang}"),
                                        format=fmt))
    return paths + _lessons(out, only, fmt, langs)


def _lessons(out: str, only, fmt: str, langs) -> list[str]:
    paths = []
    for name, make in LESSONS.items():
        if only and name not in only:
            continue
        J, names, model, opt = make()
        for lang in langs:
            page = viz.export_lesson(J, os.path.join(out, f"{name}_{lang}.html"), names=names,
                                     model=model, optimizer=opt, lang=lang)
            if fmt == "png" and CHROMIUM:
                paths.append(screenshot(page, os.path.join(out, f"{name}_{lang}.png")))
                os.remove(page)
            else:
                paths.append(page)
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "gallery"))
    parser.add_argument("--only", nargs="*", choices=sorted({**EXAMPLES, **UPDATES, **LESSONS}))
    parser.add_argument("--format", default="png", choices=("png", "svg", "pdf"))
    args = parser.parse_args(argv)
    for path in render_all(args.out, args.only, args.format):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
