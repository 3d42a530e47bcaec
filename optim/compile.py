"""The compiled training step: ``compile_step(model, loss_fn, optimizer)``.

``step = optim.compile_step(model, loss_fn, opt)`` then ``loss = step(x, y)`` does what

    opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); opt.step()

does, and returns the loss as a float. The first call for an input signature (shapes and
dtypes of x and y) runs exactly that eager step while watching it: the graph the engine
recorded (ops, shapes, dtypes, which tensors are parameters, the input, the target, dropout
masks, scalar constants) is turned into the source of one function — forward, backward (the
inverse-neuron rules in the engine's reverse order, the gradients of branch points summed) and
the optimizer's update in place — by ``optim.codegen``, which is compiled with
``numba.njit(cache=True)``. Later calls with the same signature run that function: one compiled
call per step. A new signature (the smaller last batch) traces and compiles again.

Parameters, optimizer state (momentum buffers, Adam moments, step counts) and ``.grad`` end as
the eager step leaves them (equal to float32 rounding; float64 to ~1e-12), so eager and compiled
steps mix freely and ``state_dict()`` works. Parameters, optimizer buffers and hyperparameters
(``lr`` changed by a scheduler, say) are read afresh at every call. Dropout masks are drawn
before the call through ``nn.functional.dropout_mask`` from the module's generator, in forward
order, so a compiled run and an eager run from the same seed match.

The arrays a step computes live in buffers allocated once per signature (``codegen``): the
forward values, δs and scratch arrays in one array, the parameters' gradients in another, whose
views become ``.grad``. Eager gives each step a new ``.grad`` and leaves the old one alone; so
does the compiled step where it can be seen: when the caller still holds the last gradients
(a ``.grad`` Tensor, its array or a view), the step writes new ones instead
(``_Gradients.claim``). ``last_output`` is a copy.

A step is all or nothing, as ``Optimizer.step``: a Ctrl-C that arrives before the compiled call
changes nothing; one that arrives during it (compiled code runs to its end; as plain Python the
call holds Ctrl-C back) or during the Python bookkeeping after it (``.grad``, step counts, batch
counts, versions) is raised once that bookkeeping is done.

``step.source`` is the generated function, plain commented Python: backpropagation written out
for this network (see ``optim.codegen``). With ``NUMBA_DISABLE_JIT=1`` it runs as Python.

What is compiled: the ops of ``codegen.EMITTERS`` (linear layers fused with ReLU/Tanh/Sigmoid or
not, the activations, dropout, MSE / cross-entropy / BCE-with-logits losses), ``BatchNorm1d`` on
(batch, features) inputs — its several ops become one call, normalized by the batch's statistics
in training mode (running mean and variance then updated in place, as eager does) or by the
running ones in evaluation mode — and the optimizers of ``UPDATES`` (SGD with momentum,
Nesterov, weight decay; SGDMomentum; Adam, AdamW, amsgrad; RMSprop; Adagrad). Anything else is
refused with an error naming the op or feature — forward hooks, tensor hooks, activity
regularizers, Gaussian noise, a Python branch on the data, a tensor computed outside the graph —
or, with ``fallback=True``, run by the eager step after a one-time warning. Never silently wrong.

This module imports ``nn`` (modules are inspected for hooks, dropout and regularizers), as the
training loop does (tests/test_architecture.py).
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import operator
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass, field

import numpy as np

import nn
from autograd_core import Tensor, increment_version
from autograd_core.dtypes import native_order
from autograd_core.interrupts import deferred_interrupts
from autograd_core.kernels import jit_enabled, references_only
from autograd_core.kernels.labels import labels_in_range as _labels_in_range
from autograd_core.graph.rules import InverseRule
from autograd_core.graph.walk import topological_order
from nn.functional import dropout_mask

from . import codegen
from .codegen import Call, Code, Value
from .optimizer import Optimizer
from .optimizers import SGD, Adagrad, Adam, AdamW, RMSprop, SGDMomentum

__all__ = ["compile_step", "CompiledStep", "CompileError"]


class CompileError(RuntimeError):
    """The model, loss or optimizer has a part the compiled step cannot reproduce."""


# --- optimizer updates ----------------------------------------------------------------------------
@dataclass
class _Slot:
    """One updated parameter: the names its update reads (arguments of the generated code)."""

    param: Tensor
    name: str
    grad: str
    group: int
    states: list[str] = field(default_factory=list)      # optimizer.state[p] keys, in order
    hypers: list[str] = field(default_factory=list)      # group keys (betas as betas0/betas1)
    counts_steps: bool = False

    def state(self, key: str) -> str:
        self.states.append(key)
        return f"{self.name}_{key}"

    def hyper(self, key: str) -> str:
        if key not in self.hypers:
            self.hypers.append(key)
        return f"h{self.group}_{key}"

    def step(self) -> str:
        self.counts_steps = True
        return f"{self.name}_step"


def _direction(slot: _Slot, group: dict, code: Code, coupled: bool = True) -> str:
    """The gradient the update sees: −g when maximizing, + λ·p for (coupled) weight decay
    (as eager: −g + λ·p, which is λ·p − g exactly)."""
    maximize = group.get("maximize", False)
    decay = coupled and group.get("weight_decay", 0.0)
    if not (maximize or decay):
        return slot.grad
    u = code.buffer(f"u_{slot.name}", slot.param.shape)
    if decay:
        code.comment(("−g" if maximize else "g") + f" + λ·{slot.name}")
        code.add(f"np.multiply({slot.name}, F({slot.hyper('weight_decay')}), {u})")
        code.add(f"{u} {'-' if maximize else '+'}= {slot.grad}")
    else:
        code.add(f"np.negative({slot.grad}, {u})")
    return u


def _flat(name: str) -> str:
    return f"flat({name})"


def _sgd(slot: _Slot, group: dict, code: Code) -> None:
    g = _direction(slot, group, code)
    p, lr = slot.name, slot.hyper("lr")
    if not group["momentum"]:
        code.comment(f"{p} ← {p} − η·g")
        code.add(f"sgd({_flat(p)}, {_flat(g)}, {lr})")
        return
    buf = slot.state("momentum_buffer")
    code.comment(f"v ← μ·v + (1 − dampening)·g;  {p} ← {p} − η·" +
                 ("(g + μ·v)" if group["nesterov"] else "v"))
    code.add(f"sgd_momentum({_flat(p)}, {_flat(g)}, {_flat(buf)}, {lr}, "
             f"{slot.hyper('momentum')}, {slot.hyper('dampening')}, "
             f"{'YES' if group['nesterov'] else 'NO'}, NO)")


def _sgd_course(slot: _Slot, group: dict, code: Code) -> None:
    p, m = slot.name, slot.state("exp_avg")
    beta, lr = slot.hyper("beta"), slot.hyper("lr")
    u = code.buffer(f"u_{p}", slot.param.shape)
    code.comment(f"m ← β·m + (1 − β)·g;  {p} ← {p} − η·m   (the course's momentum)")
    code.add(f"{m} *= F({beta})")
    code.add(f"np.multiply({slot.grad}, F(1.0 - {beta}), {u})")
    code.add(f"{m} += {u}")
    code.add(f"np.multiply({m}, F({lr}), {u})")
    code.add(f"{p} -= {u}")


def _adam(slot: _Slot, group: dict, code: Code, decoupled: bool = False) -> None:
    g = _direction(slot, group, code, coupled=not decoupled)
    p = slot.name
    arrays = [slot.state("exp_avg"), slot.state("exp_avg_sq")]
    if group["amsgrad"]:
        arrays.append(slot.state("max_exp_avg_sq"))
    decay = slot.hyper("weight_decay") if decoupled else "0.0"
    code.comment("m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  "
                 f"{p} ← {p} − η·(m/(1−β₁ᵗ))/(√(v/(1−β₂ᵗ)) + ε)" +
                 ("   (AdamW: first p ← (1 − ηλ)p)" if decoupled else ""))
    kernel = "adam_amsgrad" if group["amsgrad"] else "adam"
    code.add(f"{kernel}({_flat(p)}, {_flat(g)}, {', '.join(_flat(a) for a in arrays)}, "
             f"{slot.hyper('lr')}, {slot.hyper('betas0')}, {slot.hyper('betas1')}, "
             f"{slot.hyper('eps')}, {decay}, {slot.step()})")


def _adamw(slot: _Slot, group: dict, code: Code) -> None:
    _adam(slot, group, code, decoupled=True)


def _rmsprop(slot: _Slot, group: dict, code: Code) -> None:
    g = _direction(slot, group, code)
    p = slot.name
    arrays = [slot.state("square_avg")]
    kernel = "rmsprop"
    if group["centered"]:
        arrays.append(slot.state("grad_avg"))
        kernel += "_centered"
    if group["momentum"] > 0:
        arrays.append(slot.state("momentum_buffer"))
        kernel += "_momentum"
    slot.step()                                 # counted, as eager does, though unused
    scalars = [slot.hyper("lr"), slot.hyper("alpha"), slot.hyper("eps")]
    if group["momentum"] > 0:
        scalars.append(slot.hyper("momentum"))
    code.comment(f"v ← α·v + (1 − α)·g²;  {p} ← {p} − η·g/(√v + ε)" +
                 (" (centered)" if group["centered"] else "") +
                 (" (with momentum)" if group["momentum"] > 0 else ""))
    code.add(f"{kernel}({_flat(p)}, {_flat(g)}, {', '.join(_flat(a) for a in arrays)}, "
             f"{', '.join(scalars)})")


def _adagrad(slot: _Slot, group: dict, code: Code) -> None:
    g = _direction(slot, group, code)
    p, total = slot.name, slot.state("sum")
    code.comment(f"s ← s + g²;  {p} ← {p} − η/(1 + (t−1)·lr_decay) · g/(√s + ε)")
    code.add(f"adagrad({_flat(p)}, {_flat(g)}, {_flat(total)}, {slot.hyper('lr')}, "
             f"{slot.hyper('lr_decay')}, {slot.hyper('eps')}, {slot.step()})")


#: optimizer class (exactly) → its update emitter
UPDATES = {SGD: _sgd, SGDMomentum: _sgd_course, Adam: _adam, AdamW: _adamw, RMSprop: _rmsprop,
           Adagrad: _adagrad}
def _structure(optimizer: Optimizer) -> tuple:
    """What of the groups' options shapes the generated code (a new value compiles again)."""
    return tuple([(g.get("weight_decay", 0.0) != 0, g.get("momentum", 0.0) != 0,
                   g.get("nesterov", False), g.get("maximize", False), g.get("amsgrad", False),
                   g.get("centered", False)) for g in optimizer.param_groups])


