"""The ``neurona`` command (also ``python -m viz``).

``neurona demo [--out DIR] [--epochs N] [--lang es|en] [--format svg|png|pdf]``: train a small
network on XOR and write its pictures (``viz.demo``).

``neurona draw "<expression>" --values w=0.5,x=1,b=-0.3 [--lang es|en] [--format svg|png|pdf]
[--out DIR]``: print the expression's value and gradients, and write its forward and backward
graphs (forward.<format>, backward.<format>). The expression is checked and evaluated by
``viz.expression`` (never ``eval``).

Without Graphviz's programs the DOT sources (.gv) are written instead, with a note on installing
Graphviz (``viz.graphviz_io``).
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import numpy as np

import autograd_core as ag

from . import graphviz_io
from .expression import ExpressionError, evaluate, names_in, parse_values


def draw(expression: str, values_text: str, out_dir: str, lang: str = "en",
         format: str = "svg") -> int:
    """``neurona draw``: value, gradients, forward and backward graphs of ``expression``."""
    from . import draw_backward, draw_forward

    values = parse_values(values_text)
    leaves = {name: ag.tensor(np.float64(v), requires_grad=True) for name, v in values.items()}
    result = evaluate(expression, leaves)
    if not isinstance(result, ag.Tensor) or result.size != 1:
        raise ExpressionError(f"{expression!r} must give one value that depends on a name")
    used = {name: leaves[name] for name in leaves if name in names_in(expression)}
    grads = ag.grad(result, list(used.values()), retain_graph=True)
    print(f"{expression} = {result.item():.6g}")
    for name, g in zip(used, grads):
        print(f"  ∂/∂{name} = {g.item():.6g}")
    os.makedirs(out_dir, exist_ok=True)
    written = [graphviz_io.write(drawer(result, names=used, lang=lang),
                                 os.path.join(out_dir, name), format)
               for name, drawer in (("forward", draw_forward), ("backward", draw_backward))]
    print("Wrote " + ", ".join(written))
    if any(path.endswith(".gv") for path in written):
        print(graphviz_io.HELP)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurona", description="neurona's pictures of "
                                     "training and of backpropagation (the inverse network)")
    commands = parser.add_subparsers(dest="command", required=True)
    d = commands.add_parser("demo", help="train a small network on XOR and draw it")
    d.add_argument("--out", default="neurona-demo", help="output folder (default ./neurona-demo)")
    d.add_argument("--epochs", type=int, default=300, help="training epochs (default 300)")
    d.add_argument("--lr", type=float, default=2.0, help="learning rate (default 2.0)")
    d.add_argument("--seed", type=int, default=0)
    e = commands.add_parser("draw", help="forward and backward graphs of a scalar expression")
    e.add_argument("expression", help='e.g. "sigmoid(w*x + b)"')
    e.add_argument("--values", default="", help="name=number,... e.g. w=0.5,x=1,b=-0.3")
    e.add_argument("--out", default="neurona-draw", help="output folder (default ./neurona-draw)")
    for sub in (d, e):
        sub.add_argument("--lang", choices=("en", "es"), default="en",
                         help="words of the pictures: en, or es (the course's vocabulary)")
        sub.add_argument("--format", choices=graphviz_io.FORMATS, default="svg",
                         help="picture format (default svg)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            if args.epochs < 1:
                raise ValueError("--epochs must be at least 1")
            from .demo import demo
            return demo(args.out, args.epochs, args.lr, args.seed, args.lang, args.format)
        return draw(args.expression, args.values, args.out, args.lang, args.format)
    except (ValueError, RuntimeError) as error:
        print(f"neurona {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
