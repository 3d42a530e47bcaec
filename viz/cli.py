"""The ``neurona`` command (also ``python -m viz``).

``neurona demo [--out DIR] [--epochs N]``: train a small 2-4-1 tanh/sigmoid network on XOR with a
plain gradient-descent loop, print its progress, and write into DIR (default ./neurona-demo):
forward.svg and backward.svg (the op graph and the inverse network of one sample's loss),
network.svg (the neuron-level view, both directions), loss.png and boundary.png.

``neurona draw "<expression>" --values w=0.5,x=1,b=-0.3 [--out DIR]``: the forward and backward
graphs of a scalar expression. The expression is parsed with ``ast`` and evaluated by walking the
tree: only names given in --values, numbers, + − × / ** and calls of the whitelisted functions
(sigmoid, tanh, relu, exp, log, ...) are accepted — nothing is ever passed to ``eval``.

Without Graphviz's ``dot`` the DOT sources (.gv) are still written, with a note on installing it.
"""
from __future__ import annotations

import argparse
import ast
import operator
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

import autograd_core as ag
import nn

INSTALL_HELP = ("Graphviz is not installed, so the .gv sources were written instead of images. "
                "Install it with 'sudo apt-get install graphviz' (Debian/Ubuntu) or "
                "'brew install graphviz' (macOS), then render with 'dot -Tsvg file.gv -o file.svg'"
                " (network.gv: 'neato -n2 -Tsvg ...' or rerun this command).")


# ---- safe expressions -------------------------------------------------------------------------

FUNCTIONS: dict[str, Callable] = {
    "sigmoid": ag.sigmoid, "tanh": ag.tanh, "relu": ag.relu, "exp": ag.exp, "log": ag.log,
    "sqrt": ag.sqrt, "abs": ag.abs, "sin": ag.sin, "cos": ag.cos, "softplus": ag.softplus,
    "elu": ag.elu, "selu": ag.selu, "silu": ag.silu, "gelu": ag.gelu,
    "leaky_relu": ag.leaky_relu, "maximum": ag.maximum, "minimum": ag.minimum,
}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


class ExpressionError(ValueError):
    """An expression that ``neurona draw`` refuses to evaluate (with the reason)."""


def parse_values(text: str) -> dict[str, float]:
    """'w=0.5,x=1,b=-0.3' → {'w': 0.5, 'x': 1.0, 'b': -0.3}."""
    values: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, number = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ExpressionError(f"--values: expected name=number, got {item!r}")
        if name in FUNCTIONS:
            raise ExpressionError(f"--values: {name!r} is a function name")
        try:
            values[name] = float(number)
        except ValueError:
            raise ExpressionError(f"--values: {number.strip()!r} is not a number "
                                  f"(in {item!r})") from None
    return values


