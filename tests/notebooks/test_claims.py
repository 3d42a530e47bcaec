"""The figure-claim check on small hand-made notebooks (the real ones run in test_notebooks)."""
from __future__ import annotations

import pytest

nbformat = pytest.importorskip("nbformat")

from . import claims  # noqa: E402


def _notebook(markdown: str, printed: str = "", code: str = "print(x)", markdown_output=None):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(code)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    if markdown_output is not None:
        cell.outputs.append(nbformat.v4.new_output(
            "display_data", data={"text/markdown": markdown_output, "text/plain": "<Markdown>"}))
    nb.cells = [cell, nbformat.v4.new_markdown_cell(markdown)]
    return nb


def _unbound(nb):
    return [f.text for f in claims.unbound_figures(nb)]


def test_drifted_percentage_is_flagged():
    # notebook 04's drift: "97 %" typed, 0.982 printed
    assert _unbound(_notebook("the network reaches 97 % on the spirals",
                              "training accuracy 0.982")) == ["97 %"]


def test_rounded_and_rescaled_figures_are_bound():
    nb = _notebook("it reaches 98 % (0.98, 98.2%), loss 3.4e−2 and 1.2e-05",
                   "training accuracy 0.982 loss 0.0341 grad 1.23e-05")
    assert _unbound(nb) == []


def test_wrong_last_digit_is_flagged():
    assert _unbound(_notebook("loss 0.643", "loss 0.6449")) == ["0.643"]


def test_integers_and_inline_code_are_not_figures():
    nb = _notebook("4 layers of 512 units, 2,000 images, `lr=0.37`", "nothing")
    assert claims.markdown_figures(nb) == []


def test_code_literals_bind_hyperparameters():
    nb = _notebook("trained with a learning rate of 0.003", "done", code="lr = 0.003")
    assert _unbound(nb) == []


def test_rendered_markdown_output_binds_its_numbers():
    nb = _notebook("as shown, 88.62 %", markdown_output="ReLU reaches **88.62 %**")
    assert _unbound(nb) == []


def test_each_unbound_figure_is_named_with_its_cell():
    nb = _notebook("accuracy 12.5 % and loss 0.77", "accuracy 0.125")
    unbound = claims.unbound_figures(nb)
    assert [(f.text, f.cell) for f in unbound] == [("0.77", 1)]
    assert "cell 1: '0.77'" in claims.describe("x.ipynb", unbound)


def test_powers_of_ten_are_figures():
    nb = _notebook(r"gradient ratio $1.2\cdot10^{-10}$, gain 5.8·10⁹, about $10^{6}$ and 10⁻⁹",
                   "ratio 1.2e-10 gain 5.83e+09 tanh 2.4e+06 sigmoid 3.1e-09")
    assert _unbound(nb) == []
    drifted = _notebook(r"about $10^{4}$ and $5\cdot10^{4}$", "ratio 1.1e+05")
    assert sorted(_unbound(drifted)) == [r"10^{4}", r"5\cdot10^{4}"]


README = """# neurona

## Notebooks

- [`04_x`](notebooks/04_x.ipynb) — reaches 97 % with
  tanh.
- [`05_y`](notebooks/05_y.ipynb) — 12.5 %.

## Benchmarks
- [`04_x`](notebooks/04_x.ipynb) — 11.1 %
"""


def test_readme_entry_is_the_notebooks_bullet():
    assert claims.readme_entry(README, "04_x.ipynb").endswith("reaches 97 % with\n  tanh.")
    assert claims.readme_entry(README, "06_z.ipynb") == ""


def test_readme_figures_are_checked_against_the_notebook():
    nb = _notebook("nothing here", "training accuracy 0.982")
    entry = claims.readme_entry(README, "04_x.ipynb")
    assert [f.text for f in claims.unbound_in_text(nb, entry)] == ["97 %"]
    nb = _notebook("nothing here", "training accuracy 0.971")
    assert claims.unbound_in_text(nb, claims.readme_entry(README, "04_x.ipynb")) == []
