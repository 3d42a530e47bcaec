"""Where the text of ``draw_network`` goes: pinned positions, estimated boxes, no overlaps.

The neuron-level picture is drawn by Graphviz's ``neato`` with every node pinned (``pos="x,y!"``,
inches, y up), so the layout is decided here. Each piece of text gets an estimated box
(characters × font size × ``CHAR_EM`` wide, lines × font size × ``LINE_EM`` high, a little
conservative); a label is only placed where its box meets no box placed before. When the labels
of a layer's edges cannot all be placed, the caller draws that layer's numbers as a table instead
(``html_table``), and tables are laid out in rows below the units (``flow``).
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

CHAR_EM = 0.62      # average glyph width / font size (Unicode sub/superscripts come wider)
LINE_EM = 1.3       # line height / font size
PAD = 0.05          # inches of white space kept around every box


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in inches: (x0, y0) lower left, (x1, y1) upper right."""

    x0: float
    y0: float
    x1: float
    y1: float

    @staticmethod
    def around(x: float, y: float, w: float, h: float) -> Box:
        return Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)

    def meets(self, other: Box, pad: float = PAD) -> bool:
        return not (self.x1 + pad <= other.x0 or other.x1 + pad <= self.x0
                    or self.y1 + pad <= other.y0 or other.y1 + pad <= self.y0)

    def crossed_by(self, p, q) -> bool:
        """Does the segment p–q pass through this box? (Liang–Barsky clipping)."""
        t0, t1 = 0.0, 1.0
        dx, dy = q[0] - p[0], q[1] - p[1]
        for step, room in ((-dx, p[0] - self.x0), (dx, self.x1 - p[0]),
                           (-dy, p[1] - self.y0), (dy, self.y1 - p[1])):
            if step == 0:
                if room < 0:
                    return False
                continue
            t = room / step
            if step < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 > t1:
                return False
        return True


def text_size(text: str, fontsize: float) -> tuple[float, float]:
    """Estimated (width, height) in inches of a possibly multi-line text."""
    lines = text.split("\n")
    width = max(len(line) for line in lines) * fontsize * CHAR_EM / 72
    return width + 0.08, len(lines) * fontsize * LINE_EM / 72 + 0.04


_TEXT = {"shape": "plaintext", "style": "filled", "fillcolor": "white", "margin": "0.02,0.01",
         "width": "0", "height": "0"}


@dataclass
class Canvas:
    """Nodes and edges of one view with their pinned positions, and the boxes taken so far."""

    nodes: list[tuple[str, str, tuple[float, float], dict]] = field(default_factory=list)
    edges: list[tuple[str, str, dict]] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    lines: dict[object, tuple] = field(default_factory=dict)   # owner → segment (p, q)

    def free(self, box: Box) -> bool:
        """No text there."""
        return not any(box.meets(b) for b in self.boxes)

    def crossings(self, box: Box, owner=None) -> int:
        """How many lines other than the owner's pass through ``box``."""
        return sum(key != owner and box.crossed_by(*pq) for key, pq in self.lines.items())

    def line(self, owner, p, q) -> None:
        """A straight edge from p to q that labels of other edges must not cover."""
        self.lines[owner] = (p, q)

    def node(self, name: str, label: str, at, size: tuple[float, float] | None, **attrs) -> None:
        """A node centred at ``at``; ``size`` (inches) is the room it takes (None: none)."""
        self.nodes.append((name, label, at, attrs))
        if size is not None:
            self.boxes.append(Box.around(at[0], at[1], *size))

    def text(self, name: str, text: str, at, fontsize: float, **attrs) -> None:
        """A free-standing text centred at ``at`` (white background)."""
        self.node(name, text, at, text_size(text, fontsize), **_TEXT, fontsize=str(fontsize),
                  **attrs)

    def try_text(self, name: str, text: str, candidates, fontsize: float, owner=None,
                 max_crossings: int = 1, **attrs) -> bool:
        """Place ``text`` at the candidate point where it meets no other text and is crossed by
        the fewest lines other than its ``owner``'s (at most ``max_crossings``, earlier candidates
        first on a tie); False if there is none."""
        w, h = text_size(text, fontsize)
        best = None
        for x, y in candidates:
            box = Box.around(x, y, w, h)
            if self.free(box):
                n = self.crossings(box, owner)
                if n <= max_crossings and (best is None or n < best[0]):
                    best = (n, (x, y))
                if n == 0:
                    break
        if best is not None:
            self.text(name, text, best[1], fontsize, **attrs)
        return best is not None

    def edge(self, tail: str, head: str, **attrs) -> None:
        self.edges.append((tail, head, attrs))

    def bounds(self) -> Box:
        return Box(min(b.x0 for b in self.boxes), min(b.y0 for b in self.boxes),
                   max(b.x1 for b in self.boxes), max(b.y1 for b in self.boxes))

    def emit(self, g, dy: float = 0.0) -> None:
        """Add everything to the graphviz (sub)graph ``g``, moved up by ``dy`` inches."""
        for name, label, (x, y), attrs in self.nodes:
            g.node(name, label, pos=f"{x:.3f},{y + dy:.3f}!", **attrs)
        for tail, head, attrs in self.edges:
            g.edge(tail, head, **attrs)


