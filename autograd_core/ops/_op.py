"""The ``Op`` base class: the one place where graph nodes are recorded.

An op is a class with two static methods side by side:

* ``forward(ctx, *arrays, **kwargs) -> ndarray`` computes on numpy arrays;
* ``backward(ctx, grad) -> Tensor | tuple`` returns the gradient for each input, written with
  Tensor operations so that it is itself differentiable when ``create_graph=True``;
* optionally ``backward_arrays(ctx, grad) -> ndarray | tuple``: the same formula on numpy arrays
  (``grad`` is an array, the result arrays or None). The engine's plain backward
  (``create_graph=False``) calls it instead of ``backward``: nothing is recorded there, so the
  nodes and tensors that ``backward`` would build are skipped (~1 µs a node). The compiled
  training step (``optim.compile_step``) writes the same kernels into its generated code.

``ctx`` is the ``Node``: ``ctx.inputs`` and ``ctx.output`` are always available, extra values are
plain attributes. Every subclass is registered in ``Op.registry`` by name.
"""
from __future__ import annotations

import traceback
import types

import numpy as np

from ..dtypes import get_default_dtype, is_floating
from ..grad_mode import STATE
from ..graph.node import Node
from ..graph.rules import InverseRule


# NOTE: most ops take no keywords; their nodes share one read-only empty mapping instead of each
# keeping its own empty dict alive (64 bytes a node)
_NO_KWARGS = types.MappingProxyType({})


class Op:
    """Base class of every differentiable operation (subclass it to write a custom op)."""

    registry: dict[str, type[Op]] = {}
    inverse_rule: InverseRule = InverseRule.ELEMENTWISE
    #: False when backward does not read the inputs' values (add, reshape…): then modifying an
    #: input in place after forward is harmless and is not reported.
    saves_inputs: bool = True
    #: True when backward reads ``ctx.output`` (tanh, exp, sigmoid…).
    saves_output: bool = False
    #: True for ops whose forward may return a view of its first input (reshape, transpose,
    #: indexing): the output then shares the input's version counter.
    returns_view: bool = False
    #: the lower-case name used in error messages (defaults to the class name in lower case).
    name: str = "op"

    # --- how the op is drawn (viz reads these; nothing in the engine does) ---------------------
    #: the part each input plays in the course's neuron, in order: "activation" (a), "weight"
    #: (w), "bias" (b), "factor" (either factor of a product: the one that is a parameter is w),
    #: "target" (t), "term" (one term of a sum), "negated_term" (subtracted), "input" (other)
    roles: tuple[str, ...] = ()
    #: the forward formula, ``{0}``, ``{1}``… standing for the inputs and ``{name}`` for a
    #: keyword (e.g. ``"σ({0})"``, ``"{0}·{1}ᵀ + {2}"``); a mapping as for ``derivative``
    formula: str | dict = ""
    #: the local derivative in the course's notation, inputs written as in ``formula``
    #: (``"σ({0})(1 − σ({0}))"``, ``"2({0} − {1})/N"``…); a mapping when it depends on a
    #: keyword's value (``{"reduction": {"mean": …, "sum": …}}``; a ``None`` entry for the
    #: other values)
    derivative: str | dict = ""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__.lower()
        Op.registry[cls.__name__] = cls

    @staticmethod
    def forward(ctx: Node, *arrays, **kwargs) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Node, grad):
        raise NotImplementedError

    #: the array-level backward (see the module docstring), or None: then a plain backward
    #: runs ``backward`` with grad mode off
    backward_arrays = None

    @classmethod
    def role(cls, index: int) -> str:
        """The role of input ``index`` (see ``roles``; "input" when not declared)."""
        return cls.roles[index] if index < len(cls.roles) else "input"

    @classmethod
    def partner(cls, i: int, out_index: tuple, in_index: tuple, shapes: list[tuple]
                ) -> tuple[int, tuple] | None:
        """For a product (rule "weighted input"): the element of another input that
        ∂out[out_index]/∂input_i[in_index] equals, as ``(input j, its index)`` — the *w* in
        "w·a → double weighted output". None when the derivative is not one input's element."""
        return None

    @classmethod
    def derivative_text(cls, kwargs) -> str:
        """``derivative`` for the keywords this node was called with ("" when not declared)."""
        return _by_keyword(cls.derivative, kwargs)

    @classmethod
    def formula_text(cls, kwargs) -> str:
        """``formula`` for the keywords this node was called with ("" when not declared)."""
        return _by_keyword(cls.formula, kwargs)

    @classmethod
    def steps(cls, ctx) -> tuple:
        """The course's steps this node stands for: ``((op, kwargs), …)``, each step's output the
        next step's first input. One step (the op itself) unless the op fuses several."""
        return ((cls, dict(ctx.kwargs or {})),)

    @classmethod
    def apply(cls, *inputs, **kwargs):
        """Run forward on the inputs' arrays and, if any input requires grad, record a node.

        Inputs may be Tensors, numpy arrays or Python numbers (converted like the first tensor).
        Non-tensor arguments are keywords; they reach forward and are kept on ``ctx.kwargs``.
        """
        tensors = inputs
        for x in inputs:
            if not isinstance(x, Tensor):
                tensors = _as_tensors(inputs)
                break
        ctx = Node(cls, tensors, kwargs or _NO_KWARGS)
        # NOTE: the common arities are spelled out: unpacking a list and an empty ``**kwargs``
        # into the call costs more than the op itself on small arrays
        if kwargs:
            data = cls.forward(ctx, *[t._data for t in tensors], **kwargs)
        elif len(tensors) == 1:
            data = cls.forward(ctx, tensors[0]._data)
        elif len(tensors) == 2:
            data = cls.forward(ctx, tensors[0]._data, tensors[1]._data)
        else:
            data = cls.forward(ctx, *[t._data for t in tensors])
        if type(data) is not np.ndarray:
            data = np.asarray(data)
        recording = False
        if STATE.grad_enabled:
            for t in tensors:
                if t._requires_grad:
                    # integer/bool results (comparisons, argmax) never carry a gradient
                    recording = data.dtype.kind == "f"
                    break
        out = Tensor._from_op(data, recording)
        if cls.returns_view and data.base is not None and np.may_share_memory(data,
                                                                              tensors[0]._data):
            out._version_box = tensors[0]._box()
        if recording:
            out._node = ctx
            ctx.attach(out)
        if STATE.anomaly_enabled:
            if recording:
                ctx.creation_trace = "".join(traceback.format_stack()[:-1])
            _check_finite(cls, data, "forward")
        return out


