r"""The figure-claim check: every figure a notebook's Markdown states is one its code computed.

A *figure* is a number in a Markdown cell written with a decimal point, an exponent or a percent
sign (0.982, 3.8e−6, 97 %, 88.62%, 5.8·10⁹, $1.2\cdot10^{-10}$), or a bare power of ten
(10⁻⁹, $10^{6}$: an order of magnitude, bound by any computed number within half a decade);
plain integers (layer sizes, epoch counts, 2,000 images) are set-up, not results, and inline code
(`lr=0.1`) is code. A figure is *bound* when

* a number printed or displayed by the executed notebook (stream, text/plain, text/markdown
  outputs), or that number × 100 or ÷ 100 (a fraction written as a percentage or back), rounds
  to it at the precision it is written with (0.982 binds "98 %" and "98.2 %", not "97 %"), or
* it appears literally in a code cell (a hyper-parameter the text names: lr 0.1, (x − 0.5)/0.5).

``unbound_figures(nb)`` lists the figures that are neither; the notebook tests require none.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?|\.\d+)(?:\s*[eE]\s*([-−+]?\d+))?(\s*%)?")
CODE_SPAN = re.compile(r"```.*?```|`[^`]*`", re.S)
URL = re.compile(r"https?://\S+|\]\([^)]*\)")
SUPERSCRIPT = re.compile("10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
SUPER_DIGITS = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
SCIENTIFIC = re.compile(r"(\d+(?:\.\d+)?)\s*(?:\\cdot|\\times|·|×)\s*10\^\{?(-?\d+)\}?")
POWER = re.compile(r"(?<![\d.])10\^\{?(-?\d+)\}?")


@dataclass(frozen=True)
class Figure:
    text: str          # as written, e.g. "97 %"
    value: float       # the number without its percent sign, e.g. 97.0
    tolerance: float   # half a unit of its last written digit (in decades for a power of ten)
    cell: int          # index of the Markdown cell
    decades: bool = False   # a bare power of ten: compared on log10


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
    text = text.replace("\u2212", "-").replace("\u2009", " ").replace("\u202f", " ")
    return SUPERSCRIPT.sub(lambda m: "10^{" + m.group(1).translate(SUPER_DIGITS) + "}", text)


def _powers_of_ten(text: str, index: int) -> tuple[list[Figure], str]:
    """Figures written as m·10^k or 10^k, and the text with them blanked out."""
    figures = []
    for match in SCIENTIFIC.finditer(text):
        mantissa, exponent = match.group(1), int(match.group(2))
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        figures.append(Figure(match.group(0), float(mantissa) * 10.0 ** exponent,
                              0.5 * 10.0 ** (exponent - decimals), index))
    text = SCIENTIFIC.sub(" ", text)
    figures += [Figure(m.group(0), float(m.group(1)), 0.5, index, decades=True)
                for m in POWER.finditer(text)]
    return figures, POWER.sub(" ", text)


def markdown_figures(nb) -> list[Figure]:
    """The figures stated in the notebook's Markdown cells."""
    figures = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        powers, text = _powers_of_ten(_prose(cell.source), index)
        figures += powers
        for match in NUMBER.finditer(text):
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
    logs = [math.log10(abs(c)) for c in computed if c != 0]
    for figure in markdown_figures(nb):
        if figure.decades:
            bound = any(abs(c - figure.value) <= figure.tolerance for c in logs)
        else:
            slack = figure.tolerance * (1 + 1e-9) + 1e-12
            bound = (figure.value in literals
                     or any(abs(c - figure.value) <= slack for c in computed))
        if not bound:
            unbound.append(figure)
    return unbound


def describe(nb_name: str, unbound: list[Figure]) -> str:
    lines = [f"{nb_name}: Markdown states figures that no executed output contains "
             "(print or render them from the computed values, or fix the text):"]
    lines += [f"  cell {f.cell}: {f.text!r}" for f in unbound]
    return "\n".join(lines)


def readme_entry(readme: str, notebook: str) -> str:
    """The README's bullet for ``notebook`` (e.g. "04_activation_functions.ipynb") in its
    "## Notebooks" section: the text from the bullet that links to it up to the next bullet."""
    section = readme.split("\n## Notebooks", 1)[-1].split("\n## ", 1)[0]
    for bullet in re.split(r"\n(?=- )", section):
        if f"notebooks/{notebook})" in bullet:
            return bullet
    return ""


def unbound_in_text(nb, text: str) -> list[Figure]:
    """The figures of ``text`` (Markdown) that the executed notebook ``nb`` does not contain."""
    import nbformat   # noqa: PLC0415 (only the notebook tests need it)

    probe = nbformat.from_dict(dict(nb))
    probe.cells = [*nb.cells, nbformat.v4.new_markdown_cell(text)]
    return [f for f in unbound_figures(probe) if f.cell == len(nb.cells)]
