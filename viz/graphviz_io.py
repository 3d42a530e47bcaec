"""The one place that talks to Graphviz: build a Digraph, check for ``dot``, render bytes or a file.

The Python ``graphviz`` package only writes DOT text; turning it into SVG/PNG/PDF needs the
system programs (``dot``, and ``neato`` for ``draw_network``'s pinned layout). Without them a
drawing is still returned (its ``.source`` works) and rendering raises ``RuntimeError(HELP)``.
"""
from __future__ import annotations

import os
import shutil

from nn.serialization import write_atomic

FORMATS = ("svg", "png", "pdf")

HELP = ("Graphviz's programs (dot, neato) are not installed: install them with "
        "'sudo apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' (macOS) or "
        "'conda install graphviz'; the DOT text is still available as graph.source")


def digraph(name: str, **kwargs):
    """A ``graphviz.Digraph`` (the Python package, imported here and only when drawing)."""
    try:
        import graphviz
    except ImportError as exc:
        raise RuntimeError("viz needs the Python package 'graphviz' to draw: "
                           "pip install graphviz") from exc
    return graphviz.Digraph(name, **kwargs)


def has_dot(graph=None) -> bool:
    """True when the layout program of ``graph`` (default ``dot``) is on the PATH."""
    engine = getattr(graph, "engine", None) or "dot"
    return shutil.which(engine) is not None


def pipe(graph, format: str = "svg") -> bytes:
    """``graph`` rendered to ``format`` ("svg", "png" or "pdf") by Graphviz, as bytes."""
    import graphviz

    if format not in FORMATS:
        raise ValueError(f"render: unknown format {format!r}; expected 'svg', 'png' or 'pdf'")
    if not has_dot(graph):
        raise RuntimeError(HELP)
    try:
        return graph.pipe(format=format)
    except graphviz.ExecutableNotFound as exc:
        raise RuntimeError(HELP) from exc


def render(graph, path, format: str = "svg") -> str:
    """Write ``graph`` to ``path`` (``.format`` added if missing, folders made); return the path
    written. The file is replaced atomically: never a half-written picture."""
    data = pipe(graph, format)
    path = file_path(path, "render")
    if not path.endswith("." + format):
        path = f"{path}.{format}"
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    write_atomic(path, data, who="render")
    return path


def write_source(graph, path_without_ext) -> str:
    """The DOT text of ``graph`` into ``<path>.gv`` (for machines without Graphviz)."""
    path = file_path(path_without_ext, "render") + ".gv"
    write_atomic(path, graph.source.encode("utf-8"), who="render")
    return path


def file_path(path, who: str) -> str:
    """``path`` as a str (a str, bytes or os.PathLike); anything else is refused by name."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{who}: the path must be a str or os.PathLike, got "
                        f"{type(path).__name__}")
    return os.fsdecode(path)


def write(graph, path_without_ext, format: str = "svg") -> str:
    """``<path>.<format>`` when Graphviz is installed, else the DOT text as ``<path>.gv``;
    returns the file written (callers print ``HELP`` when it ends in .gv)."""
    if has_dot(graph):
        return render(graph, path_without_ext, format)
    if format not in FORMATS:
        raise ValueError(f"render: unknown format {format!r}; expected 'svg', 'png' or 'pdf'")
    return write_source(graph, path_without_ext)
