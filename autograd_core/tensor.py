"""``Tensor``: a numpy array plus what reverse-mode differentiation needs.

A tensor made by an operation remembers the node that made it (``grad_fn``); ``backward()`` walks
those nodes in reverse. Every math method below is a one-line delegation to a function in
``autograd_core.ops``, where the op's forward and backward are declared side by side.

Differences from PyTorch worth knowing: ``.data`` is the raw ``numpy.ndarray`` (assigning to it is
not tracked, as in PyTorch); ``numpy()`` returns that array without copying; reductions take
numpy's ``axis``/``keepdims`` (PyTorch's ``dim``/``keepdim`` are accepted too).
"""
from __future__ import annotations

import itertools
import numbers

import numpy as np

from .dtypes import (NUMERIC_KINDS, get_default_dtype, is_floating, native_order, scalar_array,
                     to_array)
from .errors import describe
from .grad_mode import STATE


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    ``Tensor(array)`` wraps a numpy array without copying (``autograd_core.tensor`` copies).

    >>> import autograd_core as ag
    >>> x = ag.tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4.])
    """

    __slots__ = ("_data", "_grad", "_requires_grad", "_node", "_version_box", "name", "_hooks",
                 "_retains_grad", "__weakref__")
    __array_ufunc__ = None      # numpy defers to our reflected operators: ndarray * Tensor works
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None
                 ) -> None:
        if isinstance(data, Tensor):
            data = data._data
        self._data = to_array(data, dtype)
        self._grad = None
        self._requires_grad = False
        self._node = None
        self._version_box = None
        self.name = name
        self._hooks = None
        self._retains_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, data: np.ndarray, requires_grad: bool) -> Tensor:
        """Fast constructor for op results (no conversion, no checks)."""
        t = object.__new__(Tensor)
        t._data = data
        t._grad = None
        t._requires_grad = requires_grad
        t._node = None
        t._version_box = None      # created on the first in-place change or view (see _box)
        t.name = None
        t._hooks = None
        t._retains_grad = False
        return t

    @staticmethod
    def _operand(value, like) -> Tensor:
        """A constant Tensor for a non-tensor operand (Python scalars follow ``like``'s dtype)."""
        if like is not None and like.kind == "f" and type(value) in (float, int):  # common case
            return Tensor._from_op(np.array(value, dtype=like), False)
        if isinstance(value, numbers.Number) and not isinstance(value, np.generic):
            return Tensor._from_op(scalar_array(value, like if like is not None
                                                else get_default_dtype()), False)
        if isinstance(value, (np.ndarray, np.generic, list, tuple)):
            return Tensor._from_op(to_array(value), False)
        raise TypeError(f"unsupported operand type {type(value).__name__}; expected a Tensor, "
                        "numpy array or Python number")

    # --- the array -----------------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The numpy array this tensor holds (shared, not copied; changing it is not recorded)."""
        return self._data

    @data.setter
    def data(self, value) -> None:
        """Replace the array, keeping the tensor (``p.data = new`` as in PyTorch; not recorded).

        The new array is checked as at creation (numeric dtype; a byte-swapped array is copied to
        the machine's order), and a tensor that requires grad keeps a floating dtype: integers or
        booleans are refused here, as PyTorch refuses them, rather than at the next op.
        """
        array = value._data if isinstance(value, Tensor) else value
        if isinstance(array, np.generic):
            array = np.asarray(array)
        if not isinstance(array, np.ndarray):
            raise TypeError(f"data: expected a numpy array or Tensor, got {type(value).__name__}; "
                            "make one with np.asarray(value)")
        if array.dtype.kind not in NUMERIC_KINDS or (self._requires_grad
                                                     and not is_floating(array.dtype)):
            needed = ("a floating dtype, as this tensor requires grad" if self._requires_grad
                      else "a numeric dtype (bool, integer, floating)")
            raise TypeError(f"data: the new array holds {array.dtype} with shape {array.shape}; "
                            f"expected {needed}. Convert it first, e.g. array.astype('float32')")
        self._data = native_order(array)

    # --- autograd attributes --------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded for backward."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (leaves only; floating dtypes only). Returns self."""
        if requires_grad and not is_floating(self._data.dtype):
            raise TypeError(f"requires_grad_: only floating-point tensors can require gradients; "
                            f"this tensor is {self.data.dtype} with shape {self.shape}. "
                            f"Convert it first, e.g. x.astype('float32')")
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad_: cannot turn off requires_grad on a non-leaf tensor "
                               f"(made by {self._node.name()}); use .detach()")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient ∂J/∂self (a Tensor), or None before any backward reaches it."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: expected a Tensor or None, got {type(value).__name__}")
            if value.shape != self.shape:
                raise ValueError(f"grad: assigned gradient has shape {value.shape}, "
                                 f"but the tensor has shape {self.shape}")
        self._grad = value

    @property
    def grad_fn(self):
        """The node that produced this tensor (``<MulBackward>``), None for leaves."""
        return self._node

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (inputs, parameters, constants)."""
        return self._node is None

    @property
    def _version(self) -> int:
        """How many times the data was modified in place (shared with views)."""
        box = self._version_box
        return box[0] if box is not None else 0

    def _box(self) -> list:
        """The version counter, shared with views; made on first need (most tensors never are)."""
        if self._version_box is None:
            self._version_box = [0]
        return self._version_box

    def _bump_version(self) -> None:
        self._box()[0] += 1

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        self._retains_grad = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is complete during backward.

        The hook may return a Tensor to replace the gradient. Returns a handle with ``remove()``.
        """
        if not self._requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not "
                               "require grad")
        if self._hooks is None:
            self._hooks = {}
        ticket = next(_HOOK_TICKETS)
        self._hooks[ticket] = hook
        return _HookHandle(self._hooks, ticket)

    def backward(self, gradient=None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate ∂self/∂leaf into ``leaf.grad`` for every leaf that requires grad.

        ``gradient`` is ∂J/∂self (required unless self has one element); the graph's saved values
        are freed afterwards unless ``retain_graph`` (default: ``create_graph``); ``create_graph``
        records the backward pass itself so gradients can be differentiated again. ``inputs``
        restricts accumulation to the given leaves.
        """
        engine.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph,
                        inputs=inputs)

    def detach(self) -> Tensor:
        """A tensor sharing this data, cut off from the graph (no grad)."""
        t = Tensor._from_op(self._data, False)
        t._version_box = self._box()
        return t

    def detach_(self) -> Tensor:
        """Cut this tensor off from the graph in place; it becomes a leaf."""
        self._node = None
        self._requires_grad = False
        return self

    # --- array attributes -----------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        """Number of elements (numpy's name; ``numel()`` is PyTorch's)."""
        return self._data.size

    def numel(self) -> int:
        return self._data.size

    def dim(self) -> int:
        return self._data.ndim

    @property
    def T(self) -> Tensor:
        """All axes reversed (numpy's ``.T``)."""
        return ops.transpose(self)

    def numpy(self) -> np.ndarray:
        """The underlying array (not a copy)."""
        return self._data

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """``np.asarray(t)``: the values of a tensor that does not require grad.

        NOTE: without it numpy would iterate the tensor into an object array of 0-d tensors.
        A tensor that requires grad is refused (as PyTorch does): a numpy function on it would
        silently drop the gradient; ``t.numpy()`` or ``t.detach()`` say so explicitly.
        """
        if self._requires_grad:
            raise TypeError(f"numpy: a tensor that requires grad ({describe(self)}) cannot be "
                            "converted to an array implicitly: the result would carry no "
                            "gradient. Use the tensor's own operations to keep the gradient, or "
                            "t.detach().numpy() / t.numpy() for the values")
        data = self._data if dtype is None else self._data.astype(dtype, copy=False)
        return data.copy() if copy else data

    def item(self) -> float | int | bool:
        """The single value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item: only a tensor with one element can be converted to a Python "
                             f"scalar; this one has shape {self.shape}")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ValueError(f"bool: the truth value of a tensor with shape {self.shape} is "
                             "ambiguous; use .any() or .all()")
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="tensor(", threshold=200)
        extras = []
        if self._data.dtype not in (get_default_dtype(), np.int64, np.bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name()}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # --- arithmetic -----------------------------------------------------------------------------
    def __add__(self, other): return ops.add(self, other)
    def __radd__(self, other): return ops.add(other, self)
    def __sub__(self, other): return ops.sub(self, other)
    def __rsub__(self, other): return ops.sub(other, self)
    def __mul__(self, other): return ops.mul(self, other)
    def __rmul__(self, other): return ops.mul(other, self)
    def __truediv__(self, other): return ops.div(self, other)
    def __rtruediv__(self, other): return ops.div(other, self)
    def __pow__(self, exponent): return ops.pow(self, exponent)
    def __rpow__(self, base): return ops.pow(base, self)
    def __matmul__(self, other): return ops.matmul(self, other)
    def __rmatmul__(self, other): return ops.matmul(other, self)
    def __neg__(self): return ops.neg(self)
    def __pos__(self): return self
    def __abs__(self): return ops.abs(self)

    # comparisons: elementwise, bool results, not differentiable
    def __eq__(self, other): return ops.eq(self, other)
    def __ne__(self, other): return ops.ne(self, other)
    def __lt__(self, other): return ops.lt(self, other)
    def __le__(self, other): return ops.le(self, other)
    def __gt__(self, other): return ops.gt(self, other)
    def __ge__(self, other): return ops.ge(self, other)

    def __getitem__(self, index): return ops.getitem(self, index)

    def __setitem__(self, index, value) -> None:
        """``x[index] = value`` in place; not allowed while x is part of a recorded graph."""
        self._check_inplace("setitem")
        if isinstance(value, Tensor):
            if STATE.grad_enabled and value._requires_grad:
                raise RuntimeError(
                    f"setitem: the assigned value (shape {value.shape}) requires grad, but writing "
                    "into a tensor is not recorded, so its gradient would be lost; build the "
                    "result with where/concatenate/stack, or assign value.detach()")
            value = value._data
        try:
            self._data[ops.shape.to_numpy_index(index)] = value
        except (ValueError, IndexError) as error:
            raise type(error)(f"setitem: cannot assign {describe(np.asarray(value))} to index "
                              f"{index!r} of a tensor of {describe(self)}: {error}") from None
        self._bump_version()

    # --- in-place operations (no graph: allowed under no_grad or on tensors without grad) -------
    def _check_inplace(self, op: str) -> None:
        if STATE.grad_enabled and self._requires_grad:
            if self._node is None:
                raise RuntimeError(
                    f"{op}: a leaf tensor that requires grad (shape {self.shape}, {self.dtype}) "
                    "cannot be modified in place while gradients are recorded; wrap the update in "
                    "`with ag.no_grad():`")
            raise RuntimeError(
                f"{op}: in-place modification of a tensor that is part of a recorded graph "
                f"(made by {self._node.name()}, shape {self.shape}) is not supported; use the "
                "out-of-place operation instead")
        if not self._data.flags.writeable:
            raise ValueError(f"{op}: the tensor's data (shape {self.shape}) is read-only, e.g. a "
                             "broadcast view; make a copy with .clone() first")

    def _inplace(self, op: str, ufunc, other) -> Tensor:
        self._check_inplace(op)
        other = other._data if isinstance(other, Tensor) else other
        try:
            ufunc(self._data, other, out=self._data, casting="same_kind")
        except (ValueError, TypeError) as error:
            raise ValueError(f"{op}: cannot update a tensor of {describe(self)} in place with "
                             f"{describe(np.asarray(other))}: {error}") from None
        self._bump_version()
        return self

    def add_(self, other, alpha=1) -> Tensor:
        """self += alpha * other, in place."""
        return self._inplace("add_", np.add, other if alpha == 1 else _scaled(other, alpha))

    def sub_(self, other, alpha=1) -> Tensor:
        """self -= alpha * other, in place."""
        return self._inplace("sub_", np.subtract, other if alpha == 1 else _scaled(other, alpha))

    def mul_(self, other) -> Tensor:
        """self *= other, in place."""
        return self._inplace("mul_", np.multiply, other)

    def div_(self, other) -> Tensor:
        """self /= other, in place."""
        return self._inplace("div_", np.divide, other)

    def copy_(self, source) -> Tensor:
        """Copy ``source`` (broadcast to self's shape) into self, in place."""
        self._check_inplace("copy_")
        source = source._data if isinstance(source, Tensor) else source
        try:
            np.copyto(self._data, source, casting="same_kind")
        except (ValueError, TypeError) as error:
            raise ValueError(f"copy_: cannot copy {describe(np.asarray(source))} into a tensor of "
                             f"{describe(self)}: {error}") from None
        self._bump_version()
        return self

    def fill_(self, value, _op: str = "fill_") -> Tensor:
        """Set every element to ``value``, in place."""
        self._check_inplace(_op)
        self._data.fill(value)
        self._bump_version()
        return self

    def zero_(self) -> Tensor:
        """Set every element to 0, in place."""
        return self.fill_(0, "zero_")

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    # --- elementwise functions and activations --------------------------------------------------
    def exp(self): return ops.exp(self)
    def log(self): return ops.log(self)
    def sqrt(self): return ops.sqrt(self)
    def abs(self): return ops.abs(self)
    def sin(self): return ops.sin(self)
    def cos(self): return ops.cos(self)
    def tanh(self): return ops.tanh(self)
    def sigmoid(self): return ops.sigmoid(self)
    def relu(self): return ops.relu(self)
    def leaky_relu(self, negative_slope=0.01): return ops.leaky_relu(self, negative_slope)
    def elu(self, alpha=1.0): return ops.elu(self, alpha)
    def selu(self): return ops.selu(self)
    def softplus(self, beta=1.0): return ops.softplus(self, beta)
    def silu(self): return ops.silu(self)
    swish = silu
    def pow(self, exponent): return ops.pow(self, exponent)
    def clip(self, min=None, max=None, *, out=None):
        return ops.clip(_numpy_call(self, "clip", None, out), min, max)
    clamp = clip
    def maximum(self, other): return ops.maximum(self, other)
    def minimum(self, other): return ops.minimum(self, other)

    def astype(self, dtype) -> Tensor:
        """Cast to ``dtype`` (differentiable between floating dtypes)."""
        return ops.astype(self, dtype)

    to = astype
    def float(self): return ops.astype(self, np.float32)
    def double(self): return ops.astype(self, np.float64)
    def long(self): return ops.astype(self, np.int64)
    def clone(self): return ops.clone(self)

    # --- reductions (numpy names; PyTorch's dim/keepdim accepted) -------------------------------
    # NOTE: ``dtype``/``out`` are the keywords numpy passes when ``np.sum(t)``, ``np.mean(t)``…
    # delegate to these methods: ``dtype`` casts first (differentiably), ``out`` must be None
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None, out=None):
        return ops.sum(_numpy_call(self, "sum", dtype, out), axis, keepdims, dim=dim,
                       keepdim=keepdim)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None, out=None):
        return ops.mean(_numpy_call(self, "mean", dtype, out), axis, keepdims, dim=dim,
                        keepdim=keepdim)

    def var(self, axis=None, ddof=0, keepdims=False, *, dim=None, keepdim=None, correction=None,
            dtype=None, out=None):
        return ops.var(_numpy_call(self, "var", dtype, out), axis, ddof, keepdims, dim=dim,
                       keepdim=keepdim, correction=correction)

    def std(self, axis=None, ddof=0, keepdims=False, *, dim=None, keepdim=None, correction=None,
            dtype=None, out=None):
        return ops.std(_numpy_call(self, "std", dtype, out), axis, ddof, keepdims, dim=dim,
                       keepdim=keepdim, correction=correction)

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None, out=None):
        return ops.max(_numpy_call(self, "max", None, out), axis, keepdims, dim=dim,
                       keepdim=keepdim)

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None, out=None):
        return ops.min(_numpy_call(self, "min", None, out), axis, keepdims, dim=dim,
                       keepdim=keepdim)

    def prod(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None, out=None):
        return ops.prod(_numpy_call(self, "prod", dtype, out), axis, keepdims, dim=dim,
                        keepdim=keepdim)

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.logsumexp(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def softmax(self, axis=-1, *, dim=None): return ops.softmax(self, axis, dim=dim)
    def log_softmax(self, axis=-1, *, dim=None): return ops.log_softmax(self, axis, dim=dim)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None, out=None):
        return ops.argmax(_numpy_call(self, "argmax", None, out), axis, keepdims, dim=dim,
                          keepdim=keepdim)

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None, out=None):
        return ops.argmin(_numpy_call(self, "argmin", None, out), axis, keepdims, dim=dim,
                          keepdim=keepdim)

    def all(self, axis=None, keepdims=False, *, out=None):
        _numpy_call(self, "all", None, out)
        return Tensor(np.all(self._data, axis=axis, keepdims=keepdims))

    def any(self, axis=None, keepdims=False, *, out=None):
        _numpy_call(self, "any", None, out)
        return Tensor(np.any(self._data, axis=axis, keepdims=keepdims))

    # --- shape ------------------------------------------------------------------------------------
    def reshape(self, *shape): return ops.reshape(self, *shape)
    view = reshape
    def transpose(self, *axes): return ops.transpose(self, *axes)
    def permute(self, *axes): return ops.permute(self, *axes)
    def squeeze(self, axis=None, *, dim=None): return ops.squeeze(self, axis, dim=dim)
    def unsqueeze(self, axis=None, *, dim=None): return ops.unsqueeze(self, axis, dim=dim)
    def flatten(self, start_dim=0, end_dim=-1): return ops.flatten(self, start_dim, end_dim)
    def broadcast_to(self, shape): return ops.broadcast_to(self, shape)
    def expand(self, *sizes): return ops.expand(self, *sizes)
    def split(self, split_size_or_sections, axis=0, *, dim=None):
        return ops.split(self, split_size_or_sections, axis, dim=dim)


_HOOK_TICKETS = itertools.count()


class _HookHandle:
    """Removes exactly the registration it was returned for (a counter-issued ticket)."""

    def __init__(self, hooks: dict, ticket: int) -> None:
        self._hooks, self._ticket = hooks, ticket

    def remove(self) -> None:
        self._hooks.pop(self._ticket, None)


def _numpy_call(t: Tensor, op: str, dtype, out) -> Tensor:
    """``t`` cast to ``dtype`` (if given) for a reduction called through numpy (``np.sum(t)``);
    an ``out=`` array is refused: a tensor op makes a new tensor, it never writes into one."""
    if out is not None:
        raise TypeError(f"{op}: out= is not supported on tensors (got {describe(out)}); use the "
                        f"returned tensor instead, e.g. y = np.{op}(t) or t.{op}()")
    return t if dtype is None else ops.astype(t, dtype)


def _scaled(other, alpha):
    return (other._data if isinstance(other, Tensor) else np.asarray(other)) * alpha


from . import ops  # noqa: E402  (the documented tensor <-> ops cycle)
from .graph import engine  # noqa: E402
