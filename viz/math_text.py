"""The course's formulas in two notations: plain Unicode text (a terminal) and LaTeX (Jupyter).

viz names values with Unicode (``W⁽¹⁾₁,₂``, ``σ(z⁽¹⁾)(1 − σ(z⁽¹⁾))``, ``δ⁽²⁾``); :func:`to_latex`
turns such a string into LaTeX (``W^{(1)}_{1,2}``, ``\\sigma(z^{(1)})(1 - \\sigma(z^{(1)}))``).
:class:`Plain` and :class:`Latex` are the two formatters a text is written with: the same code
builds a line once per notation (math, ∂a/∂b fractions, numbers, vectors, matrices, words).
"""
from __future__ import annotations

import re

import numpy as np

from .labels import format_number

_SUPERSCRIPTS = dict(zip("⁽⁾⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻ᵀᴷᵏⁿˡ'", "()0123456789+-TKknl'"))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉ₓᵢⱼₖₘₙ", "0123456789xijkmn"))
_SYMBOLS = {"ψ": r"\psi", "σ": r"\sigma", "δ": r"\delta", "α": r"\alpha", "β": r"\beta",
            "η": r"\eta", "λ": r"\lambda", "μ": r"\mu", "ε": r"\varepsilon", "θ": r"\theta",
            "γ": r"\gamma", "ρ": r"\rho", "Σ": r"\sum", "∂": r"\partial", "·": r"\cdot",
            "⊙": r"\odot", "×": r"\times", "−": "-", "≈": r"\approx", "√": r"\sqrt",
            "→": r"\to", "…": r"\ldots", "≤": r"\le", "≥": r"\ge", "∇": r"\nabla",
            "‖": r"\|", "✓": r"\checkmark", "{": r"\{", "}": r"\}", "%": r"\%", "_": r"\_",
            "#": r"\#", "&": r"\&", "$": r"\$", "\\": r"\backslash", "~": r"\sim",
            "<": r"\lt", ">": r"\gt"}
#: what LaTeX's text mode (``\text{…}``) reads as commands, written as characters
_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
                 "#": r"\#", "%": r"\%", "_": r"\_", "~": r"\textasciitilde{}",
                 "^": r"\textasciicircum{}"}
#: what Markdown (and the HTML it may hold) reads as markup, escaped
_MARKDOWN_ESCAPES = {"\\": "\\\\", "*": r"\*", "_": r"\_", "`": r"\`", "$": r"\$",
                     "&": "&amp;", "<": "&lt;", ">": "&gt;"}
_WORD = re.compile(r"[A-Za-z]{2,}")
_FUNCTIONS = {"exp", "ln", "log", "tanh", "sin", "cos", "max", "min"}