# --- batch normalization -------------------------------------------------------------------------
@dataclass
class _Norm:
    """A batch norm met in the traced forward (the k-th): how the generated code runs it."""

    module: nn.BatchNorm1d
    k: int
    x: Tensor                    # its input
    node: object                 # the node of its output
    batch: bool                  # normalizes with the batch's statistics (else the running ones)
    update: bool                 # updates the running statistics

    @property
    def running(self) -> bool:
        """Reads or writes running_mean and running_var."""
        return self.update or not self.batch

    def arguments(self) -> list[str]:
        """Its arguments of the generated function."""
        k = self.k
        return ([f"rm{k}", f"rv{k}"] if self.running else []) + \
            ([f"bn{k}_momentum"] if self.update else []) + [f"bn{k}_eps"]

    def values(self) -> list:
        """The values of ``arguments()`` now; momentum None (a cumulative average) is 1/t for
        the t-th batch, t counted by ``num_batches_tracked``, as eager does."""
        m = self.module
        if not self.running:
            return [float(m.eps)]
        if not self.update:
            return [m.running_mean.data, m.running_var.data, float(m.eps)]
        momentum = m.momentum
        if momentum is None:
            momentum = 1.0 / (int(m.num_batches_tracked.data) + 1)
        return [m.running_mean.data, m.running_var.data, float(momentum), float(m.eps)]

    def next_count(self) -> int | None:
        """num_batches_tracked after this step (None: not counted)."""
        return int(self.module.num_batches_tracked.data) + 1 if self.update else None

    def after_step(self, count: int | None) -> None:
        """What eager's forward also changes: the batch count (set to ``count``: idempotent)
        and the statistics' versions."""
        if self.update:
            m = self.module
            m.num_batches_tracked.data[...] = count
            for t in (m.num_batches_tracked, m.running_mean, m.running_var):
                increment_version(t)


