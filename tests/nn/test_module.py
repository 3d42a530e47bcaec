"""nn.Module, Parameter, Sequential, ModuleList: registration, naming, modes, state dicts, repr."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.register_buffer("count", ag.zeros(1))

    def forward(self, x):
        return self.fc(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Block()
        self.head = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
        self.scale = nn.Parameter([1.0])
        self.plain = [nn.Linear(1, 1)]        # a plain list is not registered

    def forward(self, x):
        return self.head(self.encoder(x)) * self.scale


def test_parameter_defaults():
    p = nn.Parameter([[1.0, 2.0]])
    assert p.requires_grad and p.dtype == np.float32 and isinstance(p, ag.Tensor)
    assert nn.Parameter(np.zeros(2)).dtype == np.float64           # numpy keeps its dtype
    assert not nn.Parameter([1.0], requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")


def test_parameter_flows_through_ops():
    p = nn.Parameter([1.0, -2.0])
    (p * p).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [2.0, -4.0])


def test_named_parameters_are_dotted_and_ordered():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "encoder.fc.weight", "encoder.fc.bias", "head.0.weight",
                     "head.0.bias", "head.2.weight", "head.2.bias"]
    assert len(list(net.parameters())) == 7
    assert [n for n, _ in net.named_children()] == ["encoder", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "encoder", "encoder.fc", "head", "head.0",
                                                    "head.1", "head.2"]
    assert list(net.children())[0] is net.encoder
    assert [n for n, _ in net.named_buffers()] == ["encoder.count"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]


def test_shared_parameters_appear_once():
    layer = nn.Linear(2, 2)
    model = nn.Sequential(layer, nn.Tanh(), layer)
    assert len(list(model.parameters())) == 2
    assert len(list(model.modules())) == 3


def test_reassignment_and_deletion():
    net = Net()
    net.scale = nn.Parameter([2.0])
    assert net.scale.item() == 2.0
    net.encoder = nn.Identity()
    assert "encoder.fc.weight" not in dict(net.named_parameters())
    del net.head
    assert "head" not in dict(net.named_children())
    with pytest.raises(TypeError, match="cannot assign ndarray to parameter 'scale'"):
        net.scale = np.ones(1)
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        net.missing  # noqa: B018


def test_assignment_before_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\)"):
        Broken()


def test_train_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_none_and_in_place():
    net = Net()
    net(ag.randn(5, 3)).sum().backward()
    grads = {n: p.grad for n, p in net.named_parameters()}
    assert all(g is not None for g in grads.values())
    net.zero_grad(set_to_none=False)
    for name, p in net.named_parameters():
        assert p.grad is grads[name]                      # same buffer, reused
        assert not p.grad.numpy().any()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_copies_and_round_trips():
    net = Net()
    state = net.state_dict()
    assert list(state) == ["scale", "encoder.count", "encoder.fc.weight", "encoder.fc.bias",
                           "head.0.weight", "head.0.bias", "head.2.weight", "head.2.bias"]
    state["scale"][0] = 5.0
    assert net.scale.item() == 1.0                        # a copy, not a view
    other = Net()
    missing, unexpected = other.load_state_dict(state)
    assert missing == [] and unexpected == []
    for key, value in other.state_dict().items():
        np.testing.assert_array_equal(value, state[key])
    assert other.head[0].weight.requires_grad


def test_load_state_dict_reports_every_problem_and_writes_nothing():
    net = Net()
    before = net.state_dict()
    state = Net().state_dict()
    del state["encoder.fc.bias"]
    state["extra.weight"] = np.zeros(3)
    state["head.0.weight"] = np.zeros((5, 2))
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(state)
    message = str(info.value)
    assert "missing key(s): 'encoder.fc.bias'" in message
    assert "unexpected key(s): 'extra.weight'" in message
    assert "size mismatch for 'head.0.weight': the checkpoint has shape (5, 2), the model has " \
           "shape (4, 2)" in message
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_load_state_dict_non_strict():
    net = Net()
    state = {"scale": np.array([3.0], dtype=np.float32), "other": np.zeros(1)}
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert net.scale.item() == 3.0 and unexpected == ["other"] and "encoder.fc.weight" in missing
    with pytest.raises(RuntimeError, match="size mismatch for 'scale'"):
        net.load_state_dict({"scale": np.zeros(2)}, strict=False)
    with pytest.raises(TypeError, match="expected a dict"):
        net.load_state_dict([1, 2])


def test_load_state_dict_accepts_tensors_and_keeps_dtype():
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"weight": ag.ones(2, 2, dtype=np.float64), "bias": ag.zeros(2)})
    assert layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.numpy(), np.ones((2, 2)))


def test_to_double_casts_parameters_and_buffers():
    net = Net().double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert all(b.dtype == np.float64 for b in net.buffers())


def test_repr_nested_like_pytorch():
    assert repr(Net()) == (
        "Net(\n"
        "  (encoder): Block(\n"
        "    (fc): Linear(in_features=3, out_features=2, bias=True)\n"
        "  )\n"
        "  (head): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=4, bias=True)\n"
        "    (1): ReLU()\n"
        "    (2): Linear(in_features=4, out_features=1, bias=True)\n"
        "  )\n"
        ")")


def test_sequential_container_protocol():
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh())
    model.append(nn.Linear(3, 1))
    assert len(model) == 3 and isinstance(model[-1], nn.Linear)
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh", "Linear"]
    head = model[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is model[0]
    x = ag.randn(4, 2)
    np.testing.assert_allclose(model(x).numpy(), model[2](model[1](model[0](x))).numpy())
    with pytest.raises(IndexError, match="index 3 is out of range for 3 modules"):
        model[3]  # noqa: B018
    with pytest.raises(TypeError, match="int is not an nn.Module"):
        nn.Sequential(nn.Tanh(), 3)
    from collections import OrderedDict
    named = nn.Sequential(OrderedDict(hidden=nn.Linear(2, 2), act=nn.ReLU()))
    assert [n for n, _ in named.named_parameters()] == ["hidden.weight", "hidden.bias"]


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    layers.append(nn.Linear(2, 1))
    layers.insert(0, nn.Identity())
    assert len(layers) == 4 and isinstance(layers[0], nn.Identity)
    assert [n for n, _ in layers.named_parameters()][:2] == ["1.weight", "1.bias"]
    layers[0] = nn.Tanh()
    assert isinstance(layers[0], nn.Tanh)
    with pytest.raises(NotImplementedError, match="iterate over it"):
        layers(ag.zeros(1))


def test_forward_hook_and_apply():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    seen = []
    handle = model[0].register_forward_hook(lambda m, inputs, out: seen.append(out.shape))
    model(ag.zeros(5, 2))
    handle.remove()
    model(ag.zeros(5, 2))
    assert seen == [(5, 3)]
    visited = []
    model.apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["ReLU", "Linear", "Sequential"]


def test_requires_grad_freezes():
    model = nn.Sequential(nn.Linear(2, 2)).requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())


def test_package_exports_both_halves():
    import nn.functional as F
    from nn import losses

    for name in losses.__all__:
        target = nn if name[0].isupper() else F
        assert getattr(target, name) is getattr(losses, name), name
    assert nn.init.get_initializer("he_normal") is not None
    assert nn.data.DataLoader is not None and nn.regularizers.L2 is not None
    assert callable(nn.datasets.xor)
    for name in ["Module", "Parameter", "Sequential", "ModuleList", "Linear", "Maxout", "Dropout",
                 "BatchNorm1d", "GaussianNoise", "Flatten", "Identity", "Sigmoid", "Tanh", "ReLU",
                 "LeakyReLU", "ELU", "SELU", "Softplus", "SiLU", "Swish", "GELU", "Softmax",
                 "LogSoftmax", "summary", "save", "load"]:
        assert hasattr(nn, name), name
    for name in ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear", "dropout",
                 "batch_norm", "gelu", "silu", "elu", "selu", "leaky_relu", "softplus"]:
        assert callable(getattr(F, name)), name


# --- Sequential fuses Linear + activation into one node -----------------------------------------
def _grad_fn_names(out) -> list[str]:
    names, node = [], out.grad_fn
    while node is not None:                      # follow the first input down the chain
        names.append(node.name())
        node = node.inputs[0].grad_fn if node.inputs else None
    return names


def _values_and_grads(model, x):
    for p in model.parameters():
        p.grad = None
    out = model(x)
    (out * out).sum().backward()
    return out.numpy(), [p.grad.numpy() for p in model.parameters()]


@pytest.mark.parametrize("activation", [nn.ReLU, nn.Tanh, nn.Sigmoid])
def test_sequential_fuses_linear_and_activation_with_the_same_values(activation):
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5, dtype="float64"), activation(),
                          nn.Linear(5, 2, dtype="float64"))
    x = ag.randn(4, 3, dtype="float64")
    fused_out, fused_grads = _values_and_grads(model, x)
    assert _grad_fn_names(model(x)) == ["LinearBackward", "LinearActivationBackward"]
    model.fuse_layers = False
    assert _grad_fn_names(model(x))[:3] == ["LinearBackward", f"{activation.__name__}Backward",
                                            "LinearBackward"]
    out, grads = _values_and_grads(model, x)
    np.testing.assert_allclose(fused_out, out, rtol=1e-12)
    for g_fused, g in zip(fused_grads, grads):
        np.testing.assert_allclose(g_fused, g, rtol=1e-12, atol=1e-15)


def test_sequential_does_not_fuse_where_a_module_needs_its_own_output():
    class MyReLU(nn.ReLU):                               # a subclass may change forward
        pass

    class Shifted(nn.Linear):
        def forward(self, x):
            return super().forward(x) + 1.0

    seen = []
    hooked = nn.Linear(3, 3)
    hooked.register_forward_hook(lambda module, inputs, out: seen.append(out.shape))
    regularized = nn.Linear(3, 3, activity_regularizer=nn.regularizers.L2(0.1))
    x = ag.randn(2, 3)
    for first, second in [(nn.Linear(3, 3), MyReLU()), (Shifted(3, 3), nn.ReLU()),
                          (hooked, nn.Tanh()), (regularized, nn.Sigmoid()),
                          (nn.Linear(3, 3), nn.LeakyReLU())]:
        out = nn.Sequential(first, second)(x)
        assert out.grad_fn.name() != "LinearActivationBackward", (first, second)
    assert seen == [(2, 3)]
    assert regularized.regularization_loss().item() > 0      # it saw the layer's output
