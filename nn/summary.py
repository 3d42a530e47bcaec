"""``nn.summary(model, input_shape)``: a Keras-like table of layers, output shapes and parameters.

A Linear layer from H_{l−1} to H_l units has H_l·(H_{l−1} + 1) parameters (weights plus one bias
per unit), so a network has N = Σ_l H_l (H_{l−1} + 1) (course 001): 20,601 for 2-100-100-100-1.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from .module import Module


@dataclass
class SummaryRow:
    name: str
    type: str
    output_shape: tuple
    params: int


@dataclass
class SummaryResult:
    """What ``summary`` found; ``str(result)`` is the table."""

    rows: list[SummaryRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0
    text: str = ""

    def __str__(self) -> str:
        return self.text


def _shape_text(out, batch_known: bool) -> str:
    if isinstance(out, Tensor):
        shape = tuple(out.shape)
        if not batch_known and shape:
            return "(None" + "".join(f", {s}" for s in shape[1:]) + ")"
        return str(shape)
    if isinstance(out, (tuple, list)):
        return "[" + ", ".join(_shape_text(o, batch_known) for o in out) + "]"
    return "?"


def _own_counts(module: Module) -> tuple[int, int]:
    """(trainable, non-trainable) of the module's own parameters and floating buffers."""
    trainable = sum(p.size for p in module.parameters(recurse=False) if p.requires_grad)
    frozen = sum(p.size for p in module.parameters(recurse=False) if not p.requires_grad)
    frozen += sum(b.size for name, b in module.named_buffers(recurse=False)
                  if b.dtype.kind == "f" and name not in module._non_persistent)
    return trainable, frozen


def _table(title: str, rows: list[tuple[str, str, str]], totals: tuple[int, int]) -> str:
    headers = ("Layer (type)", "Output Shape", "Param #")
    widths = [max(24, len(headers[0]), *(len(r[0]) for r in rows)) + 4,
              max(16, len(headers[1]), *(len(r[1]) for r in rows)) + 4,
              max(10, len(headers[2]), *(len(r[2]) for r in rows))]
    width = sum(widths)

    def line(cells) -> str:
        return (cells[0].ljust(widths[0]) + cells[1].ljust(widths[1])
                + cells[2].rjust(widths[2])).rstrip()

    trainable, frozen = totals
    out = [f'Model: "{title}"', "_" * width, line(headers), "=" * width]
    for i, row in enumerate(rows):
        out.append(line(row))
        out.append("_" * width if i < len(rows) - 1 else "=" * width)
    out += [f"Total params: {trainable + frozen:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {frozen:,}", "_" * width]
    return "\n".join(out)


def summary(model: Module, input_shape=None, *, batch_size: int | None = None, dtype=None,
            print_fn: Callable[[str], None] | None = print) -> SummaryResult:
    """Print (with ``print_fn``; None to stay quiet) and return a table of the model's layers.

    ``input_shape`` excludes the batch dimension (Keras): ``summary(model, (784,))``. One forward
    pass runs on zeros (batch of ``batch_size``, default 1, shown as None), in evaluation mode and
    without recording a graph; the model's modes are restored afterwards. Every module without
    sub-modules, or with parameters of its own, is a row. Non-trainable counts frozen parameters
    and, as Keras does, floating buffers (BatchNorm's running mean and variance). Without
    ``input_shape`` no forward runs and shapes are left blank.

    >>> import nn
    >>> model = nn.Sequential(nn.Linear(2, 100), nn.ReLU(), nn.Linear(100, 1))
    >>> nn.summary(model, (2,), print_fn=None).total_params
    401
    """
    named = [(n, m) for n, m in model.named_modules()
             if n and (not m._modules or next(m.parameters(recurse=False), None) is not None)]
    if not named:
        named = [("", model)]
    order = {id(m): i for i, (_, m) in enumerate(named)}
    outputs: dict[int, object] = {}
    if input_shape is not None:
        modes = [(m, m.training) for m in model.modules()]
        handles = [m.register_forward_hook(lambda mod, _inputs, out:
                                           outputs.setdefault(id(mod), out))
                   for _, m in named]
        shape = (batch_size or 1, *tuple(np.atleast_1d(input_shape).tolist()))
        try:
            model.eval()
            with ag.no_grad():
                x = ag.zeros(*shape, dtype=dtype or _param_dtype(model))
                result = model(x)
        finally:
            for handle in handles:
                handle.remove()
            for module, mode in modes:
                object.__setattr__(module, "training", mode)
        outputs.setdefault(id(model), result)
        # rows in the order the modules ran (as Keras), then any module that did not run
        named.sort(key=lambda nm: (list(outputs).index(id(nm[1])) if id(nm[1]) in outputs
                                   else len(outputs) + order[id(nm[1])]))
    rows, text_rows = [], []
    for name, module in named:
        params = sum(_own_counts(module))
        out = outputs.get(id(module))
        shape_text = _shape_text(out, batch_size is not None) if out is not None else ""
        kind = type(module).__name__
        rows.append(SummaryRow(name, kind, tuple(out.shape) if isinstance(out, Tensor) else (),
                               params))
        text_rows.append((f"{name} ({kind})" if name else kind, shape_text, f"{params:,}"))
    trainable = sum(p.size for p in model.parameters() if p.requires_grad)
    frozen = sum(p.size for p in model.parameters() if not p.requires_grad)
    frozen += sum(b.size for m in model.modules() for name, b in m.named_buffers(recurse=False)
                  if b.dtype.kind == "f" and name not in m._non_persistent)
    text = _table(type(model).__name__, text_rows, (trainable, frozen))
    if print_fn is not None:
        print_fn(text)
    return SummaryResult(rows, trainable + frozen, trainable, frozen, text)


def _param_dtype(model: Module):
    first = next(model.parameters(), None)
    return first.dtype if first is not None else None