def check_expression(text: str, names: Sequence[str]) -> ast.Expression:
    """Parse ``text`` and accept only numbers, the given names, arithmetic and whitelisted calls."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise ExpressionError(f"cannot parse {text!r}: {error.msg}") from None
    allowed_nodes = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Constant,
                     ast.Load, ast.keyword, *_BINARY, *_UNARY)
    nodes = list(ast.walk(tree))
    # NOTE: forbidden node kinds first, so "__import__('os').system(...)" is reported as the
    # attribute access it contains rather than as an odd call
    nodes.sort(key=lambda node: isinstance(node, allowed_nodes))
    for node in nodes:
        if not isinstance(node, allowed_nodes):
            what = {ast.Attribute: "attribute access", ast.Subscript: "indexing",
                    ast.Lambda: "lambda"}.get(type(node), type(node).__name__)
            raise ExpressionError(f"{text!r}: {what} is not allowed; use names, numbers, "
                                  "+ - * / ** and the functions " + ", ".join(FUNCTIONS))
        if isinstance(node, ast.Constant) and (isinstance(node.value, bool)
                                               or not isinstance(node.value, (int, float))):
            raise ExpressionError(f"{text!r}: only numbers are allowed as constants, "
                                  f"got {node.value!r}")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise ExpressionError(f"{text!r}: calling {name!r} is not allowed; functions: "
                                      + ", ".join(FUNCTIONS))
            if node.keywords:
                raise ExpressionError(f"{text!r}: keyword arguments are not allowed")
        if isinstance(node, ast.Name) and node.id not in names and node.id not in FUNCTIONS:
            raise ExpressionError(f"{text!r}: unknown name {node.id!r}; give its value with "
                                  f"--values {node.id}=...")
    return tree


def evaluate(text: str, leaves: dict[str, ag.Tensor]):
    """Value of a checked expression with ``leaves`` for its names (a walk over the AST)."""
    tree = check_expression(text, list(leaves))
    # NOTE: post-order walk with an explicit stack (no recursion), as every walk in neurona
    results: dict[int, object] = {}
    stack: list[tuple[ast.AST, bool]] = [(tree.body, False)]
    while stack:
        node, ready = stack.pop()
        children = ([node.left, node.right] if isinstance(node, ast.BinOp)
                    else [node.operand] if isinstance(node, ast.UnaryOp)
                    else list(node.args) if isinstance(node, ast.Call) else [])
        if not ready:
            stack.append((node, True))
            stack.extend((child, False) for child in children)
            continue
        args = [results.pop(id(child)) for child in children]
        if isinstance(node, ast.Constant):
            results[id(node)] = float(node.value)
        elif isinstance(node, ast.Name):
            results[id(node)] = leaves[node.id]
        elif isinstance(node, ast.BinOp):
            results[id(node)] = _BINARY[type(node.op)](*args)
        elif isinstance(node, ast.UnaryOp):
            results[id(node)] = _UNARY[type(node.op)](*args)
        else:
            results[id(node)] = FUNCTIONS[node.func.id](*args)
    return results[id(tree.body)]


# ---- writing pictures -------------------------------------------------------------------------

def has_graphviz() -> bool:
    return shutil.which("dot") is not None


def write_graph(graph, path_without_ext: str) -> str:
    """SVG when Graphviz is installed, else the DOT source (.gv); returns the file written."""
    if has_graphviz():
        data = graph.pipe(format="svg")
        path = path_without_ext + ".svg"
        with open(path, "wb") as f:
            f.write(data)
        return path
    path = path_without_ext + ".gv"
    with open(path, "w", encoding="utf-8") as f:
        f.write(graph.source)
    return path


def _viz_graph_drawers():
    """viz.draw_forward / draw_backward when that part of viz is importable, else None."""
    try:
        from viz import draw_backward, draw_forward
    except ImportError:
        return None
    return draw_forward, draw_backward


# ---- demo -------------------------------------------------------------------------------------

def train_xor(epochs: int, lr: float, seed: int, hidden: int = 4, report: int = 10):
    """A 2-hidden-1 tanh/sigmoid network on Playground's XOR (inputs scaled by 1/5), full-batch
    gradient descent on the MSE written as a plain loop. Returns model, X, y, history."""
    ag.manual_seed(seed)
    X, y = nn.datasets.xor(200, noise=0.0, seed=seed)
    X = ag.tensor(X.numpy() / 5.0)
    t = ag.tensor(y.numpy().reshape(-1, 1).astype(np.float32))
    model = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 1), nn.Sigmoid())
    loss_fn = nn.MSELoss()
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    every = max(1, epochs // report)
    for epoch in range(1, epochs + 1):
        out = model(X)
        loss = loss_fn(out, t)
        model.zero_grad()
        loss.backward()
        with ag.no_grad():
            for p in model.parameters():
                p.sub_(lr * p.grad)
        accuracy = float(np.mean((out.numpy() > 0.5) == (t.numpy() > 0.5)))
        history["loss"].append(loss.item())
        history["accuracy"].append(accuracy)
        if epoch == 1 or epoch % every == 0 or epoch == epochs:
            print(f"  epoch {epoch:5d}   loss {loss.item():.5f}   accuracy {accuracy:.1%}",
                  flush=True)
    model.zero_grad()
    return model, X, y, history


def demo(out_dir: str, epochs: int, lr: float, seed: int) -> int:
    from . import neuron_view, plots

    import matplotlib.pyplot as plt

    start = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    print(f"Training a 2-4-1 tanh/sigmoid network on XOR (200 points), {epochs} epochs of "
          f"full-batch gradient descent, lr = {lr}, MSE loss")
    model, X, y, history = train_xor(epochs, lr, seed)
    written: list[str] = []

    x0, t0 = X[0:1], ag.tensor(y.numpy()[0:1].reshape(1, 1).astype(np.float32))
    loss_fn = nn.MSELoss()
    drawers = _viz_graph_drawers()
    if drawers is None:
        print("  (viz.draw_forward/draw_backward are not available yet: forward.svg and "
              "backward.svg skipped)")
    else:
        draw_forward, draw_backward = drawers
        loss = loss_fn(model(x0), t0)
        written.append(write_graph(draw_forward(loss, model=model), os.path.join(out_dir,
                                                                                 "forward")))
        written.append(write_graph(draw_backward(loss, model=model),
                                   os.path.join(out_dir, "backward")))
    net = neuron_view.draw_network(model, x=x0, t=t0, view="both", loss_fn=loss_fn)
    written.append(write_graph(net, os.path.join(out_dir, "network")))
    for name, fig in (("loss.png", plots.plot_history(history, title="XOR: training history")),
                      ("boundary.png", plots.plot_decision_boundary(
                          model, X, y, title="XOR: decision boundary"))):
        path = os.path.join(out_dir, name)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    print(f"\nWrote {len(written)} files into {os.path.abspath(out_dir)} "
          f"({time.perf_counter() - start:.1f} s):")
    for path in written:
        print(f"  {path}")
    if not has_graphviz():
        print(INSTALL_HELP)
    return 0


def draw(expression: str, values_text: str, out_dir: str) -> int:
    values = parse_values(values_text)
    leaves = {name: ag.tensor(np.float64(v), requires_grad=True) for name, v in values.items()}
    result = evaluate(expression, leaves)
    if not isinstance(result, ag.Tensor) or result.size != 1:
        raise ExpressionError(f"{expression!r} must give one value that depends on a name")
    used = {name: t for name, t in leaves.items() if name in {
        n.id for n in ast.walk(ast.parse(expression, mode="eval")) if isinstance(n, ast.Name)}}
    grads = ag.grad(result, list(used.values()), retain_graph=True)
    print(f"{expression} = {result.item():.6g}")
    for (name, _), g in zip(used.items(), grads):
        print(f"  ∂/∂{name} = {g.item():.6g}")
    drawers = _viz_graph_drawers()
    if drawers is None:
        print("viz.draw_forward/draw_backward are not available yet: nothing drawn")
        return 1
    os.makedirs(out_dir, exist_ok=True)
    draw_forward, draw_backward = drawers
    written = [write_graph(draw_forward(result, names=used), os.path.join(out_dir, "forward")),
               write_graph(draw_backward(result, names=used), os.path.join(out_dir, "backward"))]
    print("Wrote " + ", ".join(written))
    if not has_graphviz():
        print(INSTALL_HELP)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            if args.epochs < 1:
                raise ValueError("--epochs must be at least 1")
            return demo(args.out, args.epochs, args.lr, args.seed)
        return draw(args.expression, args.values, args.out)
    except (ValueError, RuntimeError) as error:
        print(f"neurona {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

