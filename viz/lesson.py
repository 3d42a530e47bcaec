"""One offline HTML page for a lesson on the user's own graph (``viz.export_lesson``).

The page holds, inline (SVG and one short script; nothing is fetched, so it opens from a USB
stick or an e-mail attachment): the forward graph with its values, the backward pass frame by
frame (a slider, the ← and → keys, or ``#frame=k`` in the address), ∂J/∂w written out by
:func:`viz.explain` for the parameter chosen in a list (or ``#param=name``), and — when an
optimizer is given — the update step w_{t+1} of :func:`viz.draw_update`.

Each frame's ``<div>`` says which inverse node it highlights (``data-current``), and the script
marks that node's ``<g>`` with the class ``current``: what a browser test reads to check that
frame k highlights the step the engine ran k-th.
"""
from __future__ import annotations

import html
import os

import numpy as np

import autograd_core as ag

from nn.serialization import write_atomic

from .backward_model import backward_model
from .chain_rule import explain
from .graph_model import MAX_NODES
from .labels import check_count

#: the page's behaviour: slider, keys, #frame=k / #param=name, the current node's class
_SCRIPT = """
(() => {
  const frames = [...document.querySelectorAll('.frame')];
  const slider = document.getElementById('frame-slider');
  const label = document.getElementById('frame-label');
  const select = document.getElementById('param-select');
  const explanations = [...document.querySelectorAll('.explanation')];
  function showFrame(k) {
    k = Math.max(0, Math.min(frames.length - 1, k | 0));
    frames.forEach((f, i) => { f.hidden = i !== k; });
    const f = frames[k];
    f.querySelectorAll('g.node').forEach(g => {
      const t = g.querySelector('title');
      g.classList.toggle('current', !!t && t.textContent === f.dataset.current);
    });
    slider.value = k;
    label.textContent = (k + 1) + ' / ' + frames.length + ' — ' + f.dataset.caption;
    document.body.dataset.frame = k;
  }
  function showParam(name) {
    if (!explanations.some(e => e.dataset.param === name)) name = explanations[0].dataset.param;
    explanations.forEach(e => { e.hidden = e.dataset.param !== name; });
    if (select) select.value = name;
    document.body.dataset.param = name;
  }
  function fromHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    showFrame(h.has('frame') ? +h.get('frame') : +slider.value);
    if (select) showParam(h.get('param') || select.value);
  }
  slider.addEventListener('input', () => showFrame(+slider.value));
  if (select) select.addEventListener('change', () => showParam(select.value));
  document.addEventListener('keydown', e => {
    if (e.key === 'ArrowRight') showFrame(+slider.value + 1);
    if (e.key === 'ArrowLeft') showFrame(+slider.value - 1);
  });
  window.addEventListener('hashchange', fromHash);
  fromHash();
})();
"""

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; max-width: 1400px; }
section { margin-bottom: 2em; } svg { max-width: 100%; height: auto; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 14px; }
g.node.current > polygon, g.node.current > path, g.node.current > ellipse {
  stroke-width: 4px; }
#frame-slider { width: 60%; }
"""


#: the backward section holds one picture of the whole inverse network per engine step: more
#: than this many boxes over all frames (tens of megabytes of SVG) is refused
MAX_FRAME_NODES = 8000


def export_lesson(output, path, *, names=None, model=None, optimizer=None,
                  lang: str = "en", title: str | None = None,
                  max_nodes: int | None = MAX_NODES) -> str:
    """Write the lesson page for the graph of the scalar cost ``output`` to ``path`` (.html).

    ``names``/``model`` name the values as in ``draw_forward``; ``optimizer`` (the one that
    trains the parameters) adds the update step w_{t+1} that ``optimizer.step()`` would take from
    the parameters' ``.grad`` — so call ``output.backward(retain_graph=True)`` first. Nothing
    changes: the pictures' gradients come from viz's own backward pass (``.grad`` untouched) and
    the update is a preview. A graph of more than ``max_nodes`` ops is drawn as a summary; a
    backward pass whose frames would hold more than ``MAX_FRAME_NODES`` boxes in all is
    refused. The file is written atomically (a temporary file renamed over ``path``, whose
    folder must exist). Needs Graphviz's ``dot``. Returns the path written.
    """
    from .render_graphviz import draw_forward

    _check_arguments(output, path, title, max_nodes)
    ag.vocabulary.words(lang)
    say = _say(lang)
    params = _parameters(output, names, model)
    sections = [
        _section("forward", say("lesson.forward"), _svg(draw_forward(
            output, names=names, model=model, lang=lang, max_nodes=max_nodes))),
        _frames_section(output, names, model, lang, say, max_nodes),
        _explain_section(output, params, names, model, lang, say)]
    if optimizer is not None:
        sections.append(_update_section(params, optimizer, lang, say))
    page = _page(title or say("lesson.title"), lang, sections)
    write_atomic(path, page.encode("utf-8"), who="export_lesson")
    return os.fspath(path)


def _check_arguments(output, path, title, max_nodes) -> None:
    if not isinstance(output, ag.Tensor):
        raise TypeError(f"export_lesson: output must be the scalar cost J (a Tensor), got "
                        f"{type(output).__name__}")
    if output.size != 1:
        raise ValueError(f"export_lesson: the output must be a scalar cost J, got shape "
                         f"{output.shape}; pass a scalar such as its sum or mean")
    if output.grad_fn is None:
        raise ValueError("export_lesson: the output has no recorded graph (it is a leaf, or "
                         "was computed under no_grad / from tensors that do not require grad)")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"export_lesson: path must be a str or os.PathLike (an .html file), got "
                        f"{type(path).__name__}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"export_lesson: title must be a str, got {type(title).__name__}")
    check_count("export_lesson", "max_nodes", max_nodes, optional=True)


def _update_section(params, optimizer, lang, say) -> str:
    """The update step of the graph's parameters that ``optimizer`` trains."""
    from .update import _check_optimizer, draw_update

    _check_optimizer(optimizer)
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    trained = [(name, p) for name, p in params if id(p) in held]
    if not trained:
        raise ValueError(f"export_lesson: the optimizer ({type(optimizer).__name__}) updates "
                         f"none of the graph's parameters ({', '.join(n for n, _ in params)})")
    missing = [name for name, p in trained if p.grad is None]
    if missing:
        raise ValueError(f"export_lesson: the update step reads the parameters' .grad, and "
                         f"{', '.join(missing)} have none: call output.backward("
                         f"retain_graph=True) before export_lesson")
    return _section("update", say("lesson.update"), _svg(draw_update(
        [p for _, p in trained], optimizer, lang=lang)))


