"""Safe scalar expressions for ``neurona draw``: parsed with ``ast``, evaluated by walking the tree.

Only names given with ``--values``, numbers, + − × / ** and calls of the whitelisted functions
(sigmoid, tanh, relu, exp, log, ...) are accepted; nothing is ever passed to ``eval``.
"""
from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Sequence

import autograd_core as ag

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


def names_in(text: str) -> set[str]:
    """The variable names an accepted expression uses (function names excluded)."""
    tree = ast.parse(text, mode="eval")
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in FUNCTIONS}
