"""nn.save/nn.load in safetensors: round trips, PyTorch in both directions, damaged files."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import autograd_core as ag
import nn
from nn import safetensors_io

pytest.importorskip("safetensors", reason="safetensors is a runtime dependency of neurona")


def _model():
    ag.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3))


def _train_batch_norm(model, steps=3):
    """Forward passes in training mode, so the running statistics are not their defaults."""
    rng = np.random.default_rng(1)
    model.train()
    for _ in range(steps):
        model(ag.tensor(rng.normal(2.0, 3.0, (16, 4)).astype(np.float32)))
    model.eval()


def _raw_file(path, header: dict, data: bytes = b"") -> None:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def test_round_trip_keeps_names_shapes_dtypes_and_zero_d_arrays(tmp_path):
    model = _model()
    _train_batch_norm(model)
    path = tmp_path / "model.safetensors"
    nn.save(model.state_dict(), path)
    loaded = nn.load(path)
    assert sorted(loaded) == sorted(model.state_dict())
    for key, value in model.state_dict().items():
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
        np.testing.assert_array_equal(loaded[key], value)
    assert loaded["1.num_batches_tracked"].shape == () and int(loaded["1.num_batches_tracked"]) == 3
    assert loaded["0.weight"].shape == (8, 4) and loaded["0.weight"].flags.writeable
    assert safetensors_io.metadata(path) == {"format": "pt"}


def test_a_module_and_non_contiguous_arrays_are_saved_by_value(tmp_path):
    weight = np.arange(12, dtype=np.float64).reshape(3, 4).T          # a strided view
    nn.save({"w": weight, "t": ag.tensor([1.0, 2.0])}, tmp_path / "a.safetensors")
    loaded = nn.load(tmp_path / "a.safetensors")
    np.testing.assert_array_equal(loaded["w"], weight)
    np.testing.assert_array_equal(loaded["t"], [1.0, 2.0])
    model = nn.Linear(2, 3)
    nn.save(model, tmp_path / "m.safetensors")
    np.testing.assert_array_equal(nn.load(tmp_path / "m.safetensors")["weight"],
                                  model.weight.numpy())


def test_format_is_chosen_by_suffix_or_argument(tmp_path):
    state = {"w": np.ones(3, np.float32)}
    nn.save(state, tmp_path / "w.bin", format="safetensors")
    assert (tmp_path / "w.bin").read_bytes()[8:9] == b"{"                 # a JSON header
    np.testing.assert_array_equal(nn.load(tmp_path / "w.bin", format="safetensors")["w"], 1.0)
    with pytest.raises(ValueError, match="not a valid neurona file"):
        nn.load(tmp_path / "w.bin")                                      # read as npz
    with pytest.raises(ValueError, match="format must be 'npz' or 'safetensors', got 'pt'"):
        nn.save(state, tmp_path / "w.pt", format="pt")


def test_optimizer_state_and_other_structures_are_refused_with_the_reason(tmp_path):
    model = nn.Linear(2, 1)
    import optim
    opt = optim.Adam(model.parameters())
    with pytest.raises(TypeError, match="Optimizer state .* save them to an .npz path"):
        nn.save(opt.state_dict(), tmp_path / "opt.safetensors")
    with pytest.raises(TypeError, match="dtype complex128, which safetensors cannot hold"):
        nn.save({"z": np.zeros(2, complex)}, tmp_path / "z.safetensors")
    with pytest.raises(TypeError, match="keys must be str, got 3"):
        nn.save({3: np.zeros(2)}, tmp_path / "k.safetensors")
    assert not list(tmp_path.iterdir())                                  # nothing half-written


def test_oversized_header_is_refused_before_reading_it(tmp_path):
    path = tmp_path / "big.safetensors"
    path.write_bytes(struct.pack("<Q", safetensors_io.MAX_HEADER_BYTES + 1) + b"{}")
    with pytest.raises(ValueError, match=r"header claims 8388609 bytes, more than the 8388608"):
        nn.load(path)
    path.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(ValueError,
                       match=r"header claims 1000 bytes .*only 2 after the length \(truncated\)"):
        nn.load(path)


def test_damaged_or_foreign_files_raise_value_error_naming_the_file(tmp_path):
    good = tmp_path / "good.safetensors"
    nn.save({"w": np.arange(6, dtype=np.float32)}, good)
    data = good.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[:-4])                                           # data shorter than header
    with pytest.raises(ValueError, match="cut.safetensors' is not a valid safetensors file"):
        nn.load(cut)
    bf16 = tmp_path / "bf16.safetensors"
    _raw_file(bf16, {"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4)
    with pytest.raises(ValueError, match="dtype 'BF16', which numpy cannot hold .*model.float"):
        nn.load(bf16)
    text = tmp_path / "text.safetensors"
    text.write_bytes(b"hello")
    with pytest.raises(ValueError, match="5 bytes, fewer than the 8-byte header length"):
        nn.load(text)
    with pytest.raises(FileNotFoundError, match="no such file"):
        nn.load(tmp_path / "missing.safetensors")


def test_from_torch_state_dict_checks_like_load_state_dict(tmp_path):
    path = tmp_path / "w.safetensors"
    nn.save({"weight": np.ones((3, 2), np.float32)}, path)
    with pytest.raises(RuntimeError, match="missing key\\(s\\): 'bias'"):
        nn.Linear(2, 3).from_torch_state_dict(path)
    model = nn.Linear(2, 3)
    before = model.bias.numpy().copy()
    assert model.from_torch_state_dict(path, strict=False) is model
    np.testing.assert_array_equal(model.weight.numpy(), 1.0)
    np.testing.assert_array_equal(model.bias.numpy(), before)
    with pytest.raises(TypeError, match="expected a .safetensors path or a dict of tensors"):
        model.from_torch_state_dict(42)


# --- PyTorch reference tests ----------------------------------------------------------------
def _torch_model(torch):
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Tanh(),
                               torch.nn.Linear(8, 3))


def test_neurona_file_loads_in_torch_with_equal_outputs(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch reference test (make test WITH_TORCH=1)")
    from safetensors.torch import load_file
    model = _model()
    _train_batch_norm(model)
    path = tmp_path / "neurona.safetensors"
    nn.save(model.state_dict(), path)
    reference = _torch_model(torch)
    reference.load_state_dict(load_file(path))                    # strict: every key matches
    reference.eval()
    x = np.random.default_rng(2).normal(size=(32, 4)).astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(ag.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert int(reference[1].num_batches_tracked) == 3


def test_torch_file_loads_in_neurona_with_equal_outputs(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch reference test (make test WITH_TORCH=1)")
    from safetensors.torch import save_file
    torch.manual_seed(0)
    reference = _torch_model(torch)
    reference.train()
    with torch.no_grad():
        for _ in range(4):
            reference(torch.randn(16, 4) * 3 + 1)
    reference.eval()
    path = tmp_path / "torch.safetensors"
    save_file(reference.state_dict(), str(path))
    model = _model().from_torch_state_dict(path)
    model.eval()
    x = np.random.default_rng(3).normal(size=(32, 4)).astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(ag.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)
    # an in-memory torch state dict works the same way
    again = _model().from_torch_state_dict(reference.state_dict())
    again.eval()
    np.testing.assert_allclose(again(ag.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)