def _say(lang: str):
    return lambda key, **kw: ag.vocabulary.text(key, lang).format(**kw)


def _parameters(output, names, model) -> list[tuple[str, ag.Tensor]]:
    """The requires-grad leaves of the graph with their names, as the pictures name them."""
    from .graph_model import drawing

    d = drawing(output, names, model)
    found, seen = [], set()
    for step in reversed(d.steps):                                 # producers first
        for v in step.inputs:
            if v.is_leaf and v.tensor.requires_grad and v.key not in seen:
                seen.add(v.key)
                found.append((d.names.get(v.key, v.key), v.tensor))
    return found


def _frames_section(output, names, model, lang, say, max_nodes) -> str:
    """Every frame's SVG, each in a ``<div class="frame" data-current="<inverse node id>">``."""
    from .render_graphviz import backprop_steps

    m = backward_model(output, names=names, model=model, lang=lang, max_nodes=max_nodes)
    boxes = len(m.nodes) * (len(m.order) + 1)
    if boxes > MAX_FRAME_NODES:
        raise ValueError(
            f"export_lesson: the backward pass has {len(m.order)} steps over {len(m.nodes)} "
            f"boxes: {len(m.order) + 1} frames of the whole inverse network ({boxes} boxes, more "
            f"than {MAX_FRAME_NODES}) make a page too large to open; export a smaller network, "
            f"or pass a smaller max_nodes (a summary)")
    frames = backprop_steps(output, names=names, model=model, lang=lang, max_nodes=max_nodes)
    current = ["unit"] + list(m.order)
    captions = [say("lesson.frame_unit")] + [
        _caption(m, node_id) for node_id in m.order]
    divs = [f'<div class="frame" data-index="{k}" data-current="{html.escape(current[k])}" '
            f'data-caption="{html.escape(captions[k])}"{" hidden" if k else ""}>'
            f"{_svg(frame)}</div>" for k, frame in enumerate(frames)]
    controls = (f'<p><input id="frame-slider" type="range" min="0" max="{len(divs) - 1}" '
                f'value="0"> <span id="frame-label"></span></p>'
                f"<p>{html.escape(say('lesson.keys'))}</p>")
    return _section("backward", say("lesson.backward"), controls + "\n".join(divs))


def _caption(m, node_id: str) -> str:
    node = m.node(node_id)
    return node.lines[0] if node.lines else node_id


def _explain_section(output, params, names, model, lang, say) -> str:
    """One ``<pre>`` per parameter: ``str(explain(...))`` of its element with the largest
    |∂J/∂w| (the first such element)."""
    options, blocks = [], []
    params = [(name, p) for name, p in params if p.size]      # an empty tensor has no ∂J/∂w
    for k, (name, p) in enumerate(params):
        index = None
        if p.size > 1:
            g = explain_gradient(output, p)
            index = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(g)), p.shape))
        text = str(explain(output, p, index=index, names=names, model=model, lang=lang))
        options.append(f'<option value="{html.escape(name)}">{html.escape(name)}</option>')
        blocks.append(f'<pre class="explanation" data-param="{html.escape(name)}"'
                      f'{" hidden" if k else ""}>{html.escape(text)}</pre>')
    if not params:
        return _section("explain", say("lesson.explain"), "")
    select = (f'<p><label for="param-select">{html.escape(say("lesson.choose"))}</label> '
              f'<select id="param-select">{"".join(options)}</select></p>')
    return _section("explain", say("lesson.explain"), select + "\n".join(blocks))


def explain_gradient(output, p) -> np.ndarray:
    """∂output/∂p by the engine, leaving ``.grad`` and hooks alone."""
    (g,) = ag.grad(output, [p], retain_graph=True, hooks=False)
    return g.data


def _svg(graph) -> str:
    from .graphviz_io import pipe

    text = pipe(graph, "svg").decode("utf-8")
    return text[text.index("<svg"):]


def _section(key: str, heading: str, body: str) -> str:
    return f'<section id="{key}"><h2>{html.escape(heading)}</h2>\n{body}\n</section>'


def _page(title: str, lang: str, sections: list[str]) -> str:
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n"
            f"<body><h1>{html.escape(title)}</h1>\n" + "\n".join(sections) +
            f"\n<script>{_SCRIPT}</script>\n</body></html>\n")