def _by_keyword(declared, kwargs) -> str:
    """A declared text, or the entry of ``{keyword: {value: text}}`` the call's keywords pick."""
    if isinstance(declared, str):
        return declared
    for key, by_value in declared.items():
        value = (kwargs or {}).get(key)
        if value in by_value:
            return by_value[value]
        if None in by_value:                         # the entry for every other value
            return by_value[None]
    return ""


def _as_tensors(inputs) -> tuple:
    like = None
    for x in inputs:                     # Python numbers follow the first floating tensor's dtype
        if isinstance(x, Tensor):
            dtype = x._data.dtype
            if dtype.kind == "f":
                like = dtype
                break
            if like is None:
                like = dtype
    if like is not None and like.kind in "iu" and any(type(x) is float for x in inputs):
        # NOTE: integer tensor ∘ Python float gives the default float dtype (as PyTorch), not
        # numpy's float64; integer tensors carry no gradient, so casting them loses nothing
        like = get_default_dtype()
        inputs = [Tensor._from_op(x._data.astype(like), False)
                  if isinstance(x, Tensor) and x._data.dtype.kind in "iu" else x for x in inputs]
    return tuple([x if isinstance(x, Tensor) else Tensor._operand(x, like) for x in inputs])


def _check_finite(op: type[Op], data: np.ndarray, phase: str) -> None:
    if is_floating(data.dtype) and not np.isfinite(data).all():
        bad = "nan" if np.isnan(data).any() else "inf"
        raise RuntimeError(f"detect_anomaly: {op.name} produced {bad} in {phase} "
                           f"(output shape {data.shape}, {data.dtype})")


from ..tensor import Tensor  # noqa: E402  (the documented tensor <-> ops cycle)
