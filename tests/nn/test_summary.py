"""nn.summary: parameter totals N = Σ H_l (H_{l−1} + 1) (course 001), shapes, table, modes."""
from __future__ import annotations

import pytest

import autograd_core as ag
import nn


def _mlp(*sizes, activation=nn.ReLU):
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), activation()]
    return nn.Sequential(*layers[:-1])


@pytest.mark.parametrize("sizes, total", [((2, 100, 100, 100, 1), 20_601),
                                          ((784, 512, 256, 256, 128, 10), 633_226)])
def test_course_totals(sizes, total, capsys):
    model = _mlp(*sizes)
    result = nn.summary(model, (sizes[0],))
    assert result.total_params == total == sum(h * (g + 1) for g, h in zip(sizes, sizes[1:]))
    assert result.trainable_params == total and result.non_trainable_params == 0
    printed = capsys.readouterr().out
    assert f"Total params: {total:,}" in printed and printed.strip() == result.text.strip()
    assert str(result) == result.text


def test_rows_shapes_and_table():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.BatchNorm1d(5), nn.ReLU(),
                          nn.Dropout(0.2), nn.Linear(5, 3))
    result = nn.summary(model, (3, 4), print_fn=None)
    assert [(r.name, r.type, r.output_shape, r.params) for r in result.rows] == [
        ("0", "Flatten", (1, 12), 0), ("1", "Linear", (1, 5), 65),
        ("2", "BatchNorm1d", (1, 5), 20), ("3", "ReLU", (1, 5), 0),
        ("4", "Dropout", (1, 5), 0), ("5", "Linear", (1, 3), 18)]
    # Keras counts BatchNorm's running mean and variance as non-trainable parameters
    assert (result.trainable_params, result.non_trainable_params) == (65 + 10 + 18, 10)
    lines = result.text.splitlines()
    assert lines[0] == 'Model: "Sequential"'
    assert lines[2].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#"]
    row = next(line for line in lines if line.startswith("1 (Linear)"))
    assert row.split() == ["1", "(Linear)", "(None,", "5)", "65"]
    assert "Non-trainable params: 10" in lines


def test_nested_modules_and_frozen_parameters():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
            self.head = nn.Linear(3, 2)

        def forward(self, x):
            return self.head(self.encoder(x))

    net = Net()
    net.encoder.requires_grad_(False)
    result = nn.summary(net, (4,), batch_size=8, print_fn=None)
    assert [r.name for r in result.rows] == ["encoder.0", "encoder.1", "head"]
    assert result.rows[-1].output_shape == (8, 2)
    assert "(8, 2)" in result.text                      # a given batch size is shown
    assert (result.trainable_params, result.non_trainable_params) == (8, 15)


def test_summary_restores_modes_and_records_nothing():
    model = nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5), nn.BatchNorm1d(3))
    model[1].eval()
    before = model.state_dict()
    nn.summary(model, (2,), print_fn=None)
    assert [m.training for m in model.modules()] == [True, True, False, True]
    assert all((before[k] == v).all() for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_summary_without_input_shape():
    result = nn.summary(_mlp(3, 4, 1), print_fn=None)
    assert result.total_params == 21 and all(r.output_shape == () for r in result.rows)


def test_summary_dtype_follows_the_parameters():
    model = nn.Sequential(nn.Linear(2, 2, dtype="float64"))
    assert nn.summary(model, (2,), print_fn=None).total_params == 6
    assert ag.get_default_dtype() == "float32"
