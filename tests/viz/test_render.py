"""Rendering with Graphviz's ``dot`` (skipped without it) and the error when it is missing."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import autograd_core as ag
import viz
from viz import graphviz_io

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed")


def small_loss():
    w = ag.tensor(0.5, requires_grad=True)
    b = ag.tensor(-0.3, requires_grad=True)
    L = (ag.sigmoid(w * 1.5 + b) - 1.0) ** 2
    return L, {"w": w, "b": b, "L": L}


@needs_dot
@pytest.mark.parametrize("draw", [viz.draw_forward, viz.draw_backward])
def test_svg_rendering(tmp_path, draw):
    L, names = small_loss()
    path = viz.render(draw(L, names=names), tmp_path / "g", format="svg")
    assert path.endswith("g.svg")
    text = Path(path).read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert "∂J/∂w" in text if draw is viz.draw_backward else ">w<" in text


@needs_dot
def test_png_and_inline_jupyter_repr(tmp_path):
    L, names = small_loss()
    g = viz.draw_backward(L, names=names)
    path = viz.render(g, tmp_path / "b.png", format="png")
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bundle = g._repr_mimebundle_()                 # what Jupyter calls to show it inline
    assert "<svg" in bundle["image/svg+xml"]


def test_missing_dot_raises_clear_error(tmp_path, monkeypatch):
    L, names = small_loss()
    g = viz.draw_forward(L, names=names)
    assert "digraph" in g.source                   # drawing never needs dot
    monkeypatch.setattr(graphviz_io.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="sudo apt-get install graphviz"):
        viz.render(g, tmp_path / "f", format="svg")


def test_executable_not_found_is_translated(tmp_path, monkeypatch):
    import graphviz
    L, _ = small_loss()
    g = viz.draw_forward(L)
    monkeypatch.setattr(graphviz_io.shutil, "which", lambda name: "/usr/bin/dot")

    def fail(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])
    monkeypatch.setattr(type(g), "pipe", fail)
    with pytest.raises(RuntimeError, match="Graphviz's programs .* are not installed"):
        viz.render(g, tmp_path / "f", format="png")


def test_unknown_format(tmp_path):
    L, _ = small_loss()
    with pytest.raises(ValueError, match="format"):
        viz.render(viz.draw_forward(L), tmp_path / "f", format="gif")


@needs_dot
def test_save_frames_svg_and_html(tmp_path):
    L, names = small_loss()
    frames = viz.backprop_steps(L, names=names)
    paths = viz.save_frames(frames, tmp_path, format="svg")
    assert [Path(p).name for p in paths[:2]] == ["frame_000.svg", "frame_001.svg"]
    assert len(paths) == len(frames)
    (html,) = viz.save_frames(frames, tmp_path, format="html")
    page = Path(html).read_text(encoding="utf-8")
    assert page.count("<svg") == len(frames) and 'type="range"' in page
