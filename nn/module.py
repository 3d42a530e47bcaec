"""``Module`` and ``Parameter``: the containers every layer is built from (PyTorch's design).

A ``Module`` registers the ``Parameter`` and ``Module`` objects assigned to its attributes, so a
network is a tree of modules whose leaves hold the weights. ``named_parameters()`` walks that tree
and names each weight by its path (``"0.weight"``, ``"encoder.fc.bias"``); ``state_dict()`` copies
weights and buffers (e.g. BatchNorm's running statistics) into plain numpy arrays, and
``load_state_dict()`` checks names and shapes before it writes anything.
"""
from __future__ import annotations

import weakref

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator

import numpy as np

import autograd_core as ag
from autograd_core import Tensor


#: id(parameter or sub-module) → weak references to it and to the first module it was registered
#: on. Kept out of the objects themselves, so copying or pickling a model carries no stale
#: reference; keyed by id (a Tensor's == is elementwise), the entry leaves with the object.
_OWNERS: dict[int, tuple] = {}


def _adopt(child, parent) -> None:
    """Remember the first module a parameter or sub-module was registered on (weakly, so no
    cycle keeps a model alive): pictures can then find a parameter's layer without ``model=``."""
    key = id(child)
    known = _OWNERS.get(key)
    if known is not None and known[0]() is child:
        return
    _OWNERS[key] = (weakref.ref(child, lambda _, key=key: _OWNERS.pop(key, None)),
                    weakref.ref(parent))


def owner_of(obj):
    """The module ``obj`` (a Parameter or Module) was first registered on, or None."""
    known = _OWNERS.get(id(obj))
    if known is None or known[0]() is not obj:
        return None
    return known[1]()


class Parameter(Tensor):
    """A Tensor that is a weight of a module: ``requires_grad=True`` unless told otherwise.

    Python numbers and lists become the default float dtype (float32); numpy arrays keep their
    dtype, and a Tensor's array is shared, not copied (as ``torch.nn.Parameter``).

    >>> import nn
    >>> w = nn.Parameter([[1.0, 2.0]])
    >>> w.requires_grad, w.dtype, w.shape
    (True, dtype('float32'), (1, 2))
    """

    def __init__(self, data=None, requires_grad: bool = True, dtype=None) -> None:
        if data is None:
            data = np.empty(0, dtype=dtype or ag.get_default_dtype())
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: dict, key: int) -> None:
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)


def _as_array(value) -> np.ndarray:
    return value.data if isinstance(value, Tensor) else np.asarray(value)


