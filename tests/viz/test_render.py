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


# --- the options every picture takes, checked by name ------------------------------------------
_DRAWERS = [viz.draw_forward, viz.draw_backward, viz.backprop_steps, viz.draw_gradcheck]


@pytest.mark.parametrize("draw", _DRAWERS)
@pytest.mark.parametrize("options, error, message", [
    ({"names": [1, 2]}, TypeError, r"viz: names= must be a mapping of names to Tensors, such as "
                                   r"locals\(\) or \{'w': w\}, got list"),
    ({"model": 3}, TypeError, r"viz: model= must be an nn.Module \(it names the parameters\), "
                              r"got int"),
    ({"max_elements": "3"}, TypeError, r"viz.draw_\w+: max_elements must be an int, got str"),
    ({"max_elements": -1}, ValueError, r"viz.draw_\w+: max_elements must be at least 0, got -1"),
    ({"max_nodes": -1}, ValueError, r"viz.draw_\w+: max_nodes must be at least 0, got -1"),
    ({"max_nodes": 2.5}, TypeError, r"max_nodes must be an int or None, got float 2.5"),
    ({"rankdir": "XY"}, ValueError, r"viz: rankdir must be one of TB, LR, BT, RL"),
])
def test_bad_options_are_named(draw, options, error, message):
    L, names = small_loss()
    with pytest.raises(error, match=message):
        draw(L, **{"names": names, **options})


@needs_dot
def test_files_are_written_atomically_through_symlinks_and_never_half(tmp_path, monkeypatch):
    L, names = small_loss()
    g = viz.draw_forward(L, names=names)
    target = tmp_path / "target.svg"
    target.write_text("old")
    (tmp_path / "link.svg").symlink_to(target)
    assert viz.render(g, tmp_path / "link.svg") == str(tmp_path / "link.svg")
    assert (tmp_path / "link.svg").is_symlink() and "<svg" in target.read_text()
    before = target.read_text()

    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr("os.replace", interrupted)              # Ctrl-C just before the rename
    for write in (lambda: viz.render(g, tmp_path / "link.svg"),
                  lambda: viz.save_frames(viz.backprop_steps(L, names=names), tmp_path, "html")):
        with pytest.raises(KeyboardInterrupt):
            write()
    assert target.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.svg", "target.svg"]
    with pytest.raises(TypeError, match="render: the path must be a str or os.PathLike, got int"):
        viz.render(g, 3)
    (tmp_path / "folder.svg").mkdir()
    with pytest.raises(IsADirectoryError, match="render: cannot write .*folder.svg.*: it is a "
                                                "folder"):
        viz.render(g, tmp_path / "folder.svg")
