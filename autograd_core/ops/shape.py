"""Shape and routing ops: they move values around without computing new ones.

In the inverse network each becomes the same routing run backwards: reshape ↔ reshape,
transpose ↔ inverse transpose, broadcast_to ↔ sum_to (each is the other's backward), indexing ↔
scatter-add, concatenate/stack ↔ slicing.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..errors import normalize_axis
from ..graph.rules import InverseRule
from ._op import Op, Tensor


# --- broadcasting pair ----------------------------------------------------------------------------
class BroadcastTo(Op):
    """Repeat ``x`` along new leading axes and size-1 axes to reach ``shape``.

    forward    out = broadcast(x, shape)
    backward   grad_x = sum_to(grad, x.shape)
    inverse neuron: a branch point (one value, many uses) → sum of outputs
    """

    inverse_rule = InverseRule.BRANCH_POINT
    saves_inputs = False
    returns_view = True
    formula = "{0}"

    @staticmethod
    def forward(ctx, x, shape):
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {tuple(shape)}"
                             ) from None

    @staticmethod
    def backward(ctx, grad):
        return sum_to(grad, ctx.inputs[0].shape)


def broadcast_to(x: Tensor, shape) -> Tensor:
    """Broadcast ``x`` to ``shape`` (numpy rules); PyTorch calls it ``expand``."""
    return BroadcastTo.apply(x, shape=tuple(shape))


def _sum_to_axes(shape: tuple, target: tuple) -> tuple[tuple[int, ...], bool] | None:
    """Axes of ``shape`` to sum so that the result has ``target`` shape, or None if impossible."""
    lead = len(shape) - len(target)
    if lead < 0:
        return None
    axes = list(range(lead))
    for i, (have, want) in enumerate(zip(shape[lead:], target)):
        if have != want:
            if want != 1:
                return None
            axes.append(lead + i)
    return tuple(axes), lead > 0


class SumTo(Op):
    """Sum ``x`` over the axes that broadcasting added or stretched, down to ``shape``.

    forward    out = Σ over broadcast axes of x
    backward   grad_x = broadcast_to(grad, x.shape)
    inverse neuron: the sum of outputs at a broadcast branch point
    """

    inverse_rule = InverseRule.SUM_OF_OUTPUTS
    saves_inputs = False
    formula = "Σ {0}"

    @staticmethod
    def forward(ctx, x, shape, op_name=None, input_index=None):
        axes = _sum_to_axes(x.shape, shape)
        if axes is None:
            if op_name is None:
                raise ValueError(f"sum_to: cannot sum shape {x.shape} down to {shape}")
            raise ValueError(f"{op_name}: backward produced a gradient of shape {x.shape} for "
                             f"input {input_index} of shape {shape}; it cannot be summed down "
                             "to that shape (wrong backward formula?)")
        ctx.axes = axes[0]
        return np.sum(x, axis=axes[0], keepdims=True).reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return broadcast_to(grad, ctx.inputs[0].shape)


def sum_to(x: Tensor, shape, *, op_name: str | None = None, input_index: int | None = None
           ) -> Tensor:
    """Sum ``x`` down to ``shape`` (the reverse of broadcasting; the engine's one reduction)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return SumTo.apply(x, shape=shape, op_name=op_name, input_index=input_index)


# --- reshaping ------------------------------------------------------------------------------------
class Reshape(Op):
    """Same values, new shape (also squeeze, unsqueeze, flatten).

    forward    out = x.reshape(shape)
    backward   grad_x = grad.reshape(x.shape)
    inverse neuron: routing (values pass unchanged)
    """

    inverse_rule = InverseRule.ROUTING
    saves_inputs = False
    returns_view = True
    formula = "{0}"

    @staticmethod
    def forward(ctx, x, shape):
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} "
                             f"elements) into shape {shape}") from None

    @staticmethod
    def backward(ctx, grad):
        return reshape(grad, ctx.inputs[0].shape)