class Module:
    """Base class of layers and networks.

    Subclasses call ``super().__init__()`` first, assign their parameters, buffers and
    sub-modules as attributes, and define ``forward``; calling the module runs ``forward``.

    >>> import nn
    >>> class TwoLayer(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = nn.Linear(2, 3)
    ...         self.out = nn.Linear(3, 1)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).tanh())
    >>> [name for name, _ in TwoLayer().named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # --- attribute registration -------------------------------------------------------------------
    def _registry(self, name: str) -> dict:
        registry = self.__dict__.get(name)
        if registry is None:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() in __init__ "
                                 "before assigning parameters, buffers or sub-modules")
        return registry

    def _forget(self, name: str) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            self.__dict__.get(registry, {}).pop(name, None)
        self.__dict__.pop(name, None)

    def __setattr__(self, name: str, value) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            self._registry("_parameters")
            self._forget(name)
            params[name] = value
            _adopt(value, self)
        elif isinstance(value, Module):
            modules = self._registry("_modules")
            self._forget(name)
            modules[name] = value
            _adopt(value, self)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to parameter '{name}' of "
                                f"{type(self).__name__} (expected nn.Parameter or None)")
            params[name] = None
        elif name in self.__dict__.get("_buffers", {}):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer '{name}' of "
                                f"{type(self).__name__} (expected a Tensor or None)")
            self._buffers[name] = value
        elif name in self.__dict__.get("_modules", {}):
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to sub-module '{name}' "
                                f"of {type(self).__name__} (expected nn.Module or None)")
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # only called when normal lookup fails: look in the registries
        for registry in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(registry)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(registry, {}):
                del self.__dict__[registry][name]
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None, a declared but absent parameter) under ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be an nn.Parameter or None, got "
                            f"{type(param).__name__}")
        self._registry("_parameters")
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a tensor that is state but not a parameter (BatchNorm's running mean).

        Buffers are saved by ``state_dict()`` (unless ``persistent=False``) and get no gradient.
        """
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        if "." in name or not name:
            raise ValueError(f"register_buffer: invalid buffer name {name!r}")
        self._registry("_buffers")
        self._forget(name)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a child called ``name`` (what attribute assignment does)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not an nn.Module")
        self._registry("_modules")
        self._forget(name)
        self._modules[name] = module
        if module is not None:
            _adopt(module, self)

    # --- running ----------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args, **kwargs):
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def fused_forward(self, x, following: Module):
        """``following(self(x))`` computed as one graph node, or None when this module cannot
        fuse with ``following`` (the default). ``Sequential`` asks; ``Linear`` answers for the
        activations the engine's ``LinearActivation`` op carries."""
        return None

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after each forward (it may return a new output)."""
        key = id(hook) ^ len(self._forward_hooks) << 40
        self._forward_hooks[key] = hook
        return RemovableHandle(self._forward_hooks, key)

    # --- walking the tree -------------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for each direct child, each module once."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for self ("") and every descendant, depth first, each once."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            kids = [(f"{name}.{child}" if name else child, m)
                    for child, m in module._modules.items() if m is not None]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def _named_members(self, registry: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = self.named_modules() if recurse else [("", self)]
        for prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self, recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a parameter shared by two layers appears once."""
        return self._named_members("_parameters", recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse):
            yield param

    def named_buffers(self, recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse):
            yield buffer

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every sub-module and then on self (e.g. to re-initialise weights)."""
        for module in reversed(list(self.modules())):
            fn(module)
        return self

    # --- modes and gradients ----------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (Dropout drops, BatchNorm uses batch statistics) on every module."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients: to None (default), or to zeros in place, reusing the buffers."""
        for param in self.parameters():
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                param.grad.zero_()

    def to(self, dtype) -> Module:
        """Cast floating parameters and buffers to ``dtype`` in place (float64 for gradcheck)."""
        dtype = np.dtype(dtype)
        for tensor in list(self.parameters()) + list(self.buffers()):
            if tensor.dtype.kind == "f":
                tensor.data = tensor.data.astype(dtype)
                tensor.grad = None
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # --- regularization ---------------------------------------------------------------------------
    def regularization_terms(self) -> list[Tensor]:
        """This module's own penalties (not its children's); layers with regularizers add theirs."""
        return []

    def regularization_loss(self) -> Tensor:
        """Σ of every sub-module's penalties: kernel/bias regularizers on the current weights plus
        activity regularizers on the outputs of the last forward. Add it to the loss."""
        total = None
        for module in self.modules():
            for term in module.regularization_terms():
                total = term if total is None else total + term
        if total is None:
            first = next(self.parameters(), None)
            return ag.zeros((), dtype=first.dtype if first is not None else None)
        return total

    # --- state ------------------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Copies of every parameter and persistent buffer, as numpy arrays, by dotted name."""
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for prefix, module in self.named_modules():
            items = list(module._parameters.items()) + [
                (n, b) for n, b in module._buffers.items() if n not in module._non_persistent]
            for name, value in items:
                if value is not None:
                    state[f"{prefix}.{name}" if prefix else name] = value.data.copy()
        return state

    def _state_tensors(self) -> OrderedDict[str, Tensor]:
        tensors: OrderedDict[str, Tensor] = OrderedDict()
        for prefix, module in self.named_modules():
            items = list(module._parameters.items()) + [
                (n, b) for n, b in module._buffers.items() if n not in module._non_persistent]
            for name, value in items:
                if value is not None:
                    tensors[f"{prefix}.{name}" if prefix else name] = value
        return tensors

    def load_state_dict(self, state_dict, strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy ``state_dict``'s arrays into the parameters and buffers (keeping their dtypes).

        Everything is checked before anything is written: with ``strict`` (default) missing or
        unexpected keys are an error, and a shape mismatch always is; the error lists them all.
        Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict: expected a dict of arrays, got "
                            f"{type(state_dict).__name__}")
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict and missing:
            problems.append("missing key(s): " + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            problems.append("unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
        arrays = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = _as_array(state_dict[key])
            if value.shape != target.shape:
                problems.append(f"size mismatch for {key!r}: the checkpoint has shape "
                                f"{value.shape}, the model has shape {target.shape}")
            elif not np.can_cast(value.dtype, target.dtype, casting="same_kind"):
                problems.append(f"dtype mismatch for {key!r}: cannot cast {value.dtype} "
                                f"to {target.dtype}")
            else:
                arrays[key] = value
        if problems:
            raise RuntimeError(f"load_state_dict: error(s) loading the state into "
                               f"{type(self).__name__}: " + "; ".join(problems))
        with ag.no_grad():
            for key, value in arrays.items():
                own[key].copy_(value)
        return missing, unexpected

    def from_torch_state_dict(self, source, strict: bool = True) -> Module:
        """Load PyTorch weights into this module and return it: ``source`` is a ``.safetensors``
        file (e.g. written by ``safetensors.torch.save_file(torch_model.state_dict(), path)``)
        or a state dict of ``torch.Tensor``s/arrays. Key names and layouts are PyTorch's, so the
        same architecture built here matches; checks and errors are ``load_state_dict``'s.

        >>> import nn
        >>> model = nn.Linear(3, 2).from_torch_state_dict(
        ...     {"weight": np.ones((2, 3), np.float32), "bias": np.zeros(2, np.float32)})
        >>> model.weight.numpy().sum()
        np.float32(6.0)
        """
        from .safetensors_io import torch_state_to_arrays

        self.load_state_dict(torch_state_to_arrays(source), strict=strict)
        return self

    # --- printing ---------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its settings)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}(" + (f"{extra}" if extra else "")
        return head + "\n" + "\n".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after the other: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Indexable (an int gives a module, a slice a new Sequential), iterable, with ``len`` and
    ``append``. Also accepts an ``OrderedDict`` of named modules.

    >>> import nn
    >>> model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    >>> model
    Sequential(
      (0): Linear(in_features=2, out_features=8, bias=True)
      (1): Tanh()
      (2): Linear(in_features=8, out_features=1, bias=True)
    )
    >>> len(model), [name for name, _ in model.named_parameters()][:2]
    (3, ['0.weight', '0.bias'])
    """

    def __init__(self, *modules) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, module in modules[0].items():
                self.add_module(str(name), _check_module(module, "Sequential"))
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), _check_module(module, "Sequential"))

    #: run a Linear followed by ReLU, Tanh or Sigmoid as one fused graph node (see ``forward``);
    #: set to False (on the class or one instance) to record every module's op separately
    fuse_layers: bool = True

    def forward(self, x):
        """Apply the modules in order.

        With ``fuse_layers`` (the default), a module and the next one run as one graph node
        when the first offers it (``Module.fused_forward``): ``Linear`` + ``ReLU``/``Tanh``/
        ``Sigmoid`` become one ``LinearActivation`` node, a compiled call per direction. The
        values are the same; viz still draws the activation as its own step. Modules with
        forward hooks are never fused, so hooks see every module's own output.
        """
        modules = tuple(self._modules.values())
        i, count = 0, len(modules)
        while i < count:
            module = modules[i]
            if (self.fuse_layers and i + 1 < count and not module._forward_hooks
                    and not modules[i + 1]._forward_hooks):
                out = module.fused_forward(x, modules[i + 1])
                if out is not None:
                    x = out
                    i += 2
                    continue
            x = module(x)
            i += 1
        return x

    def __getitem__(self, index):
        modules = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(modules[index]))
        return modules[_check_index(index, len(modules), "Sequential")][1]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), _check_module(module, "Sequential.append"))
        return self

    add = append     # Keras's model.add(layer)


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain list would hide them).

    >>> import nn
    >>> layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
    >>> len(layers), len(list(layers.parameters()))
    (3, 6)
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[_check_index(index, len(modules), "ModuleList")]

    def __setitem__(self, index: int, module: Module) -> None:
        index = _check_index(index, len(self), "ModuleList")
        self._modules[str(index)] = _check_module(module, "ModuleList")
        _adopt(module, self)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), _check_module(module, "ModuleList.append"))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        modules = list(self._modules.values())
        modules.insert(index, _check_module(module, "ModuleList.insert"))
        self._modules.clear()
        for i, m in enumerate(modules):
            self._modules[str(i)] = m
            _adopt(m, self)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(); iterate over it in your own "
                                  "module's forward")


def _check_module(module, where: str) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{where}: {type(module).__name__} is not an nn.Module")
    return module


def _check_index(index: int, length: int, where: str) -> int:
    if not -length <= index < length:
        raise IndexError(f"{where}: index {index} is out of range for {length} modules")
    return index % length
