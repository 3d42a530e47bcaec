"""The figure-claim check: every figure a notebook's Markdown states is one its code computed.

A *figure* is a number in a Markdown cell written with a decimal point, an exponent or a percent
sign (0.982, 3.8e−6, 97 %, 88.62%); plain integers (layer sizes, epoch counts, 2,000 images)
are set-up, not results, and inline code (`lr=0.1`) is code. A figure is *bound* when

* a number printed or displayed by the executed notebook (stream, text/plain, text/markdown
  outputs), or that number × 100 or ÷ 100 (a fraction written as a percentage or back), rounds
  to it at the precision it is written with (0.982 binds "98 %" and "98.2 %", not "97 %"), or
* it appears literally in a code cell (a hyper-parameter the text names: lr 0.1, (x − 0.5)/0.5).

``unbound_figures(nb)`` lists the figures that are neither; the notebook tests require none.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?|\.\d+)(?:\s*[eE]\s*([-−+]?\d+))?(\s*%)?")
CODE_SPAN = re.compile(r"```.*?```|`[^`]*`", re.S)
URL = re.compile(r"https?://\S+|\]\([^)]*\)")


@dataclass(frozen=True)
class Figure:
    text: str          # as written, e.g. "97 %"
    value: float       # the number without its percent sign, e.g. 97.0
    tolerance: float   # half a unit of its last written digit
    cell: int          # index of the Markdown cell


def _parse(match: re.Match) -> tuple[float, float, bool, bool]:
    """(value, tolerance, is_figure, is_percent) of one regex match."""
    digits, exponent, percent = match.group(1).replace(",", ""), match.group(2), match.group(3)
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    scale = 10.0 ** int(exponent.replace("−", "-")) if exponent else 1.0
    value = float(digits) * scale
    tolerance = 0.5 * 10.0 ** -decimals * scale
    return value, tolerance, bool(decimals or exponent or percent), bool(percent)


def _prose(source: str) -> str:
    text = CODE_SPAN.sub(" ", source)
    text = URL.sub(" ", text)
    return text.replace("\u2212", "-").replace("\u2009", " ").replace("\u202f", " ")


def markdown_figures(nb) -> list[Figure]:
    """The figures stated in the notebook's Markdown cells."""
    figures = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for match in NUMBER.finditer(_prose(cell.source)):
            value, tolerance, is_figure, _ = _parse(match)
            if is_figure:
                figures.append(Figure(match.group(0).strip(), value, tolerance, index))
    return figures


def _output_text(output) -> str:
    if output.get("output_type") == "stream":
        return output.get("text", "")
    data = output.get("data", {})
    return "\n".join(str(data.get(kind, "")) for kind in ("text/plain", "text/markdown"))


def computed_numbers(nb) -> list[float]:
    """Every number in the executed notebook's outputs, with its ×100 and ÷100 readings."""
    numbers: list[float] = []
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            for match in NUMBER.finditer(_output_text(output).replace("\u2212", "-")):
                value = _parse(match)[0]
                numbers += [value, value * 100.0, value / 100.0]
    return numbers


def code_literals(nb) -> set[float]:
    """Every number written in a code cell's source (hyper-parameters and set-up)."""
    return {_parse(m)[0] for cell in nb.cells if cell.cell_type == "code"
            for m in NUMBER.finditer(cell.source)}


def unbound_figures(nb) -> list[Figure]:
    """The Markdown figures that no output rounds to and no code cell writes."""
    computed = sorted(computed_numbers(nb))
    literals = code_literals(nb)
    unbound = []
    for figure in markdown_figures(nb):
        if figure.value in literals:
            continue
        slack = figure.tolerance * (1 + 1e-9) + 1e-12
        if not any(abs(c - figure.value) <= slack for c in computed):
            unbound.append(figure)
    return unbound


def describe(nb_name: str, unbound: list[Figure]) -> str:
    lines = [f"{nb_name}: Markdown states figures that no executed output contains "
             "(print or render them from the computed values, or fix the text):"]
    lines += [f"  cell {f.cell}: {f.text!r}" for f in unbound]
    return "\n".join(lines)
