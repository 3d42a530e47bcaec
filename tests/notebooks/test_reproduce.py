"""notebooks/reproduce.py: the set-ups of course 002's two studies and the results file."""
from __future__ import annotations

import json

import numpy as np
import pytest

import nn
from notebooks import reproduce


def _linears(model):
    return [m for m in model if isinstance(m, nn.Linear)]


def test_kaiming_init_is_the_courses():
    # first layer N(0, 1/n_in) (its input has no ReLU), the others N(0, 2/n_in), biases 0
    layers = _linears(reproduce.base_network(nn.ReLU, init="kaiming", seed=3))
    assert [(m.in_features, m.out_features) for m in layers] == [
        (784, 512), (512, 256), (256, 256), (256, 128), (128, 10)]
    for index, layer in enumerate(layers):
        expected = (1.0 if index == 0 else 2.0) / layer.in_features
        assert layer.weight.numpy().var() == pytest.approx(expected, rel=0.2)
        assert not layer.bias.numpy().any()


def test_default_init_is_linears_and_bad_init_is_refused():
    layer = _linears(reproduce.base_network(nn.Tanh))[0]
    assert np.abs(layer.weight.numpy()).max() <= 1 / np.sqrt(784)
    with pytest.raises(ValueError, match="base_network: init must be 'default' or 'kaiming'"):
        reproduce.base_network(nn.ReLU, init="xavier")


def test_run_study_refuses_unknown_studies_and_runs():
    with pytest.raises(ValueError, match="run_study: study must be one of"):
        reproduce.run_study("dropout")
    with pytest.raises(ValueError, match=r"unknown optimizers \['RMSprop'\]"):
        reproduce.run_study("optimizers", names=["RMSprop"])


def _tiny_data(seed=0):
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(size=(10, 784)).astype(np.float32)

    def draw(n):
        labels = rng.integers(0, 10, n)
        return (prototypes[labels] + rng.normal(size=(n, 784)).astype(np.float32), labels)
    return {"train": draw(300), "val": draw(100), "test": draw(100)}


@pytest.mark.parametrize("study, name", [("activations", "LeakyReLU"),
                                         ("optimizers", "SGDMomentum")])
def test_train_one_tests_the_best_validation_epoch(study, name):
    run = reproduce.train_one(study, name, _tiny_data(), max_epochs=3)
    assert run["epochs_run"] == 3 and len(run["val_accuracy"]) == 3
    assert run["best_val_accuracy"] == pytest.approx(max(run["val_accuracy"]))
    assert run["best_epoch"] == 1 + int(np.argmax(run["val_accuracy"]))
    assert 0.0 <= run["test_accuracy"] <= 100.0


def test_main_writes_command_date_machine_and_every_run(tmp_path, monkeypatch):
    seen = []

    def fake_run_study(study, names, seed, on_run):
        assert names is None
        for name in reproduce.PUBLISHED[study]:
            seen.append(name)
            on_run(name, {"test_accuracy": 50.0, "best_epoch": 1, "epochs_run": 1,
                          "val_accuracy": [50.0], "seconds": 0.0})

    monkeypatch.setattr(reproduce, "run_study", fake_run_study)
    out = tmp_path / "results" / "optimizers.json"
    assert reproduce.main(["--study", "optimizers", "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["command"] == f"python -m notebooks.reproduce --study optimizers --out {out}"
    assert payload["complete"] is True and payload["started"] and payload["finished"]
    assert {"node", "processor", "cpu_count", "python", "numpy"} <= set(payload["machine"])
    assert list(payload["results"]["optimizers"]) == seen == ["SGD", "SGDMomentum", "Adam"]
    assert payload["setups"]["optimizers"]["init"] == "kaiming"
    assert not list(out.parent.glob("*.tmp"))