def along(p, q, fractions) -> list[tuple[float, float]]:
    """Points p + f·(q − p) for each fraction f."""
    return [(p[0] + f * (q[0] - p[0]), p[1] + f * (q[1] - p[1])) for f in fractions]


@dataclass
class Table:
    """An HTML-like Graphviz label (a titled grid of cells) and its estimated size in inches."""

    label: str
    width: float
    height: float


def html_table(title: str, rows: list[list[str]], fontsize: float = 9,
               header: bool = True) -> Table:
    """A table: ``title`` on top, then ``rows`` (the first column, and with ``header`` the
    first row, shaded as headers)."""
    pad = 4
    ncols = max(len(r) for r in rows)
    widths = [max(len(r[c]) for r in rows if c < len(r)) * fontsize * CHAR_EM + 2 * pad + 2
              for c in range(ncols)]
    row_h = fontsize * LINE_EM + 2 * pad + 2
    title_w = len(title) * fontsize * CHAR_EM + 2 * pad + 2
    shade = ' BGCOLOR="#f2f2f2"'
    cells = []
    for r, row in enumerate(rows):
        tds = "".join(f"<TD{shade if (header and r == 0) or c == 0 else ''}>"
                      f"{html.escape(v) or ' '}</TD>" for c, v in enumerate(row))
        cells.append(f"<TR>{tds}</TR>")
    label = (f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="{pad}" '
             f'COLOR="#bbbbbb"><TR><TD COLSPAN="{ncols}" BORDER="0"><FONT '
             f'POINT-SIZE="{fontsize + 1}">{html.escape(title)}</FONT></TD></TR>'
             + "".join(cells) + "</TABLE>>")
    width = max(sum(widths), title_w + 2 * fontsize) / 72
    height = (row_h * len(rows) + (fontsize + 1) * LINE_EM + 2 * pad + 2) / 72
    return Table(label, width, height)


def flow(canvas: Canvas, tables: list[tuple[str, Table]], left: float, top: float,
         max_width: float, fontsize: float = 9, gap: float = 0.35) -> None:
    """Place ``tables`` left to right in rows below ``top`` (inches), wrapping at ``max_width``."""
    x, y, row_h = left, top, 0.0
    for name, table in tables:
        if x > left and x + table.width > left + max_width:
            x, y, row_h = left, y - row_h - gap, 0.0
        at = (x + table.width / 2, y - table.height / 2)
        canvas.node(name, table.label, at, (table.width, table.height), shape="plaintext",
                    margin="0", fontsize=str(fontsize))
        x += table.width + gap
        row_h = max(row_h, table.height)
