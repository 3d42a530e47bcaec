"""Source generation for the compiled training step (``optim.compile_step``).

A traced step is a list of ``Call`` records in forward order (the op, its input and output
``Value`` s). ``generate`` writes one Python function from it — forward, backward and the
optimizer's update — that calls the same Numba kernel bodies the ops call
(``autograd_core.kernels``), so it can be compiled as a whole with ``numba.njit``. It is meant
to be read as well: one line per forward op, one per backward rule, each backward line under a
comment naming its inverse-neuron rule in English and in the course's Spanish
(``InverseRule.label``), so the function is the course's backpropagation written out for one
network:

    cost J → unit 1;  loss L → L';  activation ψ → multiply by ψ'(z);  weighted input w·a →
    double weighted output (Wᵀδ back, δ·aᵀ → ∂J/∂W);  constant input b → constant output
    (Σ δ → ∂J/∂b);  branch point → sum of outputs.

Names follow the course: ``x`` the input, ``y`` the target, ``a1, a2, …`` the values of the
forward pass, ``d1, d2, …`` their gradients δ = ∂J/∂a, ``W1, b1, …`` the parameters of the
first, second… linear layer and ``dW1, db1, …`` their gradients. ``F`` is the step's float type
(``np.float32`` or ``np.float64``): constants are wrapped in it so that float32 arrays stay
float32 inside compiled code, as they do in numpy.

The per-op emitters are in ``EMITTERS``; an op without one has no compilable form, and
``optim.compile_step`` refuses the model, naming it.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from autograd_core.graph.rules import InverseRule

#: the kernel bodies the generated code may call: name in the code → (kernels module, attribute)
KERNEL_BODIES = {
    "linear_forward": ("linalg", "linear_forward_numba"),
    "linear_backward": ("linalg", "linear_backward_numba"),
    "softmax_cross_entropy_rows": ("reduce", "softmax_cross_entropy_rows_numba"),
    "softmax_cross_entropy_backward_rows": ("reduce", "softmax_cross_entropy_backward_rows_numba"),
    **{name: ("elementwise", f"{name}_numba") for name in (
        "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "silu", "gelu", "gelu_erf",
        "sigmoid_backward", "tanh_backward", "relu_backward", "leaky_relu_backward",
        "elu_backward", "softplus_backward", "silu_backward", "gelu_backward",
        "gelu_erf_backward")},
    **{name: ("optim", f"{name}_numba") for name in (
        "sgd", "sgd_momentum", "adam", "adam_amsgrad", "rmsprop", "rmsprop_momentum",
        "rmsprop_centered", "rmsprop_centered_momentum", "adagrad")},
}


@dataclass
class Value:
    """One array of the step: an argument (x, y, a parameter, a dropout mask), a scalar
    constant baked into the code, or the output of a call."""

    name: str                   # the variable in the generated code (or a literal for "const")
    kind: str                   # "x", "y", "target", "param", "mask", "const", "node"
    shape: tuple
    label: str = ""             # what it is, for comments ("0.weight", "dropout mask")
    requires_grad: bool = False
    grad: str | None = None     # the name of its gradient in the code


@dataclass
class Call:
    """One recorded op application: ``output = op(*inputs, **kwargs)``."""

    op: str
    inputs: list[Value]
    kwargs: dict
    output: Value
    rule: InverseRule


@dataclass
class Code:
    """Lines of the generated function, each with an optional comment above it."""

    lines: list[str] = field(default_factory=list)

    def comment(self, text: str) -> None:
        self.lines.append(f"# {text}")

    def rule(self, rule: InverseRule, detail: str = "") -> None:
        """A comment naming ``rule`` in both languages (its inverse side), with ``detail``."""
        en, es = rule.label("en")[1], rule.label("es")[1]
        self.comment(f"{en} / {es}" + (f": {detail}" if detail else ""))

    def add(self, line: str) -> None:
        self.lines.append(line)


# --- emitters: (call, code) for forward; (call, code, grad, targets) for backward -----------------
# ``targets[i]`` is the name the gradient of input i must be written to (None: not needed).

#: the activation ψ of a linear layer as the kernels number it, by its name in the code
_ACTIVATION_CODE = {None: "IDENTITY", "relu": "RELU", "tanh": "TANH", "sigmoid": "SIGMOID"}
_FROM_OUTPUT = {"Sigmoid": "sigmoid", "Tanh": "tanh", "ReLU": "relu"}
_FROM_INPUT = {"LeakyReLU": ("leaky_relu", "negative_slope"), "ELU": ("elu", "alpha"),
               "Softplus": ("softplus", "beta"), "SiLU": ("silu", None), "GELU": ("gelu_erf", None),
               "GELUTanh": ("gelu", None)}
_PSI_PRIME = {"sigmoid": "σ' = σ(1 − σ)", "tanh": "tanh' = 1 − tanh²", "relu": "[z > 0]",
              "leaky_relu": "1 if z > 0 else α", "elu": "1 if z > 0 else α·eᶻ",
              "softplus": "σ(βz)", "silu": "σ(z)(1 + z(1 − σ(z)))",
              "gelu": "½(1 + tanh u) + ½z(1 − tanh²u)·u'", "gelu_erf": "Φ(z) + z·φ(z)"}


def _linear_forward(call: Call, code: Code) -> None:
    x, w = call.inputs[:2]
    bias = call.inputs[2].name if len(call.inputs) == 3 else f"np.zeros(0, dtype={w.name}.dtype)"
    act = call.kwargs.get("activation")
    what = f"z = {x.name}·{w.name}ᵀ" + (f" + {call.inputs[2].name}" if len(call.inputs) == 3
                                         else "")
    code.comment(f"{call.output.name} = {act}({what})" if act else what)
    code.add(f"{call.output.name} = linear_forward({x.name}, {w.name}, {bias}, "
             f"{_ACTIVATION_CODE[act]})")


def _linear_backward(call: Call, code: Code, grad: str, targets: list) -> None:
    x, w = call.inputs[:2]
    act = call.kwargs.get("activation")
    has_bias = len(call.inputs) == 3
    if act:
        code.rule(InverseRule.ACTIVATION, f"δ = {grad} ⊙ {_PSI_PRIME[act]}")
    code.rule(InverseRule.WEIGHTED_INPUT,
              f"δ·{w.name} → {targets[0] or 'nothing (input)'}, δᵀ·{x.name} → {targets[1]}")
    if has_bias:
        code.rule(InverseRule.CONSTANT_INPUT, f"Σ_batch δ → {targets[2]}")
    names = [t or "_" for t in targets] + ([] if has_bias else ["_"])
    y = call.output.name if act else grad
    flags = [targets[0] is not None, targets[1] is not None, has_bias and targets[2] is not None]
    code.add(f"{names[0]}, {names[1]}, {names[2]} = linear_backward({grad}, {x.name}, {w.name}, "
             f"{y}, {_ACTIVATION_CODE[act]}, {', '.join(_flag(f) for f in flags)})")


def _flag(value: bool) -> str:
    return "YES" if value else "NO"


def _activation_forward(call: Call, code: Code) -> None:
    x = call.inputs[0].name
    if call.op in _FROM_OUTPUT:
        code.add(f"{call.output.name} = {_FROM_OUTPUT[call.op]}({x})")
        return
    kernel, kwarg = _FROM_INPUT[call.op]
    extra = f", {float(call.kwargs[kwarg])!r}" if kwarg else ""
    code.add(f"{call.output.name} = {kernel}({x}{extra})")


def _activation_backward(call: Call, code: Code, grad: str, targets: list) -> None:
    if call.op in _FROM_OUTPUT:
        kernel = _FROM_OUTPUT[call.op]
        code.rule(InverseRule.ACTIVATION, f"δ = {grad} ⊙ {_PSI_PRIME[kernel]}")
        code.add(f"{targets[0]} = {kernel}_backward({grad}, {call.output.name})")
        return
    kernel, kwarg = _FROM_INPUT[call.op]
    extra = f", {float(call.kwargs[kwarg])!r}" if kwarg else ""
    code.rule(InverseRule.ACTIVATION, f"δ = {grad} ⊙ {_PSI_PRIME[kernel]}")
    code.add(f"{targets[0]} = {kernel}_backward({grad}, {call.inputs[0].name}{extra})")


def _operand(v: Value) -> str:
    return f"F({v.name})" if v.kind == "const" else v.name


def _mul_forward(call: Call, code: Code) -> None:
    a, b = call.inputs
    if b.kind == "mask":
        code.comment(f"dropout: {b.name} = keep / (1 − p), drawn before the call as eager does")
    code.add(f"{call.output.name} = {_operand(a)} * {_operand(b)}")


def _mul_backward(call: Call, code: Code, grad: str, targets: list) -> None:
    a, b = call.inputs
    if b.kind in ("mask", "const"):
        what = "dropout: δ passes where the unit was kept" if b.kind == "mask" else \
            f"times the constant {b.name}"
        code.rule(InverseRule.ELEMENTWISE, what)
    else:
        code.rule(InverseRule.WEIGHTED_INPUT, "each factor's gradient is δ times the other")
    if targets[0]:
        code.add(f"{targets[0]} = {grad} * {_operand(b)}")
    if targets[1]:
        code.add(f"{targets[1]} = {grad} * {_operand(a)}")


def _mse_forward(call: Call, code: Code) -> None:
    y, t = call.inputs
    mean = call.kwargs["reduction"] == "mean"
    count = f"{y.name}.size" if mean else "1"
    code.comment(f"loss function L = {'mean' if mean else 'sum'} of (ŷ − t)²")
    code.add(f"diff = ({y.name} - {t.name}).ravel()")
    code.add(f"{call.output.name} = F(np.dot(diff, diff) / {count})")


def _mse_backward(call: Call, code: Code, grad: str, targets: list) -> None:
    y, t = call.inputs
    count = f"{y.name}.size" if call.kwargs["reduction"] == "mean" else "1"
    code.rule(InverseRule.LOSS, f"L' = 2(ŷ − t)/{'N' if count != '1' else '1'}")
    code.add(f"{targets[0]} = ({y.name} - {t.name}) * F(2.0 * {grad} / {count})")


def _cross_entropy_forward(call: Call, code: Code) -> None:
    z, t = call.inputs
    reduce = "np.mean" if call.kwargs["reduction"] == "mean" else "np.sum"
    code.comment("loss function L = −Σ t·ln softmax(z) (softmax and cross-entropy fused)")
    code.add(f"{call.output.name} = F({reduce}(softmax_cross_entropy_rows({z.name}, {t.name})))")


def _cross_entropy_backward(call: Call, code: Code, grad: str, targets: list) -> None:
    z, t = call.inputs
    rows = f"{z.name}.shape[0]" if call.kwargs["reduction"] == "mean" else "1"
    code.rule(InverseRule.LOSS, "L' fused with the softmax's ψ': δ = (softmax(z) − t)/" +
              ("N" if rows != "1" else "1"))
    code.add(f"{targets[0]} = softmax_cross_entropy_backward_rows({z.name}, {t.name}, "
             f"{grad} / {rows})")


def _bce_forward(call: Call, code: Code) -> None:
    z, t = call.inputs
    reduce = "np.mean" if call.kwargs["reduction"] == "mean" else "np.sum"
    code.comment("loss function L = max(z, 0) − z·t + ln(1 + e^−|z|) (sigmoid and BCE fused)")
    code.add(f"per = np.maximum({z.name}, F(0)) - {z.name} * {t.name} "
             f"+ np.log1p(np.exp(-np.abs({z.name})))")
    code.add(f"{call.output.name} = F({reduce}(per))")


def _bce_backward(call: Call, code: Code, grad: str, targets: list) -> None:
    z, t = call.inputs
    count = f"{z.name}.size" if call.kwargs["reduction"] == "mean" else "1"
    code.rule(InverseRule.LOSS, "L' fused with the sigmoid's ψ': δ = (σ(z) − t)/" +
              ("N" if count != "1" else "1"))
    code.add(f"{targets[0]} = F({grad} / {count}) * (sigmoid({z.name}) - {t.name})")


def _norm_names(call: Call) -> tuple[str, str]:
    """(output, suffix of the intermediates: μ of a5 is mu5)."""
    out = call.output.name
    return out, out[1:] if out.startswith("a") else f"_{out}"


def _batch_norm_forward(call: Call, code: Code) -> None:
    x, k, n = call.inputs[0].name, call.kwargs["site"], call.kwargs["rows"]
    out, i = _norm_names(call)
    affine = f"; {out} = γ⊙x̂ + β" if len(call.inputs) == 3 else ""
    if call.kwargs["batch"]:
        code.comment(f"batch normalization: mean μ and variance σ² of each feature over the "
                     f"{n} rows, x̂ = (x − μ)/√(σ² + ε){affine}")
        code.add(f"mu{i} = np.sum({x}, axis=0) / F({n})")
        code.add(f"xc{i} = {x} - mu{i}")
        code.add(f"var{i} = np.sum(xc{i} * xc{i}, axis=0) / F({n})")
        code.add(f"sd{i} = np.sqrt(var{i} + F(bn{k}_eps))")
        code.add(f"xh{i} = xc{i} / sd{i}")
    else:
        code.comment("batch normalization with the running statistics m, v: "
                     f"x̂ = (x − m)·(1/√(v + ε)){affine}")
        code.add(f"inv{i} = F(1.0) / np.sqrt(rv{k} + F(bn{k}_eps))")
        code.add(f"xh{i} = ({x} - rm{k}) * inv{i}")
    code.add(f"{out} = xh{i} * {call.inputs[1].name} + {call.inputs[2].name}"
             if len(call.inputs) == 3 else f"{out} = xh{i}")
    if call.kwargs["update"]:
        code.comment("running statistics, in place: m ← (1 − momentum)·m + momentum·μ;  "
                     "v ← (1 − momentum)·v + momentum·σ²·n/(n − 1)")
        for stat, value in ((f"rm{k}", f"mu{i}"), (f"rv{k}", f"var{i} * F({n / (n - 1)!r})")):
            code.add(f"{stat} *= F(1.0 - bn{k}_momentum)")
            code.add(f"{stat} += {value} * F(bn{k}_momentum)")


def _batch_norm_backward(call: Call, code: Code, grad: str, targets: list) -> None:
    n = call.kwargs["rows"]
    _, i = _norm_names(call)
    delta = grad
    if len(call.inputs) == 3:
        code.rule(InverseRule.CONSTANT_INPUT, f"Σ_batch δ → {targets[2]}")
        code.add(f"{targets[2]} = np.sum({grad}, axis=0)")
        code.rule(InverseRule.WEIGHTED_INPUT, f"δ⊙γ back to x̂, Σ_batch δ⊙x̂ → {targets[1]}")
        code.add(f"{targets[1]} = np.sum({grad} * xh{i}, axis=0)")
    if targets[0] is None:
        return
    if len(call.inputs) == 3:
        delta = f"dxh{i}"
        code.add(f"{delta} = {grad} * {call.inputs[1].name}")
    if not call.kwargs["batch"]:
        code.comment("x̂ = (x − m)·(1/√(v + ε)) with constants m, v: δx = δx̂ · 1/√(v + ε)")
        code.add(f"{targets[0]} = {delta} * inv{i}")
        return
    code.rule(InverseRule.BRANCH_POINT, "x feeds x − μ, μ and σ²; their δs add up to "
              "δx = (δx̂ − mean δx̂ − x̂·mean(δx̂⊙x̂))/√(σ² + ε)")
    code.add(f"{targets[0]} = ({delta} - np.sum({delta}, axis=0) / F({n}) - xh{i} * "
             f"(np.sum({delta} * xh{i}, axis=0) / F({n}))) / sd{i}")


#: op class name → (forward emitter, backward emitter)
EMITTERS: dict[str, tuple[Callable, Callable]] = {
    "Linear": (_linear_forward, _linear_backward),
    "LinearActivation": (_linear_forward, _linear_backward),
    **{op: (_activation_forward, _activation_backward) for op in (*_FROM_OUTPUT, *_FROM_INPUT)},
    "Mul": (_mul_forward, _mul_backward),
    "MeanSquaredError": (_mse_forward, _mse_backward),
    "SoftmaxCrossEntropy": (_cross_entropy_forward, _cross_entropy_backward),
    "SigmoidBinaryCrossEntropy": (_bce_forward, _bce_backward),
    "nn.BatchNorm1d": (_batch_norm_forward, _batch_norm_backward),   # a module: several ops
}

def forward_lines(calls: list[Call]) -> Code:
    """The forward pass: one emitter per call, in order."""
    code = Code()
    for call in calls:
        EMITTERS[call.op][0](call, code)
    return code


def backward_lines(calls: list[Call], loss: Value) -> Code:
    """The backward pass in reverse order; a value used by several calls gets the sum of their
    gradients (branch point → sum of outputs)."""
    code = Code()
    code.rule(InverseRule.COST_SEED, f"∂J/∂J = 1 at the cost {loss.name}")
    code.add(f"{loss.grad} = 1.0")
    written: set[str] = {loss.grad}
    for call in reversed(calls):
        grad = call.output.grad
        if grad not in written:                     # nothing flows into this call
            continue
        targets, sums = [], []
        for i, v in enumerate(call.inputs):
            if not v.requires_grad:
                targets.append(None)
            elif v.grad in written:                 # a second use: add, below
                part = f"{v.grad}_{len(code.lines)}_{i}"
                targets.append(part)
                sums.append((v, part))
            else:
                targets.append(v.grad)
                written.add(v.grad)
        EMITTERS[call.op][1](call, code, grad, targets)
        for v, part in sums:
            code.rule(InverseRule.BRANCH_POINT, f"{v.name} feeds several ops: δs add up")
            code.add(f"{v.grad} = {v.grad} + {part}")
    return code


def generate(name: str, args: list[str], calls: list[Call], update: Code, grads: list[str],
             title: list[str], prologue: Code, output: str, dtype) -> str:
    """The source of a module defining ``def name(*args)``: forward (after ``prologue``),
    backward, ``update``; it returns the loss, the model's output ``output`` and the gradients
    ``grads`` (names of the code)."""
    loss = calls[-1].output
    body: list[str] = []
    for title_, code in (("forward", prologue.lines + forward_lines(calls).lines),
                         ("backward (the inverse network)", backward_lines(calls, loss).lines),
                         ("optimizer update, in place", update.lines)):
        body += ["", f"# --- {title_} " + "-" * max(0, 80 - len(title_))] + code
    returned = ", ".join(grads) + ("," if len(grads) == 1 else "")
    body += ["", f"return {loss.name}, {output}, ({returned})"]
    function = [f"def {name}({', '.join(args)}):"] + ["    " + line if line else ""
                                                      for line in body]
    text = "\n".join(function)
    code_only = "\n".join(line.split("#")[0] for line in function)
    used = [k for k in KERNEL_BODIES if re.search(rf"\b{k}\(", code_only)]
    modules = sorted({KERNEL_BODIES[k][0] for k in used})
    header = ['"""' + title[0]] + title[1:] + ['"""', "import numpy as np", ""]
    header += [f"from autograd_core.kernels import {m} as _{m}" for m in modules]
    header += ["", f"F = np.{np.dtype(dtype).name}",
               "# NOTE: numpy scalars, not Python literals: Numba would compile every kernel once "
               "per literal value",
               "IDENTITY, RELU, TANH, SIGMOID = np.int64(0), np.int64(1), np.int64(2), "
               "np.int64(3)", "YES, NO = np.True_, np.False_", ""]
    header += [f"{k} = _{KERNEL_BODIES[k][0]}.{KERNEL_BODIES[k][1]}.dispatcher()" for k in used]
    return "\n".join(header) + "\n\n\n" + text + "\n"