def _shape_args(shape) -> tuple:
    if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(x: Tensor, *shape) -> Tensor:
    """``x`` with a new shape (one dimension may be -1); ``reshape(x, 2, 3)`` or ``(x, (2, 3))``.

    >>> import autograd_core as ag
    >>> ag.arange(6).reshape(2, -1).shape
    (2, 3)
    """
    shape = _shape_args(shape)
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim..end_dim`` into one (PyTorch's ``flatten``)."""
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = start_dim % x.ndim, end_dim % x.ndim
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for a "
                         f"tensor of shape {x.shape}")
    merged = int(np.prod(x.shape[start:end + 1]))
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def squeeze(x: Tensor, axis=None, *, dim=None) -> Tensor:
    """Drop axes of size 1 (all of them, or the given ones)."""
    axis = dim if dim is not None else axis
    axes = normalize_axis("squeeze", axis, x.ndim)
    if axes is None:
        axes = tuple(i for i, s in enumerate(x.shape) if s == 1)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} of shape {x.shape} has size {x.shape[a]}, not 1")
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in axes))


def unsqueeze(x: Tensor, axis=None, *, dim=None) -> Tensor:
    """Insert an axis of size 1 at position ``axis`` (negative counts from the end)."""
    axis = dim if dim is not None else axis
    if axis is None:
        raise TypeError("unsqueeze: missing the axis argument")
    ndim = x.ndim + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"unsqueeze: axis {axis} is out of range for a result with {ndim} "
                         "dimensions")
    axis %= ndim
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


class Transpose(Op):
    """Permute axes.

    forward    out = x.transpose(axes)
    backward   grad_x = grad.transpose(argsort(axes))
    inverse neuron: routing
    """

    inverse_rule = InverseRule.ROUTING
    saves_inputs = False
    returns_view = True
    formula = "{0}ᵀ"

    @staticmethod
    def forward(ctx, x, axes):
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx, grad):
        return permute(grad, np.argsort(ctx.kwargs["axes"]).tolist())


def transpose(x: Tensor, *axes) -> Tensor:
    """Permute axes. No arguments reverse them (numpy's ``.T``); two ints swap those two axes
    (PyTorch's ``transpose(0, 1)``); a tuple or three or more ints give the full permutation
    (numpy's ``transpose``, PyTorch's ``permute``)."""
    if not axes:
        return permute(x, tuple(range(x.ndim))[::-1])
    if len(axes) == 2 and all(isinstance(a, numbers.Integral) for a in axes):
        a, b = (normalize_axis("transpose", ax, x.ndim)[0] for ax in axes)
        perm = list(range(x.ndim))
        perm[a], perm[b] = perm[b], perm[a]
        return permute(x, perm)
    return permute(x, *axes)


def permute(x: Tensor, *axes) -> Tensor:
    """Reorder all axes: ``out.shape[i] == x.shape[axes[i]]`` (PyTorch's ``permute``)."""
    if len(axes) == 1 and not isinstance(axes[0], numbers.Integral):
        axes = tuple(axes[0])
    perm = tuple(int(a) % x.ndim for a in axes) if x.ndim else tuple(axes)
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"permute: {tuple(axes)} is not a permutation of the axes of a tensor "
                         f"with shape {x.shape}")
    return x if perm == tuple(range(x.ndim)) else Transpose.apply(x, axes=perm)


