"""nn.save / nn.load: bit-exact round trips without pickle; damaged or foreign files rejected."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import autograd_core as ag
import nn
from nn.serialization import _write_archive


def _model():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def _optimizer_like_state():
    return {
        "state": {0: {"step": 12, "exp_avg": np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3),
                      "momentum_buffer": ag.tensor([1.5, -2.5])},
                  1: {"step": 3, "exp_avg": np.array([1e-30, np.pi], dtype=np.float64)}},
        "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                          "nesterov": False, "params": [0, 1], "name": None}],
        "scalars": [np.float32(0.25), np.int64(-3), float("inf"), float("nan"), -0.0],
        "nested": {"ints": [1, 2, [3, (4, 5)]], "empty": {}, "text": "ñandú", 2.5: True},
        "int_array": np.arange(5, dtype=np.int16),
    }


def _assert_same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b]
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, ag.Tensor):
        assert a.dtype == b.dtype and np.array_equal(a.numpy(), b.numpy())
        assert a.requires_grad == b.requires_grad
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b and repr(a) == repr(b)


def test_model_state_dict_round_trip_is_bit_exact(tmp_path):
    model = _model()
    model(ag.randn(5, 3))                             # move the running statistics
    state = model.state_dict()
    path = tmp_path / "model.npz"
    nn.save(state, path)
    loaded = nn.load(path)
    _assert_same(dict(state), loaded)
    other = _model()
    other.load_state_dict(loaded)
    for key, value in other.state_dict().items():
        assert np.array_equal(value, state[key]) and value.dtype == state[key].dtype


def test_float64_state_keeps_its_dtype(tmp_path):
    state = nn.Linear(2, 2, dtype=np.float64).state_dict()
    nn.save(state, tmp_path / "f64.npz")
    assert all(v.dtype == np.float64 for v in nn.load(tmp_path / "f64.npz").values())


def test_nested_optimizer_like_state_round_trip(tmp_path):
    state = _optimizer_like_state()
    nn.save(state, str(tmp_path / "opt.npz"))
    _assert_same(state, nn.load(str(tmp_path / "opt.npz")))


def test_file_is_plain_npz_with_json_structure(tmp_path):
    path = tmp_path / "plain.npz"
    nn.save({"w": np.ones(2)}, path)
    with np.load(path, allow_pickle=False) as archive:
        header = json.loads(str(archive["__neurona__"]))
    assert header["format"] == "neurona.save" and header["version"] == 1
    assert not list(tmp_path.glob(".neurona-*"))      # no temporary file left behind


def test_unsavable_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['f'\] is a function"):
        nn.save({"f": lambda: 0}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="object array"):
        nn.save({"o": np.array([None, 1])}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="has a key of type tuple"):
        nn.save({(1, 2): 0}, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_cycles_deep_nesting_and_bad_paths_are_named(tmp_path):
    cyclic: dict = {"w": np.ones(2)}
    cyclic["again"] = [cyclic]
    deep: list = []
    inner = deep
    for _ in range(5000):
        inner.append([])
        inner = inner[0]
    path = tmp_path / "s.npz"
    for obj, message in [(cyclic, r"save: obj\['again'\]\[0\] is a container it sits in \(a "
                                  r"reference cycle\)"),
                         (deep, r"save: obj is nested more than 100 levels deep \(at obj\[0\]")]:
        with pytest.raises(ValueError, match=message):             # was a bare RecursionError
            nn.save(obj, path)
    shared = np.ones(2)
    nn.save({"a": [shared], "b": [shared]}, path)                # shared, not a cycle: fine
    assert [v[0].tolist() for v in nn.load(path).values()] == [[1.0, 1.0], [1.0, 1.0]]
    for call in (lambda: nn.save({}, 3), lambda: nn.load(3)):
        with pytest.raises(TypeError, match="save/load: the path must be a str or os.PathLike, "
                                            "got int"):
            call()
    with pytest.raises(IsADirectoryError, match="load: .* is a folder, not a file"):
        nn.load(tmp_path)

@pytest.mark.parametrize("keep", [0, 10, 0.5, -1])
def test_truncated_files_are_rejected(tmp_path, keep):
    path = tmp_path / "model.npz"
    nn.save(_model().state_dict(), path)
    data = path.read_bytes()
    cut = {0: 0, 10: 10, 0.5: len(data) // 2, -1: len(data) - 1}[keep]
    path.write_bytes(data[:cut])
    with pytest.raises(ValueError, match=r"is not a valid neurona file \(truncated, corrupted"):
        nn.load(path)


def test_corrupted_bytes_are_rejected(tmp_path):
    path = tmp_path / "model.npz"
    nn.save(_model().state_dict(), path)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    for position in rng.integers(0, len(data), size=20):
        damaged = bytearray(data)
        damaged[position] ^= 0xFF
        path.write_bytes(bytes(damaged))
        with pytest.raises(ValueError, match="is not a valid neurona file"):
            nn.load(path)


def test_every_single_byte_flip_is_detected(tmp_path):
    path = tmp_path / "small.npz"
    nn.save({"w": np.arange(3, dtype=np.float32), "step": 1}, path)
    data = path.read_bytes()
    for position in range(len(data)):
        damaged = bytearray(data)
        damaged[position] ^= 0x01
        path.write_bytes(bytes(damaged))
        with pytest.raises(ValueError, match="is not a valid neurona file"):
            nn.load(path)


def _write_npz(path, **arrays):
    _write_archive(path, arrays)          # a well-formed, checksummed archive of these entries


@pytest.mark.parametrize("contents, reason", [
    ({"w": np.ones(2)}, "no '__neurona__' entry"),
    ({"__neurona__": np.array("not json")}, "JSONDecodeError"),
    ({"__neurona__": np.array('{"format": "other", "root": 1}')}, "does not describe"),
    ({"__neurona__": np.array('{"format": "neurona.save", "version": 9, "root": 1}')},
     "format version 9"),
    ({"__neurona__": np.array('{"format": "neurona.save", "version": 1, '
                              '"root": {"array": "a7"}}')}, "not in the file"),
    ({"__neurona__": np.array('{"format": "neurona.save", "version": 1, "root": {"set": []}}')},
     "unexpected entry"),
    ({"__neurona__": np.array('{"format": "neurona.save", "version": 1, "root": 1}'),
      "a0": np.ones(1)}, "does not mention"),
    ({"__neurona__": np.ones(3)}, "not a JSON string"),
])
def test_foreign_contents_are_rejected(tmp_path, contents, reason):
    path = tmp_path / "foreign.npz"
    _write_npz(path, **contents)
    with pytest.raises(ValueError, match=reason):
        nn.load(path)


def test_pickled_and_non_npz_files_are_refused(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, __neurona__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="is not a valid neurona file"):
        nn.load(path)
    npy = tmp_path / "single.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(ValueError, match=r"not an .npz \(zip\) archive"):
        nn.load(npy)
    plain = tmp_path / "plain.npz"
    np.savez(plain, __neurona__=np.array("{}"))
    with pytest.raises(ValueError, match="no neurona checksum"):
        nn.load(plain)
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="is not a valid neurona file"):
        nn.load(text)
    with pytest.raises(FileNotFoundError, match="no such file"):
        nn.load(tmp_path / "missing.npz")


def test_failed_save_keeps_the_previous_file(tmp_path):
    path = tmp_path / "model.npz"
    nn.save({"w": np.ones(2)}, path)
    with pytest.raises(TypeError):
        nn.save({"w": object()}, path)
    np.testing.assert_array_equal(nn.load(path)["w"], np.ones(2))
    assert zipfile.is_zipfile(path)