# --- watching the eager step ----------------------------------------------------------------------
class _Watch:
    """While the traced forward runs: which dropout masks were drawn (by module, in order), and
    whether a Python-side conversion read the value of a tensor computed from the data (a branch
    on data, which one trace cannot capture)."""

    _READERS = ("__bool__", "item", "tolist", "__float__", "__int__", "__index__")

    def __init__(self, model) -> None:
        self.model = model
        self.dropouts: list = []                 # (module, output tensor) in forward order
        self.norms: list = []                    # (module, input tensor, output tensor)
        self.reads: list[str] = []
        self._handles: list = []
        self._saved: dict = {}

    def __enter__(self) -> _Watch:
        for module in self.model.modules() if isinstance(self.model, nn.Module) else []:
            if isinstance(module, nn.Dropout):
                self._handles.append(module.register_forward_hook(self._on_dropout))
            elif isinstance(module, nn.BatchNorm1d):
                self._handles.append(module.register_forward_hook(self._on_norm))
        for name in self._READERS:
            original = Tensor.__dict__.get(name)
            if original is None:
                continue
            self._saved[name] = original
            setattr(Tensor, name, self._reader(name, original))
        return self

    def __exit__(self, *exc) -> bool:
        for name, original in self._saved.items():
            setattr(Tensor, name, original)
        for handle in self._handles:
            handle.remove()
        return False

    def _on_dropout(self, module, inputs, output) -> None:
        self.dropouts.append((module, output))

    def _on_norm(self, module, inputs, output) -> None:
        self.norms.append((module, inputs[0], output))

    def _reader(self, name: str, original):
        reads = self.reads
        state = {id(t) for t in self.model.parameters()}
        state |= {id(t) for _, t in self.model.named_buffers()}

        def read(tensor, *args, **kwargs):
            # NOTE: a module reading its own parameters or buffers (batch norm's step count) is
            # not data; anything else is (comparisons record no node, so every tensor counts)
            if id(tensor) not in state:
                made_by = tensor._node.op.name if tensor._node is not None else "a tensor op"
                reads.append(f"{name}() on a tensor made by {made_by}, shape {tensor.shape}")
            return original(tensor, *args, **kwargs)
        return read


def _check_static(model, loss_fn, optimizer) -> None:
    """Refuse what can be seen before any data: hooks, regularizers that need the activations,
    Gaussian noise, an optimizer without a compiled update."""
    if type(optimizer) not in UPDATES:
        names = ", ".join(sorted(cls.__name__ for cls in UPDATES))
        raise CompileError(f"compile_step: optimizer {type(optimizer).__name__} has no compiled "
                           f"update; supported: {names}")
    for owner in (model, loss_fn):
        if not isinstance(owner, nn.Module):
            continue
        for name, module in owner.named_modules() if hasattr(owner, "named_modules") else []:
            where = f"module {name or type(module).__name__} ({type(module).__name__})"
            if module._forward_hooks:
                raise CompileError(f"compile_step: {where} has a forward hook; a hook is Python "
                                   "code the compiled step would skip")
            if getattr(module, "activity_regularizer", None) is not None:
                raise CompileError(f"compile_step: {where} has an activity_regularizer; its "
                                   "penalty needs the layer's output, which the compiled step "
                                   "does not expose")
            if isinstance(module, nn.GaussianNoise) and module.training and module.std:
                raise CompileError(f"compile_step: {where}: Gaussian noise is not supported by "
                                   "the compiled step")
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p._hooks:
                raise CompileError(f"compile_step: a parameter of shape {p.shape} has a "
                                   "gradient hook (register_hook); the compiled step would "
                                   "skip it")


