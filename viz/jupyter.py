"""A slider over the frames of :func:`~viz.render_graphviz.backprop_steps`, for Jupyter.

* :func:`frames_slider` — an ipywidgets ``IntSlider`` above the current frame's SVG when
  ipywidgets is installed; otherwise :class:`HTMLSlider`, the same page that
  ``save_frames(frames, dir, format="html")`` writes (an ``<input type="range">`` and a few lines
  of JavaScript), shown inline through ``_repr_html_``.
* :class:`Frames` — the list ``backprop_steps`` returns: an ordinary list of ``graphviz.Digraph``
  that, as the last expression of a cell, displays as that slider.

ipywidgets is not a dependency: it is imported only when a slider is made. Both need Graphviz's
``dot`` (each frame is rendered to SVG once, when the slider is made).
"""
from __future__ import annotations

import importlib
import itertools

_ids = itertools.count(1)


def frame_svgs(frames) -> list[str]:
    """Each frame rendered to SVG text by ``dot`` (the ``<svg ...>`` element only)."""
    from .graphviz_io import pipe

    svgs = [pipe(f, "svg").decode("utf-8") for f in frames]
    return [svg[svg.index("<svg"):] for svg in svgs]


def slider_html(svgs: list[str], uid: str = "bp") -> str:
    """An HTML fragment: a range input, a "k / n" label and one ``<div>`` per SVG frame, shown
    one at a time by a short script. ``uid`` prefixes the element ids, so several sliders can
    live on one page (a notebook)."""
    divs = "\n".join(f'<div class="{uid}-frame" style="display:{"block" if k == 0 else "none"}">'
                     f"{svg}</div>" for k, svg in enumerate(svgs))
    return (
        f'<div id="{uid}">\n'
        f'<input id="{uid}-step" type="range" min="0" max="{len(svgs) - 1}" value="0" '
        f'style="width:60%"> <span id="{uid}-label">1 / {len(svgs)}</span>\n{divs}\n'
        "<script>\n(() => {\n"
        f"const s = document.getElementById('{uid}-step'), "
        f"frames = document.querySelectorAll('.{uid}-frame');\n"
        "s.oninput = () => { frames.forEach((f, k) => f.style.display = "
        "k == s.value ? 'block' : 'none'); "
        f"document.getElementById('{uid}-label').textContent = (+s.value + 1) + ' / ' + "
        "frames.length; };\ns.oninput();\n})();\n</script>\n</div>")


def slider_page(svgs: list[str]) -> str:
    """A whole HTML page around :func:`slider_html` (what ``save_frames(format="html")`` writes)."""
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>backprop</title></head>"
            "<body style=\"font-family:sans-serif\">\n" + slider_html(svgs, "step")
            + "\n</body></html>\n")


class HTMLSlider:
    """The fallback slider: shown inline by Jupyter (``_repr_html_``); ``.html`` is its text."""

    def __init__(self, svgs: list[str]) -> None:
        self.svgs = svgs
        self.html = slider_html(svgs, f"neurona-bp{next(_ids)}")

    def _repr_html_(self) -> str:
        return self.html

    def __len__(self) -> int:
        return len(self.svgs)


def _ipywidgets():
    """The ipywidgets module, or None when it is not installed (imported lazily, on use)."""
    try:
        return importlib.import_module("ipywidgets")
    except ImportError:
        return None


def frames_slider(frames, *, widgets: bool = True):
    """A slider over ``frames`` (from :func:`viz.backprop_steps`) for Jupyter.

    With ipywidgets installed (and ``widgets=True``): a ``VBox`` of an ``IntSlider`` (one
    position per frame), a label "step k / n" and an ``HTML`` widget holding the frame's SVG,
    updated when the slider moves (in a live kernel). Without it: an :class:`HTMLSlider`, the
    same slider in plain HTML/JavaScript, which also works in a notebook saved as HTML. Every
    frame is rendered once by ``dot`` (a RuntimeError says how to install Graphviz if missing).
    """
    frames = list(frames)
    if not frames:
        raise ValueError("frames_slider: no frames")
    svgs = frame_svgs(frames)
    ipw = _ipywidgets() if widgets else None
    if ipw is None:
        return HTMLSlider(svgs)
    n = len(svgs)
    slider = ipw.IntSlider(value=0, min=0, max=n - 1, step=1, description="step",
                           continuous_update=True)
    label = ipw.Label(value=f"1 / {n}")
    view = ipw.HTML(value=svgs[0])

    def show(change) -> None:
        k = int(change["new"])
        view.value = svgs[k]
        label.value = f"{k + 1} / {n}"

    slider.observe(show, names="value")
    box = ipw.VBox([ipw.HBox([slider, label]), view])
    box.svgs = svgs
    return box


class Frames(list):
    """The frames of a backward pass: a list of ``graphviz.Digraph`` that Jupyter shows as a
    slider (:func:`frames_slider`). Everything else is a plain list."""

    def _ipython_display_(self) -> None:
        from IPython.display import display

        try:
            display(frames_slider(self))
        except RuntimeError as exc:                    # no dot: say so instead of a traceback
            display({"text/plain": f"{len(self)} frames; {exc}"}, raw=True)

    def _repr_html_(self) -> str:
        """The HTML slider (for front ends that use ``_repr_html_`` only)."""
        return HTMLSlider(frame_svgs(self)).html