# --- indexing -------------------------------------------------------------------------------------
def to_numpy_index(index):
    """Replace Tensors (and lists) inside an index by numpy arrays."""
    if isinstance(index, tuple):
        return tuple(to_numpy_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_basic(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(p, np.ndarray) for p in parts)


class GetItem(Op):
    """Select elements: slices, integers, integer arrays (repeats allowed) or boolean masks.

    forward    out = x[index]
    backward   grad_x = zeros like x, with grad added at ``index`` (repeated indices accumulate)
    inverse neuron: routing back; a repeated index is a branch point → sum of outputs
    """

    inverse_rule = InverseRule.ROUTING
    saves_inputs = False
    returns_view = True
    formula = "{0}[…]"

    @staticmethod
    def forward(ctx, x, index):
        try:
            return x[index]
        except IndexError as error:
            raise IndexError(f"getitem: index {index!r} is invalid for a tensor of shape "
                             f"{x.shape}: {error}") from None

    @staticmethod
    def backward(ctx, grad):
        return IndexAdd.apply(grad, shape=ctx.inputs[0].shape, index=ctx.kwargs["index"])


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]`` with numpy semantics; Tensors inside the index are used as arrays."""
    return GetItem.apply(x, index=to_numpy_index(index))


class IndexAdd(Op):
    """Scatter ``x`` into a zero tensor of ``shape`` at ``index``, adding where indices repeat.

    forward    out = zeros(shape); out[index] += x
    backward   grad_x = grad[index]
    inverse neuron: routing (GetItem's backward)
    """

    inverse_rule = InverseRule.ROUTING
    saves_inputs = False

    @staticmethod
    def forward(ctx, x, shape, index):
        out = np.zeros(shape, dtype=x.dtype)
        if _is_basic(index):
            out[index] = x
        else:
            np.add.at(out, index, x)
        return out

    @staticmethod
    def backward(ctx, grad):
        return GetItem.apply(grad, index=ctx.kwargs["index"])


# --- joining and splitting ------------------------------------------------------------------------
class Concatenate(Op):
    """Join tensors along an existing axis.

    forward    out = [x₁ | x₂ | …] along ``axis``
    backward   grad_xᵢ = the slice of grad that xᵢ filled
    inverse neuron: routing
    """

    inverse_rule = InverseRule.ROUTING
    saves_inputs = False
    formula = "[{0}, …]"

    @staticmethod
    def forward(ctx, *xs, axis):
        try:
            return np.concatenate(xs, axis=axis)
        except ValueError:
            raise ValueError(f"concatenate: shapes {[x.shape for x in xs]} cannot be joined along "
                             f"axis {axis}: all other dimensions must match") from None

    @staticmethod
    def backward(ctx, grad):
        axis = ctx.kwargs["axis"] % grad.ndim
        grads, start = [], 0
        for t in ctx.inputs:
            stop = start + t.shape[axis]
            index = (slice(None),) * axis + (slice(start, stop),)
            grads.append(grad[index])
            start = stop
        return tuple(grads)


def concatenate(tensors, axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join a sequence of tensors along ``axis`` (PyTorch: ``cat``)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concatenate: expected a non-empty sequence of tensors")
    return Concatenate.apply(*tensors, axis=dim if dim is not None else axis)


class Stack(Op):
    """Join tensors of equal shape along a new axis.

    forward    out[..., i, ...] = xᵢ
    backward   grad_xᵢ = grad[..., i, ...]
    inverse neuron: routing
    """

    inverse_rule = InverseRule.ROUTING
    saves_inputs = False
    formula = "[{0}, …]"

    @staticmethod
    def forward(ctx, *xs, axis):
        try:
            return np.stack(xs, axis=axis)
        except ValueError:
            raise ValueError(f"stack: all tensors must have the same shape, got "
                             f"{[x.shape for x in xs]}") from None

    @staticmethod
    def backward(ctx, grad):
        axis = ctx.kwargs["axis"] % grad.ndim
        return tuple(grad[(slice(None),) * axis + (i,)] for i in range(len(ctx.inputs)))


def stack(tensors, axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Stack equally shaped tensors along a new ``axis``."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    return Stack.apply(*tensors, axis=dim if dim is not None else axis)


def split(x: Tensor, split_size_or_sections, axis: int = 0, *, dim: int | None = None
          ) -> tuple[Tensor, ...]:
    """Split along ``axis`` into chunks of ``split_size`` (an int, last chunk may be smaller) or
    of the given sizes (a list), as PyTorch's ``split``. Each piece is an indexing op."""
    axis = normalize_axis("split", dim if dim is not None else axis, x.ndim)[0]
    length = x.shape[axis]
    if isinstance(split_size_or_sections, numbers.Integral):
        step = int(split_size_or_sections)
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [min(step, length - s) for s in range(0, length, step)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != length:
            raise ValueError(f"split: sections {sizes} sum to {sum(sizes)}, but axis {axis} of "
                             f"shape {x.shape} has length {length}")
    pieces, start = [], 0
    for size in sizes:
        pieces.append(x[(slice(None),) * axis + (slice(start, start + size),)])
        start += size
    return tuple(pieces)