# --- from the recorded graph to Calls -------------------------------------------------------------
class _Builder:
    """Names every tensor of the traced graph and turns its nodes into ``codegen.Call`` s."""

    def __init__(self, loss: Tensor, x: Tensor, y: Tensor, optimizer: Optimizer,
                 watch: _Watch) -> None:
        self.x, self.y, self.optimizer = x, y, optimizer
        self.values: dict[int, Value] = {}
        self.keep: list = []                       # tensors named by id: alive while building
        self.params: list[Tensor] = []
        self.masks: list[tuple] = []               # (module, shape, dtype) in draw order
        self.target_one_hot = False
        self.y_dtype = None                        # the dtype the loss reads y in (floats)
        self.linear_layers = 0
        self.mask_of = {}
        for module, out in watch.dropouts:         # output of x * mask → the mask leaf
            node = out._node
            if node is not None and node.op.__name__ == "Mul":
                self.mask_of[id(node.inputs[1])] = module
        self.norms: list[_Norm] = []
        self.norm_at: dict[int, _Norm] = {}       # id of a batch norm's output node → its site
        self.inside_norms: set[int] = set()        # ids of the other nodes of its formula
        for module, x_in, out in watch.norms:
            self._add_norm(module, x_in, out)
        if watch.reads:
            raise CompileError("compile_step: the forward reads tensor values into Python ("
                               f"{watch.reads[0]}), e.g. to branch on the data; one trace cannot "
                               "capture a data-dependent branch")
        self.calls = self._calls(loss)

    def _calls(self, loss: Tensor) -> list[Call]:
        if loss._node is None or loss.size != 1:
            raise CompileError(f"compile_step: the loss must be a single value computed from "
                               f"the model (got shape {loss.shape})")
        nodes = list(reversed(list(topological_order([loss._node]))))
        calls = []
        for node in nodes:
            if id(node) in self.inside_norms:         # part of a batch norm: emitted as one call
                continue
            norm = self.norm_at.get(id(node))
            op, inputs, kwargs = (self._norm_parts(norm) if norm is not None
                                  else self._op_parts(node))
            out = node.output
            name = "J" if node is loss._node else f"a{len(calls) + 1}"
            value = Value(name, "node", out.shape, requires_grad=True, grad=f"d{name}")
            self.values[id(out)] = value
            self.keep.append(out)
            rule = InverseRule.WEIGHTED_INPUT if norm is not None else node.op.inverse_rule
            calls.append(Call(op, inputs, kwargs, value, rule))
        return calls

    def _add_norm(self, module, x_in: Tensor, out: Tensor) -> None:
        """Record a batch norm of the forward: the nodes of its formula (from its output back to
        its input) become one call of the generated code."""
        where = f"BatchNorm1d({module.num_features})"
        if x_in.ndim != 2:
            raise CompileError(f"compile_step: {where} on an input of shape {x_in.shape}: the "
                               "compiled step takes (batch, features) inputs")
        if out._node is None:
            raise CompileError(f"compile_step: {where} records no gradient (no trainable γ, β "
                               "and an input that does not require grad)")
        if module.affine and not (module.weight.requires_grad and module.bias.requires_grad):
            raise CompileError(f"compile_step: {where} has a frozen γ or β; the compiled step "
                               "trains both or neither (affine=False)")
        batch = module.training or not module.track_running_stats
        site = _Norm(module, len(self.norms) + 1, x_in, out._node, batch,
                     update=module.training and module.track_running_stats)
        if site.running and module.running_mean.dtype != x_in.dtype:
            raise CompileError(f"compile_step: {where} keeps running statistics in "
                               f"{module.running_mean.dtype} but its input is {x_in.dtype}")
        self.norms.append(site)
        self.norm_at[id(out._node)] = site
        stack = [out._node]
        while stack:
            for t in stack.pop().inputs:
                if t is not x_in and t._node is not None and id(t._node) not in \
                        self.inside_norms:
                    self.inside_norms.add(id(t._node))
                    stack.append(t._node)

    def _norm_parts(self, site: _Norm) -> tuple[str, list[Value], dict]:
        module, k = site.module, site.k
        node = site.node
        inputs = [self._value(site.x, node, 0)]
        if module.affine:
            for i, (t, name) in enumerate(((module.weight, "gamma"), (module.bias, "beta")), 1):
                value = self._value(t, node, i)
                value.name, value.grad = f"{name}{k}", f"d{name}{k}"
                inputs.append(value)
        kwargs = {"site": k, "rows": site.x.shape[0], "batch": site.batch,
                  "update": site.update}
        return "nn.BatchNorm1d", inputs, kwargs

    def _op_parts(self, node) -> tuple[str, list[Value], dict]:
        op = node.op.__name__
        if op not in codegen.EMITTERS:
            raise CompileError(f"compile_step: op '{node.op.name}' ({node.name()}) has no "
                               "compilable form; supported ops: "
                               f"{', '.join(sorted(codegen.EMITTERS))}")
        inputs = [self._value(t, node, i) for i, t in enumerate(node.inputs)]
        if op in ("Linear", "LinearActivation"):
            self._check_linear(node, inputs)
        if op == "Mul" and any(v.kind != "const" and v.shape != node.output.shape
                               for v in inputs):
            raise CompileError(f"compile_step: {node.name()} broadcasts "
                               f"{' * '.join(str(v.shape) for v in inputs)}; the compiled step "
                               "multiplies arrays of one shape (or by a scalar constant)")
        return op, inputs, dict(node.kwargs)

    def _check_linear(self, node, inputs) -> None:
        if len(node.inputs[0].shape) != 2:
            raise CompileError(f"compile_step: {node.op.name} on an input of shape "
                               f"{node.inputs[0].shape}: the compiled step takes (batch, "
                               "features) inputs")
        if inputs[1].kind == "param" and inputs[1].name.startswith("p"):
            self.linear_layers += 1
            inputs[1].name, inputs[1].grad = f"W{self.linear_layers}", f"dW{self.linear_layers}"
            if len(inputs) == 3 and inputs[2].kind == "param":
                inputs[2].name, inputs[2].grad = (f"b{self.linear_layers}",
                                                  f"db{self.linear_layers}")

    def _value(self, t: Tensor, node, index: int) -> Value:
        known = self.values.get(id(t))
        if known is not None:
            return known
        value = self._leaf(t, node, index)
        self.values[id(t)] = value
        self.keep.append(t)
        return value

    def _leaf(self, t: Tensor, node, index: int) -> Value:
        if t._node is not None:                   # a non-leaf not reached: not differentiable
            raise CompileError(f"compile_step: input {index} of {node.op.name} comes from an op "
                               "that does not record a gradient")
        if t is self.x:
            return Value("x", "x", t.shape, "input")
        if t.requires_grad:
            if t.dtype.kind != "f" or not t.data.flags.c_contiguous:
                raise CompileError(f"compile_step: parameter of shape {t.shape} ({t.dtype}) must "
                                   "be a C-contiguous float array")
            self.params.append(t)
            k = len(self.params)
            return Value(f"p{k}", "param", t.shape, requires_grad=True, grad=f"dp{k}")
        if t is self.y or self._same_as_y(t):
            self.y_dtype = t.dtype
            return Value("y", "y", t.shape, "target")
        if id(t) in self.mask_of:
            self.masks.append((self.mask_of[id(t)], t.shape, t.dtype))
            return Value(f"m{len(self.masks)}", "mask", t.shape, "dropout mask")
        if node.op.__name__ == "SoftmaxCrossEntropy" and index == 1 and self._one_hot_of_y(t):
            self.target_one_hot = True
            return Value("t", "target", t.shape, "one-hot target")
        if t.size == 1 and t.ndim == 0:
            return Value(repr(float(t.data)), "const", (), "constant")
        raise CompileError(f"compile_step: input {index} of {node.op.name} (shape {t.shape}, "
                           f"{t.dtype}) is a tensor made outside the recorded graph — not a "
                           "parameter, the input x, the target y, a dropout mask or a scalar "
                           "constant — so the compiled step could not recompute it")

    def _same_as_y(self, t: Tensor) -> bool:
        y = self.y.data
        return (t.shape == y.shape and y.dtype.kind == "f"
                and (t.data is y or np.array_equal(t.data, y.astype(t.dtype))))

    def _one_hot_of_y(self, t: Tensor) -> bool:
        labels = self.y.data
        if labels.dtype.kind not in "iu" or t.shape != labels.shape + (t.shape[-1],):
            return False
        expected = np.zeros(t.shape, t.dtype)
        np.put_along_axis(expected, labels[..., None], 1, axis=-1)
        return bool(np.array_equal(expected, t.data))


