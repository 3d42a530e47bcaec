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
forward pass, ``da1, da2, …`` their gradients ∂J/∂a (course 000 keeps δ for ∂J/∂z, the
gradient at a layer's weighted input), ``W1, b1, …`` the parameters of the
first, second… linear layer and ``dW1, db1, …`` their gradients (``unused``: an output a
kernel need not compute). ``F`` is the step's float type
(``np.float32`` or ``np.float64``): constants are wrapped in it so that float32 arrays stay
float32 inside compiled code, as they do in numpy.

Every array the step computes — the forward values, the δs, the parameters' gradients, the
scratch arrays of a few rules — is a buffer: each emitter declares the arrays it writes
(``Code.buffer``) and writes into them (the kernels' ``_into`` bodies, numpy ufuncs with an
output argument), and ``generate`` lays them out in two arrays allocated once per input
signature and passed to every call: ``work`` (the step's own values) and ``kept`` (the
parameters' gradients, which the caller hands over as ``.grad``). A step allocates only small
per-feature statistics (batch norm's μ, σ²) and the loss's per-element terms.

The per-op emitters are in ``EMITTERS``; an op without one has no compilable form, and
``optim.compile_step`` refuses the model, naming it.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from autograd_core.graph.rules import InverseRule

#: the kernel bodies the generated code may call: name in the code → (kernels module, attribute);
#: all but the optimizers' (which update in place) write into their last argument, ``out``
KERNEL_BODIES = {
    "linear_forward": ("linalg", "linear_forward_into"),
    "linear_backward": ("linalg", "linear_backward_into"),
    "softmax_cross_entropy_rows": ("reduce", "softmax_cross_entropy_rows_into"),
    "softmax_cross_entropy_backward_rows": ("reduce", "softmax_cross_entropy_backward_rows_into"),
    **{name: ("elementwise", f"{name}_into") for name in (
        "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "silu", "gelu", "gelu_erf",
        "sigmoid_backward", "tanh_backward", "relu_backward", "leaky_relu_backward",
        "elu_backward", "softplus_backward", "silu_backward", "gelu_backward",
        "gelu_erf_backward")},
    **{name: ("optim", f"{name}_numba") for name in (
        "sgd", "sgd_momentum", "adam", "adam_amsgrad", "rmsprop", "rmsprop_momentum",
        "rmsprop_centered", "rmsprop_centered_momentum", "adagrad")},
    "shaped": ("views", "shaped"),
    "flat": ("views", "flat"),
}
#: buffers start at multiples of this many elements (64 bytes in float32: whole cache lines)
_ALIGN = 16


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
    """Lines of the generated function, each with an optional comment above it, and the
    buffers (name → shape) its lines write into."""

    lines: list[str] = field(default_factory=list)
    buffers: dict[str, tuple] = field(default_factory=dict)

    def comment(self, text: str) -> None:
        self.lines.append(f"# {text}")

    def rule(self, rule: InverseRule, detail: str = "") -> None:
        """A comment naming ``rule`` in both languages (its inverse side), with ``detail``."""
        en, es = rule.label("en")[1], rule.label("es")[1]
        self.comment(f"{en} / {es}" + (f": {detail}" if detail else ""))

    def add(self, line: str) -> None:
        self.lines.append(line)

    def buffer(self, name: str, shape: tuple) -> str:
        """Declare the array ``name`` of ``shape`` (allocated once per signature); its name."""
        known = self.buffers.setdefault(name, tuple(shape))
        if known != tuple(shape):
            raise ValueError(f"codegen: buffer {name} declared with shapes {known} and {shape}")
        return name


class Source(str):
    """The generated code: a ``str`` that Jupyter shows as highlighted Python (a fenced code
    block in Markdown, which the notebook highlights itself; no extra dependency).
    ``print(source)`` prints it plain."""

    __slots__ = ()

    def _repr_markdown_(self) -> str:
        # NOTE: a fence longer than any run of backticks in the text cannot be closed by it
        longest = max((len(run) for run in re.findall("`+", self)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"{fence}python\n{self.rstrip()}\n{fence}"


@dataclass
class Generated:
    """The source of a generated step and where its buffers lie: name → (array, offset, shape)
    with array "work" or "kept", and the sizes of both arrays (elements)."""

    source: Source
    layout: dict[str, tuple[str, int, tuple]]
    sizes: dict[str, int]


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


def _suffix(call: Call) -> str:
    """What names a call's scratch arrays: the 5 of a5 (μ of a5 is mu5), _J for the cost."""
    out = call.output.name
    return out[1:] if out.startswith("a") else f"_{out}"


def _unused(code: Code, ndim: int) -> str:
    """An empty array standing for an output a kernel need not compute (``unused`` 2-D,
    ``unused1`` 1-D)."""
    return code.buffer("unused" if ndim == 2 else f"unused{ndim}", (0,) * ndim)


def _target(code: Code, name: str | None, value: Value) -> str:
    """The buffer a gradient is written to, or an empty array when it is not needed."""
    return _unused(code, len(value.shape)) if name is None else code.buffer(name, value.shape)


def _linear_forward(call: Call, code: Code) -> None:
    x, w = call.inputs[:2]
    has_bias = len(call.inputs) == 3
    bias = call.inputs[2].name if has_bias else _unused(code, 1)
    act = call.kwargs.get("activation")
    what = f"z = {x.name}·{w.name}ᵀ" + (f" + {bias}" if has_bias else "")
    code.comment(f"{call.output.name} = {act}({what})" if act else what)
    out = code.buffer(call.output.name, call.output.shape)
    code.add(f"linear_forward({x.name}, {w.name}, {bias}, {_ACTIVATION_CODE[act]}, out={out})")


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
    grad_x = _target(code, targets[0], x)
    grad_w = _target(code, targets[1], w)
    grad_b = _target(code, targets[2], call.inputs[2]) if has_bias else _unused(code, 1)
    delta = (code.buffer(f"delta{_suffix(call)}", call.output.shape) if act
             else _unused(code, 2))
    y = call.output.name if act else grad
    code.add(f"linear_backward({grad}, {x.name}, {w.name}, {y}, {_ACTIVATION_CODE[act]}, "
             f"grad_x={grad_x}, grad_w={grad_w}, grad_b={grad_b}, delta={delta})")


def _activation_forward(call: Call, code: Code) -> None:
    x = call.inputs[0].name
    out = code.buffer(call.output.name, call.output.shape)
    if call.op in _FROM_OUTPUT:
        code.add(f"{_FROM_OUTPUT[call.op]}({x}, out={out})")
        return
    kernel, kwarg = _FROM_INPUT[call.op]
    extra = f", {float(call.kwargs[kwarg])!r}" if kwarg else ""
    code.add(f"{kernel}({x}{extra}, out={out})")


def _activation_backward(call: Call, code: Code, grad: str, targets: list) -> None:
    target = _target(code, targets[0], call.inputs[0])
    if call.op in _FROM_OUTPUT:
        kernel = _FROM_OUTPUT[call.op]
        code.rule(InverseRule.ACTIVATION, f"δ = {grad} ⊙ {_PSI_PRIME[kernel]}")
        code.add(f"{kernel}_backward({grad}, {call.output.name}, out={target})")
        return
    kernel, kwarg = _FROM_INPUT[call.op]
    extra = f", {float(call.kwargs[kwarg])!r}" if kwarg else ""
    code.rule(InverseRule.ACTIVATION, f"δ = {grad} ⊙ {_PSI_PRIME[kernel]}")
    code.add(f"{kernel}_backward({grad}, {call.inputs[0].name}{extra}, out={target})")


def _operand(v: Value) -> str:
    return f"F({v.name})" if v.kind == "const" else v.name


def _mul_forward(call: Call, code: Code) -> None:
    a, b = call.inputs
    if b.kind == "mask":
        code.comment(f"dropout: {b.name} = keep / (1 − p), drawn before the call as eager does")
    out = code.buffer(call.output.name, call.output.shape)
    code.add(f"np.multiply({_operand(a)}, {_operand(b)}, {out})")


def _mul_backward(call: Call, code: Code, grad: str, targets: list) -> None:
    a, b = call.inputs
    if b.kind in ("mask", "const"):
        what = "dropout: δ passes where the unit was kept" if b.kind == "mask" else \
            f"times the constant {b.name}"
        code.rule(InverseRule.ELEMENTWISE, what)
    else:
        code.rule(InverseRule.WEIGHTED_INPUT, "each factor's gradient is δ times the other")
    if targets[0]:
        code.add(f"np.multiply({grad}, {_operand(b)}, {_target(code, targets[0], a)})")
    if targets[1]:
        code.add(f"np.multiply({grad}, {_operand(a)}, {_target(code, targets[1], b)})")


def _mse_forward(call: Call, code: Code) -> None:
    y, t = call.inputs
    mean = call.kwargs["reduction"] == "mean"
    count = f"{y.name}.size" if mean else "1"
    diff = code.buffer(f"diff{_suffix(call)}", y.shape)
    code.comment(f"loss function L = {'mean' if mean else 'sum'} of (ŷ − t)²")
    code.add(f"np.subtract({y.name}, {t.name}, {diff})")
    code.add(f"{call.output.name} = F(np.dot(flat({diff}), flat({diff})) / {count})")


def _mse_backward(call: Call, code: Code, grad: str, targets: list) -> None:
    y = call.inputs[0]
    count = f"{y.name}.size" if call.kwargs["reduction"] == "mean" else "1"
    code.rule(InverseRule.LOSS, f"L' = 2(ŷ − t)/{'N' if count != '1' else '1'}")
    code.add(f"np.multiply(diff{_suffix(call)}, F(2.0 * {grad} / {count}), "
             f"{_target(code, targets[0], y)})")


def _samples(call: Call) -> str:
    """What SquaredError divides by: the number of samples for "mean", else 1."""
    y = call.inputs[0]
    if call.kwargs["reduction"] != "mean" or not len(y.shape):
        return "1"
    return f"{y.name}.shape[0]"


def _squared_error_forward(call: Call, code: Code) -> None:
    """The course's C = ½‖y − t‖² per sample, averaged ("mean") or summed over the samples."""
    y, t = call.inputs
    samples = _samples(call)
    diff = code.buffer(f"diff{_suffix(call)}", y.shape)
    code.comment(f"loss function L = {'1/n ' if samples != '1' else ''}Σ ½‖ŷ − t‖² "
                 "(the course's quadratic cost)")
    code.add(f"np.subtract({y.name}, {t.name}, {diff})")
    code.add(f"{call.output.name} = F(0.5 * np.dot(flat({diff}), flat({diff})) / "
             f"{samples})")


def _squared_error_backward(call: Call, code: Code, grad: str, targets: list) -> None:
    y = call.inputs[0]
    samples = _samples(call)
    code.rule(InverseRule.LOSS, f"L' = (ŷ − t){'/n' if samples != '1' else ''}")
    code.add(f"np.multiply(diff{_suffix(call)}, F({grad} / {samples}), "
             f"{_target(code, targets[0], y)})")


def _cross_entropy_forward(call: Call, code: Code) -> None:
    z, t = call.inputs
    reduce = "np.mean" if call.kwargs["reduction"] == "mean" else "np.sum"
    rows = code.buffer(f"losses{_suffix(call)}", z.shape[:-1])
    code.comment("loss function L = −Σ t·ln softmax(z) (softmax and cross-entropy fused)")
    code.add(f"softmax_cross_entropy_rows({z.name}, {t.name}, out={rows})")
    code.add(f"{call.output.name} = F({reduce}({rows}))")


def _cross_entropy_backward(call: Call, code: Code, grad: str, targets: list) -> None:
    z, t = call.inputs
    rows = f"{z.name}.shape[0]" if call.kwargs["reduction"] == "mean" else "1"
    code.rule(InverseRule.LOSS, "L' fused with the softmax's ψ': δ = (softmax(z) − t)/" +
              ("N" if rows != "1" else "1"))
    code.add(f"softmax_cross_entropy_backward_rows({z.name}, {t.name}, {grad} / {rows}, "
             f"out={_target(code, targets[0], z)})")


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
    target = _target(code, targets[0], z)
    code.add(f"sigmoid({z.name}, out={target})")
    code.add(f"{target} -= {t.name}")
    code.add(f"{target} *= F({grad} / {count})")


def _batch_norm_forward(call: Call, code: Code) -> None:
    x, k, n = call.inputs[0].name, call.kwargs["site"], call.kwargs["rows"]
    i, affine = _suffix(call), len(call.inputs) == 3
    out = code.buffer(call.output.name, call.output.shape)
    xh = code.buffer(f"xh{i}", call.output.shape) if affine else out
    what = f"; {out} = γ⊙x̂ + β" if affine else f"; {out} = x̂"
    if call.kwargs["batch"]:
        xc = code.buffer(f"xc{i}", call.output.shape)
        code.comment(f"batch normalization: mean μ and variance σ² of each feature over the "
                     f"{n} rows, x̂ = (x − μ)/√(σ² + ε){what}")
        code.add(f"mu{i} = np.sum({x}, axis=0) / F({n})")
        code.add(f"np.subtract({x}, mu{i}, {xc})")
        code.add(f"np.multiply({xc}, {xc}, {xh})  # (x − μ)², in x̂'s array")
        code.add(f"var{i} = np.sum({xh}, axis=0) / F({n})")
        code.add(f"sd{i} = np.sqrt(var{i} + F(bn{k}_eps))")
        code.add(f"np.divide({xc}, sd{i}, {xh})")
    else:
        code.comment("batch normalization with the running statistics m, v: "
                     f"x̂ = (x − m)·(1/√(v + ε)){what}")
        code.add(f"inv{i} = F(1.0) / np.sqrt(rv{k} + F(bn{k}_eps))")
        code.add(f"np.subtract({x}, rm{k}, {xh})")
        code.add(f"{xh} *= inv{i}")
    if affine:
        code.add(f"np.multiply({xh}, {call.inputs[1].name}, {out})")
        code.add(f"{out} += {call.inputs[2].name}")
    if call.kwargs["update"]:
        code.comment("running statistics, in place: m ← (1 − momentum)·m + momentum·μ;  "
                     "v ← (1 − momentum)·v + momentum·σ²·n/(n − 1)")
        for stat, value in ((f"rm{k}", f"mu{i}"), (f"rv{k}", f"var{i} * F({n / (n - 1)!r})")):
            code.add(f"{stat} *= F(1.0 - bn{k}_momentum)")
            code.add(f"{stat} += {value} * F(bn{k}_momentum)")


def _batch_norm_backward(call: Call, code: Code, grad: str, targets: list) -> None:
    i, affine = _suffix(call), len(call.inputs) == 3
    xh = f"xh{i}" if affine else call.output.name
    delta = grad
    if affine:
        dxh = code.buffer(f"dxh{i}", call.output.shape)
        code.rule(InverseRule.CONSTANT_INPUT, f"Σ_batch δ → {targets[2]}")
        code.add(f"{_target(code, targets[2], call.inputs[2])}[:] = np.sum({grad}, axis=0)")
        code.rule(InverseRule.WEIGHTED_INPUT, f"δ⊙γ back to x̂, Σ_batch δ⊙x̂ → {targets[1]}")
        code.add(f"np.multiply({grad}, {xh}, {dxh})")
        code.add(f"{_target(code, targets[1], call.inputs[1])}[:] = np.sum({dxh}, axis=0)")
    if targets[0] is None:
        return
    target = _target(code, targets[0], call.inputs[0])
    if affine:
        delta = dxh
        code.add(f"np.multiply({grad}, {call.inputs[1].name}, {dxh})  # δx̂ = δ⊙γ")
    if not call.kwargs["batch"]:
        code.comment("x̂ = (x − m)·(1/√(v + ε)) with constants m, v: δx = δx̂ · 1/√(v + ε)")
        code.add(f"np.multiply({delta}, inv{i}, {target})")
        return
    _batch_norm_input_gradient(code, call, delta, xh, target)


def _batch_norm_input_gradient(code: Code, call: Call, delta: str, xh: str, target: str) -> None:
    """δx = (δx̂ − mean δx̂ − x̂·mean(δx̂⊙x̂))/√(σ² + ε), the three uses of x (x − μ, μ, σ²)."""
    i, n = _suffix(call), call.kwargs["rows"]
    code.rule(InverseRule.BRANCH_POINT, "x feeds x − μ, μ and σ²; their δs add up to "
              "δx = (δx̂ − mean δx̂ − x̂·mean(δx̂⊙x̂))/√(σ² + ε)")
    code.add(f"np.multiply({delta}, {xh}, {target})")
    code.add(f"avg_dxh{i} = np.sum({target}, axis=0) / F({n})  # mean(δx̂⊙x̂)")
    code.add(f"avg_d{i} = np.sum({delta}, axis=0) / F({n})  # mean δx̂")
    code.add(f"np.multiply({xh}, avg_dxh{i}, {target})")
    code.add(f"np.subtract({delta}, {target}, {target})")
    code.add(f"{target} -= avg_d{i}")
    code.add(f"{target} /= sd{i}")


#: op class name → (forward emitter, backward emitter)
EMITTERS: dict[str, tuple[Callable, Callable]] = {
    "Linear": (_linear_forward, _linear_backward),
    "LinearActivation": (_linear_forward, _linear_backward),
    **{op: (_activation_forward, _activation_backward) for op in (*_FROM_OUTPUT, *_FROM_INPUT)},
    "Mul": (_mul_forward, _mul_backward),
    "MeanSquaredError": (_mse_forward, _mse_backward),
    "SquaredError": (_squared_error_forward, _squared_error_backward),
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
            code.add(f"{v.grad} += {part}")
    return code


def _layout(buffers: dict[str, tuple], kept: set[str]) -> tuple[dict, dict[str, int]]:
    """Offsets of the buffers in ``work`` and ``kept`` (the names in ``kept``), each aligned."""
    layout, sizes = {}, {"work": 0, "kept": 0}
    for name, shape in buffers.items():
        array = "kept" if name in kept else "work"
        offset = sizes[array]
        layout[name] = (array, offset, shape)
        size = int(np.prod(shape))
        sizes[array] = offset + -(-size // _ALIGN) * _ALIGN
    return layout, sizes


def _buffer_lines(layout: dict) -> list[str]:
    lines = ["# the step's arrays, allocated once for this signature: shaped(buffer, offset, "
             "shape) is a view of `work` (the step's own values) or of `kept` (the parameters' "
             "gradients, handed to the caller as .grad)"]
    for name, (array, offset, shape) in layout.items():
        lines.append(f"{name} = shaped({array}, {offset}, {shape!r})")
    return lines


def _merged(codes: list[Code]) -> dict[str, tuple]:
    merged = Code()
    for code in codes:
        for name, shape in code.buffers.items():
            merged.buffer(name, shape)
    return merged.buffers


def generate(name: str, args: list[str], calls: list[Call], update: Code, grads: list[str],
             title: list[str], prologue: Code, dtype) -> Generated:
    """A module defining ``def name(*args, work, kept, done)``: forward (after ``prologue``),
    backward, ``update``; it returns the loss. ``work`` and ``kept`` hold its buffers (``kept``
    the gradients ``grads``: names of the code); ``done[0]`` is counted up as its last act, so
    the caller can tell a finished call from an interrupted one."""
    loss = calls[-1].output
    forward, backward = forward_lines(calls), backward_lines(calls, loss)
    layout, sizes = _layout(_merged([prologue, forward, backward, update]), set(grads))
    body = [""] + _buffer_lines(layout)
    for title_, code in (("forward", prologue.lines + forward.lines),
                         ("backward (the inverse network)", backward.lines),
                         ("optimizer update, in place", update.lines)):
        body += ["", f"# --- {title_} " + "-" * max(0, 80 - len(title_))] + code
    body += ["", "# the step ran to its end (how compile_step tells it from an interrupted one)",
             "done[0] += 1", f"return {loss.name}"]
    signature = ", ".join(args + ["work", "kept", "done"])
    function = [f"def {name}({signature}):"] + ["    " + line if line else "" for line in body]
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
    header += [_dispatcher_line(k, layout) for k in used]
    source = "\n".join(header) + "\n\n\n" + text + "\n"
    return Generated(Source(source), layout, sizes)


def _dispatcher_line(name: str, layout: dict) -> str:
    """``name = <its kernel body>.dispatcher()``; ``shaped`` compiled for the ranks of the
    step's arrays only (see ``kernels/views.py``)."""
    module, body = KERNEL_BODIES[name]
    if name != "shaped":
        return f"{name} = _{module}.{body}.dispatcher()"
    ranks = tuple(sorted({len(shape) for _, _, shape in layout.values()}))
    return f"{name} = _{module}.{body}.dispatcher(_{module}.shaped_signatures(F, {ranks!r}))"