def to_latex(text: str) -> str:
    """A Unicode formula as LaTeX: runs of superscripts and subscripts become ``^{…}``/``_{…}``
    (a comma between subscripts stays inside: ``₁,₂`` → ``_{1,2}``), Greek letters and operators
    their commands, and words of two or more letters upright (``\\tanh``, ``\\mathrm{softmax}``)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        for table, mark in ((_SUPERSCRIPTS, "^"), (_SUBSCRIPTS, "_")):
            if c in table and (mark == "_" or c != "'"):
                j, run = i, []
                while j < n and (text[j] in table or (mark == "_" and text[j] == "," and
                                                      j + 1 < n and text[j + 1] in table)):
                    run.append(table.get(text[j], ","))
                    j += 1
                body = "".join(run).replace("T", r"\top ") if mark == "^" else "".join(run)
                out.append(f"{mark}{{{body.strip()}}}")
                i = j
                break
        else:
            if c == "^" and i + 1 == n:            # a name ending in ^
                out.append(r"\hat{}")
                i += 1
                continue
            if c == "^":                           # w^(k − 1), e^{x}, 2^x: one group
                j = _exponent_end(text, i + 1)
                exponent = text[i + 1:j]
                if exponent.startswith("{") and exponent.endswith("}"):
                    exponent = exponent[1:-1]
                out.append(f"^{{{to_latex(exponent)}}}")
                i = j
                continue
            word = _WORD.match(text, i)
            if word and (i == 0 or not text[i - 1].isalpha()):
                w = word.group()
                out.append(f"\\{w} " if w in _FUNCTIONS else rf"\mathrm{{{w}}}")
                i = word.end()
                continue
            symbol = _SYMBOLS.get(c, c)
            out.append(symbol + (" " if symbol.startswith("\\") and symbol[1:].isalpha() else ""))
            i += 1
    return "".join(out).replace(" )", ")").replace(" ^", "^").replace(" _", "_")


def _exponent_end(text: str, start: int) -> int:
    """Where the exponent after an ASCII ``^`` ends: a group in (…) or {…}, or one character."""
    pairs = {"(": ")", "{": "}"}
    if text[start] not in pairs:
        return start + 1
    opening, closing = text[start], pairs[text[start]]
    depth = 0
    for j in range(start, len(text)):
        depth += 1 if text[j] == opening else -1 if text[j] == closing else 0
        if depth == 0:
            return j + 1
    return len(text)


def _escape(text: str, table: dict[str, str]) -> str:
    return "".join(table.get(c, c) for c in text)


class Plain:
    """Unicode text for a terminal: the formulas as viz writes them."""

    markdown = False

    def math(self, text: str) -> str:
        return text

    def frac(self, top: str, bottom: str) -> str:
        """∂top/∂bottom."""
        return f"∂{top}/∂{bottom}"

    def number(self, x) -> str:
        return format_number(x)

    def array(self, a) -> str:
        """A number, a vector [a, b] or a matrix [[a, b], [c, d]] with 4 significant digits."""
        a = np.asarray(a, dtype=np.float64)
        if a.ndim == 0:
            return self.number(a)
        if a.ndim == 1:
            return "[" + ", ".join(self.number(v) for v in a) + "]"
        return "[" + ", ".join(self.array(row) for row in a.reshape(-1, a.shape[-1])) + "]"

    def words(self, text: str) -> str:
        return text

    def line(self, parts: list[tuple[str, str]]) -> str:
        """One line from ("t", words) and ("m", math) parts."""
        return "".join(p for _, p in parts)

    def heading(self, text: str) -> str:
        return text + "\n" + "─" * min(len(text), 78)

    def document(self, blocks: list[str]) -> str:
        return "\n".join(blocks)


class Latex(Plain):
    """LaTeX for Jupyter: ``markdown=True`` gives Markdown with ``$…$`` math (``_repr_markdown_``),
    ``markdown=False`` one ``$$\\begin{array}…$$`` block (``_repr_latex_``)."""

    def __init__(self, markdown: bool) -> None:
        self.markdown = markdown

    def math(self, text: str) -> str:
        return to_latex(text)

    def frac(self, top: str, bottom: str) -> str:
        return rf"\frac{{\partial {to_latex(top)}}}{{\partial {to_latex(bottom)}}}"

    def number(self, x) -> str:
        text = format_number(x)
        if "e" in text:
            mantissa, exponent = text.split("e")
            return rf"{mantissa}\cdot 10^{{{int(exponent)}}}"
        return text

    def array(self, a) -> str:
        a = np.asarray(a, dtype=np.float64)
        if a.ndim == 0:
            return self.number(a)
        rows = a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a[None, :]
        body = r" \\ ".join(" & ".join(self.number(v) for v in row) for row in rows)
        return rf"\begin{{bmatrix}}{body}\end{{bmatrix}}"

    def words(self, text: str) -> str:
        if self.markdown:
            return _escape(text, _MARKDOWN_ESCAPES)
        return rf"\text{{{_escape(text, _TEXT_ESCAPES)}}}"

    def line(self, parts: list[tuple[str, str]]) -> str:
        if self.markdown:
            return "".join(f"${p}$" if kind == "m" else p for kind, p in parts)
        return "".join(parts[k][1] for k in range(len(parts)))

    def heading(self, text: str) -> str:
        return f"**{self.words(text)}**" if self.markdown else \
            rf"\textbf{{{_escape(text, _TEXT_ESCAPES)}}}"

    def document(self, blocks: list[str]) -> str:
        if self.markdown:
            return "\n\n".join(blocks)
        return "$$\\begin{array}{l}\n" + " \\\\\n".join(blocks) + "\n\\end{array}$$"