# --- one compiled program per input signature -----------------------------------------------------
_DATA, _GRAD, _TRAINING = (operator.attrgetter("_data"), operator.attrgetter("_grad"),
                           operator.attrgetter("training"))


class _Gradients:
    """The parameters' gradients a program hands to the caller as ``.grad``: views of one array,
    ``kept``, which the compiled step writes, and one Tensor per parameter around its view.

    Eager's ``zero_grad()`` + ``backward()`` give each step's ``.grad`` a new array and leave
    the previous one as it was; the compiled step writes the same array again, which only the
    step itself can tell apart — unless the caller kept the last ``.grad`` (the Tensor, its
    array or a view of either). ``claim`` tells that from reference counts and, when it is so,
    takes a new ``kept`` and new Tensors, so a kept gradient stays as it was, as in eager.

    NOTE: the counts are compared with the ones read, by the same code, right after a new
    ``kept`` is made (when only this object holds it), not with numbers written here: what
    ``sys.getrefcount`` reports depends on how the interpreter loads its argument (Python 3.14
    borrows some references), and this way it does not matter.
    """

    def __init__(self, params: list[Tensor], specs: list[tuple[int, tuple]], size: int,
                 dtype) -> None:
        self.params, self.specs, self.size, self.dtype = params, specs, size, dtype
        self._allocate()

    def _make_arrays(self) -> None:
        self.kept = np.empty(self.size, self.dtype)
        self.views = [_view(self.kept, o, shape) for o, shape in self.specs]
        self.holders = [Tensor(view) for view in self.views]   # the views themselves, no copy
        self._tracked = [self.kept, *self.views, *self.holders]
        self._triples = list(zip(self.params, self.holders, self.views))

    def _allocate(self) -> None:
        self._make_arrays()
        # nobody else can hold the new arrays yet: this is the sum of the counts of arrays nobody
        # holds, less what the state of the moment adds — each holder holds its view, and no
        # parameter has a holder as .grad yet
        self._ours = self._count() - len(self.views)

    def _count(self) -> int:
        """The reference counts of ``kept``, of each view and of each Tensor, summed (always
        read alike)."""
        return sum(map(sys.getrefcount, self._tracked))

    def claim(self) -> np.ndarray:
        """``kept``, free to be overwritten (a new one if the caller holds the last one)."""
        if self._held_elsewhere():
            self._allocate()
        return self.kept

    def _held_elsewhere(self) -> bool:
        """Do the counts exceed ours plus the references of the moment: a holder's of its view,
        a parameter's of its holder as ``.grad``? (Both can change between steps: an eager
        step gives ``.grad`` a new Tensor.) No count is ever below its own share of that sum,
        so the sum exceeds it exactly when one count does."""
        moment = (sum(map(operator.is_, map(_DATA, self.holders), self.views))
                  + sum(map(operator.is_, map(_GRAD, self.params), self.holders)))
        return self._count() > self._ours + moment

    def hand_over(self) -> None:
        """Each parameter's ``.grad`` is its Tensor, around its view (idempotent)."""
        for p, holder, view in self._triples:
            if holder._data is not view:
                holder._data = view
            if p._grad is not holder:
                p._grad = holder


