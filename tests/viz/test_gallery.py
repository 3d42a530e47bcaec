"""The gallery script (``make gallery``) runs, on a reduced set, so its pictures cannot rot."""
from __future__ import annotations

import importlib.util
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed")
def test_gallery_renders_the_course_pictures(tmp_path):
    spec = importlib.util.spec_from_file_location("gallery", ROOT / "docs" / "gallery.py")
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    paths = gallery.render_all(str(tmp_path), only=["neuron", "shared"], fmt="svg")
    assert len(paths) == 8
    for path in paths:
        text = pathlib.Path(path).read_text(encoding="utf-8")
        assert "<svg" in text
    inverse_es = (tmp_path / "neuron_inverse_es.svg").read_text(encoding="utf-8")
    assert "Neurona inversa" in inverse_es and "Salida constante" in inverse_es
    assert gallery.main(["--out", str(tmp_path / "again"), "--only", "shared",
                         "--format", "svg"]) == 0


@pytest.mark.skipif(shutil.which("dot") is None or shutil.which("neato") is None,
                    reason="Graphviz 'dot'/'neato' not installed")
def test_gallery_renders_the_update_slide(tmp_path):
    spec = importlib.util.spec_from_file_location("gallery", ROOT / "docs" / "gallery.py")
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    paths = gallery.render_all(str(tmp_path), only=["update"], fmt="svg", langs=("es",))
    assert [pathlib.Path(p).name for p in paths] == ["update_graph_es.svg",
                                                      "update_network_es.svg"]
    graph = (tmp_path / "update_graph_es.svg").read_text(encoding="utf-8")
    assert "Paso de actualización" in graph and "0.0875" in graph and "&#45;0.3245" in graph


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed")
def test_gallery_writes_the_lesson_page(tmp_path):
    spec = importlib.util.spec_from_file_location("gallery", ROOT / "docs" / "gallery.py")
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    (path,) = gallery.render_all(str(tmp_path), only=["lesson"], fmt="svg", langs=("es",))
    page = pathlib.Path(path).read_text(encoding="utf-8")
    assert pathlib.Path(path).name == "lesson_es.html"
    assert "Retropropagación, paso a paso" in page and '<section id="update">' in page
