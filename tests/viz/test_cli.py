"""The neurona command: the demo writes its files; draw evaluates only safe expressions."""
from __future__ import annotations

import shutil
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import autograd_core as ag  # noqa: E402
import pytest  # noqa: E402

from viz import cli  # noqa: E402

HAS_DOT = shutil.which("dot") is not None


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


def test_demo_without_dot_writes_sources(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "has_graphviz", lambda: False)
    assert cli.main(["demo", "--out", str(tmp_path), "--epochs", "2"]) == 0
    assert "apt-get install graphviz" in capsys.readouterr().out
    assert "digraph" in (tmp_path / "network.gv").read_text()


def test_draw_expression(tmp_path, capsys):
    code = cli.main(["draw", "sigmoid(w*x + b) ** 2", "--values", "w=0.5,x=1,b=-0.3",
                     "--out", str(tmp_path)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "∂/∂w" in printed
    suffix = "svg" if HAS_DOT else "gv"
    assert (tmp_path / f"forward.{suffix}").exists()
    assert (tmp_path / f"backward.{suffix}").exists()


def test_evaluate_matches_the_engine():
    w = ag.tensor(0.5, requires_grad=True)
    x = ag.tensor(2.0, requires_grad=True)
    got = cli.evaluate("tanh(w * x) - -x / 2 + exp(0.5) * w ** 2", {"w": w, "x": x})
    expected = (w * x).tanh() + x / 2 + ag.exp(ag.tensor(0.5)) * w ** 2
    assert abs(got.item() - expected.item()) < 1e-6


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
    with pytest.raises(cli.ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cli.evaluate(text, {"x": ag.tensor(1.0, requires_grad=True)})


def test_bad_values_and_cli_error(capsys):
    with pytest.raises(cli.ExpressionError, match="not a number"):
        cli.parse_values("w=abc")
    assert cli.parse_values(" w=0.5, b=-3 ") == {"w": 0.5, "b": -3.0}
    assert cli.main(["draw", "__import__('os')", "--values", "x=1"]) == 2
    assert "not allowed" in capsys.readouterr().err


def test_python_dash_m_viz_help():
    result = subprocess.run([sys.executable, "-m", "viz", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "demo" in result.stdout