class _Program:
    """The generated function for one signature, and how to call it from the live objects."""

    def __init__(self, builder: _Builder, optimizer: Optimizer, title: list[str]) -> None:
        self.optimizer = optimizer
        self.params = builder.params
        self.masks = builder.masks
        self.norms = builder.norms
        self.values = [builder.values[id(p)] for p in self.params]
        self.dtype = self.params[0].dtype if self.params else builder.x.dtype
        for p in self.params:
            if p.dtype != self.dtype:
                raise CompileError(f"compile_step: parameters of different dtypes ({self.dtype} "
                                   f"and {p.dtype}); the compiled step takes one float dtype")
        if builder.x.dtype != self.dtype:
            raise CompileError(f"compile_step: input x is {builder.x.dtype} but the parameters "
                               f"are {self.dtype}; convert x first")
        self.slots, update = self._updates(optimizer)
        self.hypers = list(dict.fromkeys((s.group, k) for s in self.slots for k in s.hypers))
        self.counted = [s for s in self.slots if s.counts_steps]
        # what run() reads at each call, spelled out once: (parameter, state key) of each
        # buffer, (group, key, index into a tuple or None) of each hyperparameter
        self.buffers = [(s.param, k) for s in self.slots for k in s.states]
        self.hyper_keys = [(g, "betas", int(k[-1])) if k.startswith("betas") else (g, k, None)
                           for g, k in self.hypers]
        self.updated = [s.param for s in self.slots]
        self.counted_params = [s.param for s in self.counted]
        self.y_dtype = builder.y_dtype
        self.classes = builder.calls[-1].inputs[1].shape[-1] if builder.target_one_hot else None
        args = (["x", "y"] + [f"m{i}" for i in range(1, len(self.masks) + 1)]
                + [name for site in self.norms for name in site.arguments()]
                + [v.name for v in self.values]
                + [f"{s.name}_{k}" for s in self.slots for k in s.states]
                + [f"h{g}_{k}" for g, k in self.hypers] + [f"{s.name}_step" for s in self.counted])
        grads = [v.grad for v in self.values]
        generated = codegen.generate("train_step", args, builder.calls, update, grads, title,
                                     _prologue(builder), self.dtype)
        self.source = generated.source
        self.work = np.empty(generated.sizes["work"], self.dtype)
        self.gradients = _Gradients(self.params, [generated.layout[g][1:] for g in grads],
                                    generated.sizes["kept"], self.dtype)
        self.output = self._output(generated.layout, builder.calls[-1].inputs[0].name)
        self.done = np.zeros(1, np.int64)             # counted up by each finished call
        self.fn, self.atomic = None, False
        self.labels_in_range = _labels_in_range.dispatcher() if self.classes else None
        self.layout: list[tuple] = []         # (shape, dtype) of each array written in place
        self.checked: list | None = None      # the arrays last found to fit the layout

    def _output(self, layout: dict, name: str) -> np.ndarray:
        if name not in layout or layout[name][0] != "work":
            raise CompileError(f"compile_step: the model's output ({name}) is not computed by "
                               "the compiled step")
        _, offset, shape = layout[name]
        return _view(self.work, offset, shape)

    def _updates(self, optimizer: Optimizer) -> tuple[list[_Slot], Code]:
        group_of = {id(p): i for i, g in enumerate(optimizer.param_groups) for p in g["params"]}
        emit = UPDATES[type(optimizer)]
        slots, code = [], Code()
        for p, value in zip(self.params, self.values):
            if id(p) not in group_of:                 # differentiated but not optimized
                continue
            slot = _Slot(p, value.name, value.grad, group_of[id(p)])
            emit(slot, optimizer.param_groups[slot.group], code)
            slots.append(slot)
        return slots, code

    def compile(self) -> None:
        """Load the source as a module (a file named by its hash, so Numba's cache finds it
        again in a new process) and compile ``train_step`` with ``numba.njit(cache=True)``."""
        import numba
        self.layout = [(a.shape, a.dtype) for a in self._written(self.optimizer.state)]
        module = _load(self.source)
        self.fn = module.train_step
        if _JIT:
            # NOTE: one dispatcher per generated module and process: a second step of the same
            # network and signature (a search's next trial) starts compiled, not from disk
            if not hasattr(module, "compiled_train_step"):
                from ._jit import StepCompiler
                module.compiled_train_step = numba.njit(cache=True, error_model="numpy",
                                                        pipeline_class=StepCompiler)(self.fn)
            self.fn = module.compiled_train_step
        # NOTE: compiled code cannot be stopped halfway (Python raises KeyboardInterrupt only
        # between bytecodes); run as Python, the generated function holds Ctrl-C back itself
        self.atomic = _JIT and jit_enabled()

    def run(self, xa: np.ndarray, ya: np.ndarray) -> float | None:
        """One compiled step; None when the eager step must run instead: the optimizer's
        state lacks a buffer (a fresh optimizer state), or a label is outside [0, classes)
        (eager raises, or ignores ``ignore_index``)."""
        if self.classes is not None and not self.labels_in_range(ya, self.classes):
            return None
        if self.y_dtype is not None and ya.dtype != self.y_dtype:
            ya = ya.astype(self.y_dtype)
        state = self.optimizer.state
        groups = self.optimizer.param_groups
        try:
            written = self._written(state)
            steps = [state[p]["step"] + 1 for p in self.counted_params]
        except KeyError:
            return None
        # NOTE: the same array objects as last time cannot have changed shape, dtype or layout
        # (in-place updates keep them); a replaced one is checked once, in ~0.2 µs per array
        if self.checked is None or not all(map(operator.is_, written, self.checked)):
            if not _fits(written, self.layout):
                return None
            self.checked = written
        args = [xa, ya]
        for module, shape, dtype in self.masks:
            args.append(dropout_mask(shape, module.p, dtype, module.generator))
        for site in self.norms:
            args += site.values()
        args += written
        args += [float(groups[g][k] if i is None else groups[g][k][i])
                 for g, k, i in self.hyper_keys]
        args += steps
        args += [self.work, self.gradients.claim(), self.done]
        counts = [site.next_count() for site in self.norms]
        return self._call(args, steps, counts)

    def _written(self, state) -> list[np.ndarray]:
        """The arrays the generated code updates in place: parameters, then buffers."""
        return [*map(_DATA, self.params), *[state[p][k] for p, k in self.buffers]]

    def _call(self, args: list, steps: list[int], counts: list) -> float:
        """The compiled call and the bookkeeping it implies, all or nothing, as
        ``Optimizer.step``: a Ctrl-C before the call changes nothing; one during or after it
        is raised once the bookkeeping is done too (parameters, gradients, optimizer state and
        step counts, running statistics always agree)."""
        start = int(self.done[0])
        try:
            if self.atomic:
                loss = self.fn(*args)
            else:
                with deferred_interrupts():
                    loss = self.fn(*args)
            self._commit(steps, counts)
            return float(loss)
        except KeyboardInterrupt:
            if self.done[0] == start:                 # the step had not started
                raise
            with deferred_interrupts():
                self._commit(steps, counts)
            raise

    def _commit(self, steps: list[int], counts: list) -> None:
        """What the call leaves to Python: ``.grad``, versions, step counts, batch counts
        (each assignment idempotent, so an interrupted commit can run again)."""
        self.gradients.hand_over()
        increment_version(self.updated)            # as Optimizer.step: old graphs refuse
        state = self.optimizer.state
        for p, step in zip(self.counted_params, steps):
            state[p]["step"] = step
        for site, count in zip(self.norms, counts):
            site.after_step(count)


