"""Reading ``draw_network``'s pictures back (for the tests): labels from DOT, text boxes from SVG,
numbers from labels, and the check that a string is made of vocabulary words and math only."""
from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET

from autograd_core.vocabulary import VOCABULARY, LANGUAGES

_LABEL = re.compile(r'^\s*(\w+) \[label=(?:"((?:[^"\\]|\\.)*)"|<(<TABLE.*?</TABLE>)>)',
                    re.M | re.S)
_CELL = re.compile(r"<TD[^>]*>(?:<FONT[^>]*>)?(.*?)(?:</FONT>)?</TD>", re.S)
_ROW = re.compile(r"<TR>(.*?)</TR>", re.S)
_NUMBER = re.compile(r"=\s*([−-]?\d+(?:\.\d+)?(?:e[−-]?\d+)?)\s*$")


def labels(source: str) -> dict[str, str | list[list[str]]]:
    """``{node: label}``: text labels as strings, HTML tables as rows of cell texts (title
    first, as a row of one cell)."""
    out: dict[str, str | list[list[str]]] = {}
    for name, text, table in _LABEL.findall(source):
        if table:
            out[name] = [[html.unescape(c).strip() for c in _CELL.findall(row)]
                         for row in _ROW.findall(table)]
        else:
            out[name] = text.replace('\\"', '"')
    return out


def visible_strings(source: str) -> list[str]:
    """Every string a reader sees: each line of each text label, each table cell."""
    strings: list[str] = []
    for label in labels(source).values():
        if isinstance(label, str):
            strings += label.split("\n")
        else:
            strings += [cell for row in label for cell in row]
    return [s for s in strings if s.strip()]


def number(text: str) -> float:
    """The value after the last "=" of a label line ("δ₁⁽²⁾ = −0.054" → -0.054), or the whole
    text when it is a number."""
    m = _NUMBER.search(text)
    raw = m.group(1) if m else text.strip()
    return float(raw.replace("−", "-"))


def lines_by_symbol(label: str) -> dict[str, float]:
    """``{"δ₁⁽²⁾": -0.054, ...}`` from a unit's label lines "symbol = value"."""
    out = {}
    for line in label.split("\n"):
        if " = " in line:
            out[line.rsplit(" = ", 1)[0]] = number(line)
    return out


def foreign_words(text: str, lang: str) -> list[str]:
    """Runs of two or more letters in ``text`` that are not part of a vocabulary entry of
    ``lang`` (numbers, single-letter symbols and math signs are fine)."""
    column = LANGUAGES.index(lang)
    rest = " ".join(text.replace("\xa0", " ").split())    # SVG writes runs of spaces as nbsp
    for entry in sorted((pair[column] for pair in VOCABULARY.values()), key=len, reverse=True):
        if len(entry) > 1:
            rest = rest.replace(entry, " ")
    return re.findall(r"[A-Za-zÀ-ÿ]{2,}", rest)


# glyph widths in em, roughly those of Liberation Sans / DejaVu Sans (others: 0.56);
# sub- and superscripts are small glyphs
_EM = {**dict.fromkeys("iljIft.,:;'|!()[] ·", 0.3), **dict.fromkeys("r", 0.36),
       **dict.fromkeys("mwMW", 0.85), **dict.fromkeys("∂Σψδ", 0.65),
       **dict.fromkeys("₀₁₂₃₄₅₆₇₈₉⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾ᵢⱼₓᵀᴷ", 0.42)}


def svg_text_boxes(svg: str) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Each <text> of an SVG with an estimated box (x0, y0, x1, y1) in SVG units: width from
    the characters (``_EM``), height one em above/below the baseline as drawn."""
    ns = "{http://www.w3.org/2000/svg}"
    boxes = []
    for el in ET.fromstring(svg).iter(ns + "text"):
        content = "".join(el.itertext())
        if not content.strip():
            continue
        x, y = float(el.get("x")), float(el.get("y"))
        size = float(el.get("font-size", "14"))
        width = sum(_EM.get(c, 0.56) for c in content) * size
        anchor = el.get("text-anchor", "start")
        x0 = x - width / 2 if anchor == "middle" else x - width if anchor == "end" else x
        boxes.append((content, (x0, y - 0.75 * size, x0 + width, y + 0.2 * size)))
    return boxes


def overlapping(boxes) -> list[tuple[str, str]]:
    """Pairs of texts whose boxes intersect."""
    found = []
    ordered = sorted(boxes, key=lambda b: b[1][0])
    for n, (text_a, a) in enumerate(ordered):
        for text_b, b in ordered[n + 1:]:
            if b[0] >= a[2]:
                break
            if a[1] < b[3] and b[1] < a[3]:
                found.append((text_a, text_b))
    return found
