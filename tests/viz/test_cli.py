"""The neurona command: demo and draw write their files (in the asked language and format);
draw evaluates only safe expressions; viz.graphviz_io renders or falls back to DOT text."""
from __future__ import annotations

import shutil
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import autograd_core as ag  # noqa: E402
import pytest  # noqa: E402

from viz import cli, expression, graphviz_io  # noqa: E402
from viz.neuron_view import draw_network  # noqa: E402

import nn  # noqa: E402

HAS_DOT = shutil.which("dot") is not None and shutil.which("neato") is not None
MAGIC = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF"}
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz (dot, neato) is not installed")


def test_demo_writes_its_files(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--epochs", "20"]) == 0
    printed = capsys.readouterr().out
    assert "epoch    20" in printed and str(out) in printed
    names = {p.name for p in out.iterdir()}
    assert {"loss.png", "boundary.png"} <= names
    graphs = {"forward", "backward", "network"}
    if HAS_DOT:
        assert {f"{g}.svg" for g in graphs} <= names
        assert "<svg" in (out / "network.svg").read_text()
    else:
        assert {f"{g}.gv" for g in graphs} <= names
        assert "apt-get install graphviz" in printed


@needs_dot
def test_demo_in_spanish_as_png(tmp_path):
    assert cli.main(["demo", "--out", str(tmp_path), "--epochs", "2", "--lang", "es",
                     "--format", "png"]) == 0
    for name in ("forward", "backward", "network"):
        assert (tmp_path / f"{name}.png").read_bytes().startswith(MAGIC["png"])
        assert not (tmp_path / f"{name}.svg").exists()


def test_demo_without_dot_writes_sources(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(graphviz_io, "has_dot", lambda graph=None: False)
    assert cli.main(["demo", "--out", str(tmp_path), "--epochs", "2"]) == 0
    assert "apt-get install graphviz" in capsys.readouterr().out
    assert "digraph" in (tmp_path / "network.gv").read_text()


@needs_dot
@pytest.mark.parametrize("format", ["svg", "png", "pdf"])
def test_draw_expression_in_each_format(tmp_path, capsys, format):
    code = cli.main(["draw", "sigmoid(w*x + b) ** 2", "--values", "w=0.5,x=1,b=-0.3",
                     "--format", format, "--out", str(tmp_path)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "∂/∂w" in printed
    for name in ("forward", "backward"):
        assert (tmp_path / f"{name}.{format}").read_bytes().startswith(MAGIC[format])


@needs_dot
def test_draw_speaks_the_asked_language(tmp_path):
    for lang, word, other in (("es", "Unidad 1", "Unit 1"), ("en", "Unit 1", "Unidad 1")):
        out = tmp_path / lang
        assert cli.main(["draw", "tanh(w*x)", "--values", "w=2,x=0.5", "--lang", lang,
                         "--out", str(out)]) == 0
        svg = (out / "backward.svg").read_text()
        assert word in svg and other not in svg


def test_draw_options_are_checked(capsys):
    for bad in (["--format", "jpg"], ["--lang", "fr"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(["draw", "x", "--values", "x=1", *bad])
        assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_evaluate_matches_the_engine():
    w = ag.tensor(0.5, requires_grad=True)
    x = ag.tensor(2.0, requires_grad=True)
    got = expression.evaluate("tanh(w * x) - -x / 2 + exp(0.5) * w ** 2", {"w": w, "x": x})
    expected = (w * x).tanh() + x / 2 + ag.exp(ag.tensor(0.5)) * w ** 2
    assert abs(got.item() - expected.item()) < 1e-6
    assert expression.names_in("tanh(w * x) + exp(b)") == {"w", "x", "b"}


@pytest.mark.parametrize("text, message", [
    ("__import__('os').system('echo hi')", "attribute access is not allowed"),
    ("__import__('os')", "calling '__import__' is not allowed"),
    ("x.__class__", "attribute access is not allowed"),
    ("exp.__globals__", "attribute access is not allowed"),
    ("open('f')", "calling 'open' is not allowed"),
    ("x[0]", "indexing is not allowed"),
    ("(lambda: 1)()", "is not allowed"),
    ("'a' + x", "only numbers"),
    ("y + 1", "unknown name 'y'"),
    ("x +", "cannot parse"),
    ("exp(x=1)", "keyword arguments"),
])
def test_unsafe_or_bad_expressions_are_refused(text, message):
    with pytest.raises(expression.ExpressionError,
                       match=message.replace("(", r"\(").replace(")", r"\)")):
        expression.evaluate(text, {"x": ag.tensor(1.0, requires_grad=True)})


def test_bad_values_and_cli_error(capsys):
    with pytest.raises(expression.ExpressionError, match="not a number"):
        expression.parse_values("w=abc")
    assert expression.parse_values(" w=0.5, b=-3 ") == {"w": 0.5, "b": -3.0}
    assert cli.main(["draw", "__import__('os')", "--values", "x=1"]) == 2
    assert "not allowed" in capsys.readouterr().err


def test_graphviz_io_without_programs(tmp_path, monkeypatch):
    graph = draw_network(nn.Sequential(nn.Linear(2, 1)))
    monkeypatch.setattr(graphviz_io.shutil, "which", lambda name: None)
    assert not graphviz_io.has_dot(graph)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        graphviz_io.render(graph, tmp_path / "net", "png")
    assert not list(tmp_path.iterdir())          # nothing half written
    path = graphviz_io.write(graph, tmp_path / "net", "png")
    assert path.endswith("net.gv") and open(path).read().startswith("digraph")
    with pytest.raises(ValueError, match="unknown format 'gif'"):
        graphviz_io.write(graph, tmp_path / "net", "gif")


@needs_dot
def test_graphviz_io_renders_files(tmp_path):
    graph = draw_network(nn.Sequential(nn.Linear(2, 1)))
    path = graphviz_io.render(graph, tmp_path / "sub" / "net", "pdf")
    assert path.endswith("net.pdf") and open(path, "rb").read(4) == b"%PDF"
    assert graphviz_io.render(graph, tmp_path / "n.svg", "svg").endswith("n.svg")
    with pytest.raises(ValueError, match="unknown format 'bmp'"):
        graphviz_io.pipe(graph, "bmp")


def test_python_dash_m_viz_help():
    result = subprocess.run([sys.executable, "-m", "viz", "draw", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--lang" in result.stdout and "--format" in result.stdout