def _view(buffer: np.ndarray, offset: int, shape: tuple) -> np.ndarray:
    """The array of ``shape`` at ``offset`` in a flat buffer (a view, as the generated code's)."""
    return buffer[offset:offset + int(np.prod(shape))].reshape(shape)


def _fits(arrays: list[np.ndarray], layout: list[tuple]) -> bool:
    """Can the generated code update these arrays in place? The shapes and dtypes it was
    compiled for, C order (its ``flat`` views are of C-contiguous memory: a copy would lose
    the update) and writeable. If not, the eager step runs: it takes them, or names what is
    wrong."""
    return all(a.shape == shape and a.dtype == dtype and a.flags.c_contiguous
               and a.flags.writeable for a, (shape, dtype) in zip(arrays, layout))


def _prologue(builder: _Builder) -> Code:
    """Before the forward: integer labels as the one-hot rows the loss reads."""
    code = Code()
    if builder.target_one_hot:
        loss_call = builder.calls[-1]
        t = code.buffer("t", loss_call.inputs[1].shape)
        code.comment("the integer labels y as one-hot rows t")
        code.add(f"{t}[:] = 0.0")
        code.add("for i in range(y.shape[0]):")
        code.add(f"    {t}[i, y[i]] = 1.0")
    return code


def _load(source: str):
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    name = f"neurona_step_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    root = os.environ.get("NUMBA_CACHE_DIR") or tempfile.gettempdir()
    folder = os.path.join(root, "neurona_steps")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name + ".py")
    if not os.path.exists(path):
        # NOTE: written once, atomically: Numba's cache index is keyed by the file's timestamp
        partial = f"{path}.{os.getpid()}.tmp"
        with open(partial, "w", encoding="utf-8") as f:
            f.write(source)
        os.replace(partial, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


# --- the public object ----------------------------------------------------------------------------
def _array(v, what: str) -> np.ndarray:
    if (type(v) is np.ndarray and v.flags.c_contiguous and v.dtype.isnative
            and v.dtype.kind in "fiub"):
        return v                                   # (the common case, checked in ~0.3 µs)
    try:
        data = v.data if isinstance(v, Tensor) else np.asarray(v)
    except ValueError:
        raise ValueError(f"compiled step: {what} is a ragged list (rows of different lengths); "
                         "pass an array") from None
    if data.dtype.kind not in "fiub":
        raise TypeError(f"compiled step: {what} must hold numbers, got {data.dtype}")
    data = native_order(data)                      # as Tensor does: Numba takes native order
    return data if data.flags.c_contiguous else np.ascontiguousarray(data)


class CompiledStep:
    """``step(x, y) -> float``: one training step, compiled per input signature (see the
    module docstring). ``source`` is the generated code of the last signature compiled;
    ``last_output`` the model's output of the last step (a numpy array), for metrics."""

    def __init__(self, model, loss_fn, optimizer: Optimizer, fallback: bool = False) -> None:
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.fallback = fallback
        self._last_output: np.ndarray | None = None
        self._last_program: _Program | None = None     # its output is copied when asked for
        self._programs: dict = {}
        self._source: str | None = None
        self._warned = False
        # NOTE: the modules' training flags are part of the signature (dropout and batch norm
        # change with them); the list is taken once, as walking the tree costs µs a step
        self._modules = list(model.modules()) if isinstance(model, nn.Module) else []

    def __repr__(self) -> str:
        return (f"CompiledStep({type(self.model).__name__}, {type(self.loss_fn).__name__}, "
                f"{type(self.optimizer).__name__}, {len(self._programs)} signature(s))")

    @property
    def source(self) -> codegen.Source:
        """The generated Python source (forward, backward, update) of the last compiled
        signature: a ``str`` that Jupyter shows highlighted (``codegen.Source``)."""
        if self._source is None:
            raise RuntimeError("compiled step: nothing compiled yet; call step(x, y) once (the "
                               "first call of a signature traces the eager step)")
        return self._source

    @property
    def last_output(self) -> np.ndarray | None:
        """The model's output of the last step: an array of its own (the compiled step keeps
        its values in a buffer that the next step overwrites, so this is a copy)."""
        if self._last_output is None and self._last_program is not None:
            self._last_output = self._last_program.output.copy()
        return self._last_output

    def __call__(self, x, y) -> float:
        xa, ya = _array(x, "x"), _array(y, "y")
        # NOTE: dtypes, not dtype.str (0.7 µs each): _array gives native byte order
        key = (xa.shape, xa.dtype, ya.shape, ya.dtype, tuple(map(_TRAINING, self._modules)),
               _structure(self.optimizer))
        program = self._programs.get(key)
        if program is not None and program is not _EAGER:
            loss = program.run(xa, ya)
            if loss is not None:
                self._last_output, self._last_program = None, program
                return loss
        return self._eager(x, y, key, trace=program is None)

    def _eager(self, x, y, key, trace: bool) -> float:
        """The eager step; with ``trace``, its graph becomes the program of ``key``."""
        xt = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        yt = y if isinstance(y, Tensor) else Tensor(np.asarray(y))
        self.optimizer.zero_grad()
        # NOTE: the traced step runs numpy's kernels: compiling Numba's here would be wasted
        # work, as the generated step compiles the ones it calls (kernels.references_only)
        with references_only() if trace else contextlib.nullcontext():
            with _Watch(self.model) as watch:
                output = self.model(xt)
                loss = self.loss_fn(output, yt)
            program = self._program(loss, xt, yt, watch, key) if trace else None
            loss.backward()
            self.optimizer.step()
        self._last_output, self._last_program = output.data, None
        if program is not None:
            program.compile()                       # after the step: its state exists now
            self._programs[key] = program
            self._source = program.source
        return float(loss.data)

    def _program(self, loss, xt, yt, watch, key) -> _Program | None:
        """The program of ``key`` built from the traced graph; None when it is refused and
        ``fallback`` runs the eager step instead (one warning)."""
        try:
            return self._build(loss, xt, yt, watch)
        except CompileError as error:
            if not self.fallback:
                raise
            self._programs[key] = _EAGER
            if not self._warned:
                self._warned = True
                warnings.warn(f"{error}; running the eager step instead (fallback=True)",
                              RuntimeWarning, stacklevel=4)
            return None

    def _build(self, loss, xt, yt, watch) -> _Program:
        builder = _Builder(loss, xt, yt, self.optimizer, watch)
        title = [f"Training step generated by optim.compile_step (x {xt.dtype}, y {yt.dtype}).",
                 "",
                 f"model: {type(self.model).__name__}, loss: {type(self.loss_fn).__name__}, "
                 f"optimizer: {type(self.optimizer).__name__}",
                 "x input, y target, a1, a2, … forward values, da1, da2, … their gradients "
                 "∂J/∂a (δ = ∂J/∂z is formed inside linear_backward from ∂J/∂a and ψ'), "
                 "W1, b1, … the linear layers' parameters, J the cost."]
        if builder.norms:
            title.append("gamma1, beta1, … the batch norms' γ and β; rm1, rv1, … their running "
                         "mean and variance.")
        return _Program(builder, self.optimizer, title)


_EAGER = object()         # a signature refused with fallback=True: the eager step runs it
#: False runs the generated function as Python (its kernels stay compiled): the tests check the
#: generated logic for every variant this way and compile a few, as compiling each takes seconds
_JIT = True


def compile_step(model, loss_fn, optimizer: Optimizer, *, fallback: bool = False
                 ) -> CompiledStep:
    """A ``CompiledStep`` doing ``opt.zero_grad(); loss_fn(model(x), y).backward();
    opt.step()`` as one compiled call (see the module docstring).

    Refused here (``CompileError``, naming the feature): forward hooks, gradient hooks on
    parameters, activity regularizers, Gaussian noise, an optimizer without a compiled update.
    Refused at the first call of a signature: an op without a compilable form, a Python read of
    a computed tensor's value (a data-dependent branch), a tensor made outside the graph, a
    batch norm of a 3-D input. ``fallback=True`` runs the eager step instead, with one warning.

    >>> import nn, optim, autograd_core as ag
    >>> _ = ag.manual_seed(0)
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1))
    >>> step = optim.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    >>> x, y = ag.randn(4, 2), ag.randn(4, 1)
    >>> first, second = step(x, y), step(x, y)       # traced eager step, then compiled
    >>> second < first
    True
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"compile_step: optimizer must be an optim.Optimizer, got "
                        f"{type(optimizer).__name__}")
    try:
        _check_static(model, loss_fn, optimizer)
    except CompileError as error:
        if not fallback:
            raise
        step = CompiledStep(model, loss_fn, optimizer, fallback=True)
        step._warned = True
        warnings.warn(f"{error}; running the eager step instead (fallback=True)", RuntimeWarning,
                      stacklevel=2)
        step._programs = _AlwaysEager()
        return step
    return CompiledStep(model, loss_fn, optimizer, fallback)


class _AlwaysEager(dict):
    """The program table of a step refused at ``compile_step`` with fallback=True."""

    def get(self, key, default=None):
        return _EAGER
